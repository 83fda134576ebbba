"""The knowledge base store: records, dedupe, supersession, snapshots, repair, lock, full disk."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from test_memory_fakes import HashingEmbedder, skill_record, task_record

import memory.snapshot
from memory.errors import (
    EmbeddingMismatch,
    KnowledgeBaseError,
    KnowledgeBaseFull,
    KnowledgeBaseLocked,
    KnowledgeBaseMissing,
    KnowledgeBaseReadOnly,
    RecordNotFound,
)
from memory.index import FLAT, HNSW, IndexConfig
from memory.records import MAX_STATEMENT_CHARS, PROGRAM, SKILL, KnowledgeRecord
from memory.store import DB_NAME, SNAPSHOT_NAME, KnowledgeBase
from memory.transfer import import_records

REPO = Path(__file__).resolve().parents[1]
STATEMENTS = [
    "red objects go in the green bowl",
    "for heavy cylinders, grip with 60 N",
    "stack blocks with the largest at the bottom",
    "move slowly when carrying a full bowl",
    "never push the blue block",
]
Opener = Callable[..., KnowledgeBase]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "memory"


@pytest.fixture
def open_kb(folder: Path) -> Iterator[Opener]:
    """`open_kb(**kwargs)` opens `folder` with the hashing embedder; all closed afterwards."""
    opened: list[KnowledgeBase] = []

    def opener(**kwargs: object) -> KnowledgeBase:
        kwargs.setdefault("embedder", HashingEmbedder())
        kb = KnowledgeBase.open(kwargs.pop("path", folder), **kwargs)
        opened.append(kb)
        return kb

    yield opener
    for kb in opened:
        kb.close(save=False)


def fill(kb: KnowledgeBase, statements: list[str] = STATEMENTS) -> list[int]:
    return [kb.add(task_record(s)) for s in statements]


def test_add_search_delete(open_kb: Opener) -> None:
    kb = open_kb()
    ids = fill(kb)
    assert len(kb) == len(STATEMENTS)
    best = kb.search("grip the heavy cylinders", k=1)[0]
    assert best.record.id == ids[1] and best.record.statement == STATEMENTS[1]
    assert 0.0 < best.score <= 1.0 + 1e-6
    kb.delete(ids[1])
    assert ids[1] not in [h.record.id for h in kb.search("grip the heavy cylinders", k=10)]
    assert ids[1] not in [r.id for r in kb.records(include_superseded=True)]
    with pytest.raises(RecordNotFound, match="deleted"):
        kb.get(ids[1])
    assert kb.get(ids[1], include_deleted=True).deleted
    with pytest.raises(RecordNotFound):
        kb.delete(ids[1])
    assert kb.check() == []


def test_the_same_correction_stored_twice_is_one_record(open_kb: Opener) -> None:
    kb = open_kb()
    first = kb.add(task_record("Red objects go in the green bowl."))
    assert kb.add(task_record("red objects  go in the green bowl")) == first
    ids = kb.add_many(
        [task_record("a new one"), task_record(STATEMENTS[0]), task_record("A new one")]
    )
    assert ids[1] == first and ids[0] == ids[2] != first
    assert len(kb) == 2 and kb.find(task_record("a new one")) == ids[0]
    kb.delete(first)
    again = kb.add(task_record(STATEMENTS[0]))
    assert again not in (first, ids[0])


def test_a_contradicting_record_supersedes_the_older_one(open_kb: Opener) -> None:
    kb = open_kb()
    old = kb.add(skill_record("grip cylinders with 60 N", applies_to={"category": "cylinder"}))
    new_record = skill_record(
        "grip cylinders with 80 N", applies_to={"category": "cylinder"}, force=80.0
    )
    assert [r.id for r in kb.conflicts(new_record)] == [old]
    new = kb.add(new_record, supersedes=[old])
    assert kb.get(old).superseded_by == new and not kb.get(old).deleted
    assert [h.record.id for h in kb.search("grip cylinders", k=5)] == [new]
    found = {h.record.id for h in kb.search("grip cylinders", k=5, include_superseded=True)}
    assert found == {old, new}
    assert [r.id for r in kb.records()] == [new]
    assert [r.id for r in kb.records(include_superseded=True)] == [old, new]
    assert kb.conflicts(new_record) == []
    with pytest.raises(RecordNotFound, match="99"):
        kb.add(task_record("anything"), supersedes=[99])
    assert kb.find(task_record("anything")) is None


def test_kind_filter_searches_wider_when_the_nearest_are_of_the_other_kind(
    open_kb: Opener,
) -> None:
    kb = open_kb()
    fill(kb, [f"grip cylinder number {i}" for i in range(20)])
    skill = kb.add(skill_record("for cylinders use force", applies_to={"category": "cylinder"}))
    hits = kb.search("grip cylinder number", k=1, kind="skill")
    assert [h.record.id for h in hits] == [skill]


def test_records_persist_across_processes(open_kb: Opener, folder: Path) -> None:
    kb = open_kb()
    ids = fill(kb)
    kb.close()
    child = f"""
