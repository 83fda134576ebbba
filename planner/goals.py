"""A task's goal as success predicates, and its check against the perceived scene.

Backends state the goal in the predicate language suites use (`perception.predicates`),
in its YAML form (``{"in": ["red block", "green bowl"]}``); the loop checks it when a
program calls done(), so "success" means the scene shows the goal met, not that a
program ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from perception.predicates import PredicateContext, PredicateError, parse_predicate
from skills.objects import ObjectState

RawPredicate = dict  # one predicate in its YAML form: {kind: arguments}
MAX_DETAIL = 160  # characters of a predicate's text quoted in an Observation


@dataclass(frozen=True)
class Goal:
    """What must hold when the task is done, or why no such condition could be stated.

    Attributes:
        predicates: success predicates in their YAML form, all of which must hold.
        reason: when `predicates` is empty, why (said to the user: the run is unverified).
    """

    predicates: tuple[RawPredicate, ...] = ()
    reason: str = ""
    unchecked: tuple[str, ...] = ()  # parts of the task no predicate expresses

    @classmethod
    def unstated(cls, reason: str) -> Goal:
        return cls((), reason)

    @property
    def complete(self) -> bool:
        """Whether the predicates say everything the task asks (nothing left unchecked)."""
        return bool(self.predicates) and not self.unchecked

    def describe(self) -> str:
        """One line for the Thought and the trace."""
        if not self.predicates:
            return f"no checkable goal ({self.reason})"
        text = "; ".join(predicate_text(p) for p in self.predicates)
        if self.unchecked:
            text += f" (not checkable: {', '.join(self.unchecked)})"
        return text


@dataclass(frozen=True)
class GoalCheck:
    """The goal's verdict on one scene: whether it holds, and each unmet predicate why."""

    ok: bool
    failed: tuple[str, ...] = ()
    malformed: str = ""  # the goal could not be read against this scene (then not ok)


def stacked_pairs(predicates: Sequence[RawPredicate]) -> set[tuple[str, str]]:
    """(lower, upper) of each object a goal puts on another: ``stacked`` bottom first, and
    ``on(upper, lower)``."""
    pairs = {pair for p in predicates if "stacked" in p for pair in pairwise(p["stacked"])}
    return pairs | {(p["on"][1], p["on"][0]) for p in predicates if len(p.get("on", ())) == 2}


def _chains(pairs: set[tuple[str, str]]) -> tuple[tuple[str, ...], ...]:
    """The chains (a, b) and (b, c) make: a, b, c."""
    chains: list[list[str]] = []
    for first, second in sorted(pairs):
        before = next((c for c in chains if c[-1] == first), None)
        after = next((c for c in chains if c[0] == second), None)
        if before is not None and after is not None and before is not after:
            before += after
            chains.remove(after)
        elif before is not None:
            before.append(second)
        elif after is not None:
            after.insert(0, first)
        else:
            chains.append([first, second])
    return tuple(tuple(c) for c in chains)


def stacked_towers(predicates: Sequence[RawPredicate]) -> tuple[tuple[str, ...], ...]:
    """The towers, bottom first, a goal's `stacked_pairs` make: (a, b) and (b, c) are one
    tower a, b, c."""
    return _chains(stacked_pairs(predicates))


ROW_RELATIONS = {
    "left_of": "left to right",
    "right_of": "right to left",
    "in_front_of": "front to back",
    "behind": "back to front",
}
"""The way a row runs (`perception.geometry.ROW_ORDERS`) whose objects each stand in the
relation to the next: left_of(a, b), left_of(b, c) is a, b, c left to right."""
_CONVERSE = {
    "left_of": "right_of",
    "right_of": "left_of",
    "in_front_of": "behind",
    "behind": "in_front_of",
}
TOWER = "tower"
ROW = "row"


@dataclass(frozen=True)
class Layout:
    """Objects in an order a goal gives whole: a tower bottom to top, or a row the way
    it runs."""

    kind: str  # TOWER or ROW
    way: str  # "bottom to top", or a key of ROW_RELATIONS' values
    names: tuple[str, ...]

    def pairs(self) -> set[tuple[str, str]]:
        return set(pairwise(self.names))

    def predicates(self) -> tuple[RawPredicate, ...]:
        """The goal's predicates for this layout."""
        if self.kind == TOWER:
            return ({"stacked": list(self.names)},)
        relation = _relation(self.way)
        return ({"line": list(self.names)}, *({relation: list(p)} for p in pairwise(self.names)))


