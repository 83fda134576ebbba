"""Task frames to code-as-policy, grounded in the current scene.

The compiler keeps a virtual copy of the scene in which planned moves have already
happened, so later placements (a row, a tower, a second object in a zone) avoid what
earlier ones put down. Goals that already hold are skipped, so re-planning after a
failure continues where the robot is instead of starting over.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from itertools import pairwise

from perception import geometry
from planner.embedded.grounding import Ambiguous, Grounder, NotFound, NounPhrase, parse_np
from planner.embedded.lexicon import CONTAINERS, GRASPABLE
from planner.embedded.parser import Frame, Target
from skills.frames import WORKSPACE_X, WORKSPACE_Y
from skills.objects import ROUND_CATEGORIES, ObjectState

EDGE_MARGIN = 0.05  # keep placed centres this far inside the workspace edge
CLEARANCE = 0.03  # free space kept around a placed object
DEFAULT_NUDGE = 0.10  # metres moved for "move it to the left" without a distance
LINE_SIDES = {
    "top side": ("y", 0.63),
    "bottom side": ("y", 0.37),
    "left side": ("x", 0.23),
    "right side": ("x", -0.23),
}
RELATION_DIRECTIONS = {
    "left_of": (0.0, 1.0),
    "right_of": (0.0, -1.0),
    "behind": (1.0, 0.0),
    "in_front_of": (-1.0, 0.0),
}


class NeedsQuestion(Exception):
    """The plan cannot be made without asking the user."""


class Impossible(Exception):
    """The instruction cannot be carried out in this scene."""


@dataclass
class Plan:
    """Generated code lines, or the reason to ask or refuse instead."""

    lines: list[str] = field(default_factory=list)
    question: str | None = None
    refusal: str | None = None
    moved: list[str] = field(default_factory=list)

    def code(self) -> str:
        if self.refusal is not None:
            return f"refuse({self.refusal!r})"
        if self.question is not None:
            return f"ask({self.question!r})"
        return "\n".join([*self.lines, "done()"])


def _radius(obj: ObjectState) -> float:
    """Radius of a circle covering the object's footprint."""
    if obj.category in ROUND_CATEGORIES:
        return min(obj.size[:2]) / 2.0
    return math.hypot(obj.size[0], obj.size[1]) / 2.0


def _like(ref: NounPhrase | None, objects: NounPhrase | None) -> NounPhrase | None:
    """ "the blue one" names the same kind of thing as the object it is said of."""
    if ref is None or ref.category or objects is None or not objects.category:
        return ref
    if re.search(r"\bones?\b", ref.text):
        return replace(ref, category=objects.category)
    return ref


def _container_spots(category: str, n: int) -> list[tuple[float, float]]:
    """Offsets from a container's centre for n objects side by side (a bowl's round wall
    allows a ring of 3 cm radius; a zone's square a diagonal pair or a 2x2 grid)."""
    if n <= 1:
        return [(0.0, 0.0)]
    if category == "bowl":
        return [
            (0.03 * math.cos(a), 0.03 * math.sin(a))
            for a in (math.pi / 2 + 2 * math.pi * k / n for k in range(n))
        ]
    d = 0.03
    return [(d, d), (-d, -d), (d, -d), (-d, d)][:n] + [(0.0, 0.0)] * max(0, n - 4)


def _fmt(xy: tuple[float, float]) -> str:
    return f"[{xy[0]:.3f}, {xy[1]:.3f}]"


