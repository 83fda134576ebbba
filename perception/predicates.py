"""Success predicates: conditions on the scene at the end of an episode, registered by kind.

In a suite a predicate is a one-key mapping, ``{kind: arguments}``, e.g.
``in: [red block, blue bowl]``; ``not: {predicate}`` negates one. `parse_predicate`
validates and normalises it against the scene's objects; `Predicate.evaluate` says
whether it holds and why, in plain words. The spatial tests and their tolerances are
those of `perception.geometry` (`RelationTolerances`), so success and the scene graph
never disagree. An object missing from the scene makes any predicate naming it fail,
negated or not.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Protocol

from perception import geometry
from perception.geometry import TOLERANCES, RelationTolerances
from skills.errors import HeedError, quote
from skills.objects import ObjectState
from skills.registry import Registry


class PredicateError(HeedError, ValueError):
    """A predicate is malformed; the message names the problem."""


@dataclass(frozen=True)
class PredicateContext:
    """What predicates are evaluated against.

    Attributes:
        objects: object states now, by name.
        initial: object states at the start of the episode, by name.
        holding: name of the object in the gripper, or None.
        tolerances: the spatial tolerances to apply.
    """

    objects: Mapping[str, ObjectState]
    initial: Mapping[str, ObjectState] = field(default_factory=dict)
    holding: str | None = None
    tolerances: RelationTolerances = TOLERANCES


@dataclass(frozen=True)
class PredicateResult:
    """Whether a predicate holds, and why in plain words."""

    ok: bool
    detail: str


Args = tuple
Evaluator = Callable[[PredicateContext, Args], PredicateResult]


class ArgSchema(Protocol):
    """How the YAML arguments of a predicate kind parse, print back and name objects."""

    usage: str

    def parse(self, kind: str, raw: object, objects: Mapping[str, str]) -> Args:
        """Validated, normalised arguments; raise `PredicateError` naming the problem."""
        ...

    def dump(self, args: Args) -> object:
        """The YAML form of parsed arguments."""
        ...

    def names(self, args: Args) -> tuple[str, ...]:
        """The objects the arguments name."""
        ...


def _usage_error(kind: str, usage: str, raw: object) -> PredicateError:
    return PredicateError(f"predicate {kind!r} takes {usage}, got {quote(raw)}")


def _as_list(kind: str, usage: str, raw: object) -> list:
    if not isinstance(raw, list):
        raise _usage_error(kind, usage, raw)
    return raw


def _as_fields(kind: str, usage: str, raw: object, keys: tuple[str, ...]) -> dict:
    if not isinstance(raw, dict) or set(raw) != set(keys):
        raise _usage_error(kind, usage, raw)
    return raw


def _object_names(kind: str, raw: Sequence[object], objects: Mapping[str, str]) -> tuple[str, ...]:
    """Check that each item names a distinct object of the scene."""
    names: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise PredicateError(f"predicate {kind!r}: object names are text, got {quote(item)}")
        if item not in objects:
            known = ", ".join(sorted(objects))
            raise PredicateError(
                f"object {quote(item)} in predicate {kind!r} is not in the scene (objects: {known})"
            )
        if item in names:
            raise PredicateError(f"predicate {kind!r} names object {quote(item)} twice")
        names.append(item)
    return tuple(names)


def _check_container(kind: str, name: str, objects: Mapping[str, str]) -> None:
    if objects[name] not in geometry.CONTAINER_CATEGORIES:
        allowed = " or ".join(sorted(geometry.CONTAINER_CATEGORIES))
        raise PredicateError(
            f"predicate {kind!r} needs a {allowed} as container; {name!r} is a {objects[name]}"
        )


def _distance(kind: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0.0 < raw <= 1.0:
        raise PredicateError(
            f"predicate {kind!r}: distance must be a number of metres in (0, 1], got {quote(raw)}"
        )
    return float(raw)


def _region(kind: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise PredicateError(f"predicate {kind!r}: a region is text, got {quote(raw)}")
    try:
        return geometry.normalize_region(raw)
    except ValueError as err:
        raise PredicateError(f"predicate {kind!r}: {err}") from None


@dataclass(frozen=True)
class ObjectArgs:
    """A list of object names, optionally followed by one value (a distance, a region).

    Attributes:
        usage: the YAML form, for messages.
        min_count: fewest object names.
        max_count: most object names; None for no limit.
        container: the last object must be a bowl or zone.
        extra: parser of the trailing value, if the list ends with one.
    """

    usage: str
    min_count: int
    max_count: int | None = None
    container: bool = False
    extra: Callable[[str, object], object] | None = None

    def parse(self, kind: str, raw: object, objects: Mapping[str, str]) -> Args:
        items = _as_list(kind, self.usage, raw)
        count = len(items) - (self.extra is not None)
        if count < self.min_count or (self.max_count is not None and count > self.max_count):
            raise _usage_error(kind, self.usage, raw)
        names = _object_names(kind, items[:count], objects)
        if self.container:
            _check_container(kind, names[-1], objects)
        return names if self.extra is None else (*names, self.extra(kind, items[-1]))

    def dump(self, args: Args) -> object:
        return list(args)

    def names(self, args: Args) -> tuple[str, ...]:
        return args if self.extra is None else args[:-1]


@dataclass(frozen=True)
class SpreadArgs:
    """``{objects: [a, ...], regions: [r1, ...]}``, at least as many regions as objects."""

    usage: str = "{objects: [a, b, ...], regions: [r1, r2, ...]}"

    def parse(self, kind: str, raw: object, objects: Mapping[str, str]) -> Args:
        fields = _as_fields(kind, self.usage, raw, ("objects", "regions"))
        names = _object_names(kind, _as_list(kind, self.usage, fields["objects"]), objects)
        regions = tuple(_region(kind, r) for r in _as_list(kind, self.usage, fields["regions"]))
        if not names:
            raise _usage_error(kind, self.usage, raw)
        if len(set(regions)) != len(regions):
            raise PredicateError(f"predicate {kind!r} names a region twice: {list(regions)}")
        if len(regions) < len(names):
            raise PredicateError(
                f"predicate {kind!r} needs at least as many regions as objects, "
                f"got {len(names)} objects and {len(regions)} regions"
            )
        return (names, regions)

    def dump(self, args: Args) -> object:
        return {"objects": list(args[0]), "regions": list(args[1])}

    def names(self, args: Args) -> tuple[str, ...]:
        return args[0]


@dataclass(frozen=True)
class CountArgs:
    """``{in: container, among: [a, ...], n: N}`` with 0 <= N <= the number listed."""

    usage: str = "{in: container, among: [a, b, ...], n: N}"

    def parse(self, kind: str, raw: object, objects: Mapping[str, str]) -> Args:
        fields = _as_fields(kind, self.usage, raw, ("in", "among", "n"))
        container, *among = _object_names(
            kind, [fields["in"], *_as_list(kind, self.usage, fields["among"])], objects
        )
        _check_container(kind, container, objects)
        n = fields["n"]
        if not among:
            raise _usage_error(kind, self.usage, raw)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(among):
            raise PredicateError(
                f"predicate {kind!r}: n must be a whole number from 0 to {len(among)}, "
                f"got {quote(n)}"
            )
        return (container, tuple(among), n)

    def dump(self, args: Args) -> object:
        return {"in": args[0], "among": list(args[1]), "n": args[2]}

    def names(self, args: Args) -> tuple[str, ...]:
        return (args[0], *args[1])


@dataclass(frozen=True)
class NothingArg:
    """The single word ``nothing``."""

    usage: str = "nothing"

    def parse(self, kind: str, raw: object, objects: Mapping[str, str]) -> Args:
        if raw != self.usage:
            raise _usage_error(kind, self.usage, raw)
        return ()

    def dump(self, args: Args) -> object:
        return self.usage

    def names(self, args: Args) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class PredicateKind:
    """A registered predicate kind: its argument schema, evaluator and documentation."""

    name: str
    args: ArgSchema
    evaluate: Evaluator
    doc: str


PREDICATES: Registry[PredicateKind] = Registry("predicate")


def predicate(
    name: str, args: ArgSchema, doc: str | None = None
) -> Callable[[Evaluator], Evaluator]:
    """Decorator registering an evaluator in `PREDICATES` as kind `name` with its schema.

    The documentation is `doc`, or the evaluator's docstring.
    """

    def decorate(evaluate: Evaluator) -> Evaluator:
        text = doc if doc is not None else inspect.getdoc(evaluate) or ""
        PREDICATES.register(name)(PredicateKind(name, args, evaluate, text))
        return evaluate

    return decorate


def known_predicates() -> list[str]:
    """Every predicate kind a suite may use, ``not`` included."""
    return sorted([*PREDICATES.names(), "not"])


def _join(names: Sequence[str]) -> str:
    return ", ".join(names) or "none"


@dataclass(frozen=True)
class Predicate:
    """A parsed predicate.

    Attributes:
        kind: registered predicate kind.
        args: validated, normalised arguments, as the kind's schema parses them.
        negate: the predicate must not hold.
    """

    kind: str
    args: Args
    negate: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The objects the predicate names."""
        return PREDICATES.get(self.kind).args.names(self.args)

    def evaluate(self, ctx: PredicateContext) -> PredicateResult:
        """Whether the predicate holds in `ctx`, and why."""
        missing = [n for n in self.names if n not in ctx.objects]
        if missing:
            return PredicateResult(False, f"not in the scene: {_join(missing)}")
        result = PREDICATES.get(self.kind).evaluate(ctx, self.args)
        return replace(result, ok=result.ok != self.negate)

    def to_raw(self) -> dict:
        """The YAML form, as `parse_predicate` reads it."""
        raw = {self.kind: PREDICATES.get(self.kind).args.dump(self.args)}
        return {"not": raw} if self.negate else raw


