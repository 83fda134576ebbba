"""Spatial relations between object states: one implementation for predicates and perception.

Everything works on `ObjectState` in the table frame (ARCHITECTURE.md): x away from the
robot (far = "top" = "behind"), y to the robot's left (left = +y), z up, metres. Footprints
are shapely polygons in the (x, y) plane. Every tolerance lives in `RelationTolerances`;
each test takes one (`TOLERANCES` by default). Comparisons against a threshold include the
threshold itself, up to a nanometre of floating-point slack.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from types import MappingProxyType

import numpy as np
from shapely import affinity
from shapely.geometry import Point, Polygon, box

from skills.frames import WORKSPACE_X, WORKSPACE_Y
from skills.objects import ROUND_CATEGORIES, ObjectState

CONTAINER_CATEGORIES = frozenset({"bowl", "zone"})
"""Categories another object can be `in`."""

CORNER_SIZE = 0.15
SIDE_DEPTH = 0.12
CENTER_SIZE = 0.15

_EPS = 1e-9
_CIRCLE_SEGMENTS = 16


@dataclass(frozen=True)
class RelationTolerances:
    """Tolerances of the spatial relations (metres unless noted).

    Attributes:
        on_gap: largest |a's bottom - b's top| for `on`.
        on_overlap: smallest fraction of a's footprint area lying over b's for `on`.
        bowl_wall: a bowl's footprint shrinks by this before the centre test of `in`.
        bowl_rim: for `in` a bowl, a's bottom lies at least this far below the bowl's top
            (an object resting on the rim is not in the bowl).
        zone_height: for `in` a zone, largest |a's bottom - the zone's top|.
        direction_margin: smallest centre offset along the axis of a directional relation.
        direction_dominance: a directional relation also needs |offset along the axis| >=
            this x |offset across it| (the dominant-direction rule).
        near: largest footprint distance for `near` when none is given.
        between_width: largest distance of a's centre from the segment b-c for `between`.
        line_deviation: largest distance of a centre from the best-fit line for `line`.
        line_spacing: smallest distance between two centres in a `line`.
        unmoved_distance: largest centre displacement for `unmoved`.
        unmoved_yaw: largest yaw change for `unmoved`, radians (not checked for round objects).
        turn_tolerance: how far a `turned` object's yaw change may miss the angle asked, radians.
        turn_distance: how far a `turned` object's centre may move while it turns.
        start_distance: how close `at_start_of` must be to the other object's start.
        raise_slack: how far below the asked height a `raised` object's bottom may be.
    """

    on_gap: float = 0.015
    on_overlap: float = 0.30
    bowl_wall: float = 0.01
    bowl_rim: float = 0.01
    zone_height: float = 0.03
    direction_margin: float = 0.02
    direction_dominance: float = 0.5
    near: float = 0.05
    between_width: float = 0.03
    line_deviation: float = 0.025
    line_spacing: float = 0.03
    unmoved_distance: float = 0.01
    unmoved_yaw: float = math.radians(10.0)
    turn_tolerance: float = math.radians(15.0)
    turn_distance: float = 0.03
    start_distance: float = 0.04
    raise_slack: float = 0.02


TOLERANCES = RelationTolerances()


def _within(value: float, limit: float) -> bool:
    return value <= limit + _EPS


def _reaches(value: float, threshold: float) -> bool:
    return value >= threshold - _EPS


def _centre(obj: ObjectState) -> Point:
    return Point(obj.position[0], obj.position[1])


def footprint(obj: ObjectState) -> Polygon:
    """The object's outline on the table: a rotated rectangle, or a circle if round.

    The size is taken in the object's own frame, so a tipped-over object keeps the
    footprint it has upright.
    """
    x, y, _ = obj.position
    sx, sy, _ = obj.size
    if obj.category in ROUND_CATEGORIES:
        return Point(x, y).buffer(min(sx, sy) / 2.0, quad_segs=_CIRCLE_SEGMENTS)
    rect = box(-sx / 2, -sy / 2, sx / 2, sy / 2)
    rotated = affinity.rotate(rect, obj.yaw, origin=(0, 0), use_radians=True)
    return affinity.translate(rotated, x, y)


def planar_offset(a: ObjectState, b: ObjectState) -> tuple[float, float]:
    """(dx, dy) from b's centre to a's centre."""
    return (a.position[0] - b.position[0], a.position[1] - b.position[1])


def support_gap(a: ObjectState, b: ObjectState) -> float:
    """Height of a's bottom above b's top (negative when below)."""
    return a.bottom_z - b.top_z


def overlap_fraction(a: ObjectState, b: ObjectState) -> float:
    """Fraction of a's footprint area that lies over b's footprint."""
    own = footprint(a)
    if own.area == 0.0:
        return 0.0
    return own.intersection(footprint(b)).area / own.area


def footprint_distance(a: ObjectState, b: ObjectState) -> float:
    """Shortest distance between the two footprints (0 when they touch or overlap)."""
    return footprint(a).distance(footprint(b))


def is_on(a: ObjectState, b: ObjectState, tol: RelationTolerances = TOLERANCES) -> bool:
    """a rests on b: its bottom is within `on_gap` of b's top and `on_overlap` of it is over b."""
    return _within(abs(support_gap(a, b)), tol.on_gap) and _reaches(
        overlap_fraction(a, b), tol.on_overlap
    )


