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


def stacked_towers(predicates: Sequence[RawPredicate]) -> tuple[tuple[str, ...], ...]:
    """The towers, bottom first, a goal's `stacked_pairs` make: (a, b) and (b, c) are one
    tower a, b, c."""
    towers: list[list[str]] = []
    for lower, upper in sorted(stacked_pairs(predicates)):
        below = next((t for t in towers if t[-1] == lower), None)
        above = next((t for t in towers if t[0] == upper), None)
        if below is not None and above is not None and below is not above:
            below += above
            towers.remove(above)
        elif below is not None:
            below.append(upper)
        elif above is not None:
            above.insert(0, lower)
        else:
            towers.append([lower, upper])
    return tuple(tuple(t) for t in towers)


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