def parse_predicate(raw: object, objects: Mapping[str, str]) -> Predicate:
    """Parse a predicate's YAML form against the scene's objects (name -> type).

    Raises:
        PredicateError: unknown kind, wrong arguments, an object not in the scene, a
            container that is not a bowl or zone, an unknown region or a bad number.
    """
    if not isinstance(raw, dict) or len(raw) != 1:
        raise PredicateError(
            f"a predicate is a mapping with one key, e.g. {{in: [a, b]}}; got {quote(raw)}"
        )
    ((kind, value),) = raw.items()
    if kind == "not":
        inner = parse_predicate(value, objects)
        return replace(inner, negate=not inner.negate)
    if kind not in PREDICATES:
        known = ", ".join(known_predicates())
        raise PredicateError(f"unknown predicate {quote(kind)}; known: {known}")
    return Predicate(kind, PREDICATES.get(kind).args.parse(kind, value, objects))


def evaluate_all(preds: Sequence[Predicate], ctx: PredicateContext) -> list[PredicateResult]:
    """Evaluate each predicate in `ctx`, in order."""
    return [p.evaluate(ctx) for p in preds]


def _cm(metres: float) -> str:
    return f"{metres * 100:.1f} cm"


def _height(gap: float) -> str:
    return f"{_cm(abs(gap))} {'above' if gap >= 0 else 'below'}"


