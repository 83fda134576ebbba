"""Crash safety: a writer killed with SIGKILL mid-insert or mid-save loses nothing it committed.

The writer is a child process (this file run as a script) that adds, deletes and saves in
a loop and prints each operation after the call returns, so every printed id is committed.
The parent kills it at a random moment, then checks the folder the way the next user would
find it: the snapshot loads (or is quarantined and rebuilt), the index holds exactly the
rows that are not deleted, and every announced record is there. All trials share one
folder, so each child starts from the previous child's crash.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_memory_fakes import HashingEmbedder, task_record  # noqa: E402

import memory.db  # noqa: E402
import memory.snapshot  # noqa: E402
from memory.errors import RecordNotFound  # noqa: E402
from memory.index import IndexConfig, VectorIndex  # noqa: E402
from memory.store import SNAPSHOT_NAME, KnowledgeBase  # noqa: E402

CONFIG = IndexConfig(hnsw_threshold=60, hnsw_m=8, ef_construction=32, ef_search=32)
RANDOM_TRIALS = 25
CHILD_TIMEOUT_S = 30.0
DEATHS = ["insert-before-commit", "after-commit", "mid-write", "before-rename", "after-rename"]


@dataclass
class Ledger:
    """What the children announced: committed adds and deletes, and where kills landed.

    A delete is announced twice: ``d`` before the call (it may or may not commit) and
    ``D`` after it returns (it did).
    """

    added: set[int] = field(default_factory=set)
    deleted: set[int] = field(default_factory=set)
    deleting: set[int] = field(default_factory=set)
    phases: list[str] = field(default_factory=list)

    def take(self, output: bytes) -> str:
        """Record the complete lines of a child's output; return the last phase seen."""
        phase = "start"
        for line in output.decode().splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # killed mid-line
            op, *arg = line.split()
            if op == "A":
                self.added.add(int(arg[0]))
            elif op == "d":
                self.deleting.add(int(arg[0]))
            elif op == "D":
                self.deleted.add(int(arg[0]))
                self.deleting.discard(int(arg[0]))
            phase = {"S": "saving", "s": "idle", "A": "idle", "D": "idle"}.get(op, phase)
        return phase


def run_child(folder: Path, seed: int, die_at: str = "", kill_after: float | None = None) -> bytes:
    """Start a writer; kill it `kill_after` seconds after it is ready (or let `die_at` kill it).

    The output is read through the one buffered reader to the end: the lines `readline`
    buffered past "ready" must not be lost (`communicate` would read the raw pipe).
    """
    errors = folder.parent / "child.err"
    with open(errors, "wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, __file__, str(folder), str(seed), die_at],
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=HERE.parent,
        )
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        child.kill()

    watchdog = threading.Timer(CHILD_TIMEOUT_S, expire)
    watchdog.start()
    try:
        if child.stdout.readline() != b"ready\n":
            child.kill()
            child.wait()
            pytest.fail(f"the writer did not start: {errors.read_text()[-2000:]}")
        if kill_after is not None:
            time.sleep(kill_after)
            child.send_signal(signal.SIGKILL)
        output = child.stdout.read()
        child.wait()
    finally:
        watchdog.cancel()
    assert not expired.is_set(), f"the writer did not die at {die_at!r} nor finish in time"
    assert child.returncode == -signal.SIGKILL, errors.read_text()[-2000:]
    return output


def verify(folder: Path, ledger: Ledger) -> None:
    """The folder after a crash, as a reader and then as the next writer finds it."""
    snapshot = folder / SNAPSHOT_NAME
    if snapshot.exists():
        memory.snapshot.read_snapshot(snapshot)  # a SIGKILL never leaves a damaged snapshot
    for writable in (False, True):
        kb = KnowledgeBase.open(folder, HashingEmbedder(), writable=writable, config=CONFIG)
        try:
            assert not [n for n in kb.notices if "damaged" in n], kb.notices
            assert kb.check() == []
            lost = ledger.added - {r.id for r in kb.records()} - ledger.deleted - ledger.deleting
            found = {i: kb.fetch([i]).get(i) for i in lost}
            assert not lost, f"committed records lost ({writable=}): {found}"
            for record_id in ledger.deleted:
                with pytest.raises(RecordNotFound):
                    kb.get(record_id)
        finally:
            kb.close(save=False)


