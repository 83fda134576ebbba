"""The ``Goal:`` line of an LLM reply: the task's success predicates as calls.

``Goal: in("red block", "green bowl"); unmoved("blue block")`` is the predicates
``{in: [red block, green bowl]}`` and ``{unmoved: [blue block]}`` of the suites'
language; ``Goal: none`` says no goal can be stated (a question, a refusal). Only kinds
whose arguments are a list fit on the line; the grammar offers exactly those.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence

from perception.predicates import PREDICATES
from planner.goals import Goal, RawPredicate
from skills.primitives import DIRECTIONS

DICT_ARGS = ("count", "spread", "holding")  # kinds whose arguments are not a list
LINE_KINDS = tuple(k for k in PREDICATES.names() if k not in DICT_ARGS)
NEAR_DEFAULT = 0.12  # near(a, b) without a distance: footprints this close
MAX_PREDICATES = 8
TOWER = "stacked"  # bottom first; stacked(a, b) is on(b, a)
INSIDE = "in"  # a thing the robot moves, in a bowl or on a zone
SHIFT = "shifted"  # shifted(a, "left", 0.1) on the line, as push says it
KEPT = "unmoved"  # may name any object, even one no other call may name
_LINE = re.compile(r"^\s*(?:\*\*)?goal(?:\*\*)?\s*:\s*(?P<body>.*)$", re.I | re.M)
_CALL = re.compile(r"(?P<kind>[a-z_]+)\((?P<args>[^()]*)\)")
_DESCRIBED = re.compile(r"\bfind(?:_all)?\(")
Grounding = Callable[[str], tuple[str, list[str]]]  # text -> its names, and what failed


def render(predicates: Sequence[RawPredicate]) -> str:
    """The goal line's body for predicates in YAML form ("none" when none fits)."""
    calls = []
    for raw in predicates:
        ((kind, args),) = raw.items()
        if kind == SHIFT and isinstance(args, list) and len(args) == 2:
            said = _said_shift(args[1])  # shifted(a, "left", 0.1), as push says it
            args = [args[0], *said] if said else None  # a diagonal shift has no words
        if kind in LINE_KINDS and isinstance(args, list):
            calls.append(f"{kind}({', '.join(_literal(a) for a in args)})")
    return "; ".join(calls) or "none"


def _said_shift(shift: Sequence[float]) -> list | None:
    """(dx, dy) as push says it: a direction word and a distance when along one axis,
    else None."""
    dx, dy = shift
    for word in ("left", "right", "away", "front"):
        ux, uy = DIRECTIONS[word]
        distance = dx * ux + dy * uy
        if distance > 0 and abs(dx - ux * distance) + abs(dy - uy * distance) < 1e-9:
            return [word, round(distance, 4)]
    return None


def _literal(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else f"{value:g}"


def read(text: str, ground: Grounding | None = None) -> Goal | None:
    """The goal a reply states (None: the reply has no Goal line); `ground` gives the names
    of the objects its ``find("...")`` calls describe."""
    m = _LINE.search(text)
    if m is None:
        return None
    body = m.group("body").strip().strip("`")
    if body.lower().startswith("none"):
        return Goal.unstated("the planner said no goal can be checked")
    if ground is not None:
        body, problems = ground(body)
        if problems:
            return Goal.unstated(f"its goal names what the scene does not settle: {problems[0]}")
    if _DESCRIBED.search(body):  # not grounded: no scene to ground in, or not as written
        return Goal.unstated(f"its goal names objects by description only: {body[:80]}")
    predicates = []
    for call in list(_CALL.finditer(body))[:MAX_PREDICATES]:
        kind = call.group("kind")
        try:
            args = list(ast.literal_eval(f"[{call.group('args')}]"))
        except (ValueError, SyntaxError):
            return Goal.unstated(f"its goal could not be read: {call.group(0)[:80]}")
        if kind == INSIDE and len(args) == 2 and isinstance(args[0], list):  # find_all(...)
            predicates += [{kind: [name, args[1]]} for name in args[0]]
            continue
        if kind != SHIFT:  # unmoved(find_all(...)): the names, one argument each
            args = [x for a in args for x in (a if isinstance(a, list) else [a])]
        if kind == "near" and len(args) == 2:
            args.append(NEAR_DEFAULT)
        if kind == SHIFT and len(args) == 3 and isinstance(args[1], str) and args[1] in DIRECTIONS:
            (ux, uy), distance = DIRECTIONS[args[1]], float(args[2])
            args = [args[0], [round(ux * distance, 4), round(uy * distance, 4)]]
        predicates.append({kind: args})
    if not predicates:
        return Goal.unstated(f"its goal could not be read: {body[:80]}")
    return Goal(tuple(predicates))


def strip(text: str) -> str:
    """The reply without its Goal line (what the Thought and code readers see)."""
    return _LINE.sub("", text, count=1)


def grammar_rules(
    has_objects: bool, movable: bool = False, containers: bool = False, many: str = ""
) -> list[str]:
    """GBNF rules of the goal line's body (`goal`; `preds` when it states predicates),
    over the grammar's `object`, `any-object`, `movable`, `container`, `number`, `region`
    and `direction-word` rules.

    Typed where the kind says what its objects are: a tower (bottom first) holds things
    the robot moves, ``in`` puts one of them (or each of `many`: a call naming several,
    ``find_all(...)``) in a container, and ``shifted`` moves one a distance in a
    direction, the words `push` takes; ``unmoved`` may name any object (`any-object`),
    even one held still that no other predicate may name."""
    if not has_objects:
        return ['goal ::= "none"']
    typed = {TOWER: movable, INSIDE: movable and containers, SHIFT: movable}
    kinds = " | ".join(f'"{k}"' for k in LINE_KINDS if k not in {*typed, KEPT})
    shapes = []
    if typed[TOWER]:
        shapes.append(f'"{TOWER}(" movable (", " movable){{1,7}} ")"')
    if typed[INSIDE]:
        things = f"(movable | {many})" if many else "movable"
        shapes.append(f'"{INSIDE}(" {things} ", " container ")"')
    if typed[SHIFT]:
        shapes.append(f'"{SHIFT}(" movable ", " direction-word ", " number ")"')
    shapes.append(f'"{KEPT}(" any-object (", " any-object)* ")"')
    shapes.append('goal-kind "(" garg (", " garg)* ")"')
    return [
        'goal ::= "none" | preds',
        f'preds ::= pred ("; " pred){{0,{MAX_PREDICATES - 1}}}',
        f"pred ::= {' | '.join(shapes)}",
        f"goal-kind ::= {kinds}",
        "garg ::= object | number | region",
    ]