@dataclass
class Compiler:
    """Compiles frames against `scene`; `answers` are the user's replies to earlier questions."""

    scene: list[ObjectState]
    answers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.grounder = Grounder(self.scene)
        self.virtual: dict[str, ObjectState] = {o.name: o for o in self.scene}
        self.plan = Plan()

    # --- entry ---------------------------------------------------------------------------
    def compile(self, frames: list[Frame]) -> Plan:
        try:
            for frame in frames:
                handler = getattr(self, f"_compile_{frame.intent}", None)
                if handler is None:
                    raise NeedsQuestion(
                        f"I did not understand {frame.text!r}. Could you say it another way?"
                    )
                handler(frame)
        except NeedsQuestion as question:
            return Plan(question=str(question))
        except Impossible as reason:
            return Plan(refusal=str(reason))
        return self.plan

    # --- grounding -----------------------------------------------------------------------
    def _resolve(
        self, np_: NounPhrase | None, kinds: tuple[str, ...] = GRASPABLE
    ) -> list[ObjectState]:
        if np_ is None:
            raise NeedsQuestion("Which objects do you mean?")
        try:
            return [self.virtual[o.name] for o in self.grounder.resolve(np_, kinds)]
        except Ambiguous as amb:
            chosen = self._apply_answers(amb.candidates)
            if chosen is None:
                raise NeedsQuestion(str(amb)) from None
            self.grounder.remember([chosen])
            return [self.virtual[chosen.name]]
        except NotFound as missing:
            raise Impossible(f"{missing}, so I will not move anything.") from None

    def _resolve_one(self, np_: NounPhrase | None, kinds: tuple[str, ...]) -> ObjectState:
        if np_ is None:
            raise NeedsQuestion("Where should it go?")
        single = replace(np_, plural=False, every=False, count=None)
        return self._resolve(single, kinds)[0]

    def _apply_answers(self, candidates: list[ObjectState]) -> ObjectState | None:
        """Narrow ambiguous candidates with the user's answers, newest first."""
        for answer in reversed(self.answers):
            np_ = parse_np(answer.lower())
            grounder = Grounder(candidates, list(self.grounder.mentioned))
            fits = grounder.candidates(np_, tuple({c.category for c in candidates}))
            if np_.superlative or np_.ordinal:
                try:
                    fits = grounder.resolve(
                        replace(np_, category=None), tuple({c.category for c in candidates})
                    )
                except (Ambiguous, NotFound):
                    continue
            if len(fits) == 1:
                return fits[0]
        return None

    # --- emitting ------------------------------------------------------------------------
    def _put(
        self,
        obj: ObjectState,
        target: ObjectState | tuple[float, float],
        comment: str = "",
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        if isinstance(target, ObjectState) and offset != (0.0, 0.0):
            self.plan.lines.append(f'pick("{obj.name}")')
            self.plan.lines.append(f'place("{target.name}", offset={_fmt(offset)})')
        elif isinstance(target, ObjectState):
            self.plan.lines.append(f'put_first_on_second("{obj.name}", "{target.name}")')
        if isinstance(target, ObjectState):
            if target.category == "bowl":
                z = target.bottom_z + 0.008 + obj.size[2] / 2
            elif target.category == "zone":
                z = target.top_z + obj.size[2] / 2
            else:
                z = target.top_z + obj.size[2] / 2
            xy = (target.position[0] + offset[0], target.position[1] + offset[1])
        else:
            suffix = f"  # {comment}" if comment else ""
            self.plan.lines.append(f'put_first_on_second("{obj.name}", {_fmt(target)}){suffix}')
            xy, z = target, obj.size[2] / 2
        self.virtual[obj.name] = replace(obj, position=(xy[0], xy[1], z))
        self.plan.moved.append(obj.name)

    # --- free space ----------------------------------------------------------------------
    def _inside(self, xy: tuple[float, float], obj: ObjectState) -> bool:
        r = min(_radius(obj), EDGE_MARGIN)
        return (
            WORKSPACE_X[0] + r <= xy[0] <= WORKSPACE_X[1] - r
            and WORKSPACE_Y[0] + r <= xy[1] <= WORKSPACE_Y[1] - r
        )

    def _free(
        self, xy: tuple[float, float], obj: ObjectState, ignore: set[str] = frozenset()
    ) -> bool:
        for other in self.virtual.values():
            if other.name == obj.name or other.name in ignore:
                continue
            if math.dist(xy, other.position[:2]) < _radius(obj) + _radius(other) + CLEARANCE * 0.5:
                return False
        return self._inside(xy, obj)

    def _free_near(
        self,
        xy: tuple[float, float],
        obj: ObjectState,
        ignore: set[str] = frozenset(),
        max_shift: float = 0.06,
    ) -> tuple[float, float] | None:
        """`xy` if free, else the nearest free point within `max_shift` (spiral search)."""
        if self._free(xy, obj, ignore):
            return xy
        for radius in (0.015, 0.03, 0.045, 0.06, 0.08, 0.1):
            if radius > max_shift:
                break
            for k in range(12):
                a = 2 * math.pi * k / 12
                cand = (xy[0] + radius * math.cos(a), xy[1] + radius * math.sin(a))
                if self._free(cand, obj, ignore):
                    return cand
        return None

    # --- frames --------------------------------------------------------------------------
    def _compile_move(self, frame: Frame) -> None:
        target = frame.target
        assert target is not None
        if target.kind in ("in", "on", "to"):
            self._move_onto(frame.objects, target)
        elif target.kind in RELATION_DIRECTIONS or target.kind == "near":
            self._move_beside(frame.objects, target)
        elif target.kind == "between":
            self._move_between(frame.objects, target)
        elif target.kind == "region":
            self._move_region(frame.objects, target.region or "center")
        elif target.kind == "offset":
            self._move_offset(frame.objects, target)
        elif target.kind == "away":
            self._move_away(frame.objects, target)
        else:
            raise NeedsQuestion(f"I did not understand where to put it in {frame.text!r}.")

    def _move_onto(self, objects: NounPhrase | None, target: Target) -> None:
        objs = self._resolve(objects)
        ref = _like(target.ref, objects)
        moving = {o.name for o in objs}
        if ref is not None and ref.pronoun:  # "inside it": the last thing named that is not moving
            self.grounder.mentioned = [n for n in self.grounder.mentioned if n not in moving]
        elif ref is not None and ref.other:  # "on the other block": not the one that moves
            self.grounder.mentioned = [o.name for o in objs]
        dest = self._resolve_one(ref, GRASPABLE + CONTAINERS)
        objs = [o for o in objs if o.name != dest.name]
        if not objs:
            raise Impossible(f"there is nothing to put on the {dest.name}.")
        if target.kind == "to" and dest.category not in CONTAINERS:
            for obj in objs:
                self._beside(obj, dest, None, None)
        elif dest.category in CONTAINERS:
            self._fill(objs, dest)
        else:
            top = dest
            for obj in objs:
                if not geometry.is_on(obj, top):
                    self._put(obj, top)
                top = self.virtual[obj.name]

    def _fill(self, objs: list[ObjectState], container: ObjectState) -> None:
        """Put objects into a bowl or zone side by side, not on top of each other."""
        todo = [o for o in objs if not geometry.is_in(o, container)]
        spots = _container_spots(container.category, len(objs))
        for obj, offset in zip(todo, spots[len(objs) - len(todo) :], strict=False):
            self._put(obj, container, offset=offset)

    def _beside(
        self, obj: ObjectState, ref: ObjectState, relation: str | None, distance: float | None
    ) -> None:
        if relation in RELATION_DIRECTIONS:
            directions = [RELATION_DIRECTIONS[relation]]
        else:  # near: keep the side the object is on, else try all four
            dx, dy = obj.position[0] - ref.position[0], obj.position[1] - ref.position[1]
            first = (
                (0.0, math.copysign(1.0, dy))
                if abs(dy) >= abs(dx)
                else (math.copysign(1.0, dx), 0.0)
            )
            directions = [first, *[d for d in RELATION_DIRECTIONS.values() if d != first]]
        for ux, uy in directions:
            touching = ref.half_extent(ux, uy) + obj.half_extent(ux, uy)
            if distance is not None:  # an edge-to-edge gap the user asked for
                gaps = [touching + distance]
            else:
                gaps = [touching + CLEARANCE + extra for extra in (0.0, 0.02, 0.04, 0.06)]
            for gap in gaps:
                xy = (ref.position[0] + ux * gap, ref.position[1] + uy * gap)
                spot = self._free_near(xy, obj, max_shift=0.0 if distance else 0.02)
                if spot is not None:
                    self._put(obj, spot, f"{relation or 'next to'} the {ref.name}")
                    return
        where = relation.replace("_", " ") if relation else "next to"
        raise Impossible(f"there is no free space {where} the {ref.name}.")

    def _move_beside(self, objects: NounPhrase | None, target: Target) -> None:
        ref = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
        for obj in self._resolve(objects):
            if obj.name == ref.name:
                continue
            relation = None if target.kind == "near" else target.kind
            if relation and self._holds(relation, obj, ref):
                continue
            self._beside(obj, ref, relation, target.distance)

    def _holds(self, relation: str, a: ObjectState, b: ObjectState) -> bool:
        test = {
            "left_of": geometry.is_left_of,
            "right_of": geometry.is_right_of,
            "behind": geometry.is_behind,
            "in_front_of": geometry.is_in_front_of,
        }[relation]
        return test(a, b) and not geometry.is_in(a, b)

    def _move_between(self, objects: NounPhrase | None, target: Target) -> None:
        if target.ref2 is None:  # "between the two bowls"
            pair = self._resolve(replace(target.ref, count=2), GRASPABLE + CONTAINERS)
            a, b = pair[0], pair[1]
        else:
            a = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
            b = self._resolve_one(target.ref2, GRASPABLE + CONTAINERS)
        (obj,) = self._resolve(objects)[:1]
        mid = ((a.position[0] + b.position[0]) / 2, (a.position[1] + b.position[1]) / 2)
        spot = self._free_near(mid, obj, max_shift=0.015)
        if spot is None:
            raise Impossible(f"there is no room between the {a.name} and the {b.name}.")
        self._put(obj, spot, f"between the {a.name} and the {b.name}")

    def _move_region(self, objects: NounPhrase | None, region: str) -> None:
        objs = self._resolve(objects)
        anchor = geometry.region_point(region)
        for obj in objs:
            if geometry.is_at(obj, region):
                continue
            spot = None
            for shift in (0.0, 0.03, 0.05, 0.07):
                spot = (
                    self._free_near(anchor, obj, max_shift=shift)
                    if shift
                    else (anchor if self._free(anchor, obj) else None)
                )
                if spot is not None and geometry.is_at(
                    replace(obj, position=(*spot, obj.position[2])), region
                ):
                    break
                spot = None
            if spot is None:
                raise Impossible(f"there is no free space at the {region}.")
            self._put(obj, spot, f"at the {region}")

    def _move_offset(self, objects: NounPhrase | None, target: Target) -> None:
        ux, uy = target.direction or (0.0, 0.0)
        distance = target.distance if target.distance is not None else DEFAULT_NUDGE
        for obj in self._resolve(objects):
            xy = (obj.position[0] + ux * distance, obj.position[1] + uy * distance)
            spot = self._free_near(xy, obj, {obj.name}, max_shift=0.02)
            if spot is None:
                raise Impossible(
                    f"the {obj.name} can not move there: the space is taken or off the table."
                )
            self._put(obj, spot, f"{distance * 100:.0f} cm over")

    def _move_away(self, objects: NounPhrase | None, target: Target) -> None:
        ref = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
        for obj in self._resolve(objects):
            self._beside(obj, ref, None, target.distance)

    def _compile_stack(self, frame: Frame) -> None:
        if frame.target is not None and frame.target.ref is not None:
            self._move_onto(frame.objects, Target("on", frame.target.ref))
            return
        kind = frame.objects if frame.objects and frame.objects.category else None
        order = [
            self._resolve_one(_like(np_, kind) if kind else np_, GRASPABLE) for np_ in frame.order
        ]
        if len(order) < 2:
            chosen = {o.name for o in order}
            rest = [
                o
                for o in self._resolve(frame.objects or parse_np("all blocks"))
                if o.name not in chosen
            ]
            rest.sort(key=lambda o: -o.size[0] * o.size[1])  # wide things low
            order += rest
        if len(order) < 2:
            raise Impossible("a stack needs at least two objects.")
        for lower, upper in pairwise(order):
            below = self.virtual[lower.name]
            if not geometry.is_on(self.virtual[upper.name], below):
                self._put(self.virtual[upper.name], below)

    def _compile_line(self, frame: Frame) -> None:
        objs = self._resolve(frame.objects)
        if len(objs) < 2:
            raise Impossible("a line needs at least two objects.")
        spacing = max(max(o.size[:2]) for o in objs) + 0.03
        span = spacing * (len(objs) - 1)
        ignore = {o.name for o in objs}
        axis, fixed = LINE_SIDES.get(frame.side or "", ("y", 0.5))
        inward = -1.0 if fixed > 0.5 or (axis == "x" and fixed > 0) else 1.0
        across = (0.0, 0.04, 0.08) if frame.side else (0.0, 0.06, -0.06, 0.12, -0.12)
        along = (0.0, 0.05, -0.05, 0.1, -0.1, 0.15, -0.15)
        ordered = sorted(
            objs, key=(lambda o: -o.position[1]) if axis == "y" else (lambda o: o.position[0])
        )
        for a in across:
            for b in along:
                line_at = fixed + (inward * a if frame.side else a)
                steps = [span / 2 - i * spacing + b for i in range(len(objs))]
                if axis == "y":  # a row across the table at a fixed x
                    spots = [(line_at, s) for s in steps]
                else:
                    spots = [(0.5 - s, line_at) for s in steps]
                    spots.reverse()
                if all(self._free(s, o, ignore) for s, o in zip(spots, ordered, strict=True)):
                    for obj, spot in zip(ordered, spots, strict=True):
                        if math.dist(obj.position[:2], spot) > 0.01:
                            self._put(obj, spot, "in the line")
                    return
        raise Impossible("there is no free stretch of table for the line.")

    def _compile_triangle(self, frame: Frame) -> None:
        objs = self._resolve(frame.objects)
        if len(objs) != 3:
            raise Impossible(
                f"a triangle needs three objects, and {len(objs)} fit the description."
            )
        ignore = {o.name for o in objs}
        for cx, cy in ((0.5, 0.0), (0.5, 0.12), (0.5, -0.12), (0.42, 0.0), (0.58, 0.0)):
            spots = [(cx + 0.055, cy), (cx - 0.03, cy + 0.055), (cx - 0.03, cy - 0.055)]
            if all(self._free(s, o, ignore) for s, o in zip(spots, objs, strict=True)):
                break
        else:
            raise Impossible("there is no free space for the triangle.")
        for obj, spot in zip(objs, spots, strict=True):
            self._put(obj, spot, "triangle corner")

    def _compile_match(self, frame: Frame) -> None:
        objs = self._resolve(frame.objects)
        ref = (
            frame.target.ref if frame.target and frame.target.ref else NounPhrase("all", every=True)
        )
        containers = self.grounder.candidates(ref, CONTAINERS)
        by_color: dict[str, ObjectState] = {}
        for c in containers:
            by_color.setdefault(c.color, c)
        moved = 0
        for obj in objs:
            dest = by_color.get(obj.color)
            if dest is None:
                continue
            moved += 1
            if not geometry.is_in(self.virtual[obj.name], dest):
                self._put(obj, dest)
        if moved == 0:
            raise Impossible("none of those objects has a container of its colour.")

    def _compile_spread(self, frame: Frame) -> None:
        objs = self._resolve(frame.objects)
        names = [
            r
            for r in geometry.REGIONS
            if r.endswith("corner" if frame.side == "corners" else "side")
        ]
        if len(objs) > len(names):
            raise Impossible(f"there are {len(objs)} objects but only {len(names)} {frame.side}.")
        free = list(names)
        for obj in objs:
            here = next((r for r in free if geometry.is_at(obj, r)), None)
            if here is not None:
                free.remove(here)
        for obj in objs:
            if any(geometry.is_at(obj, r) for r in names if r not in free):
                continue
            for region in sorted(
                free, key=lambda r: math.dist(geometry.region_point(r), obj.position[:2])
            ):
                spot = self._free_near(geometry.region_point(region), obj, max_shift=0.04)
                if spot is not None:
                    free.remove(region)
                    self._put(obj, spot, f"at the {region}")
                    break
            else:
                raise Impossible(f"there are not enough free {frame.side} for every object.")

    def _compile_push(self, frame: Frame) -> None:
        obj = self._resolve_one(frame.objects, GRASPABLE)
        target = frame.target
        assert target is not None
        if target.kind == "toward":
            ref = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
            dx, dy = ref.position[0] - obj.position[0], ref.position[1] - obj.position[1]
            gap = math.hypot(dx, dy)
            distance = target.distance or max(0.02, gap - _radius(ref) - _radius(obj) - 0.01)
            self.plan.lines.append(
                f'push("{obj.name}", [{dx / gap:.3f}, {dy / gap:.3f}], {min(distance, 0.3):.3f})'
            )
            return
        if target.direction is None:
            raise NeedsQuestion(f"Which way should I push the {obj.name}?")
        distance = min(target.distance if target.distance is not None else DEFAULT_NUDGE, 0.3)
        words = {(0.0, 1.0): "left", (0.0, -1.0): "right", (1.0, 0.0): "away", (-1.0, 0.0): "front"}
        self.plan.lines.append(f'push("{obj.name}", "{words[target.direction]}", {distance:.3f})')
        ux, uy = target.direction
        self.virtual[obj.name] = replace(
            obj,
            position=(
                obj.position[0] + ux * distance,
                obj.position[1] + uy * distance,
                obj.position[2],
            ),
        )
