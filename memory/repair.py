"""Salvage and repair of a damaged knowledge base (`heed memory salvage` / `repair`).

Opening refuses a damaged or emptied ``knowledge.sqlite3`` and leaves it as it is
(`memory.errors.KnowledgeBaseDamaged`). `repair` is the explicit way on: under the writer
lock it saves every readable record to ``salvaged-<time>.jsonl`` in the folder, builds a
new database and index from them in a staging folder (checked and re-embedded as any
import is), moves the damaged files aside with ``.damaged-<time>`` and moves the new
ones in. Nothing is deleted: records the store refuses stay in the salvage file.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from memory.db import Database, salvage
from memory.errors import KnowledgeBaseDamaged, KnowledgeBaseMissing
from memory.lock import WriterLock
from memory.records import KnowledgeRecord, check_record
from memory.snapshot import fsync_folder
from memory.store import DB_NAME, LOCK_NAME, SNAPSHOT_NAME, KnowledgeBase, knowledge_folder
from memory.transfer import import_records, write_jsonl
from memory.vectors import Embedder

DAMAGED_MARK = ".damaged-"
SQLITE_SIDE_FILES = ("", "-wal", "-shm")  # the database file and SQLite's files beside it


@dataclass(frozen=True)
class RepairResult:
    """What `repair` did.

    Attributes:
        problem: what was wrong with the database ('' when it was sound: nothing done).
        restored: records stored in the new database (deleted ones are not).
        refused: salvaged records the store does not keep (`check_record`).
        unreadable: rows of the damaged database that could not be read.
        salvaged: the JSONL file of every record read from the damaged database.
        moved: the damaged files, moved aside.
    """

    problem: str
    restored: int = 0
    refused: int = 0
    unreadable: int = 0
    salvaged: Path | None = None
    moved: tuple[Path, ...] = ()


def repair(folder: str | Path, embedder: Embedder) -> RepairResult:
    """Rebuild a damaged knowledge base from what can be read of it; a sound one is left
    alone. Raises `KnowledgeBaseMissing` when the folder holds none, `KnowledgeBaseLocked`
    when another process writes it."""
    folder = knowledge_folder(folder)
    if not folder.is_dir():
        raise KnowledgeBaseMissing(f"no knowledge base in {folder}: the folder does not exist")
    lock = WriterLock(folder / LOCK_NAME)
    lock.acquire()
    try:
        try:
            Database(folder / DB_NAME, writable=True, create=False).close()
            return RepairResult("")
        except KnowledgeBaseDamaged as error:
            problem = error.problem
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        found = salvage(folder / DB_NAME)
        dump = folder / f"salvaged-{stamp}.jsonl"
        write_jsonl(dump, found.records)
        keep = [r for r in found.records if _storable(r)]
        staging = folder / f".repair-{stamp}"
        try:
            with KnowledgeBase.open(staging, embedder) as kb:
                restored = import_records(kb, keep).added
                kb.save()
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        moved = _move(folder, folder, stamp)
        _move(staging, folder)
        shutil.rmtree(staging)
        fsync_folder(folder)
        refused = len(found.records) - len(keep)
        return RepairResult(problem, restored, refused, found.unreadable, dump, moved)
    finally:
        lock.release()


def _storable(record: KnowledgeRecord) -> bool:
    try:
        check_record(record)
    except ValueError:
        return False
    return True


def _move(source: Path, target: Path, stamp: str = "") -> tuple[Path, ...]:
    """Move the database (with SQLite's files beside it) and the index snapshot from one
    folder to another, renamed ``NAME.damaged-<stamp>`` when a stamp is given (the
    database's WAL stays paired with it); returns the new paths."""
    mark = f"{DAMAGED_MARK}{stamp}" if stamp else ""
    names = [(f"{DB_NAME}{side}", f"{DB_NAME}{mark}{side}") for side in SQLITE_SIDE_FILES]
    names.append((SNAPSHOT_NAME, f"{SNAPSHOT_NAME}{mark}"))
    moved = []
    for name, new_name in names:
        if (source / name).exists():
            os.replace(source / name, target / new_name)
            moved.append(target / new_name)
    return tuple(moved)
