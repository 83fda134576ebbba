"""What a planner backend sees and returns.

LLM backends render the context into a prompt; the offline parser reads it directly.
Every backend answers with a `Proposal`, so the loop treats them all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.goals import Goal
from skills.objects import ObjectState


@dataclass(frozen=True)
class StepRecord:
    """One earlier step: what was thought, the code, what came back, and the goal the
    step stated (YAML-form predicates; empty when it stated none)."""

    thought: str
    code: str
    observation: str
    ok: bool
    goal: tuple[dict, ...] = ()


@dataclass(frozen=True)
class TaskCorrection:
    """A task-level correction as it was given, with what it refers to.

    "No, the other bowl" or "put it back" mean something only against the program just
    run, so the moves and the scene at that moment are kept with the words.

    Attributes:
        text: what the user said.
        intent: ``retarget``, ``replan``, ``preference``, ``meaning``, ``undo`` or
            ``unclear``.
        moved: objects the program before it moved, with their (x, y) before that program.
        scene: the objects as they were when the correction was given.
    """

    text: str
    intent: str
    moved: tuple[tuple[str, float, float], ...] = ()
    scene: tuple[ObjectState, ...] = ()


@dataclass(frozen=True)
class RememberedProgram:
    """A verified program retrieved from memory for a similar instruction.

    Attributes:
        instruction: the instruction it was verified for.
        change: the stored record's change (`planner.programs.remembered`).
        score: retrieval similarity to the current instruction.
        record_id: the knowledge record it came from.
    """

    instruction: str
    change: dict
    score: float = 0.0
    record_id: int | None = None


@dataclass(frozen=True)
class PlannerContext:
    """Everything a backend may use to decide the next step.

    Attributes:
        instruction: the user's instruction.
        scene: objects as the robot sees them now.
        scene_text: the scene as text (what an LLM reads).
        history: earlier steps of this task.
        knowledge: retrieved task knowledge statements.
        answers: (question, answer) pairs from earlier `ask` calls.
        corrections: task-level corrections given during this task, oldest first.
        last_moves: objects the previous program moved, with their (x, y) before it.
        api: the API listing.
        initial_scene_text: the scene as text when the task began.
        initial_scene: the objects when the task began, where the instruction's phrases are
            grounded (empty: the scene now).
        programs: verified programs remembered for similar instructions, best first.
        order: when the instruction teaches, what it also asks to be done now ("stick the
            brown block on the pink mat" of "... - brown things always go there"), "" when
            it only teaches; None when it teaches nothing.
    """

    instruction: str
    scene: tuple[ObjectState, ...]
    scene_text: str
    history: tuple[StepRecord, ...] = ()
    knowledge: tuple[str, ...] = ()
    answers: tuple[tuple[str, str], ...] = ()
    corrections: tuple[TaskCorrection, ...] = ()
    last_moves: tuple[tuple[str, float, float], ...] = ()
    api: str = ""
    initial_scene_text: str = ""
    initial_scene: tuple[ObjectState, ...] = ()
    programs: tuple[RememberedProgram, ...] = ()
    order: str | None = None


@dataclass(frozen=True)
class Proposal:
    """A backend's answer: a Thought and code, the task's goal, and the model's cost.

    `goal` is the whole task's success condition (None: unchanged since an earlier step);
    `served_by` names the cascade level that wrote it (``memory``, ``parser``, ``llm``).
    """

    thought: str
    code: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    meta: dict = field(default_factory=dict)
    goal: Goal | None = None
    served_by: str = ""
