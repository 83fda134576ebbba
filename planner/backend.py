"""The protocol every planner backend implements (the offline parser, LLMs, program
memory); the loop below them calls nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from planner.context import PlannerContext, Proposal
from skills.errors import HeedError

if TYPE_CHECKING:
    from memory.records import KnowledgeRecord
    from planner.corrections import Correction
    from planner.outcome import CorrectedTask


class BackendError(HeedError):
    """A backend could not propose a step (its model failed): the task ends there, said why,
    and a run of many tasks goes on."""


class PlannerBackend(Protocol):
    """Proposes the next program; defines functions the program calls but nobody wrote."""

    name: str

    def propose(self, context: PlannerContext) -> Proposal:
        """The Thought and code of the next step."""
        ...

    def define(self, function: str, call_site: str, context: PlannerContext) -> Proposal:
        """Code defining `function` (hierarchical code generation), given where it is called."""
        ...

    def distill(self, task: CorrectedTask) -> list[KnowledgeRecord]:
        """General knowledge records from a finished task's corrections."""
        ...

    def classify_correction(self, text: str, context: PlannerContext) -> Correction | None:
        """A reading of a correction the interpreter's patterns did not read (None: no
        better reading than the interpreter's fallback)."""
        ...
