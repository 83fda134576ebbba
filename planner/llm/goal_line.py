"""The ``Goal:`` line of an LLM reply: the task's success predicates as calls.

``Goal: in("red block", "green bowl"); unmoved("blue block")`` is the predicates
``{in: [red block, green bowl]}`` and ``{unmoved: [blue block]}`` of the suites'
language; ``Goal: none`` says no goal can be stated (a question, a refusal). Only kinds
whose arguments are a list fit on the line; the grammar offers exactly those.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from perception.predicates import PREDICATES
from planner.goals import Goal, RawPredicate

DICT_ARGS = ("count", "spread", "holding")  # kinds whose arguments are not a list
LINE_KINDS = tuple(k for k in PREDICATES.names() if k not in DICT_ARGS)
NEAR_DEFAULT = 0.12  # near(a, b) without a distance: footprints this close
MAX_PREDICATES = 8
_LINE = re.compile(r"^\s*(?:\*\*)?goal(?:\*\*)?\s*:\s*(?P<body>.*)$", re.I | re.M)
_CALL = re.compile(r"(?P<kind>[a-z_]+)\((?P<args>[^()]*)\)")


def render(predicates: Sequence[RawPredicate]) -> str:
    """The goal line's body for predicates in YAML form ("none" when none fits)."""
    calls = []
    for raw in predicates:
        ((kind, args),) = raw.items()
        if kind in LINE_KINDS and isinstance(args, list):
            calls.append(f"{kind}({', '.join(_literal(a) for a in args)})")
    return "; ".join(calls) or "none"


def _literal(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else f"{value:g}"


def read(text: str) -> Goal | None:
    """The goal a reply states (None: the reply has no Goal line)."""
    m = _LINE.search(text)
    if m is None:
        return None
    body = m.group("body").strip().strip("`")
    if body.lower().startswith("none"):
        return Goal.unstated("the planner said no goal can be checked")
    predicates = []
    for call in _CALL.finditer(body):
        kind = call.group("kind")
        try:
            args = list(ast.literal_eval(f"[{call.group('args')}]"))
        except (ValueError, SyntaxError):
            return Goal.unstated(f"its goal could not be read: {call.group(0)[:80]}")
        if kind == "near" and len(args) == 2:
            args.append(NEAR_DEFAULT)
        predicates.append({kind: args})
    if not predicates:
        return Goal.unstated(f"its goal could not be read: {body[:80]}")
    return Goal(tuple(predicates[:MAX_PREDICATES]))


def strip(text: str) -> str:
    """The reply without its Goal line (what the Thought and code readers see)."""
    return _LINE.sub("", text, count=1)


def grammar_rules(has_objects: bool) -> list[str]:
    """GBNF rules of the goal line's body (`goal`; `preds` when it states predicates),
    over the grammar's `object`, `number` and `region` rules."""
    if not has_objects:
        return ['goal ::= "none"']
    kinds = " | ".join(f'"{k}"' for k in LINE_KINDS)
    return [
        'goal ::= "none" | preds',
        f'preds ::= pred ("; " pred){{0,{MAX_PREDICATES - 1}}}',
        'pred ::= goal-kind "(" garg (", " garg)* ")"',
        f"goal-kind ::= {kinds}",
        "garg ::= object | number | region",
    ]
