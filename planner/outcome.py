"""How a task ended: its outcome and cost, and what distillation reads from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memory.records import Context, ObjectContext, Provenance, utc_now
from planner.context import StepRecord, TaskCorrection
from skills.objects import ObjectState

STATUSES = ("verified", "failed", "unverified", "refused", "stopped")
"""verified: the stated goal held on the perceived scene; failed: it did not when the steps
ran out; unverified: the program finished but no goal could be stated; refused: the
planner declined; stopped: the user stopped it."""
FINISHED = ("verified", "unverified")  # the planner believes the task was carried out


@dataclass
class TaskOutcome:
    """How a task ended and what it cost."""

    status: str  # one of STATUSES
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_s: float = 0.0
    step_model_s: list[float] = field(default_factory=list)  # model seconds of each step
    step_plan_s: list[float] = field(default_factory=list)  # seconds proposing each step
    cached_tokens: int = 0  # prompt tokens the model reused from its previous call
    overhead_s: list[float] = field(default_factory=list)  # per step, excluding model and run
    questions: list[tuple[str, str]] = field(default_factory=list)
    history: list[StepRecord] = field(default_factory=list)
    rescued: int = 0  # failed steps followed by a successful one (self-debugging)
    reason: str = ""
    corrections: list[dict] = field(default_factory=list)  # text, kind, intent, applied
    task_corrections: list[TaskCorrection] = field(default_factory=list)
    adjustments: dict[tuple[str, str], dict] = field(default_factory=dict)  # (skill, obj)
    goal: list[dict] = field(default_factory=list)  # the last stated goal's predicates
    unmet: list[str] = field(default_factory=list)  # its predicates the final check found unmet
    served_by: list[str] = field(default_factory=list)  # cascade level of each step
    repeated_questions: int = 0  # questions a program asked again (answered from before)
    knowledge_applied: list[str] = field(default_factory=list)  # retrieved statements acted on


@dataclass(frozen=True)
class SkillLesson:
    """Parameters that corrections set for one skill on one object, and what was said."""

    skill: str
    obj: ObjectState
    params: dict[str, Any]
    said: tuple[str, ...] = ()


@dataclass(frozen=True)
class CorrectedTask:
    """A finished task and the corrections it took: what distillation reads.

    Attributes:
        episode: id of the episode or run folder.
        instruction: what the robot was asked.
        status: how the task ended (only ``done`` tasks teach anything).
        corrections: the task-level corrections, oldest first.
        skills: parameters skill-level corrections left in force.
        scene: the objects at the end of the task.
        answers: the planner's questions and the user's answers, in order.
    """

    episode: str
    instruction: str
    status: str
    corrections: tuple[TaskCorrection, ...] = ()
    skills: tuple[SkillLesson, ...] = ()
    scene: tuple[ObjectState, ...] = ()
    time: str = field(default_factory=utc_now)
    answers: tuple[tuple[str, str], ...] = ()

    def context(self, objects: Sequence[ObjectState]) -> Context:
        return Context(self.instruction, tuple(ObjectContext.from_state(o) for o in objects))

    def provenance(self, said: str) -> Provenance:
        return Provenance(self.episode, said, self.time)


def corrected_task(
    episode: str, instruction: str, outcome: TaskOutcome, scene: Sequence[ObjectState]
) -> CorrectedTask:
    """What a finished task's outcome says about its corrections, for `distill`."""
    by_name = {o.name: o for o in scene}
    lessons = []
    for (skill, name), params in outcome.adjustments.items():
        if name not in by_name:
            continue
        said = tuple(
            c["text"]
            for c in outcome.corrections
            if any(a.startswith(f"{skill} on {name}:") for a in c.get("applied", ()))
        )
        lessons.append(SkillLesson(skill, by_name[name], dict(params), said))
    return CorrectedTask(
        episode,
        instruction,
        outcome.status,
        tuple(outcome.task_corrections),
        tuple(lessons),
        tuple(scene),
        answers=tuple(outcome.questions),
    )
