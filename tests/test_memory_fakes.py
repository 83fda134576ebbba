"""Test doubles and record factories for the memory tests (this module holds no tests).

`HashingEmbedder` is a deterministic stand-in for MiniLM: every word is hashed to a few
signed coordinates of a 384-d vector, so statements sharing words are similar and the
vectors are the same in every process. It knows no synonyms; the MiniLM tests cover
meaning.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from memory.records import SKILL, TASK, Context, KnowledgeRecord, ObjectContext, Provenance


class HashingEmbedder:
    """Bag-of-words hashing embedder (a test double, not a language model)."""

    def __init__(self, name: str = "test-hashing", dimension: int = 384) -> None:
        self.name = name
        self.dimension = dimension
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                for j in range(3):
                    slot = int.from_bytes(digest[2 * j : 2 * j + 2], "little") % self.dimension
                    out[row, slot] += 1.0 if digest[6] >> j & 1 else -1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out

    encode_batch = embed


def task_record(statement: str, **change: object) -> KnowledgeRecord:
    """A task record with a small context and provenance."""
    return KnowledgeRecord(
        kind=TASK,
        statement=statement,
        change=change or {"note": statement},
        context=Context("put the blocks away", (ObjectContext("block", "red", (0.04,) * 3),)),
        provenance=Provenance("ep-1", f"no, {statement}", "2025-01-01T00:00:00Z"),
    )


def skill_record(
    statement: str, skill: str = "pick", applies_to: dict | None = None, **params: float
) -> KnowledgeRecord:
    """A skill record adjusting `params` of `skill` for objects matching `applies_to`."""
    change = {"skill": skill, "params": params or {"force": 60.0}}
    if applies_to is not None:
        change["applies_to"] = applies_to
    category = (applies_to or {}).get("category", "cylinder")
    return KnowledgeRecord(
        kind=SKILL,
        statement=statement,
        change=change,
        context=Context(f"{skill} the {category}", (ObjectContext(category, "gray"),)),
        provenance=Provenance("ep-2", statement, "2025-01-01T00:00:00Z"),
    )
