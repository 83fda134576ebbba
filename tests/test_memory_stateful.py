"""Random sequences of add / supersede / delete / save / crash / reopen / corrupt, checked
against an in-memory model of what the knowledge base must hold."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from test_memory_fakes import HashingEmbedder, task_record

from memory.errors import RecordNotFound
from memory.index import IndexConfig
from memory.store import SNAPSHOT_NAME, KnowledgeBase

WORDS = ["red", "green", "blue", "bowl", "block", "cylinder", "stack", "push"]
CONFIG = IndexConfig(hnsw_threshold=6, hnsw_m=8, ef_construction=32, ef_search=64)
statements = st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS), st.integers(0, 2)).map(
    lambda t: f"{t[0]} {t[1]} {t[2]}"
)


@dataclass
class Expected:
    """What the model knows of one record."""

    statement: str
    superseded_by: int | None = None
    deleted: bool = False

    @property
    def current(self) -> bool:
        return not self.deleted and self.superseded_by is None


class KnowledgeBaseMachine(RuleBasedStateMachine):
    """Drives one knowledge base folder and a dict model side by side."""

    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="heedbot-kb-"))
        self.model: dict[int, Expected] = {}
        self.kb = self._open()

    def _open(self) -> KnowledgeBase:
        return KnowledgeBase.open(self.folder, HashingEmbedder(), config=CONFIG)

    def _current_with(self, statement: str) -> int | None:
        found = [i for i, e in self.model.items() if e.current and e.statement == statement]
        return found[0] if found else None

    def _store(self, statement: str, supersedes: list[int]) -> int:
        existing = self._current_with(statement)
        record_id = self.kb.add(task_record(statement), supersedes=supersedes)
        if existing is None:
            assert record_id == max(self.model, default=0) + 1
            self.model[record_id] = Expected(statement)
        else:
            assert record_id == existing
        for old in supersedes:
            if old != record_id and self.model[old].current:
                self.model[old].superseded_by = record_id
        return record_id

    @rule(target=ids, statement=statements)
    def add(self, statement: str) -> int:
        return self._store(statement, [])

    @rule(target=ids, statement=statements, old=ids)
    def add_superseding(self, statement: str, old: int) -> int:
        if self.model[old].deleted:
            with pytest.raises(RecordNotFound):
                self.kb.add(task_record(statement), supersedes=[old])
            return old
        return self._store(statement, [old])

    @rule(record_id=ids)
    def delete(self, record_id: int) -> None:
        if self.model[record_id].deleted:
            with pytest.raises(RecordNotFound):
                self.kb.delete(record_id)
        else:
            self.kb.delete(record_id)
            self.model[record_id].deleted = True

    @rule()
    def save(self) -> None:
        self.kb.save()

    @rule(save=st.booleans())
    def reopen(self, save: bool) -> None:
        """Close cleanly, or drop everything unsaved as a crash would."""
        self.kb.close(save=save)
        self.kb = self._open()
        assert not [n for n in self.kb.notices if "damaged" in n]

    @rule(offset=st.integers(0, 10_000), bit=st.integers(0, 7))
    def corrupt_snapshot(self, offset: int, bit: int) -> None:
        self.kb.close(save=False)
        path = self.folder / SNAPSHOT_NAME
        damaged = path.exists()
        if damaged:
            data = bytearray(path.read_bytes())
            data[offset % len(data)] ^= 1 << bit
            path.write_bytes(bytes(data))
        self.kb = self._open()
        assert any("damaged" in n for n in self.kb.notices) == damaged

    @rule(statement=statements)
    def search(self, statement: str) -> None:
        hits = self.kb.search(statement, k=3)
        current = {i for i, e in self.model.items() if e.current}
        assert {h.record.id for h in hits} <= current
        assert len(hits) == min(3, len(current))
        exact = self._current_with(statement)
        if exact is not None:  # word order does not count: "red blue 0" ties "blue red 0"
            assert exact in [h.record.id for h in hits if h.score > 0.999]

    @invariant()
    def matches_the_model(self) -> None:
        assert self.kb.check() == []
        current = sorted(i for i, e in self.model.items() if e.current)
        assert [r.id for r in self.kb.records()] == current
        history = {r.id: r.superseded_by for r in self.kb.records(include_superseded=True)}
        assert history == {i: e.superseded_by for i, e in self.model.items() if not e.deleted}

    def teardown(self) -> None:
        self.kb.close(save=False)
        shutil.rmtree(self.folder, ignore_errors=True)


KnowledgeBaseMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_knowledge_base_against_a_model = KnowledgeBaseMachine.TestCase