import json, sys
sys.path.insert(0, {str(REPO / "tests")!r})
from test_memory_fakes import HashingEmbedder, task_record
from memory.store import KnowledgeBase
with KnowledgeBase.open({str(folder)!r}, HashingEmbedder(), writable=False) as kb:
    seen = [h.record.id for h in kb.search("heavy cylinders grip", k=1)]
with KnowledgeBase.open({str(folder)!r}, HashingEmbedder()) as kb:
    new = kb.add(task_record("wipe the table after spills"))
print(json.dumps({{"seen": seen, "new": new, "notices": kb.notices}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True, cwd=REPO
    )
    result = json.loads(out.stdout)
    assert result == {"seen": [ids[1]], "new": ids[-1] + 1, "notices": []}
    kb = open_kb()
    assert kb.notices == []
    assert kb.search("wipe spills on the table", k=1)[0].record.id == result["new"]


def corrupt_truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def corrupt_flip_payload(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x40
    path.write_bytes(bytes(data))


def corrupt_flip_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[60] ^= 0x01
    path.write_bytes(bytes(data))


def corrupt_garbage(path: Path) -> None:
    path.write_bytes(b"\x00" * 20)


@pytest.mark.parametrize(
    "corrupt",
    [corrupt_truncate, corrupt_flip_payload, corrupt_flip_header, corrupt_garbage],
    ids=["truncated", "payload-bit", "header-bit", "garbage"],
)
def test_a_damaged_snapshot_is_quarantined_and_rebuilt(
    open_kb: Opener, folder: Path, corrupt: Callable[[Path], None]
) -> None:
    kb = open_kb()
    ids = fill(kb)
    kb.close()
    corrupt(folder / SNAPSHOT_NAME)
    kb = open_kb()
    assert len(kb.notices) == 1 and "damaged" in kb.notices[0] and "\n" not in kb.notices[0]
    moved = list(folder.glob(f"{SNAPSHOT_NAME}.corrupt-*"))
    assert len(moved) == 1 and moved[0].name in kb.notices[0]
    assert kb.search("heavy cylinders grip", k=1)[0].record.id == ids[1]
    assert kb.check() == []
    kb.close()
    assert open_kb().notices == []


def test_a_sound_snapshot_of_a_broken_index_is_quarantined(open_kb: Opener, folder: Path) -> None:
    kb = open_kb()
    fill(kb)
    kb.close()
    path = folder / SNAPSHOT_NAME
    header, payload = memory.snapshot.read_snapshot(path)
    fields = {k: getattr(header, k) for k in ("db_id", "watermark", "model", "dimension")}
    fields.update(layout=header.layout, vectors=header.vectors, dead=0)
    cut = np.ascontiguousarray(payload[: len(payload) // 3])  # checksummed, yet half an index
    memory.snapshot.write_snapshot(path, memory.snapshot.header_for(cut, **fields), cut)
    kb = open_kb()
    assert "unreadable FAISS index" in kb.notices[0] and kb.check() == []
    assert len(list(folder.glob("*.corrupt-*"))) == 1


def test_a_reader_rebuilds_a_damaged_snapshot_in_memory_only(open_kb: Opener, folder: Path) -> None:
    kb = open_kb()
    fill(kb)
    kb.close()
    corrupt_flip_payload(folder / SNAPSHOT_NAME)
    before = (folder / SNAPSHOT_NAME).read_bytes()
    reader = open_kb(writable=False)
    assert "open the knowledge base for writing" in reader.notices[0]
    assert len(reader.search("blue block", k=2)) == 2
    assert (folder / SNAPSHOT_NAME).read_bytes() == before


def test_lost_foreign_or_future_snapshots_are_rebuilt_not_trusted(
    open_kb: Opener, folder: Path, tmp_path: Path
) -> None:
    kb = open_kb()
    fill(kb, STATEMENTS[:3])
    kb.close()
    backup = tmp_path / "backup"
    backup.mkdir()
    for path in folder.glob(f"{DB_NAME}*"):
        shutil.copy(path, backup / path.name)
    kb = open_kb()
    fill(kb, STATEMENTS[3:])
    kb.close()
    for path in backup.iterdir():  # restore the older database under the newer snapshot
        shutil.copy(path, folder / path.name)
    kb = open_kb()
    assert "newer than the database" in kb.notices[0]
    assert len(kb) == 3 and kb.check() == []
    kb.close()

    other = open_kb(path=tmp_path / "other")
    fill(other, ["something else entirely"])
    other.close()
    shutil.copy(tmp_path / "other" / SNAPSHOT_NAME, folder / SNAPSHOT_NAME)
    kb = open_kb()
    assert "belongs to another database" in kb.notices[0]
    assert kb.check() == [] and not list(folder.glob("*.corrupt-*"))
    kb.close()

    (folder / SNAPSHOT_NAME).unlink()
    kb = open_kb()
    assert "no index snapshot" in kb.notices[0] and kb.check() == []


def test_an_unsaved_index_is_caught_up_from_sqlite(open_kb: Opener) -> None:
    kb = open_kb()
    ids = fill(kb, STATEMENTS[:3])
    kb.save()
    fill(kb, STATEMENTS[3:])
    kb.delete(ids[0])
    kb.close(save=False)  # as if the process died
    kb = open_kb()
    assert "3 change(s) behind" in kb.notices[0]
    assert kb.check() == [] and len(kb) == 4


def test_another_model_is_refused_until_reindexed(open_kb: Opener, folder: Path) -> None:
    kb = open_kb()
    ids = fill(kb)
    kb.close()
    other = HashingEmbedder("test-hashing-v2", 256)
    with pytest.raises(EmbeddingMismatch) as caught:
        open_kb(embedder=other)
    message = str(caught.value)
    assert "test-hashing (384-d)" in message and "heed memory reindex" in message
    assert "test-hashing-v2 (256-d)" in message
    with pytest.raises(EmbeddingMismatch):
        open_kb(embedder=other, writable=False)
    kb = open_kb(embedder=other, reembed=True)
    assert "re-embedded 5 statement(s)" in kb.notices[0]
    assert kb.dimension == 256 and kb.search("heavy cylinders grip", k=1)[0].record.id == ids[1]
    assert kb.reindex() == 5
    kb.close()
    with pytest.raises(EmbeddingMismatch):
        open_kb()
    assert open_kb(embedder=HashingEmbedder("test-hashing-v2", 256)).notices == []


def test_a_second_writer_is_refused_naming_the_holder(open_kb: Opener, folder: Path) -> None:
    kb = open_kb()
    fill(kb, STATEMENTS[:1])
    with pytest.raises(KnowledgeBaseLocked, match=f"process {os.getpid()}") as caught:
        open_kb()
    assert caught.value.holder_pid == os.getpid() and "\n" not in str(caught.value)
    reader = open_kb(writable=False)
    assert len(reader) == 1
    with pytest.raises(KnowledgeBaseReadOnly):
        reader.add(task_record("x"))
    kb.close()
    open_kb().close()

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, 'tests')\n"
            "from test_memory_fakes import HashingEmbedder\n"
            "from memory.store import KnowledgeBase\n"
            f"kb = KnowledgeBase.open({str(folder)!r}, HashingEmbedder())\n"
            "print('ready', flush=True); time.sleep(30)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(KnowledgeBaseLocked) as caught:
            open_kb()
        assert caught.value.holder_pid == holder.pid
    finally:
        holder.kill()
        holder.wait()
    open_kb().close()  # the kernel released the dead holder's lock


def test_a_full_disk_while_saving_keeps_the_previous_snapshot(
    open_kb: Opener, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = open_kb()
    fill(kb, STATEMENTS[:2])
    kb.save()
    before = (folder / SNAPSHOT_NAME).read_bytes()
    fill(kb, STATEMENTS[2:])

    def half_then_full(path: Path, chunks: list) -> None:
        path.write_bytes(bytes(chunks[0])[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(memory.snapshot, "_write_file", half_then_full)
    with pytest.raises(KnowledgeBaseFull) as caught:
        kb.save()
    assert "full" in str(caught.value) and "\n" not in str(caught.value)
    assert (folder / SNAPSHOT_NAME).read_bytes() == before
    assert sorted(p.name for p in folder.glob(f"{SNAPSHOT_NAME}*")) == [SNAPSHOT_NAME]
    assert kb.check() == [] and len(kb) == 5
    with pytest.raises(KnowledgeBaseFull):
        kb.close()
    monkeypatch.undo()
    kb = open_kb()
    assert "behind" in kb.notices[0] and len(kb) == 5 and kb.check() == []


def test_a_full_disk_in_sqlite_stores_nothing(open_kb: Opener) -> None:
    kb = open_kb()
    fill(kb, STATEMENTS[:1])
    pages = kb._db._conn.execute("PRAGMA page_count").fetchone()[0]
    kb._db._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL
    large = task_record("grip it harder", note="grip " * 4000)  # more than the pages left
    with pytest.raises(KnowledgeBaseFull, match="free some space"):
        kb.add(large)
    assert len(kb) == 1 and kb.check() == [] and kb.find(large) is None
    kb._db._conn.execute("PRAGMA max_page_count = 1073741823")
    kb.add(large)
    assert len(kb) == 2


def test_opening_what_is_not_there(open_kb: Opener, tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseMissing, match="does not exist"):
        open_kb(path=tmp_path / "none", writable=False)
    with pytest.raises(KnowledgeBaseMissing):
        open_kb(path=tmp_path, create=False)
    (tmp_path / "stray").mkdir()
    with pytest.raises(KnowledgeBaseMissing, match="heed memory import"):
        open_kb(path=tmp_path / "stray", writable=False)


def test_a_file_that_is_not_a_database_is_refused(open_kb: Opener, folder: Path) -> None:
    folder.mkdir()
    (folder / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    for writable in (True, True, False):  # the failed open released its lock
        with pytest.raises(KnowledgeBaseError, match="damaged or not a knowledge base"):
            open_kb(writable=writable)


def test_leftover_temporary_snapshots_are_removed(open_kb: Opener, folder: Path) -> None:
    open_kb().close()
    (folder / f"{SNAPSHOT_NAME}.tmp-12345").write_bytes(b"half a snapshot")
    open_kb()
    assert not list(folder.glob("*.tmp-*"))


def test_a_reader_catches_up_with_the_writer(open_kb: Opener) -> None:
    kb = open_kb()
    fill(kb, STATEMENTS[:2])
    kb.save()
    reader = open_kb(writable=False)
    new = kb.add(task_record("wipe the table after spills"))
    kb.delete(1)
    assert [h.record.id for h in reader.search("blue block", k=5)] == [2]  # deleted: filtered
    assert reader.refresh() == 2
    assert reader.search("wipe spills on the table", k=1)[0].record.id == new


def test_add_many_checks_given_vectors(open_kb: Opener) -> None:
    kb = open_kb()
    with pytest.raises(ValueError, match="2 vectors for 1 records"):
        kb.add_many([task_record("x")], np.zeros((2, 384), np.float32))
    with pytest.raises(ValueError, match=r"shape \(n, 384\)"):
        kb.add_many([task_record("x")], np.zeros((1, 3), np.float32))
    assert len(kb) == 0


def small_hnsw() -> IndexConfig:
    return IndexConfig(hnsw_threshold=64, hnsw_m=8, ef_construction=40, ef_search=32)


def synthetic(n: int, seed: int = 0) -> tuple[list[KnowledgeRecord], np.ndarray]:
    vectors = np.random.default_rng(seed).standard_normal((n, 384)).astype(np.float32)
    return [task_record(f"synthetic statement {seed}-{i}") for i in range(n)], vectors


def test_hnsw_skips_deleted_ids_and_compacts_at_save(open_kb: Opener) -> None:
    kb = open_kb(config=small_hnsw())
    records, vectors = synthetic(200)
    ids = kb.add_many(records, vectors)
    assert kb.index_layout == HNSW
    doomed = ids[:30]
    for record_id in doomed:
        kb.delete(record_id)
    for query in vectors[:40]:
        found = [i for i, _ in kb.search_vector(query, k=5)]
        assert len(found) == 5 and not set(found) & set(doomed)
    assert kb.stats()["index"]["dead"] == 30
    kb.save()  # 30 / 200 dead is below the compaction share: kept
    kb.close()
    kb = open_kb(config=small_hnsw())
    assert kb.notices == [] and kb.stats()["index"]["dead"] == 30 and kb.check() == []
    for record_id in ids[30:60]:
        kb.delete(record_id)
    kb.save()  # now 60 / 200: rebuilt without the dead
    assert kb.stats()["index"] == {
        "layout": HNSW,
        "vectors": 140,
        "dead": 0,
        "unsaved_changes": False,
    }
    exact = vectors[60:] / np.linalg.norm(vectors[60:], axis=1, keepdims=True)
    hits = 0
    for q in range(60, 100):
        truth = set((np.argsort(-(exact @ exact[q - 60]))[:5] + ids[60]).tolist())
        hits += len(truth & {i for i, _ in kb.search_vector(vectors[q], k=5)})
    assert hits / (40 * 5) >= 0.9


def test_the_layout_follows_the_store_size(open_kb: Opener) -> None:
    kb = open_kb(config=small_hnsw())
    records, vectors = synthetic(63)
    ids = kb.add_many(records, vectors)
    assert kb.index_layout == FLAT
    kb.add(task_record("one more"))
    assert kb.index_layout == FLAT
    kb.save()
    assert kb.index_layout == HNSW and kb.check() == []
    for record_id in ids[:40]:
        kb.delete(record_id)
    kb.save()
    assert kb.index_layout == FLAT and kb.check() == []


def test_a_version_1_file_is_read_and_then_migrated_for_programs(
    open_kb: Opener, folder: Path
) -> None:
    kb = open_kb()
    kept = fill(kb)
    kb.close()
    _downgrade_to_version_1(folder / DB_NAME)
    with KnowledgeBase.open(folder, HashingEmbedder(), writable=False) as old:
        assert [r.id for r in old.records()] == kept  # read as it is
    kb = open_kb()
    program = KnowledgeRecord(PROGRAM, "put the red block in the bowl", {"rule": "program"})
    new = kb.add(program)
    assert [r.id for r in kb.records()] == [*kept, new] and kb.check() == []
    with sqlite3.connect(folder / DB_NAME) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == ("2",)


def _downgrade_to_version_1(path: Path) -> None:
    """The file as heedbot wrote it before programs: the kind check without `program`."""
    with sqlite3.connect(path) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'records'").fetchone()
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute(sql.replace("records", "records_v1", 1).replace(", 'program'", ""))
        conn.execute("INSERT INTO records_v1 SELECT * FROM records")
        conn.execute("DROP TABLE records")
        conn.execute("ALTER TABLE records_v1 RENAME TO records")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def test_every_write_path_refuses_what_the_store_must_not_keep(open_kb: Opener) -> None:
    """A skill record no pick could take (1e308 N) is refused by add, learn, add_many and
    import alike, and a refused batch or import stores none of its records."""
    kb = open_kb()
    bad = skill_record("grip cylinders hard", applies_to={"category": "cylinder"}, force=1e308)
    fine = task_record("blue blocks go in the red bowl")
    writes = {
        "add": kb.add,
        "learn": kb.learn,
        "add_many": lambda r: kb.add_many([fine, r]),
        "import": lambda r: import_records(kb, [fine, r]),
    }
    for name, write in writes.items():
        with pytest.raises(ValueError, match=r"PickParams.force = 1e\+308: must be") as caught:
            write(bad)
        assert str(caught.value).startswith("record 'grip cylinders hard': change.params"), name
    assert len(kb) == 0 and kb.check() == []
    long = task_record("x" * (MAX_STATEMENT_CHARS + 1))
    with pytest.raises(ValueError, match=f"statement has {MAX_STATEMENT_CHARS + 1} characters"):
        kb.add(long)
    unknown = {
        "change.skill 'juggle' takes no stored parameters": {"skill": "juggle", "params": {"f": 1}},
        "PickParams has no parameter ['z']": {"skill": "pick", "params": {"z": 1}},
    }
    for message, change in unknown.items():
        with pytest.raises(ValueError, match=re.escape(message)):
            kb.learn(KnowledgeRecord(SKILL, "grip it", change))
    assert len(kb) == 0