def test_random_kills_lose_no_committed_record(tmp_path: Path) -> None:
    folder = tmp_path / "memory"
    ledger = Ledger()
    rng = random.Random(2024)
    for trial in range(RANDOM_TRIALS):
        output = run_child(folder, trial, kill_after=rng.uniform(0.02, 0.35))
        ledger.phases.append(ledger.take(output))
        verify(folder, ledger)
    assert len(ledger.added) > 100, "the children should have committed many records"
    with KnowledgeBase.open(folder, HashingEmbedder(), writable=False, config=CONFIG) as kb:
        layout = kb.index_layout
    print(
        f"{RANDOM_TRIALS} kills, {ledger.phases.count('saving')} mid-save; "
        f"{len(ledger.added)} adds, {len(ledger.deleted)} deletes; final layout {layout}"
    )


@pytest.mark.parametrize("die_at", DEATHS)
def test_death_at_each_step_of_insert_and_save(tmp_path: Path, die_at: str) -> None:
    folder = tmp_path / "memory"
    ledger = Ledger()
    ledger.take(run_child(folder, 1, kill_after=0.15))  # a store with a snapshot to lose
    verify(folder, ledger)
    ledger.take(run_child(folder, 2, die_at=die_at))
    verify(folder, ledger)


# -- the child ------------------------------------------------------------------------------


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install_hooks(die_at: str) -> None:
    """Slow snapshot writes down (so random kills land in them) and plant `die_at`."""
    original_fsync_folder = memory.snapshot.fsync_folder
    original_insert = memory.db.Database.insert
    original_add = VectorIndex.add
    saves = {"n": 0}

    def slow_write(path: Path, chunks: list) -> None:
        saves["n"] += 1
        data = b"".join(bytes(memoryview(c).cast("B")) for c in chunks)
        with open(path, "wb") as file:
            for start in range(0, len(data), 4096):
                file.write(data[start : start + 4096])
                file.flush()
                time.sleep(0.0005)
                if die_at == "mid-write" and saves["n"] > 1 and file.tell() >= len(data) // 2:
                    _die()
            os.fsync(file.fileno())
        if die_at == "before-rename" and saves["n"] > 1:
            _die()

    def fsync_then_die(folder: Path) -> None:
        if die_at == "after-rename" and saves["n"] > 1:
            _die()
        original_fsync_folder(folder)

    def insert(self: object, *args: object) -> int:
        row_id = original_insert(self, *args)
        if die_at == "insert-before-commit" and row_id > 5:
            _die()
        return row_id

    def add(self: VectorIndex, ids: object, vectors: object) -> None:
        if die_at == "after-commit" and max(list(ids), default=0) > 5:
            _die()
        original_add(self, ids, vectors)

    memory.snapshot._write_file = slow_write
    memory.snapshot.fsync_folder = fsync_then_die
    memory.db.Database.insert = insert
    VectorIndex.add = add


def child_main(folder: Path, seed: int, die_at: str) -> None:
    rng = random.Random(seed)
    kb = KnowledgeBase.open(folder, HashingEmbedder(), config=CONFIG)
    _install_hooks(die_at)
    live = [r.id for r in kb.records()]
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for step in range(100_000):
        roll = rng.random()
        if roll < 0.5:
            record_id = kb.add(task_record(f"seed {seed} step {step} put the block away"))
            live.append(record_id)
            out.write(f"A {record_id}\n")
        elif roll < 0.65:
            batch = [task_record(f"seed {seed} step {step} item {i} stack") for i in range(4)]
            for record_id in kb.add_many(batch):
                live.append(record_id)
                out.write(f"A {record_id}\n")
        elif roll < 0.8 and live:
            record_id = live.pop(rng.randrange(len(live)))
            out.write(f"d {record_id}\n")
            out.flush()
            kb.delete(record_id)
            out.write(f"D {record_id}\n")
        else:
            out.write("S\n")
            out.flush()
            kb.save()
            out.write("s\n")
        out.flush()
    _die()


if __name__ == "__main__":
    child_main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