def _states(ctx: PredicateContext, names: Sequence[str]) -> list[ObjectState]:
    return [ctx.objects[n] for n in names]


def _verdict(ok: bool, subject: str, phrase: str, measure: str) -> PredicateResult:
    return PredicateResult(ok, f"{subject} {'is' if ok else 'is not'} {phrase} ({measure})")


def _support_words(a: ObjectState, b: ObjectState) -> str:
    overlap = geometry.overlap_fraction(a, b)
    return f"bottom {_height(geometry.support_gap(a, b))} its top, {overlap:.0%} over it"


def _containment_words(a: ObjectState, container: ObjectState) -> str:
    distance = math.hypot(*geometry.planar_offset(a, container))
    gap = geometry.support_gap(a, container)
    return f"centre {_cm(distance)} from its centre, bottom {_height(gap)} its top"


def _offset_words(a: ObjectState, b: ObjectState) -> str:
    dx, dy = geometry.planar_offset(a, b)
    sideways = "left" if dy >= 0 else "right"
    depth = "behind" if dx >= 0 else "in front"
    return f"centre {_cm(abs(dy))} {sideways}, {_cm(abs(dx))} {depth}"


PairCheck = Callable[[ObjectState, ObjectState, RelationTolerances], PredicateResult]


def _pair_check(
    test: Callable[[ObjectState, ObjectState, RelationTolerances], bool],
    phrase: str,
    measure: Callable[[ObjectState, ObjectState], str],
) -> PairCheck:
    """A check of one geometry relation between a and b, with its measurements as detail."""

    def check(a: ObjectState, b: ObjectState, tol: RelationTolerances) -> PredicateResult:
        return _verdict(test(a, b, tol), a.name, f"{phrase} {b.name}", measure(a, b))

    return check


