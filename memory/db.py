"""The SQLite side of the knowledge base: the source of truth for records and their vectors.

WAL journal with ``synchronous=FULL``: a record whose transaction committed survives a
crash of the process or of the machine. Every SQLite error leaves as a typed
`KnowledgeBaseError` with a one-line message (a full disk as `KnowledgeBaseFull`, a
damaged file as `KnowledgeBaseDamaged`). An existing file is verified before use, and
before a writer's first write, and a damaged one is never written; `salvage` reads
what is left of it.

Tables: ``meta`` (key/value: schema version, database id, embedding model and dimension),
``records`` (one row per record, never physically deleted: ``deleted`` is a flag), and
``vectors`` (the float32 embedding of every record that is not deleted).
"""

from __future__ import annotations

import contextlib
import errno
import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memory.errors import (
    KnowledgeBaseDamaged,
    KnowledgeBaseError,
    KnowledgeBaseFull,
    KnowledgeBaseMissing,
    KnowledgeBaseReadOnly,
)
from memory.records import Context, KnowledgeRecord, Provenance, utc_now

SCHEMA_VERSION = 2  # 2: the `program` kind (remembered verified programs)
READABLE_VERSIONS = ("1", "2")  # version 1 files are read as they are, migrated on write
ID_CHUNK = 500
ROW_CHUNK = 20_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('task', 'skill', 'program')),
    statement TEXT NOT NULL,
    change TEXT NOT NULL,
    context TEXT NOT NULL,
    provenance TEXT NOT NULL,
    created_at TEXT NOT NULL,
    content_key TEXT NOT NULL,
    subject TEXT NOT NULL,
    slot TEXT,
    superseded_by INTEGER REFERENCES records(id),
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY REFERENCES records(id),
    vector BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_current_key ON records(content_key)
    WHERE deleted = 0 AND superseded_by IS NULL;
CREATE INDEX IF NOT EXISTS records_key ON records(content_key);
CREATE INDEX IF NOT EXISTS records_live ON records(deleted, id);
CREATE INDEX IF NOT EXISTS records_current_subject ON records(kind, subject)
    WHERE deleted = 0 AND superseded_by IS NULL;
CREATE INDEX IF NOT EXISTS records_current_slot ON records(slot)
    WHERE deleted = 0 AND superseded_by IS NULL;
