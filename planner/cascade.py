"""The default planner (`--llm auto`): program memory, then the offline parser, then a
local LLM, each step served by the first level that can.

1. **memory**: on a task's first step, a verified program remembered for a similar
   instruction whose objects re-ground in this scene is replayed (`planner.programs`).
2. **parser**: the offline parser, when it understood the words (its plan, its question
   about which object, or its refusal for a missing one all stand).
3. **llm**: a chat model (a pulled local model, or any backend given), when the parser
   did not understand; without one, the parser's question or refusal stands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from memory.records import KnowledgeRecord
from planner.context import PlannerContext, Proposal
from planner.embedded.backend import EmbeddedPlanner
from planner.outcome import CorrectedTask
from planner.programs import replay

if TYPE_CHECKING:
    from planner.backend import PlannerBackend
    from planner.corrections import Correction

LevelFactory = Callable[[], "PlannerBackend | None"]


class CascadePlanner:
    """Program memory -> offline parser -> LLM; `served_by` says which level answered.

    Args:
        parser: the offline parser.
        llm: makes the LLM backend on first need (None, or returning None: no model).
        name: the backend's name in traces.
    """

    def __init__(
        self,
        parser: EmbeddedPlanner | None = None,
        llm: LevelFactory | None = None,
        name: str = "auto",
    ) -> None:
        self.parser = parser or EmbeddedPlanner()
        self._make_llm = llm
        self._llm: PlannerBackend | None = None
        self._llm_tried = False
        self.name = name

    @property
    def llm(self) -> PlannerBackend | None:
        """The LLM level, made (a model loaded) only when a step first needs it."""
        if not self._llm_tried and self._make_llm is not None:
            self._llm_tried = True
            self._llm = self._make_llm()
        return self._llm

    def propose(self, context: PlannerContext) -> Proposal:
        proposal = None
        if not context.history and not context.corrections:
            remembered = self._from_memory(context)
            if remembered is not None:
                # a rule taught since that program ran ("never put anything in the blue
                # bowl") outranks it: replay only where the parser follows no retrieved rule
                proposal = self.parser.propose(context) if context.knowledge else None
                if proposal is None or not proposal.meta.get("applied"):
                    return remembered
        proposal = proposal or self.parser.propose(context)
        if proposal.meta.get("understood", True) or self.llm is None:
            return proposal
        answer = self.llm.propose(context)
        return replace(
            answer,
            thought=f"(the parser could not read it: {proposal.thought}) {answer.thought}",
            served_by=answer.served_by or "llm",
        )

    @staticmethod
    def _from_memory(context: PlannerContext) -> Proposal | None:
        for program in context.programs:
            found = replay(program.instruction, program.change, context.instruction, context.scene)
            if found is None:
                continue
            names = ", ".join(f"{then} -> {now}" for then, now in found.bindings if then != now)
            rebound = f" with {names}" if names else ""
            return Proposal(
                f"I did this before for {program.instruction!r} and it was verified: I replay "
                f"that program{rebound}.",
                found.code,
                goal=found.goal,
                served_by="memory",
                meta={"program": program.record_id, "score": round(program.score, 3)},
            )
        return None

    def define(self, function: str, call_site: str, context: PlannerContext) -> Proposal:
        level = self.llm or self.parser
        return level.define(function, call_site, context)

    def distill(self, task: CorrectedTask) -> list[KnowledgeRecord]:
        """What corrections teach, read by the model when one is loaded, else the parser."""
        return (self._llm or self.parser).distill(task)

    def classify_correction(self, text: str, context: PlannerContext) -> Correction | None:
        return self.llm.classify_correction(text, context) if self.llm is not None else None