def _pair_evaluator(check: PairCheck) -> Evaluator:
    def evaluate(ctx: PredicateContext, args: Args) -> PredicateResult:
        a, b = _states(ctx, args)
        return check(a, b, ctx.tolerances)

    return evaluate


PAIR = ObjectArgs("[a, b]", 2, 2)
CONTAINER_PAIR = ObjectArgs("[a, container]", 2, 2, container=True)
_RELATION_KINDS = (
    ("on", PAIR, geometry.is_on, "on", _support_words),
    ("in", CONTAINER_PAIR, geometry.is_in, "in", _containment_words),
    ("left_of", PAIR, geometry.is_left_of, "left of", _offset_words),
    ("right_of", PAIR, geometry.is_right_of, "right of", _offset_words),
    ("in_front_of", PAIR, geometry.is_in_front_of, "in front of", _offset_words),
    ("behind", PAIR, geometry.is_behind, "behind", _offset_words),
)
_PAIR_CHECKS: dict[str, PairCheck] = {}
for _kind, _schema, _test, _phrase, _measure in _RELATION_KINDS:
    _PAIR_CHECKS[_kind] = _pair_check(_test, _phrase, _measure)
    _doc = f"`{_kind}: {_schema.usage}`: {inspect.getdoc(_test)}"
    predicate(_kind, _schema, _doc)(_pair_evaluator(_PAIR_CHECKS[_kind]))