def is_in(a: ObjectState, container: ObjectState, tol: RelationTolerances = TOLERANCES) -> bool:
    """a is inside a bowl or on a zone; always False for other container categories.

    Bowl: a's centre lies in the bowl's footprint shrunk by `bowl_wall`, and a's bottom
    lies between the bowl's bottom (less `on_gap`) and `bowl_rim` below its top.
    Zone: a's centre lies in the zone's footprint and a's bottom within `zone_height`
    of the zone's top.
    """
    if container.category == "bowl":
        inner = footprint(container).buffer(-tol.bowl_wall, quad_segs=_CIRCLE_SEGMENTS)
        return (
            inner.covers(_centre(a))
            and _within(a.bottom_z, container.top_z - tol.bowl_rim)
            and _reaches(a.bottom_z, container.bottom_z - tol.on_gap)
        )
    if container.category == "zone":
        return footprint(container).covers(_centre(a)) and _within(
            abs(support_gap(a, container)), tol.zone_height
        )
    return False


_X, _Y = 0, 1


def _is_toward(
    a: ObjectState, b: ObjectState, axis: int, sign: int, tol: RelationTolerances
) -> bool:
    """The dominant-direction rule shared by the four directional relations.

    a lies toward `sign` along `axis` from b when the centre offset along the axis is at
    least `direction_margin` and at least `direction_dominance` x the offset across it.
    """
    offset = planar_offset(a, b)
    along = sign * offset[axis]
    across = abs(offset[1 - axis])
    return _reaches(along, tol.direction_margin) and _reaches(
        along, tol.direction_dominance * across
    )


def is_left_of(a: ObjectState, b: ObjectState, tol: RelationTolerances = TOLERANCES) -> bool:
    """a is left of b (+y), by the dominant-direction rule."""
    return _is_toward(a, b, _Y, +1, tol)


def is_right_of(a: ObjectState, b: ObjectState, tol: RelationTolerances = TOLERANCES) -> bool:
    """a is right of b (-y), by the dominant-direction rule."""
    return _is_toward(a, b, _Y, -1, tol)


def is_in_front_of(a: ObjectState, b: ObjectState, tol: RelationTolerances = TOLERANCES) -> bool:
    """a is in front of b (nearer the robot, -x), by the dominant-direction rule."""
    return _is_toward(a, b, _X, -1, tol)


def is_behind(a: ObjectState, b: ObjectState, tol: RelationTolerances = TOLERANCES) -> bool:
    """a is behind b (farther from the robot, +x), by the dominant-direction rule."""
    return _is_toward(a, b, _X, +1, tol)


def is_near(
    a: ObjectState,
    b: ObjectState,
    dist: float | None = None,
    tol: RelationTolerances = TOLERANCES,
) -> bool:
    """The footprints are at most `dist` apart (`tol.near` when `dist` is None)."""
    return _within(footprint_distance(a, b), tol.near if dist is None else dist)


def segment_position(a: ObjectState, b: ObjectState, c: ObjectState) -> tuple[float, float]:
    """Where a's centre lies relative to the segment from b's centre to c's centre.

    Returns:
        (fraction of the way from b to c of a's projection, distance of a's centre from
        the line b-c). When b and c share a centre: (0.0, distance from b's centre).
    """
    (bx, by), (cx, cy) = b.position[:2], c.position[:2]
    px, py = a.position[0] - bx, a.position[1] - by
    ux, uy = cx - bx, cy - by
    length = math.hypot(ux, uy)
    if length == 0.0:
        return 0.0, math.hypot(px, py)
    return (px * ux + py * uy) / length**2, abs(px * uy - py * ux) / length