"""
_COLUMNS = "id, kind, statement, change, context, provenance, created_at, superseded_by, deleted"
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB, _SQLITE_READONLY = 11, 13, 26, 8


@dataclass(frozen=True)
class RowStatus:
    """The part of a row that decides whether search may return it."""

    kind: str
    deleted: bool
    superseded_by: int | None

    @property
    def current(self) -> bool:
        return not self.deleted and self.superseded_by is None


class Database:
    """One SQLite connection to ``knowledge.sqlite3``; its methods are the store's SQL."""

    def __init__(self, path: Path, writable: bool, create: bool) -> None:
        self.path = path
        self.writable = writable
        problem = file_problem(path)
        if problem:
            raise damaged(path, problem)
        fresh = not path.exists()
        if fresh and not (writable and create):
            raise missing(path)
        # An existing file is verified read-only: a refused one is never written, not even
        # by the checkpoint SQLite runs when a writing connection closes.
        read_only = not (writable and fresh)
        with sqlite_errors(path):
            self._conn = _connect(path, read_only)
        try:
            if not fresh:
                self._verify()
            if writable and read_only:
                self._conn.close()
                with sqlite_errors(path):
                    self._conn = _connect(path, read_only=False)
            self._start(fresh)
        except BaseException:
            self.close()
            raise

    def _start(self, fresh: bool) -> None:
        """A writer's journal settings, schema (and meta, in a new file) and migration."""
        with sqlite_errors(self.path):
            if self.writable:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                with self.transaction():
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            self._conn.execute(statement)
                    if fresh:
                        self.set_meta(
                            schema_version=SCHEMA_VERSION,
                            db_id=uuid.uuid4().hex,
                            created_at=utc_now(),
                        )
                if self.meta().get("schema_version") == "1":
                    self._migrate_from_1()
            self._check_schema()

    def _verify(self) -> None:
        """Refuse an existing file that is not a whole knowledge base (tables or meta
        missing) and, before a writer changes anything, one whose pages fail SQLite's
        quick check: a damaged page takes no writes."""
        tables = {r[0] for r in self._all("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in ("meta", "records", "vectors") if t not in tables]
        problem = ""
        if missing:
            problem = f"it lacks the {', '.join(missing)} table(s)"
        elif not {"db_id", "schema_version"} <= set(self.meta()):
            problem = "its meta table lacks the database id or schema version"
        elif self.writable:
            found = self._one("PRAGMA quick_check(1)")
            if found != ("ok",):
                problem = f"SQLite's integrity check: {found[0] if found else 'no answer'}"
        if problem:
            raise damaged(self.path, problem)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any error (then re-raised, typed)."""
        self._require_writable()
        with sqlite_errors(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise

    # -- meta ---------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        with sqlite_errors(self.path):
            return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, **values: object) -> None:
        """Set meta keys; call inside a transaction."""
        self._conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, str(v)) for k, v in values.items()],
        )

    def _migrate_from_1(self) -> None:
        """Version 1 -> 2: rebuild `records` so its kind check allows ``program`` (SQLite
        can not alter a CHECK), rows, ids and indexes unchanged, in one transaction."""
        self._conn.execute("PRAGMA foreign_keys=OFF")
        try:
            with self.transaction():
                table = _SCHEMA.split("CREATE TABLE IF NOT EXISTS records", 1)[1].split(";")[0]
                self._conn.execute(f"CREATE TABLE records_v2{table}")
                self._conn.execute("INSERT INTO records_v2 SELECT * FROM records")
                self._conn.execute("DROP TABLE records")
                self._conn.execute("ALTER TABLE records_v2 RENAME TO records")
                for statement in _SCHEMA.split(";"):
                    if "CREATE INDEX" in statement or "CREATE UNIQUE INDEX" in statement:
                        self._conn.execute(statement)
                if self._conn.execute("PRAGMA foreign_key_check").fetchall():
                    raise KnowledgeBaseError(f"{self.path}: migration broke a vector's record")
                self.set_meta(schema_version=SCHEMA_VERSION)
        finally:
            self._conn.execute("PRAGMA foreign_keys=ON")

    def _check_schema(self) -> None:
        version = self.meta().get("schema_version")
        if version not in READABLE_VERSIONS:
            raise KnowledgeBaseError(
                f"{self.path} has schema version {version}, this heedbot reads {SCHEMA_VERSION}"
            )

    # -- writes (inside `transaction`) ----------------------------------------------------

    def insert(self, record: KnowledgeRecord, vector: bytes) -> int:
        """Insert a record and its vector; returns the new row id."""
        cursor = self._conn.execute(
            "INSERT INTO records (kind, statement, change, context, provenance, created_at, "
            "content_key, subject, slot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.kind,
                record.statement,
                _dumps(record.change),
                _dumps(record.context.to_dict()),
                _dumps(record.provenance.to_dict()),
                record.created_at,
                record.content_key,
                record.subject,
                record.slot,
            ),
        )
        row_id = int(cursor.lastrowid)
        self._conn.execute("INSERT INTO vectors (id, vector) VALUES (?, ?)", (row_id, vector))
        return row_id

    def mark_superseded(self, ids: Sequence[int], by: int) -> None:
        """Mark the current records among `ids` as superseded by `by`."""
        for chunk in _chunks(ids):
            self._conn.execute(
                f"UPDATE records SET superseded_by = ? WHERE id IN ({_marks(chunk)}) "
                "AND deleted = 0 AND superseded_by IS NULL",
                (by, *chunk),
            )

    def mark_deleted(self, record_id: int) -> None:
        """Flag a record deleted and drop its vector (it is never searched again)."""
        self._conn.execute("UPDATE records SET deleted = 1 WHERE id = ?", (record_id,))
        self._conn.execute("DELETE FROM vectors WHERE id = ?", (record_id,))

    def replace_vectors(self, ids: Sequence[int], blobs: Sequence[bytes]) -> None:
        self._conn.executemany(
            "UPDATE vectors SET vector = ? WHERE id = ?", list(zip(blobs, ids, strict=True))
        )

    # -- reads ----------------------------------------------------------------------------

    def current_id(self, content_key: str, include_superseded: bool = False) -> int | None:
        """The id of the current record with this content key, if any; with
        `include_superseded`, else of the newest superseded one."""
        current = "" if include_superseded else "AND superseded_by IS NULL"
        row = self._one(
            f"SELECT id FROM records WHERE content_key = ? AND deleted = 0 {current} "
            "ORDER BY superseded_by IS NULL DESC, id DESC LIMIT 1",
            (content_key,),
        )
        return None if row is None else int(row[0])

    def current_ids(self, keys: Sequence[str]) -> dict[str, int]:
        """Content key -> id of the current records among `keys`."""
        out: dict[str, int] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), ID_CHUNK):
            chunk = unique[start : start + ID_CHUNK]
            rows = self._all(
                f"SELECT content_key, id FROM records WHERE content_key IN ({_marks(chunk)}) "
                "AND deleted = 0 AND superseded_by IS NULL",
                chunk,
            )
            out.update({key: int(row_id) for key, row_id in rows})
        return out

    def statuses(self, ids: Sequence[int]) -> dict[int, RowStatus]:
        out: dict[int, RowStatus] = {}
        for chunk in _chunks(ids):
            rows = self._all(
                f"SELECT id, kind, deleted, superseded_by FROM records "
                f"WHERE id IN ({_marks(chunk)})",
                chunk,
            )
            out.update({int(r[0]): RowStatus(r[1], bool(r[2]), r[3]) for r in rows})
        return out

    def records(self, ids: Sequence[int]) -> dict[int, KnowledgeRecord]:
        out: dict[int, KnowledgeRecord] = {}
        for chunk in _chunks(ids):
            rows = self._all(f"SELECT {_COLUMNS} FROM records WHERE id IN ({_marks(chunk)})", chunk)
            out.update({int(r[0]): _record(r) for r in rows})
        return out

    def iter_records(
        self,
        kind: str | None = None,
        include_superseded: bool = False,
        where: str = "",
        args: Sequence[Any] = (),
    ) -> Iterator[KnowledgeRecord]:
        """Records that are not deleted, by id, read in pages."""
        clauses = ["deleted = 0"]
        params: list[Any] = []
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        if not include_superseded:
            clauses.append("superseded_by IS NULL")
        if where:
            clauses.append(where)
            params.extend(args)
        for rows in self._pages(_COLUMNS, "records", " AND ".join(clauses), params):
            yield from (_record(r) for r in rows)

    def live_ids(self) -> np.ndarray:
        """Ids of every record that is not deleted (current and superseded), ascending.

        Read from the `records_live` index (a dozen bytes a record), not from the table.
        """
        rows = self._all("SELECT id FROM records WHERE deleted = 0 ORDER BY id")
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    def vectors(self, ids: Sequence[int] | None = None, min_id: int = 0) -> Iterator[tuple]:
        """(ids, blobs) pages of stored vectors: of `ids`, or of every id above `min_id`."""
        if ids is not None:
            for chunk in _chunks(ids):
                rows = self._all(
                    f"SELECT id, vector FROM vectors WHERE id IN ({_marks(chunk)}) ORDER BY id",
                    chunk,
                )
                yield [r[0] for r in rows], [r[1] for r in rows]
            return
        for rows in self._pages("id, vector", "vectors", after=min_id):
            yield [r[0] for r in rows], [r[1] for r in rows]

    def statements(self) -> Iterator[tuple[list[int], list[str]]]:
        """(ids, statements) pages of every record that is not deleted."""
        for rows in self._pages("id, statement", "records", "deleted = 0"):
            yield [r[0] for r in rows], [r[1] for r in rows]

    def live_count(self) -> int:
        """How many records are not deleted (from the small `records_live` index)."""
        return int(self._one("SELECT count(*) FROM records WHERE deleted = 0")[0])

    def current_count(self) -> int:
        """How many records are neither deleted nor superseded."""
        row = self._one(
            "SELECT count(*) FROM records INDEXED BY records_current_key "
            "WHERE deleted = 0 AND superseded_by IS NULL"
        )
        return int(row[0])

    def max_id(self) -> int:
        row = self._one("SELECT seq FROM sqlite_sequence WHERE name = 'records'")
        return int(row[0]) if row else 0

    def counts(self) -> dict[str, int]:
        row = self._one(
            "SELECT count(*), "
            "coalesce(sum(deleted = 0 AND superseded_by IS NULL), 0), "
            "coalesce(sum(deleted = 0 AND superseded_by IS NOT NULL), 0), "
            "coalesce(sum(deleted), 0), "
            "coalesce(sum(deleted = 0 AND superseded_by IS NULL AND kind = 'task'), 0), "
            "coalesce(sum(deleted = 0 AND superseded_by IS NULL AND kind = 'skill'), 0), "
            "coalesce(sum(deleted = 0 AND superseded_by IS NULL AND kind = 'program'), 0) "
            "FROM records"
        )
        names = (
            "records",
            "current",
            "superseded",
            "deleted",
            "current_task",
            "current_skill",
            "current_program",
        )
        vectors = self._one("SELECT count(*) FROM vectors")[0]
        return {**dict(zip(names, map(int, row), strict=True)), "vectors": int(vectors)}

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple | None:
        with sqlite_errors(self.path):
            return self._conn.execute(sql, tuple(args)).fetchone()

    def _pages(
        self, columns: str, table: str, where: str = "", args: Sequence[Any] = (), after: int = 0
    ) -> Iterator[list[tuple]]:
        """Non-empty pages of up to `ROW_CHUNK` rows of `table` with id > `after`, in id
        order; each page starts after the last id of the one before (keyset pagination, so
        no page costs more than the first). `columns` must start with ``id``."""
        condition = f"{where} AND id > ?" if where else "id > ?"
        last = after
        while True:
            rows = self._all(
                f"SELECT {columns} FROM {table} WHERE {condition} ORDER BY id LIMIT {ROW_CHUNK}",
                (*args, last),
            )
            if rows:
                yield rows
            if len(rows) < ROW_CHUNK:
                return
            last = int(rows[-1][0])

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with sqlite_errors(self.path):
            return self._conn.execute(sql, tuple(args)).fetchall()

    def _require_writable(self) -> None:
        if not self.writable:
            raise KnowledgeBaseReadOnly(
                f"the knowledge base in {self.path.parent} was opened read-only"
            )


@dataclass(frozen=True)
class Salvaged:
    """What could still be read from a database file.

    Attributes:
        records: every record whose row could be read (deleted ones too), by id.
        unreadable: ids found (in the table, its index or the vectors) whose row could not
            be read.
    """

    records: list[KnowledgeRecord]
    unreadable: int


def salvage(path: Path) -> Salvaged:
    """Every record that can still be read from the database file `path`, damaged or not,
    opened read-only. Ids come from whatever still reads (the records table, its id index,
    the vectors table); then each row is read on its own, so a damaged page costs only
    the rows on it."""
    if file_problem(path):
        return Salvaged([], 0)
    if not path.exists():
        raise missing(path)
    with sqlite_errors(path):
        conn = _connect(path, read_only=True)
    try:
        ids: set[int] = set()
        for sql in _ID_SOURCES:
            with contextlib.suppress(sqlite3.Error):  # keep the ids read before the damage
                for (value,) in conn.execute(sql):
                    ids.add(int(value))
        records = []
        for record_id in sorted(ids):
            with contextlib.suppress(sqlite3.Error, ValueError, TypeError):  # a damaged row
                row = conn.execute(f"SELECT {_COLUMNS} FROM records WHERE id = ?", (record_id,))
                records.extend(_record(r) for r in row.fetchall())
        return Salvaged(records, len(ids) - len(records))
    finally:
        conn.close()


_ID_SOURCES = (
    "SELECT id FROM records NOT INDEXED",
    "SELECT id FROM records INDEXED BY records_live",
    "SELECT id FROM vectors",
)


@contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Translate SQLite and OS errors into one-line `KnowledgeBaseError`s."""
    try:
        yield
    except sqlite3.Error as error:
        raise _translate(error, path) from None
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise disk_full(path.parent) from None
        raise


def disk_full(folder: Path) -> KnowledgeBaseFull:
    return KnowledgeBaseFull(
        f"the disk holding {folder} is full; free some space and retry "
        "(the knowledge base is unchanged)"
    )


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), busy timeout and
    foreign keys on; `read_only` opens with ``mode=ro``."""
    if read_only:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def missing(path: Path) -> KnowledgeBaseMissing:
    """The answer when there is no database file at `path`."""
    return KnowledgeBaseMissing(
        f"no knowledge base in {path.parent}: corrections create one, "
        "or `heed memory import FILE --memory PATH`"
    )


def damaged(path: Path, problem: str) -> KnowledgeBaseDamaged:
    """The refusal to touch a damaged database file, saying how to salvage or repair it."""
    problem = " ".join(problem.split())  # SQLite's reports span lines
    return KnowledgeBaseDamaged(
        f"{path} is damaged or not a knowledge base ({problem}); it was left as it is: "
        f"`heed memory salvage OUT.jsonl --memory {path.parent}` saves every readable record, "
        f"`heed memory repair --memory {path.parent}` rebuilds the knowledge base from them",
        problem,
    )


def file_problem(path: Path) -> str:
    """What is wrong with a database file before SQLite opens it ('' when nothing is seen)."""
    wal = path.with_name(f"{path.name}-wal")
    if path.exists():
        return "the file is empty (0 bytes)" if path.stat().st_size == 0 else ""
    if wal.exists() and wal.stat().st_size:
        return "the file is missing but its write-ahead log is there"
    return ""


def _translate(error: sqlite3.Error, path: Path) -> KnowledgeBaseError:
    code = (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if code == _SQLITE_FULL or "database or disk is full" in text:
        return disk_full(path.parent)
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return damaged(path, text)
    if code == _SQLITE_READONLY:
        return KnowledgeBaseReadOnly(f"{path} cannot be written ({text})")
    return KnowledgeBaseError(f"knowledge base {path}: {text}")


def _record(row: tuple) -> KnowledgeRecord:
    record_id, kind, statement, change, context, provenance, created, superseded, deleted = row
    return KnowledgeRecord(
        kind=kind,
        statement=statement,
        change=json.loads(change),
        context=Context.from_dict(json.loads(context)),
        provenance=Provenance.from_dict(json.loads(provenance)),
        created_at=created,
        id=int(record_id),
        superseded_by=superseded,
        deleted=bool(deleted),
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    """`ids` as ints, in slices small enough for one SQL statement's parameters."""
    values = [int(i) for i in ids]
    for start in range(0, len(values), ID_CHUNK):
        yield values[start : start + ID_CHUNK]


def _marks(chunk: Sequence[int]) -> str:
    return ",".join("?" * len(chunk))
