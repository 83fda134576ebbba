"""Export and import of knowledge as JSON Lines: one `KnowledgeRecord.to_dict` per line.

Exports hold every record that is not deleted, superseded ones included with their
``superseded_by`` id, and no vectors (they belong to a model; importing re-embeds). Import
replays the records in id order so that each supersedes the ones it superseded when it was
exported; ids are the importing store's own.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from memory.records import KnowledgeRecord, check_record
from memory.store import KnowledgeBase
from memory.vectors import embed_texts


@dataclass(frozen=True)
class ImportResult:
    """What an import did.

    Attributes:
        added: records stored anew.
        duplicates: records that were already stored (same content, current).
        ids: the store's id for each imported record, in file order.
    """

    added: int
    duplicates: int
    ids: list[int]


def export_jsonl(kb: KnowledgeBase, out: TextIO) -> int:
    """Write every record that is not deleted to `out`; returns how many."""
    return dump_jsonl(kb.records(include_superseded=True), out)


def dump_jsonl(records: Iterable[KnowledgeRecord], out: TextIO) -> int:
    """Write records to `out`, one JSON object a line; returns how many."""
    count = 0
    for record in records:
        out.write(record.to_json() + "\n")
        count += 1
    return count


def write_jsonl(path: Path, records: Iterable[KnowledgeRecord]) -> int:
    """Write records to the file `path` whole or not at all (a temporary file, synced, then
    renamed over it); returns how many."""
    temp = path.with_name(f"{path.name}.part")
    with open(temp, "w", encoding="utf-8") as out:
        count = dump_jsonl(records, out)
        out.flush()
        os.fsync(out.fileno())
    temp.replace(path)
    return count


def read_jsonl(path: Path) -> list[KnowledgeRecord]:
    """Records of a JSONL file (blank lines skipped); ValueError names the bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(KnowledgeRecord.from_json(line))
            except ValueError as error:
                raise ValueError(f"{path}:{number}: {str(error).splitlines()[0]}") from None
    return records


def import_records(kb: KnowledgeBase, records: Iterable[KnowledgeRecord]) -> ImportResult:
    """Store exported records, re-embedded, with their supersessions; deleted ones skipped.

    Records with ids are replayed in id order; a record then supersedes the records that
    named it in ``superseded_by``. Records without ids keep their file order. A record
    already stored, current or (for a superseded one) as history, is not stored again.
    Every record is checked (`check_record`) before the first is stored: a refused one
    leaves the knowledge base as it was.
    """
    wanted = [r for r in records if not r.deleted]
    for record in wanted:
        check_record(record)
    order = sorted(range(len(wanted)), key=lambda i: (wanted[i].id is None, wanted[i].id or 0))
    replaced_by: dict[int, list[int]] = defaultdict(list)
    for record in wanted:
        if record.id is not None and record.superseded_by is not None:
            replaced_by[record.superseded_by].append(record.id)
    vectors = embed_texts(kb.embedder, [r.statement for r in wanted])
    new_id: dict[int, int] = {}
    ids = [0] * len(wanted)
    added = 0
    for i in order:
        record = wanted[i]
        older = [new_id[o] for o in replaced_by.get(record.id or -1, []) if o in new_id]
        stored = kb.find(record, include_superseded=record.superseded_by is not None)
        if stored is None or record.superseded_by is None:
            ids[i] = kb.add(record, supersedes=older, vector=vectors[i])
        else:
            ids[i] = stored
        added += stored is None
        if record.id is not None:
            new_id[record.id] = ids[i]
    return ImportResult(added, len(wanted) - added, ids)
