"""The knowledge base: SQLite as the source of truth, a FAISS index as its derived snapshot.

A knowledge base is a folder::

    knowledge.sqlite3        records, their vectors, and meta (model, dimension, db id)
    knowledge.sqlite3-wal    SQLite's write-ahead log (and -shm), while in use
    index.snap               FAISS index snapshot with a checksummed header (memory.snapshot)
    index.snap.corrupt-*     damaged snapshots moved aside, kept for inspection
    writer.lock              flock held by the one writer; holds its pid

Write path: a record is embedded, committed to SQLite (WAL, ``synchronous=FULL``), then
added to the in-memory index. The snapshot is written by `KnowledgeBase.save` (and on
`close`), not on every add: after a crash, opening replays what the snapshot lacks.

Open path: read the snapshot and verify it (magic, header and index checksums, database
id, model, dimension, watermark); a damaged one is quarantined and the index rebuilt from
SQLite; a valid one is reconciled with SQLite: rows it lacks (those above its watermark)
are added, rows deleted since are taken out. Every repair is a line in
`KnowledgeBase.notices` and a warning on the ``heedbot.memory`` logger.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memory.db import Database, disk_full, sqlite_errors
from memory.errors import (
    EmbeddingMismatch,
    KnowledgeBaseError,
    KnowledgeBaseFull,
    KnowledgeBaseMissing,
    KnowledgeBaseReadOnly,
    RecordNotFound,
)
from memory.index import FLAT, HNSW, IndexConfig, VectorIndex
from memory.lock import WriterLock
from memory.records import KnowledgeRecord, check_record
from memory.snapshot import (
    SnapshotError,
    SnapshotHeader,
    header_for,
    quarantine,
    read_header,
    read_snapshot,
    remove_temporaries,
    write_snapshot,
)
from memory.vectors import Embedder, as_unit_rows, embed_texts, from_blobs, to_blob

DB_NAME = "knowledge.sqlite3"
SNAPSHOT_NAME = "index.snap"
LOCK_NAME = "writer.lock"
COMMIT_EVERY = 10_000  # records per transaction in `add_many`

log = logging.getLogger("heedbot.memory")


@dataclass(frozen=True)
class Hit:
    """A record found by text search, with its cosine similarity to the query."""

    record: KnowledgeRecord
    score: float


def knowledge_folder(folder: str | Path) -> Path:
    """`folder` as a path; KnowledgeBaseError when it names a file instead of a folder."""
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise KnowledgeBaseError(
            f"{path} is a file, not a knowledge-base folder: give a folder (made when missing)"
        )
    return path


class KnowledgeBase:
    """Records distilled from corrections, searchable by meaning. Open with `open`.

    Attributes:
        folder: the knowledge-base folder.
        embedder: turns statements and queries into vectors.
        writable: whether this handle holds the writer lock.
        notices: what opening had to repair, one line each (empty when all was well).
    """

    def __init__(
        self,
        folder: Path,
        embedder: Embedder,
        db: Database,
        lock: WriterLock | None,
        config: IndexConfig,
    ) -> None:
        self.folder = folder
        self.embedder = embedder
        self.writable = lock is not None
        self.notices: list[str] = []
        self.config = config
        self._db = db
        self._lock = lock
        self._mutex = threading.RLock()
        self._dirty = False
        self._closed = False
        self._index = VectorIndex.empty(embedder.dimension, FLAT, config)

    @classmethod
    def open(
        cls,
        folder: str | Path,
        embedder: Embedder | None = None,
        *,
        create: bool = True,
        writable: bool = True,
        reembed: bool = False,
        config: IndexConfig | None = None,
    ) -> KnowledgeBase:
        """Open (or create) the knowledge base in `folder`.

        Args:
            folder: the knowledge-base folder.
            embedder: the embedder; the process-wide MiniLM one when None.
            create: create the folder and database when missing (writers only).
            writable: take the writer lock; False opens read-only, without a lock.
            reembed: when the stored vectors come from another model, re-embed every
                statement with `embedder` instead of refusing (writers only).
            config: index layout and search settings.

        Raises:
            KnowledgeBaseMissing: no knowledge base there and not `create`.
            KnowledgeBaseLocked: another process is writing it.
            EmbeddingMismatch: the stored vectors come from another model or dimension.
        """
        folder = knowledge_folder(folder)
        if embedder is None:
            from memory.embedder import default_embedder

            embedder = default_embedder()
        if writable and create:
            with sqlite_errors(folder / DB_NAME):
                folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            raise KnowledgeBaseMissing(f"no knowledge base in {folder}: the folder does not exist")
        lock = WriterLock(folder / LOCK_NAME) if writable else None
        if lock is not None:
            lock.acquire()
        db: Database | None = None
        try:
            db = Database(folder / DB_NAME, writable, create)
            kb = cls(folder, embedder, db, lock, config or IndexConfig())
            kb._start(reembed)
        except BaseException:
            if db is not None:
                db.close()
            if lock is not None:
                lock.release()
            raise
        return kb

    # -- properties ---------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self.embedder.name

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    @property
    def snapshot_path(self) -> Path:
        return self.folder / SNAPSHOT_NAME

    @property
    def index_layout(self) -> str:
        return self._index.layout

    @property
    def index(self) -> VectorIndex:
        """The in-memory vector index (for benchmarks and diagnostics: read, don't modify)."""
        return self._index

    def __len__(self) -> int:
        """Current records (neither deleted nor superseded)."""
        return self._db.current_count()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(save=exc_type is None)

    # -- writing ------------------------------------------------------------------------

    def add(
        self,
        record: KnowledgeRecord,
        supersedes: Iterable[int] = (),
        vector: np.ndarray | None = None,
    ) -> int:
        """Store a record; returns its id (the existing one when it is already stored).

        Args:
            record: the record; its id, superseded_by and deleted fields are ignored.
            supersedes: ids of older records it contradicts: they are kept, marked
                superseded by this one, and no longer returned by search.
            vector: the statement's embedding, when already computed with this model.

        Raises:
            ValueError: the record is one the knowledge base does not keep (`check_record`).
            RecordNotFound: a `supersedes` id is unknown or deleted.
            KnowledgeBaseFull: the disk is full (nothing was stored).
        """
        self._require_writable()
        check_record(record)
        targets = sorted({int(i) for i in supersedes})
        with self._mutex:
            existing = self._db.current_id(record.content_key)
            self._check_live(targets)
            if existing is None:
                vector = (
                    self._embed([record.statement])
                    if vector is None
                    else as_unit_rows(vector, self.dimension)
                )
            with self._db.transaction():
                row_id = existing
                if row_id is None:
                    row_id = self._db.insert(record, to_blob(vector[0]))
                self._db.mark_superseded([i for i in targets if i != row_id], row_id)
            if existing is None:
                self._index.add([row_id], vector)
                self._dirty = True
            return row_id

    def learn(self, record: KnowledgeRecord) -> tuple[int, list[int]]:
        """Store a record, superseding the current records it contradicts (same `slot`,
        other content); returns its id and the ids it superseded."""
        replaced = [r.id for r in self.conflicts(record) if r.id is not None]
        return self.add(record, supersedes=replaced), replaced

    def add_many(
        self, records: Sequence[KnowledgeRecord], vectors: np.ndarray | None = None
    ) -> list[int]:
        """Store many records at once (embedded in batches); returns their ids in order.

        Duplicates, of stored records or within `records`, get the existing id. Commits
        every `COMMIT_EVERY` records, so a crash keeps a prefix of the batch.

        Args:
            records: the records.
            vectors: their unit vectors, one row per record, to skip embedding
                (bulk imports, benchmarks); they must come from this embedder's model.

        Raises:
            ValueError: a record the knowledge base does not keep (`check_record`);
                nothing was stored.
        """
        self._require_writable()
        for record in records:
            check_record(record)
        if vectors is not None and len(vectors) != len(records):
            raise ValueError(f"{len(vectors)} vectors for {len(records)} records")
        with self._mutex:
            keys = [r.content_key for r in records]
            stored = self._db.current_ids(keys)
            ids: list[int | None] = [stored.get(k) for k in keys]
            first: dict[str, int] = {}  # content key -> position of its first occurrence
            fresh = [
                i for i, k in enumerate(keys) if k not in stored and first.setdefault(k, i) == i
            ]
            self._prepare_layout(self._index.live_count + len(fresh))
            for start in range(0, len(fresh), COMMIT_EVERY):
                part = fresh[start : start + COMMIT_EVERY]
                if vectors is None:
                    rows = embed_texts(self.embedder, [records[i].statement for i in part])
                else:
                    rows = as_unit_rows(vectors[part], self.dimension)
                with self._db.transaction():
                    new = [
                        self._db.insert(records[i], to_blob(v))
                        for i, v in zip(part, rows, strict=True)
                    ]
                self._index.add(new, rows)
                self._dirty = True
                for i, row_id in zip(part, new, strict=True):
                    ids[i] = row_id
            return [ids[first[k]] if ids[i] is None else ids[i] for i, k in enumerate(keys)]

    def delete(self, record_id: int) -> None:
        """Delete a record: it is never returned again (superseded records stay hidden).

        Raises:
            RecordNotFound: no such record, or it is already deleted.
        """
        self._require_writable()
        with self._mutex:
            self._check_live([record_id])
            with self._db.transaction():
                self._db.mark_deleted(record_id)
            self._index.remove([record_id])
            self._dirty = True

    def save(self) -> Path:
        """Write the index snapshot (rebuilding the index first if `needs_rebuild`).

        Raises:
            KnowledgeBaseFull: the disk is full; the previous snapshot is intact.
        """
        self._require_writable()
        with self._mutex:
            if self._index.needs_rebuild():
                self._rebuild_index()
            payload = self._index.to_bytes()
            header = header_for(
                payload,
                db_id=self._db_id,
                watermark=self._db.max_id(),
                model=self.model,
                dimension=self.dimension,
                layout=self._index.layout,
                vectors=self._index.size,
                dead=len(self._index.dead),
            )
            try:
                write_snapshot(self.snapshot_path, header, payload)
            except OSError as error:
                if error.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise disk_full(self.folder) from None
                raise KnowledgeBaseError(
                    f"cannot write the index snapshot {self.snapshot_path}: {error.strerror}"
                ) from None
            self._dirty = False
            return self.snapshot_path

    def reindex(self) -> int:
        """Re-embed every stored statement with this embedder, rebuild the index and save.

        One transaction: a crash midway leaves the old vectors and model in place.
        Returns the number of statements embedded.
        """
        self._require_writable()
        with self._mutex:
            ids: list[int] = []
            blobs: list[bytes] = []
            for page_ids, texts in self._db.statements():
                ids.extend(page_ids)
                blobs.extend(to_blob(v) for v in embed_texts(self.embedder, texts))
            with self._db.transaction():
                self._db.replace_vectors(ids, blobs)
                self._db.set_meta(model=self.model, dimension=self.dimension)
            self._rebuild_index()
            self.save()
            return len(ids)

    def close(self, save: bool = True) -> None:
        """Save the snapshot if anything changed (and `save`), then release the lock."""
        if self._closed:
            return
        try:
            if self.writable and save and self._dirty:
                self.save()
        finally:
            self._closed = True
            self._db.close()
            if self._lock is not None:
                self._lock.release()

    # -- reading ------------------------------------------------------------------------

    def get(self, record_id: int, include_deleted: bool = False) -> KnowledgeRecord:
        """The record with this id (superseded ones too); RecordNotFound if deleted."""
        record = self._db.records([record_id]).get(record_id)
        if record is None or (record.deleted and not include_deleted):
            raise RecordNotFound(record_id, " (deleted)" if record else "")
        return record

    def find(self, record: KnowledgeRecord, include_superseded: bool = False) -> int | None:
        """The id of the current record with the same content (see `content_key`), if any;
        with `include_superseded`, else the newest superseded one with that content."""
        return self._db.current_id(record.content_key, include_superseded)

    def fetch(self, ids: Sequence[int]) -> dict[int, KnowledgeRecord]:
        """Records by id (missing ids are left out)."""
        return self._db.records(ids)

    def records(
        self, kind: str | None = None, include_superseded: bool = False
    ) -> Iterator[KnowledgeRecord]:
        """Records that are not deleted, oldest first; current ones only by default."""
        return self._db.iter_records(kind, include_superseded)

    def current_records(self, kind: str, subject: str) -> list[KnowledgeRecord]:
        """Current records of a kind about one subject (a skill name, or a task rule)."""
        return list(self._db.iter_records(kind, where="subject = ?", args=(subject,)))

    def conflicts(self, record: KnowledgeRecord) -> list[KnowledgeRecord]:
        """Current records that decide the same thing differently (same `slot`).

        Pass their ids as `add(record, supersedes=...)` to replace them.
        """
        if record.slot is None:
            return []
        return list(
            self._db.iter_records(
                record.kind,
                where="slot = ? AND content_key != ?",
                args=(record.slot, record.content_key),
            )
        )

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of one query text."""
        return self._embed([text])[0]

    def search(
        self,
        text: str,
        k: int = 5,
        kind: str | None = None,
        include_superseded: bool = False,
    ) -> list[Hit]:
        """The `k` records whose statements are most similar to `text`, best first."""
        hits = self.search_vector(self.embed_query(text), k, kind, include_superseded)
        found = self._db.records([i for i, _ in hits])
        return [Hit(found[i], score) for i, score in hits if i in found]

    def search_vector(
        self,
        vector: np.ndarray,
        k: int = 5,
        kind: str | None = None,
        include_superseded: bool = False,
    ) -> list[tuple[int, float]]:
        """(id, cosine similarity) of the `k` nearest records to a query vector.

        Deleted records never come back; superseded ones only with `include_superseded`;
        `kind` keeps one kind. Filtered-out hits are made up for by searching wider.
        """
        query = as_unit_rows(vector, self.dimension)[0]
        with self._mutex:
            fetch = k + 4
            while True:
                scores, ids = self._index.search(query, fetch)
                status = self._db.statuses(ids.tolist())
                hits = []
                for score, row_id in zip(scores.tolist(), ids.tolist(), strict=True):
                    row = status.get(row_id)
                    if row is None or row.deleted:
                        continue
                    if (include_superseded or row.current) and kind in (None, row.kind):
                        hits.append((row_id, score))
                live = self._index.live_count
                if len(hits) >= k or fetch >= live:
                    return hits[:k]
                fetch = min(live, fetch * 4)

    def refresh(self) -> int:
        """Catch a read-only handle up with what the writer committed since; returns how
        many index entries changed."""
        with self._mutex:
            return self._reconcile()

    def check(self) -> list[str]:
        """Problems found comparing the index with SQLite (empty when consistent)."""
        with self._mutex:
            live = self._db.live_ids()
            indexed = np.sort(self._index.live_ids())
            problems = []
            extra = np.setdiff1d(indexed, live)
            lacking = np.setdiff1d(live, indexed)
            if len(extra) or len(lacking) or len(indexed) != len(np.unique(indexed)):
                problems.append(
                    f"index and SQLite disagree: {len(extra)} id(s) only in the index, "
                    f"{len(lacking)} only in SQLite"
                )
            counts = self._db.counts()
            if counts["vectors"] != len(live):
                problems.append(
                    f"{counts['vectors']} stored vectors for {len(live)} records not deleted"
                )
            return problems

    def stats(self) -> dict[str, Any]:
        """Counts, model, index layout and sizes, snapshot facts."""
        db_bytes = sum(p.stat().st_size for p in self.folder.glob(f"{DB_NAME}*") if p.is_file())
        snapshot: dict[str, Any] | None = None
        if self.snapshot_path.exists():
            snapshot = {"path": str(self.snapshot_path), "bytes": self.snapshot_path.stat().st_size}
            try:
                header = read_header(self.snapshot_path)
                snapshot.update(watermark=header.watermark, written_at=header.written_at)
            except (SnapshotError, OSError) as error:
                snapshot["problem"] = str(error)
        return {
            "folder": str(self.folder),
            "model": self.model,
            "dimension": self.dimension,
            **self._db.counts(),
            "index": {
                "layout": self._index.layout,
                "vectors": self._index.size,
                "dead": len(self._index.dead),
                "unsaved_changes": self._dirty,
            },
            "db_bytes": db_bytes,
            "snapshot": snapshot,
        }

    # -- internals ----------------------------------------------------------------------

    @property
    def _db_id(self) -> str:
        return self._db.meta()["db_id"]

    def _start(self, reembed: bool) -> None:
        meta = self._db.meta()
        stored = (meta.get("model"), int(meta.get("dimension", 0)))
        if stored[0] is None:
            if self.writable:
                with self._db.transaction():
                    self._db.set_meta(model=self.model, dimension=self.dimension)
        elif stored != (self.model, self.dimension):
            if not reembed:
                raise EmbeddingMismatch(
                    f"the knowledge base in {self.folder} was built with {stored[0]} "
                    f"({stored[1]}-d); run `heed memory reindex --memory {self.folder}` "
                    f"to re-embed with {self.model} ({self.dimension}-d)"
                )
            self._require_writable()
            count = self.reindex()
            self._notice(f"re-embedded {count} statement(s): {stored[0]} -> {self.model}")
            return
        self._load_index()

    def _load_index(self) -> None:
        path = self.snapshot_path
        if self.writable:
            remove_temporaries(path)
        try:
            header, payload = read_snapshot(path)
            stale = self._stale(header)
            if stale:
                self._rebuild_after(f"the index snapshot {stale}")
                return
            self._index = VectorIndex.from_bytes(payload, self.config)
            if self._index.dimension != self.dimension:
                raise SnapshotError(f"index is {self._index.dimension}-d")
        except FileNotFoundError:
            if self._db.live_count():
                self._rebuild_after("there was no index snapshot")
            return
        except (SnapshotError, ValueError) as error:
            self._rebuild_after(f"the index snapshot is damaged ({error})", damaged=True)
            return
        replayed = self._reconcile() - header.dead
        if replayed > 0 and self.writable:
            self._dirty = True
            self._notice(
                f"the index snapshot was {replayed} change(s) behind SQLite "
                "(the last writer did not save it); caught up"
            )

    def _stale(self, header: SnapshotHeader) -> str:
        """Why a sound snapshot does not belong to this database, or '' when it does."""
        if header.db_id != self._db_id:
            return "belongs to another database"
        if (header.model, header.dimension) != (self.model, self.dimension):
            return f"was built with {header.model} ({header.dimension}-d)"
        if header.watermark > self._db.max_id():
            return f"covers record {header.watermark}, newer than the database"
        return ""

    def _rebuild_after(self, reason: str, damaged: bool = False) -> None:
        if damaged and self.writable:
            moved = quarantine(self.snapshot_path)
            reason += f"; moved it to {moved.name}"
        elif damaged:
            reason += "; open the knowledge base for writing to repair it"
        self._rebuild_index()
        self._notice(f"{reason}; rebuilt the index from {self._index.size} record(s) in SQLite")
        if self.writable:
            try:
                self.save()
            except KnowledgeBaseFull as error:
                self._notice(f"could not save the rebuilt index: {error}")

    def _rebuild_index(self, layout: str | None = None) -> None:
        """A fresh index of every record that is not deleted, from the vectors in SQLite.

        The layout is the one `IndexConfig.layout_for` picks for their number, unless given.
        """
        layout = layout or self.config.layout_for(self._db.live_count())
        index = VectorIndex.empty(self.dimension, layout, self.config)
        for ids, blobs in self._db.vectors():
            index.add(ids, from_blobs(blobs, self.dimension))
        self._index = index
        self._dirty = True

    def _prepare_layout(self, expected: int) -> None:
        """Switch to HNSW before a bulk add that will cross the threshold, not after."""
        layout = self.config.layout_for(expected)
        if layout == HNSW and self._index.layout != HNSW:
            self._rebuild_index(layout)

    def _reconcile(self) -> int:
        """Make the index hold exactly the records not deleted; returns entries changed."""
        live = self._db.live_ids()
        lacking = np.setdiff1d(live, self._index.ids(), assume_unique=True)
        extra = np.setdiff1d(self._index.live_ids(), live, assume_unique=True)
        for ids, blobs in self._db.vectors(ids=lacking.tolist()):
            self._index.add(ids, from_blobs(blobs, self.dimension))
        self._index.remove(extra.tolist())
        return len(lacking) + len(extra)

    def _check_live(self, ids: Sequence[int]) -> None:
        status = self._db.statuses(ids)
        for record_id in ids:
            row = status.get(record_id)
            if row is None or row.deleted:
                raise RecordNotFound(record_id, " (deleted)" if row else "")

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.embedder.embed(list(texts))
        return as_unit_rows(vectors, self.dimension)

    def _notice(self, message: str) -> None:
        self.notices.append(message)
        log.warning("knowledge base %s: %s", self.folder, message)

    def _require_writable(self) -> None:
        if self._closed:
            raise KnowledgeBaseError(f"the knowledge base in {self.folder} is closed")
        if not self.writable:
            raise KnowledgeBaseReadOnly(
                f"the knowledge base in {self.folder} was opened read-only; "
                "open it writable to change it"
            )
