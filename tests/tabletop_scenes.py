"""Constructed tabletop scenes and readers of generated code, for planner tests."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from planner.context import PlannerContext, Proposal, StepRecord, TaskCorrection
from planner.embedded.backend import EmbeddedPlanner
from skills.objects import ObjectState

SIZES = {
    "block": (0.04, 0.04, 0.04),
    "bar": (0.12, 0.03, 0.03),
    "cylinder": (0.055, 0.055, 0.09),
    "bowl": (0.17, 0.17, 0.05),
    "zone": (0.12, 0.12, 0.002),
}
KINDS = {"block": "block", "bar": "bar", "can": "cylinder", "bowl": "bowl", "zone": "zone"}

Move = tuple[str, str | tuple[float, float]]


def obj(name: str, x: float, y: float, yaw: float = 0.0) -> ObjectState:
    """An object named "<colour> <kind>" standing on the table at (x, y)."""
    color, kind = name.split()
    category = KINDS[kind]
    size = SIZES[category]
    return ObjectState(name, category, color, (x, y, size[2] / 2), size, yaw)


def scene(*items: tuple) -> tuple[ObjectState, ...]:
    return tuple(obj(*item) for item in items)


def moves(code: str) -> list[Move]:
    """(object, target) of each pick-and-place: a target is a name or an (x, y) position."""
    found: list[Move] = []
    picked = None
    for line in code.splitlines():
        line = line.strip()
        if m := re.match(r'put_first_on_second\("([^"]+)", (.+)\)', line):
            found.append((m.group(1), _target(m.group(2))))
        elif m := re.match(r'pick\("([^"]+)"', line):
            picked = m.group(1)
        elif (m := re.match(r"place\((\"[^\"]+\"|\[[^\]]+\])", line)) and picked:
            found.append((picked, _target(m.group(1))))
            picked = None
    return found


def _target(text: str) -> str | tuple[float, float]:
    text = text.split("  #")[0].strip()
    if text.startswith("["):
        x, y = (float(v) for v in text.strip("[]").split(","))
        return (x, y)
    return text.strip('"')


def propose(
    planner: EmbeddedPlanner,
    instruction: str,
    objects: tuple[ObjectState, ...],
    answers: tuple[tuple[str, str], ...] = (),
    history: tuple[StepRecord, ...] = (),
    knowledge: tuple[str, ...] = (),
    corrections: tuple[TaskCorrection, ...] = (),
) -> str:
    """The code the planner proposes for this context."""
    context = PlannerContext(
        instruction,
        objects,
        "",
        history=history,
        answers=answers,
        knowledge=knowledge,
        corrections=corrections,
    )
    return planner.propose(context).code


def sized(name: str, x: float, y: float, size: tuple[float, float, float]) -> ObjectState:
    """`obj` with another size, standing on the table."""
    return replace(obj(name, x, y), size=size, position=(x, y, size[2] / 2))


def proposal_for(instruction: str, objects: Sequence[ObjectState]) -> Proposal:
    """The embedded planner's first proposal for the instruction in this scene."""
    return EmbeddedPlanner().propose(PlannerContext(instruction, tuple(objects), ""))


def stated_goal(instruction: str, objects: Sequence[ObjectState]) -> tuple[dict, ...]:
    """The goal predicates the planner states for the instruction (it must state one)."""
    proposal = proposal_for(instruction, objects)
    assert proposal.goal is not None, proposal.thought
    return proposal.goal.predicates