def is_between(
    a: ObjectState, b: ObjectState, c: ObjectState, tol: RelationTolerances = TOLERANCES
) -> bool:
    """a's centre projects strictly inside segment b-c and lies within `between_width` of it."""
    fraction, distance = segment_position(a, b, c)
    return 0.0 < fraction < 1.0 and _within(distance, tol.between_width)


def is_stacked(objs: Sequence[ObjectState], tol: RelationTolerances = TOLERANCES) -> bool:
    """Each object (listed bottom to top) is on the one before it.

    Raises:
        ValueError: fewer than two objects.
    """
    if len(objs) < 2:
        raise ValueError(f"a stack needs at least two objects, got {len(objs)}")
    return all(is_on(upper, lower, tol) for lower, upper in pairwise(objs))


def line_deviation(objs: Sequence[ObjectState]) -> float:
    """Largest distance of a centre from the total-least-squares line through all centres."""
    points = np.array([o.position[:2] for o in objs], dtype=float)
    centred = points - points.mean(axis=0)
    normal = np.linalg.svd(centred)[2][-1]
    return float(np.max(np.abs(centred @ normal)))


def min_spacing(objs: Sequence[ObjectState]) -> float:
    """Smallest distance between two of the objects' centres (in the plane)."""
    return min(math.hypot(*planar_offset(a, b)) for a, b in combinations(objs, 2))


def is_line(objs: Sequence[ObjectState], tol: RelationTolerances = TOLERANCES) -> bool:
    """The centres lie on one line (within `line_deviation`), at least `line_spacing` apart.

    Raises:
        ValueError: fewer than three objects.
    """
    if len(objs) < 3:
        raise ValueError(f"a line needs at least three objects, got {len(objs)}")
    return _within(line_deviation(objs), tol.line_deviation) and _reaches(
        min_spacing(objs), tol.line_spacing
    )


def yaw_change(now: ObjectState, before: ObjectState) -> float:
    """How far the object turned, in radians, as it shows on its shape: a bar turned a half
    turn, or a cube a quarter turn, looks as before (and perception can not tell them apart)."""
    return visible_turn(now.yaw - before.yaw, yaw_period(now))


def yaw_period(obj: ObjectState) -> float:
    """The smallest turn that leaves the object's footprint as it was: a quarter turn for a
    square footprint, a half turn for a rectangle, a whole turn (no symmetry used) when round."""
    if obj.category in ROUND_CATEGORIES:
        return math.tau
    sx, sy, _ = obj.size
    return math.pi / 2 if abs(sx - sy) < 1e-3 else math.pi


def visible_turn(angle: float, period: float) -> float:
    """How far a turn by `angle` (radians) shows on a shape with rotational `period`:
    wrapped to [0, period / 2]."""
    return abs(math.remainder(angle, period))


def displacement(now: ObjectState, before: ObjectState) -> float:
    """Distance the object's centre moved (3-D)."""
    return math.dist(now.position, before.position)


def is_unmoved(now: ObjectState, before: ObjectState, tol: RelationTolerances = TOLERANCES) -> bool:
    """Moved at most `unmoved_distance`; turned at most `unmoved_yaw` (as it shows) unless round."""
    yaw_ok = now.category in ROUND_CATEGORIES or _within(yaw_change(now, before), tol.unmoved_yaw)
    return _within(displacement(now, before), tol.unmoved_distance) and yaw_ok


def is_upright(a: ObjectState) -> bool:
    """a's own z axis points up."""
    return a.upright


def _region_polygons() -> dict[str, Polygon]:
    (x0, x1), (y0, y1) = WORKSPACE_X, WORKSPACE_Y
    corner, side, half = CORNER_SIZE, SIDE_DEPTH, CENTER_SIZE / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return {
        "center": box(cx - half, cy - half, cx + half, cy + half),
        "top left corner": box(x1 - corner, y1 - corner, x1, y1),
        "top right corner": box(x1 - corner, y0, x1, y0 + corner),
        "bottom left corner": box(x0, y1 - corner, x0 + corner, y1),
        "bottom right corner": box(x0, y0, x0 + corner, y0 + corner),
        "top side": box(x1 - side, y0, x1, y1),
        "bottom side": box(x0, y0, x0 + side, y1),
        "left side": box(x0, y1 - side, x1, y1),
        "right side": box(x0, y0, x1, y0 + side),
    }


