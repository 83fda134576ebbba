"""Typed errors of the knowledge base; each message is one line that says what to do."""

from __future__ import annotations

from skills.errors import HeedError


class KnowledgeBaseError(HeedError):
    """A knowledge-base operation was refused or failed; nothing was half-done."""


class KnowledgeBaseMissing(KnowledgeBaseError):
    """The folder holds no knowledge base and it was opened without `create`."""


class KnowledgeBaseLocked(KnowledgeBaseError):
    """Another process holds the writer lock of the knowledge base.

    Attributes:
        holder_pid: the process id written in the lock file, or None if unknown.
    """

    def __init__(self, message: str, holder_pid: int | None = None) -> None:
        super().__init__(message)
        self.holder_pid = holder_pid


class KnowledgeBaseDamaged(KnowledgeBaseError):
    """The database file is damaged or emptied; it was left as it is for salvage or repair.

    Attributes:
        problem: what is wrong with it, e.g. ``the file is empty (0 bytes)``.
    """

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


class KnowledgeBaseFull(KnowledgeBaseError):
    """The disk is full: the write was rolled back and the previous snapshot kept."""


class KnowledgeBaseReadOnly(KnowledgeBaseError):
    """A write was attempted on a knowledge base opened read-only."""


class EmbeddingMismatch(KnowledgeBaseError):
    """The embedder differs from the one the stored vectors were made with."""


class RecordNotFound(KnowledgeBaseError):
    """No live record has the given id.

    Attributes:
        record_id: the id asked for.
    """

    def __init__(self, record_id: int, detail: str = "") -> None:
        self.record_id = record_id
        super().__init__(f"no knowledge record {record_id}{detail}")
