"""Program memory: verified programs remembered and replayed with their names rebound.

A task whose goal was verified in one program is stored (`remembered`) as its
instruction, the program and the goal, with every object the program names lifted to a
role described by its kind and colour. A later instruction that says the same with other
colours or kinds ("put the green block in the yellow bowl" after "put the red block in
the blue bowl") is aligned word by word with the stored one; each role is re-described
by the words that changed and must then fit exactly one object of the new scene. Only
then is the program replayed, with no parse and no model; its goal is checked as any.
Programs that name coordinates, talk, ask or refuse are not kept: they hold for one scene.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from memory.records import (
    PROGRAM,
    Context,
    KnowledgeRecord,
    ObjectContext,
    Provenance,
    utc_now,
)
from planner.api import DESCRIBED
from planner.goals import Goal
from planner.language.lexicon import COLOR_SYNONYMS, COLORS, category_of, normalize, singular
from planner.outcome import TaskOutcome
from skills.objects import ObjectState

SCENE_BOUND = re.compile(r"(?<!offset=)\[\s*-?\d|\b(?:say|ask|refuse|move_to|move_by)\(")
"""Code that holds for one scene only: table coordinates (an offset from an object moves
with it), talk, questions, refusals, arm moves."""
FILLER = frozenset(
    ("please", "now", "kindly", "thanks", "thank", "you", "could", "would", "will", "just")
)
_NAME = re.compile(r'"([^"\\]+)"')
NOTHING_MOVED = "scene changes: none"  # the loop's Observation line for a step that moved nothing


@dataclass(frozen=True)
class Replay:
    """A remembered program bound to the current scene."""

    code: str
    goal: Goal
    instruction: str  # the instruction it was verified for
    bindings: tuple[tuple[str, str], ...]  # (name then, name now)


def program_record(
    episode: str, instruction: str, outcome: TaskOutcome, scene: Sequence[ObjectState]
) -> KnowledgeRecord | None:
    """The ``program`` record a finished task leaves: its goal was verified by the last
    program, every earlier step moved nothing (the last program did it all from the
    scene the task began in, `scene`), and it was not itself replayed from memory."""
    if outcome.status != "verified" or not outcome.history or outcome.served_by[-1] == "memory":
        return None
    if any(NOTHING_MOVED not in step.observation for step in outcome.history[:-1]):
        return None
    code = outcome.history[-1].code
    change = remembered(instruction, code, outcome.goal, scene)
    if change is None:
        return None
    named = set(_NAME.findall(code))
    return KnowledgeRecord(
        PROGRAM,
        instruction,
        change,
        Context(instruction, tuple(ObjectContext.from_state(o) for o in scene if o.name in named)),
        Provenance(episode, "", utc_now()),
    )


def remembered(
    instruction: str, code: str, goal: Sequence[dict], scene: Sequence[ObjectState]
) -> dict[str, Any] | None:
    """The change of a ``program`` record for a verified task, or None when the program
    can not be replayed elsewhere: it names coordinates, talks, names an unknown object, or
    picks objects by description (`find()` would choose anew where the goal names the old
    choice)."""
    if SCENE_BOUND.search(code) or DESCRIBED.search(code) or not goal:
        return None
    by_name = {o.name: o for o in scene}
    in_code = _NAME.findall(code)
    if not in_code or any(n not in by_name for n in in_code):
        return None
    names = list(dict.fromkeys([*in_code, *(n for raw in goal for n in _strings(raw))]))
    names = [n for n in names if n in by_name]  # regions are words, not objects
    roles = {n: f"r{i}" for i, n in enumerate(names)}
    lifted = _rename(code, roles)
    lifted_goal = [_rename_raw(raw, roles) for raw in goal]
    return {
        "rule": "program",
        "program": lifted,
        "goal": lifted_goal,
        "roles": {
            roles[n]: {
                "category": by_name[n].category,
                "color": by_name[n].color,
                "acts": n in in_code,  # the program acts on it; else only its goal names it
            }
            for n in names
        },
    }


def replay(
    stored_instruction: str,
    change: Mapping[str, Any],
    instruction: str,
    scene: Sequence[ObjectState],
) -> Replay | None:
    """The stored program for `instruction` in `scene`, or None when the words differ in
    more than colours and kinds or a role does not fit exactly one object."""
    swaps = _word_swaps(normalize(stored_instruction), normalize(instruction))
    if swaps is None:
        return None
    chosen: dict[str, ObjectState] = {}
    roles = sorted(change["roles"].items(), key=lambda item: not item[1].get("acts", True))
    for role, attrs in roles:  # the objects acted on first; bystanders may drop out
        color = swaps.get(attrs["color"], attrs["color"])
        category = _swapped_category(attrs["category"], swaps)
        fits = [o for o in scene if o.category == category and o.color == color]
        if len(fits) == 1 and fits[0] not in chosen.values():
            chosen[role] = fits[0]
        elif attrs.get("acts", True):
            return None
    names = {role: o.name for role, o in chosen.items()}
    code = _rename(change["program"], names)
    goal = tuple(
        _rename_raw(raw, names)
        for raw in change["goal"]
        if set(_strings(raw)) & set(change["roles"]) <= set(names)  # bound roles only
    )
    then = {role: f"{a['color']} {a['category']}" for role, a in change["roles"].items()}
    bindings = tuple((then[r], n) for r, n in names.items())
    return Replay(code, Goal(goal), stored_instruction, bindings)


def _word_swaps(then: str, now: str) -> dict[str, str] | None:
    """Word-for-word substitutions of colours and kinds between two phrasings ({"red":
    "green"}), None when they differ otherwise ("left" for "right", words added or dropped
    that are not filler): a program for one relation never serves another."""
    a, b = then.split(), now.split()
    swaps: dict[str, str] = {}
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for old, new in zip(a[i1:i2], b[j1:j2], strict=True):
                if not _same_slot(old, new) or swaps.setdefault(old, new) != new:
                    return None
        elif not set(a[i1:i2] + b[j1:j2]) <= FILLER:
            return None
    return swaps


def _same_slot(old: str, new: str) -> bool:
    """Whether two words fill the same slot of a phrase: two colours or two kinds."""
    colors = set(COLORS) | set(COLOR_SYNONYMS)
    if old in colors or new in colors:
        return old in colors and new in colors
    return bool(category_of(singular(old))) and bool(category_of(singular(new)))


def _swapped_category(category: str, swaps: Mapping[str, str]) -> str:
    """The role's kind after the swaps: "block" -> "can" makes it a cylinder."""
    for old, new in swaps.items():
        if category_of(singular(old)) == category and category_of(singular(new)):
            return str(category_of(singular(new)))
    return category


def _rename(code: str, names: Mapping[str, str]) -> str:
    """The code with each quoted name in `names` replaced by its new name."""

    def sub(m: re.Match[str]) -> str:
        return f'"{names[m.group(1)]}"' if m.group(1) in names else m.group(0)

    return _NAME.sub(sub, code)


def _rename_raw(raw: Any, names: Mapping[str, str]) -> Any:
    """A goal predicate (YAML form) with its names replaced."""
    if isinstance(raw, str):
        return names.get(raw, raw)
    if isinstance(raw, list):
        return [_rename_raw(v, names) for v in raw]
    if isinstance(raw, dict):
        return {k: _rename_raw(v, names) for k, v in raw.items()}
    return raw


def _strings(raw: Any) -> list[str]:
    """Every string in a goal predicate's arguments (object names and region words)."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [s for v in raw for s in _strings(v)]
    if isinstance(raw, dict):
        return [s for v in raw.values() for s in _strings(v)]
    return []