REGIONS: Mapping[str, Polygon] = MappingProxyType(_region_polygons())
"""Named workspace regions (top = far edge, +x; left = +y). Sides include their corners."""
SIDES = tuple(name for name in REGIONS if name.endswith(" side"))
"""The regions along the table's edges, where a row can run."""
ROW_ORDERS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "left to right": (1, -1),
        "right to left": (1, 1),
        "front to back": (0, 1),
        "back to front": (0, -1),
    }
)
"""The ways a row can run, each as (axis, sign): "front to back" goes away from the robot
(+x), "left to right" towards -y."""

_REGION_WORDS = {
    "upper": "top",
    "lower": "bottom",
    "centre": "center",
    "middle": "center",
    "edge": "side",
}


def _region(name: str) -> Polygon:
    try:
        return REGIONS[name]
    except KeyError:
        raise ValueError(f"unknown region {name!r}; known: {', '.join(REGIONS)}") from None


def normalize_region(text: str) -> str:
    """The region name meant by `text`, e.g. "Upper-left" -> "top left corner".

    Lower-cases, splits on spaces, hyphens and underscores, drops "the", maps the words
    upper/lower/centre/middle/edge to top/bottom/center/center/side, and completes a bare
    "top left" with "corner" and a bare "left" with "side".

    Raises:
        ValueError: no region matches; the message lists the known ones.
    """
    words = [_REGION_WORDS.get(w, w) for w in re.split(r"[\s_-]+", text.strip().lower())]
    name = " ".join(w for w in words if w and w != "the")
    for candidate in (name, f"{name} corner", f"{name} side"):
        if candidate in REGIONS:
            return candidate
    raise ValueError(f"unknown region {text!r}; known: {', '.join(REGIONS)}")


def region_point(name: str) -> tuple[float, float]:
    """The canonical place-target (x, y) of a region: its centroid."""
    centroid = _region(name).centroid
    return (round(centroid.x, 6) + 0.0, round(centroid.y, 6) + 0.0)  # + 0.0 drops -0.0


def in_workspace(x: float, y: float, margin: float = 0.0) -> bool:
    """(x, y) lies in the workspace rectangle, at least `margin` inside its edges."""
    (x0, x1), (y0, y1) = WORKSPACE_X, WORKSPACE_Y
    return x0 + margin <= x <= x1 - margin and y0 + margin <= y <= y1 - margin


def free_spot(
    objects: Sequence[ObjectState],
    near: tuple[float, float],
    radius: float,
    clearance: float = 0.03,
    step: float = 0.01,
) -> tuple[float, float] | None:
    """The point closest to `near` where a disc of `radius` stays `clearance` from every
    footprint in `objects` and inside the workspace; None when the table has no such point.

    Candidates lie on a `step` grid over the workspace, so the answer is deterministic."""
    (x0, x1), (y0, y1) = WORKSPACE_X, WORKSPACE_Y
    prints = [footprint(o) for o in objects]
    candidates = sorted(
        (
            (x0 + i * step, y0 + j * step)
            for i in range(round((x1 - x0) / step) + 1)
            for j in range(round((y1 - y0) / step) + 1)
        ),
        key=lambda xy: (math.dist(xy, near), xy),
    )
    for x, y in candidates:
        if not in_workspace(x, y, radius):
            continue
        disc = Point(x, y)
        if all(shape.distance(disc) >= radius + clearance for shape in prints):
            return (round(x, 4) + 0.0, round(y, 4) + 0.0)
    return None


def is_at(a: ObjectState, region: str) -> bool:
    """a's centre lies in the region (boundary included)."""
    return _region(region).covers(_centre(a))


Relation = Callable[[ObjectState, ObjectState, RelationTolerances], bool]


def _near(a: ObjectState, b: ObjectState, tol: RelationTolerances) -> bool:
    return is_near(a, b, tol=tol)


RELATIONS: Mapping[str, Relation] = MappingProxyType(
    {
        "on": is_on,
        "in": is_in,
        "left_of": is_left_of,
        "right_of": is_right_of,
        "in_front_of": is_in_front_of,
        "behind": is_behind,
        "near": _near,
    }
)
"""The scene-graph edge relations, in the order `relations` reports them."""


def relations(
    objects: Sequence[ObjectState], tol: RelationTolerances = TOLERANCES
) -> list[tuple[str, str, str]]:
    """Every (relation, a, b) that holds over ordered pairs of distinct objects.

    Ordered by a's name, then b's name, then the order of `RELATIONS`.
    """
    ordered = sorted(objects, key=lambda o: o.name)
    return [
        (relation, a.name, b.name)
        for a in ordered
        for b in ordered
        if a.name != b.name
        for relation, holds in RELATIONS.items()
        if holds(a, b, tol)
    ]
