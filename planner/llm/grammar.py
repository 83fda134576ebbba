"""Constrained decoding: a GBNF grammar of the replies a planner step may give.

A reply is one ``Thought:`` line, one ``Goal:`` line (the task's success predicates,
`planner.llm.goal_line`) and one ```python block of calls to API functions, one per
line. Object arguments are string literals naming objects of the current scene or a
description the planner grounds (``find("leftmost block")``; ``find_all(...)`` for a list),
places are relation calls (``left_of("red block", 0.1)``), ``[x, y]`` or an object, and regions
and push directions are the words the skills know. A model decoding under this grammar
(llama.cpp's GBNF) can not write an unknown function, a misspelt object, an import or
prose where code belongs.

The grammar is built from the API's declarations. What an argument may be comes from its
parameter name (`ARG_ROLES`); a test keeps every declared parameter covered.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace

from perception.geometry import ROW_ORDERS
from planner.llm import goal_line
from planner.sandbox.schema import FunctionSpec, Param
from skills.params import MoveParams, PickParams, PlaceParams, PushParams

STATEMENT_GROUPS = ("skill", "arm", "interaction")  # what a line of the program may call
TALK_GROUP = "interaction"  # say, ask, refuse, done: a program of these alone moves nothing
ENDING = "done"  # never a program alone: the task is either acted on or answered in words
PLACE_GROUP = "place"  # functions that give a position, used as a target argument
SELECT_GROUP = "select"  # functions that name objects from words, used as object arguments
MOVING_GROUP = "skill"  # functions whose object arguments are objects the robot moves
MAX_STATEMENTS = 12
MAX_THOUGHT_CHARS = 200

ARG_ROLES: Mapping[str, str] = {
    "obj": "object",
    "objs": "objects",
    "bottom": "base",
    "above": "objects",
    "a": "object",
    "b": "object",
    "target": "target",
    "region": "region",
    "along": "side",
    "order": "row-order",
    "direction": "direction",
    "text": "text",
    "question": "text",
    "reason": "text",
    "offset": "vec2",
    "description": "phrase",
}
"""What a parameter of a given name may be given; numbers need no entry (their type says)."""
POSITIVE = frozenset(
    f.name
    for params in (PickParams, PlaceParams, PushParams, MoveParams)
    for f in fields(params)
    if (limits := params.limits(f.name)) is not None and limits[0] > 0
)
"""Skill parameters whose range starts above zero (a speed, a force, a clearance): a reply
may not give them 0 ("approach_height=0.00" failed the same way three steps running)."""


def _literal(text: str) -> str:
    """A GBNF terminal matching `text` exactly (JSON escapes are GBNF's escapes)."""
    return json.dumps(text)


def _quoted(words: Sequence[str]) -> str:
    """Alternatives matching each word as a Python string literal in double quotes."""
    return " | ".join(_literal(json.dumps(w)) for w in words)


def _rule(name: str) -> str:
    return name.replace("_", "-")


@dataclass(frozen=True)
class _Pool:
    """What object arguments may name: every object, and those a skill moves."""

    objects: int
    movable: int
    places: bool
    many: str = ""  # the rule of a call naming several objects ("fn-find-all"), if any

    def value(self, param: Param, moves: bool = False) -> str:
        """The rule an argument of this parameter matches; the objects a skill moves
        (`moves`) are only those the robot can pick up, and a list holds as many distinct
        objects as the parameter takes and the scene has."""
        role = ARG_ROLES.get(param.name)
        if role == "target":
            return "target" if self.places else "object | vec2"
        if role == "base":  # what others go on: an object the robot could move, left still
            return "movable"
        if role in ("object", "objects"):
            item = "movable" if moves else "object"
            if role == "object":
                return item
            most = min(param.max_len, self.movable if moves else self.objects)
            least = _least(param)
            listed = f'"[" {item} (", " {item}){{{least - 1},{most - 1}}} "]"'
            return f"{listed} | {self.many}" if self.many else listed
        if role is not None:
            return role
        if param.type in ("float", "int"):
            return "positive" if param.name in POSITIVE else "number"
        if param.type in ("vec2", "vec", "vec3"):
            return "vec2"
        raise ValueError(
            f"no grammar for parameter {param.name!r} ({param.type}): add it to ARG_ROLES"
        )

    def fits(self, spec: FunctionSpec, moves: bool) -> bool:
        """Whether the scene has as many distinct objects as the object arguments of `spec`
        need (a swap two, a tower one below and one above)."""
        roles = [(ARG_ROLES.get(p.name), p) for p in spec.params]
        needed = sum(_least(p) if r == "objects" else r in ("object", "base") for r, p in roles)
        targets = any(r == "target" for r, _ in roles)  # the rule exists with objects only
        return needed <= (self.movable if moves else self.objects) and not (
            targets and self.objects == 0
        )


def _least(param: Param) -> int:
    """The fewest objects a reply's list for `param` holds."""
    return max(param.min_len, 1)


def _chain(values: Sequence[str]) -> str:
    """``v1 (", " v2 (", " v3)?)?``: the first values, in order, as many as wanted."""
    tail = ""
    for value in reversed(values[1:]):
        tail = f'(", " {value} {tail})?'
    return f"{values[0]} {tail}".strip()


def _call(spec: FunctionSpec, pool: _Pool, moves: bool = False) -> str:
    """``name(required, optional..., keyword=value...)``: required arguments by position
    (by name where the parameter says so), then optional ones by position (in order, as
    many as wanted), then by keyword."""
    required = [
        (f'"{p.name}=" ' if p.named else "") + f"({pool.value(p, moves)})"
        for p in spec.params
        if not p.optional
    ]
    optional = [p for p in spec.params if p.optional]
    body = ' ", " '.join(required)
    if optional:
        values = [f"({pool.value(p, moves)})" for p in optional]
        keyword = (
            "("
            + " | ".join(f'"{p.name}=" {v}' for p, v in zip(optional, values, strict=True))
            + ")"
        )
        if required:
            body += f' (", " {_chain(values)})? (", " {keyword})*'
        else:
            body = f'(({_chain(values)} | {keyword}) (", " {keyword})*)?'
    return f'{_literal(spec.name + "(")} {body} ")"'.replace("  ", " ")


def _alternatives(rule: str, functions: Sequence[str]) -> str:
    """``rule ::= (fn-a | fn-b ...) "\\n"``: one line calling one of `functions`."""
    return f"{rule} ::= (" + " | ".join(f"fn-{_rule(n)}" for n in functions) + ') "\\n"'


def reply_grammar(
    functions: Mapping[str, tuple[FunctionSpec, str]],
    objects: Sequence[str],
    regions: Sequence[str],
    directions: Sequence[str],
    movable: Sequence[str] = (),
    sides: Sequence[str] = (),
    row_orders: Sequence[str] = ROW_ORDERS,
    max_statements: int = MAX_STATEMENTS,
    must_act: bool = False,
    must_talk: bool = False,
    fixed: Collection[str] = (),
) -> str:
    """The GBNF grammar of a reply for a scene holding `objects`.

    Args:
        functions: API name -> (its spec, its group); statements call the `skill` and
            `arm` and `interaction` groups, targets may call the `place` group.
        objects: names of the objects in the scene (the only object literals allowed).
        regions: region names `region_pos` accepts.
        directions: push directions.
        movable: the objects the robot can pick up; the objects a `skill` acts on are
            these (a bowl or a zone is never picked, stacked or swapped).
        sides: the regions along the table's edges a row may run by (default: any region).
        row_orders: the ways a row may run ("left to right", ...).
        max_statements: most lines in the program.
        must_act: no "Goal: none" reply of words alone (the task was read as impossible
            while the scene lists what it needs).
        must_talk: only a reply of words - a question, a refusal, an answer (the words name
            what the scene lacks, or fit several objects and nothing says which).
        fixed: objects held still: named only in a goal that they stay (``unmoved``), never
            moved, nor a place or a reference point (none when that would leave no object).
    """
    everything = list(objects)
    objects = [o for o in objects if o not in set(fixed)] or everything
    containers = [o for o in objects if o not in set(movable)]  # bowls and zones
    pool = _Pool(len(set(objects)), len(set(movable)), places=False)
    usable = {
        name: (spec, group)
        for name, (spec, group) in functions.items()
        if pool.fits(spec, moves=group == MOVING_GROUP)
    }
    place_names = [n for n, (_, g) in usable.items() if g == PLACE_GROUP]
    selects = [n for n, (_, g) in usable.items() if g == SELECT_GROUP] if objects else []
    finds_one = [f"fn-{_rule(n)}" for n in selects if not usable[n][0].returns.startswith("list")]
    finds_many = [f"fn-{_rule(n)}" for n in selects if usable[n][0].returns.startswith("list")]
    pool = replace(pool, places=bool(place_names), many=" | ".join(finds_many))
    statements = [n for n, (_, g) in usable.items() if g in STATEMENT_GROUPS]
    if not statements:
        raise ValueError("the API declares no statement functions")
    talking = [n for n in statements if usable[n][1] == TALK_GROUP]
    acting = [n for n in statements if n not in talking]
    speaking = [n for n in talking if n != ENDING]
    n = max_statements
    body = f'goal "\\n```python\\n" stmt{{1,{n}}}'
    if objects and acting and speaking:  # a goal needs motion; none (or unmoved): words
        acts = f'preds "\\n```python\\n" act stmt{{0,{n - 1}}}'
        words = f'("none" | still) "\\n```python\\n" speak stmt-talk{{0,{n - 1}}}'
        body = acts if must_act else words if must_talk else f"({words} | {acts})"
    lines = [
        f'root ::= "Thought: " thought "\\nGoal: " {body} "```"',
        f"thought ::= [^\\n`]{{1,{MAX_THOUGHT_CHARS}}}",
        _alternatives("stmt", statements),
        _alternatives("stmt-talk", talking or statements),
        _alternatives("speak", speaking or statements),
        _alternatives("act", acting or statements),
        'number ::= "-"? [0-9]{1,3} ("." [0-9]{1,4})?',
        'positive ::= [1-9] [0-9]{0,2} ("." [0-9]{1,4})? | "0." [0]{0,3} [1-9] [0-9]{0,3}',
        'vec2 ::= "[" number ", " number "]"',
        'text ::= "\\"" [^"\\\\\\n]{0,160} "\\""',
        'phrase ::= "\\"" [a-z0-9 ,\'-]{1,80} "\\""',
        f"region ::= {_quoted(regions)}",
        f"side ::= {_quoted(sides or regions)}",
        f"row-order ::= {_quoted(row_orders)}",
        f"direction-word ::= {_quoted(directions)}",
        "direction ::= direction-word | vec2",
        *goal_line.grammar_rules(bool(objects), bool(movable), bool(containers), pool.many),
    ]
    described = "".join(f" | {rule}" for rule in finds_one)  # find("leftmost block")
    if objects:
        lines.append(f"object ::= {_quoted(objects)}{described}")
        kept = _quoted(everything) if len(everything) > len(objects) else "object"
        lines.append(f"any-object ::= {kept}")  # what a goal may keep where it is
        # a goal that only keeps things where they are goes with words alone (a question)
        lines.append('still ::= "unmoved(" any-object (", " any-object)* ")"')
        places = " | ".join(f"fn-{_rule(n)}" for n in place_names)
        lines.append("target ::= object | vec2" + (f" | {places}" if places else ""))
    if movable:
        lines.append(f"movable ::= {_quoted(movable)}{described}")
    if containers:
        lines.append(f"container ::= {_quoted(containers)}{described}")
    for name in [*statements, *place_names, *selects]:
        spec, group = usable[name]
        call = _call(spec, pool, moves=group == MOVING_GROUP)
        lines.append(f"fn-{_rule(name)} ::= {call}")
    return "\n".join(lines) + "\n"