def _relation(way: str) -> str:
    return next(r for r, w in ROW_RELATIONS.items() if w == way)


def row_pairs(predicates: Sequence[RawPredicate], way: str) -> set[tuple[str, str]]:
    """(a, b) of each object a goal puts before the next in a row running `way`: its
    relation as such, and the converse relation turned round."""
    relation = _relation(way)
    pairs = set()
    for p in predicates:
        for kind, turned in ((relation, False), (_CONVERSE[relation], True)):
            if len(p.get(kind, ())) == 2:
                a, b = p[kind]
                pairs.add((b, a) if turned else (a, b))
    return pairs


def contradiction(predicates: Sequence[RawPredicate]) -> str:
    """Two predicates of a goal that can not both hold (a left of b and b left of a, a on b
    and b on a, a in b and a in front of b), said as one line; "" when there are none."""
    held = {  # a in (or on) b: beside b it is not
        frozenset(p[r]): p for p in predicates for r in ("in", "on") if len(p.get(r, ())) == 2
    }
    said: dict[tuple[str, str, str], RawPredicate] = {}
    for p in predicates:
        relation = next((r for r in ROW_RELATIONS if len(p.get(r, ())) == 2), None)
        if relation is None:
            continue
        a, b = p[relation]
        inside = held.get(frozenset((a, b)))
        if inside is not None:
            return f"{predicate_text(inside)} and {predicate_text(p)} can not both hold"
        if relation in ("right_of", "behind"):  # said the other way round
            relation, a, b = _CONVERSE[relation], b, a
        other = said.get((relation, b, a))
        if other is not None:
            return f"{predicate_text(other)} and {predicate_text(p)} can not both hold"
        said[(relation, a, b)] = p
    pairs = stacked_pairs(predicates)
    loop = next(((a, b) for a, b in sorted(pairs) if (b, a) in pairs), None)
    return f"{loop[1]} on {loop[0]} and {loop[0]} on {loop[1]} can not both hold" if loop else ""


def layouts(predicates: Sequence[RawPredicate]) -> tuple[Layout, ...]:
    """The towers a goal stacks and the rows it lines up in an order it gives whole (a
    `line` of objects one relation chains from end to end)."""
    found = [Layout(TOWER, "bottom to top", t) for t in stacked_towers(predicates)]
    for p in predicates:
        names = set(p.get("line", ()))
        for relation, way in ROW_RELATIONS.items() if names else ():
            pairs = {tuple(q[relation]) for q in predicates if relation in q}
            chains = _chains({pair for pair in pairs if len(pair) == 2 and set(pair) <= names})
            if len(chains) == 1 and set(chains[0]) == names and len(chains[0]) == len(names):
                found.append(Layout(ROW, way, chains[0]))
    return tuple(found)


def predicate_text(raw: RawPredicate) -> str:
    """A predicate as a short line: ``in(red block, green bowl)``."""
    ((kind, args),) = raw.items()
    if kind == "not":
        return f"not {predicate_text(args)}"
    if isinstance(args, list):
        inner = ", ".join(str(a) for a in args)
    elif isinstance(args, dict):
        inner = ", ".join(f"{k}={v}" for k, v in args.items())
    else:
        inner = str(args)
    return f"{kind}({inner})"[:MAX_DETAIL]


def check_goal(
    goal: Goal,
    now: Sequence[ObjectState],
    initial: Sequence[ObjectState],
    holding: str | None,
) -> GoalCheck:
    """Evaluate every predicate of `goal` on the scene `now` (`initial` is the scene the
    task began in, for `unmoved` and `at_start_of`)."""
    kinds = {o.name: o.category for o in [*initial, *now]}
    ctx = PredicateContext(
        {o.name: o for o in now}, initial={o.name: o for o in initial}, holding=holding
    )
    failed = []
    for raw in goal.predicates:
        try:
            predicate = parse_predicate(raw, kinds)
        except PredicateError as exc:
            return GoalCheck(False, malformed=f"{predicate_text(raw)}: {exc}"[:MAX_DETAIL])
        result = predicate.evaluate(ctx)
        if not result.ok:
            failed.append(f"{predicate_text(raw)}: {result.detail}")
    return GoalCheck(not failed, tuple(failed))