@predicate("near", ObjectArgs("[a, b, metres]", 2, 2, extra=_distance))
def _near(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`near: [a, b, metres]`: the footprints of a and b are at most `metres` apart."""
    a, b = _states(ctx, args[:2])
    limit = args[2]
    gap = geometry.footprint_distance(a, b)
    measure = f"footprints {_cm(gap)} apart, limit {_cm(limit)}"
    return _verdict(geometry.is_near(a, b, limit), a.name, f"near {b.name}", measure)


@predicate("between", ObjectArgs("[a, b, c]", 3, 3))
def _between(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`between: [a, b, c]`: a lies between b and c.

    a's centre projects strictly inside the segment from b's centre to c's and lies
    within `between_width` of it.
    """
    a, b, c = _states(ctx, args)
    fraction, distance = geometry.segment_position(a, b, c)
    measure = f"centre {_cm(distance)} off the line, {fraction:.0%} of the way from {b.name}"
    ok = geometry.is_between(a, b, c, ctx.tolerances)
    return _verdict(ok, a.name, f"between {b.name} and {c.name}", measure)


@predicate("at", ObjectArgs("[a, region]", 1, 1, extra=_region))
def _at(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`at: [a, region]`: a's centre lies in the workspace region (`geometry.REGIONS`).

    The region's name is normalised when parsed (``upper-left`` -> ``top left corner``).
    """
    name, region = args
    a = ctx.objects[name]
    x, y, _ = a.position
    target_x, target_y = geometry.region_point(region)
    measure = f"centre {_cm(math.hypot(x - target_x, y - target_y))} from the region's centre"
    return _verdict(geometry.is_at(a, region), name, f"at the {region}", measure)


def _stack_result(stack: Sequence[ObjectState], tol: RelationTolerances) -> PredicateResult:
    """The first pair of `stack` (bottom to top) that is not `on`, or success."""
    for lower, upper in pairwise(stack):
        result = _PAIR_CHECKS["on"](upper, lower, tol)
        if not result.ok:
            return result
    return PredicateResult(True, f"stacked bottom to top: {_join([o.name for o in stack])}")


@predicate("stacked", ObjectArgs("[bottom, ..., top]", 2))
def _stacked(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`stacked: [bottom, ..., top]`: each object is `on` the one listed before it."""
    return _stack_result(_states(ctx, args), ctx.tolerances)


@predicate("tower", ObjectArgs("[a, b, ...]", 2))
def _tower(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`tower: [a, b, ...]`: exactly these objects, in any order, form one stack.

    Sorted by height, each is `on` the one below, and no other object is `on` the top one.
    """
    stack = sorted(_states(ctx, args), key=lambda o: (o.position[2], o.name))
    top = stack[-1]
    extra = [
        o.name
        for o in ctx.objects.values()
        if o.name not in args and geometry.is_on(o, top, ctx.tolerances)
    ]
    result = _stack_result(stack, ctx.tolerances)
    if result.ok and extra:
        return PredicateResult(False, f"{_join(sorted(extra))} also on the top, {top.name}")
    return result


def _assign(options: Mapping[str, Sequence[str]]) -> dict[str, str] | None:
    """A distinct option for every key (a bipartite matching), or None if there is none."""
    owner: dict[str, str] = {}

    def claim(key: str, seen: set[str]) -> bool:
        for option in options[key]:
            if option not in seen:
                seen.add(option)
                if option not in owner or claim(owner[option], seen):
                    owner[option] = key
                    return True
        return False

    if not all(claim(key, set()) for key in options):
        return None
    chosen = {key: option for option, key in owner.items()}
    return {key: chosen[key] for key in options}


@predicate("spread", SpreadArgs())
def _spread(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`spread: {objects: [a, ...], regions: [r1, ...]}`: objects in different regions.

    Each object is `at` one of the regions, no two at the same one.
    """
    names, regions = args
    options = {n: [r for r in regions if geometry.is_at(ctx.objects[n], r)] for n in names}
    assignment = _assign(options)
    if assignment is None:
        places = "; ".join(f"{n} at {_join(found)}" for n, found in options.items())
        return PredicateResult(False, f"no region for each object alone ({places})")
    return PredicateResult(True, "; ".join(f"{n} at the {r}" for n, r in assignment.items()))


@predicate("line", ObjectArgs("[a, b, c, ...]", 3))
def _line(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`line: [a, b, c, ...]`: the objects stand in a line.

    The centres lie within `line_deviation` of their best-fit line, no two closer than
    `line_spacing`.
    """
    objs = _states(ctx, args)
    measure = (
        f"largest deviation {_cm(geometry.line_deviation(objs))}, "
        f"closest centres {_cm(geometry.min_spacing(objs))} apart"
    )
    ok = geometry.is_line(objs, ctx.tolerances)
    return PredicateResult(ok, f"{_join(args)}: {'' if ok else 'not '}in a line ({measure})")


@predicate("unmoved", ObjectArgs("[a, ...]", 1))
def _unmoved(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`unmoved: [a, ...]`: the objects stayed where they started.

    Each centre is within `unmoved_distance` of its initial position and, unless the
    object is round, its yaw changed at most `unmoved_yaw`.
    """
    missing = [n for n in args if n not in ctx.initial]
    if missing:
        return PredicateResult(False, f"no initial state for {_join(missing)}")
    moved = []
    for name in args:
        now, before = ctx.objects[name], ctx.initial[name]
        if not geometry.is_unmoved(now, before, ctx.tolerances):
            turned = math.degrees(geometry.yaw_change(now, before))
            moved.append(
                f"{name} moved {_cm(geometry.displacement(now, before))}, {turned:.0f} deg"
            )
    return PredicateResult(not moved, "; ".join(moved) or f"unmoved: {_join(args)}")


def _degrees(kind: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0.0 < abs(raw) <= 180.0:
        raise PredicateError(
            f"predicate {kind!r}: an angle is a number of degrees in (0, 180], got {quote(raw)}"
        )
    return float(abs(raw))


def _initial(ctx: PredicateContext, names: Sequence[str]) -> PredicateResult | None:
    """A failed result naming the objects with no initial state, or None."""
    missing = [n for n in names if n not in ctx.initial]
    return PredicateResult(False, f"no initial state for {_join(missing)}") if missing else None


def _shift(kind: str, raw: object) -> tuple[float, float]:
    ok = isinstance(raw, list | tuple) and len(raw) == 2
    if not ok or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
        raise PredicateError(f"predicate {kind!r}: a shift is [dx, dy] in metres, got {quote(raw)}")
    if math.hypot(*raw) > 1.0:
        raise PredicateError(f"predicate {kind!r}: a shift is at most 1 m, got {list(raw)}")
    return (float(raw[0]), float(raw[1]))


@predicate("shifted", ObjectArgs("[a, [dx, dy]]", 1, 1, extra=_shift))
def _shifted(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`shifted: [a, [dx, dy]]`: a moved by (dx, dy) metres on the table from where it
    started ("10 cm to the left" is [0, 0.1]), within `start_distance`."""
    name, (dx, dy) = args
    if (missing := _initial(ctx, [name])) is not None:
        return missing
    start = ctx.initial[name].position
    gap = math.dist(ctx.objects[name].position[:2], (start[0] + dx, start[1] + dy))
    ok = gap <= ctx.tolerances.start_distance
    shift = f"{_cm(math.hypot(dx, dy))} from its start"
    return _verdict(ok, name, f"moved {shift} as asked", f"centre {_cm(gap)} off that point")


@predicate("turned", ObjectArgs("[a, degrees]", 1, 1, extra=_degrees))
def _turned(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`turned: [a, degrees]`: a's yaw changed by `degrees` (either way), within `turn_tolerance`.

    Turns are compared as they show on the object's shape (`geometry.yaw_period`: a cube
    turned 90 degrees looks as before); the centre may have moved by at most
    `turn_distance`: turning happens in place.
    """
    name, degrees = args
    if (missing := _initial(ctx, [name])) is not None:
        return missing
    now, before = ctx.objects[name], ctx.initial[name]
    period = geometry.yaw_period(now)
    turned = math.degrees(geometry.visible_turn(now.yaw - before.yaw, period))
    wanted = math.degrees(geometry.visible_turn(math.radians(degrees), period))
    moved = math.dist(now.position[:2], before.position[:2])
    ok = (
        abs(turned - wanted) <= math.degrees(ctx.tolerances.turn_tolerance)
        and moved <= ctx.tolerances.turn_distance
    )
    measure = f"turned {turned:.0f} deg, centre moved {_cm(moved)}"
    return _verdict(ok, name, f"turned by {degrees:g} deg", measure)


@predicate("at_start_of", PAIR)
def _at_start_of(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`at_start_of: [a, b]`: a stands where b stood at the start (a swap puts both so).

    a's centre is within `start_distance` of b's initial centre, on the table plane.
    """
    a, b = args
    if (missing := _initial(ctx, [b])) is not None:
        return missing
    gap = math.dist(ctx.objects[a].position[:2], ctx.initial[b].position[:2])
    ok = gap <= ctx.tolerances.start_distance
    return _verdict(ok, a, f"where {b} started", f"centre {_cm(gap)} from there")


@predicate("raised", ObjectArgs("[a, metres]", 1, 1, extra=_distance))
def _raised(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`raised: [a, metres]`: a's bottom is at least `metres` above the table, less
    `raise_slack` (an object lifted and held in the air)."""
    name, height = args
    a = ctx.objects[name]
    bottom = a.position[2] - a.size[2] / 2
    ok = bottom >= height - ctx.tolerances.raise_slack
    return _verdict(ok, name, f"raised {_cm(height)}", f"bottom {_cm(bottom)} above the table")


@predicate("upright", ObjectArgs("[a, ...]", 1))
def _upright(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`upright: [a, ...]`: each object's own z axis points up."""
    fallen = [n for n in args if not geometry.is_upright(ctx.objects[n])]
    detail = f"not upright: {_join(fallen)}" if fallen else f"upright: {_join(args)}"
    return PredicateResult(not fallen, detail)


@predicate("holding", NothingArg())
def _holding(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`holding: nothing`: the gripper holds no object."""
    if ctx.holding is None:
        return PredicateResult(True, "the gripper is empty")
    return PredicateResult(False, f"the gripper holds {ctx.holding}")


@predicate("count", CountArgs())
def _count(ctx: PredicateContext, args: Args) -> PredicateResult:
    """`count: {in: container, among: [a, ...], n: N}`: exactly N of the objects are `in` it."""
    container, among, n = args
    box = ctx.objects[container]
    inside = [a for a in among if geometry.is_in(ctx.objects[a], box, ctx.tolerances)]
    detail = f"{len(inside)} of {len(among)} in {container} ({_join(inside)}), expected {n}"
    return PredicateResult(len(inside) == n, detail)
