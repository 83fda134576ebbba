"""From the table-frame points of each seen object to a `Detection`: shape, pose, colour.

Both detectors end here, so they measure alike: the footprint is the convex hull of the
points' (x, y) (side faces project onto the outline, top faces fill it), the top is a high
percentile of z, the category follows from the footprint and the height, and the bottom
from what the object stands on (the table, a zone, a bowl's floor or another object).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from shapely.geometry import Point, Polygon

from perception.detector import Detection, wrap_yaw
from skills.frames import TABLE_Z
from skills.robot import RobotState

TOP_FACE_DEPTH = 0.004
"""Points this close below an object's top belong to its top face."""
EDGE_BAND = 0.002
"""Points this close to a rectangle's outline lie on it."""
STRAIGHT_TURN = math.radians(8.0)
"""Hull edges turning less than this from a stretch's first edge continue the stretch."""


@dataclass
class Blob:
    """The points of one object as the cameras saw it.

    Attributes:
        points: (N, 3) table-frame points of its visible surface.
        votes: pixel count per palette colour (indexes `colors`).
        cameras: the cameras that saw it.
        flat: it lies on the table plane (a zone candidate).
        label: the source's name for the object, if any (segmentation labels).
        pad: how much the hull of pixel samples undersizes the outline, metres.
    """

    points: np.ndarray
    votes: np.ndarray
    cameras: tuple[str, ...]
    flat: bool = False
    label: str | None = None
    pad: float = 0.0


@dataclass(frozen=True)
class ShapeRules:
    """Thresholds that turn a footprint and a height into a category.

    Attributes:
        straight_share: a footprint whose outline (hull) is less than this share straight
            is round; a rectangle's is nearly all straight, even when partly seen.
        straight_run: shortest straight stretch of an outline that counts, m.
        bar_aspect: a rectangular footprint at least this elongated is a bar.
        square_aspect: a footprint less elongated than this has yaw defined modulo 90 deg.
        hollow_fraction: an object is a bowl when at least this fraction of the points
            near its centre lie below half its height.
        bowl_diameter: a round object this wide is a bowl even when its inside is unseen.
        flat_height: a blob whose top is lower is flat (a zone).
        min_area: smaller flat footprints are noise, m^2 (a raised object seen edge-on
            from the side may have next to none).
        min_extent: footprints shorter than this are noise, m.
        min_points: blobs with fewer points are noise.
        support_overlap: smallest fraction of a footprint lying over a lower object for
            that object to support it.
        support_margin: a support's top lies at least this far below the object's top.
        held_radius: an object whose footprint lies within this of the gripper while the
            robot holds something is the held object (its bottom is its lowest point).
        top_face_share: an object whose top face (as seen) covers less than this share of
            its footprint is seen from the side only (e.g. under another object).
        complete_below: seen from the side only under another object, a footprint whose
            short side is below this fraction of its long side is completed by symmetry.
    """

    straight_share: float = 0.6
    straight_run: float = 0.012
    bar_aspect: float = 1.8
    square_aspect: float = 1.25
    hollow_fraction: float = 0.5
    bowl_diameter: float = 0.10
    flat_height: float = 0.006
    min_area: float = 2.0e-4
    min_extent: float = 0.01
    min_points: int = 30
    support_overlap: float = 0.2
    support_margin: float = 0.01
    held_radius: float = 0.03
    top_face_share: float = 0.5
    complete_below: float = 0.6


@dataclass
class _Shape:
    blob: Blob
    category: str
    color: str
    centre: tuple[float, float]
    extent: tuple[float, float]
    yaw: float
    top: float
    lowest: float
    floor: float
    footprint: Polygon
    confidence: float
    side_only: bool = False
    bottom: float = TABLE_Z


def _hull(xy: np.ndarray) -> np.ndarray:
    return cv2.convexHull(np.ascontiguousarray(xy, dtype=np.float32)).reshape(-1, 2)


def _rect(hull: np.ndarray) -> tuple[tuple[float, float], float, float, float]:
    """Centre, long side, short side and long-side direction of the minimum-area rectangle."""
    (cx, cy), _, _ = rect = cv2.minAreaRect(hull)
    corners = cv2.boxPoints(rect).astype(float)
    e1, e2 = corners[1] - corners[0], corners[2] - corners[1]
    l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
    long_edge = e1 if l1 >= l2 else e2
    yaw = math.atan2(long_edge[1], long_edge[0])
    return (float(cx), float(cy)), max(l1, l2), min(l1, l2), yaw


def _centroid(hull: np.ndarray) -> tuple[float, float]:
    m = cv2.moments(hull.astype(np.float32))
    if m["m00"] <= 0:
        c = hull.mean(axis=0)
        return float(c[0]), float(c[1])
    return m["m10"] / m["m00"], m["m01"] / m["m00"]


def _shape(blob: Blob, colors: Sequence[str], rules: ShapeRules) -> _Shape | None:
    pts = blob.points
    if len(pts) < rules.min_points:
        return None
    z = pts[:, 2]
    hull = _hull(pts[:, :2])
    if len(hull) < 3:
        return None
    area = float(cv2.contourArea(hull))
    centre, long_side, short_side, rect_yaw = _rect(hull)
    if long_side < rules.min_extent or (blob.flat and area < rules.min_area):
        return None
    top = float(np.median(z)) if blob.flat else float(np.percentile(z, 98))
    lowest = float(np.percentile(z, 2))
    side_only = not blob.flat and _top_face_area(pts, top) < rules.top_face_share * area
    runs = _straight_runs(hull, rules.straight_run)
    straight = sum(length for _, length in runs) / max(cv2.arcLength(hull, True), 1e-12)
    is_round = not blob.flat and straight < rules.straight_share
    if side_only and not is_round and runs:
        # Side faces only (an L or a single face): the rectangle whose outline they follow.
        fits = [_fit_rect(pts[:, :2], hull, angle) for angle, _ in runs]
        centre, long_side, short_side, rect_yaw = max(
            fits, key=lambda f: _on_rect_share(pts[:, :2], *f)
        )
    floor = top
    middle = _centroid(hull)
    diameter = 2.0 * math.sqrt(area / math.pi)
    inner = z[np.hypot(pts[:, 0] - middle[0], pts[:, 1] - middle[1]) < diameter / 4.0]
    hollow = (
        not blob.flat and len(inner) >= 10 and np.mean(inner < top / 2.0) >= rules.hollow_fraction
    )
    if blob.flat:
        category = "zone"
    elif (hollow and long_side < rules.bar_aspect * short_side) or (
        is_round and diameter >= rules.bowl_diameter
    ):
        category, is_round = "bowl", True
        floor = float(np.median(inner)) if len(inner) >= 10 else top
    elif is_round:
        category = "cylinder"
    else:
        category = "bar" if long_side >= rules.bar_aspect * short_side else "block"
    if is_round:
        centre = middle
        d = 2.0 * math.sqrt(area / math.pi) + blob.pad
        extent, yaw = (d, d), 0.0
        footprint = Point(centre).buffer(d / 2.0, quad_segs=16)
    else:
        extent = (long_side + blob.pad, short_side + blob.pad)
        period = math.pi / 2 if long_side < rules.square_aspect * short_side else math.pi
        yaw = wrap_yaw(rect_yaw, period)
        footprint = Polygon(_rect_corners(centre, extent, yaw))
    total = float(blob.votes.sum())
    best = int(np.argmax(blob.votes))
    purity = float(blob.votes[best]) / total if total else 0.0
    confidence = purity * min(1.0, len(pts) / 150.0)
    return _Shape(
        blob,
        category,
        colors[best],
        centre,
        extent,
        yaw,
        top,
        lowest,
        floor,
        footprint,
        confidence,
        side_only=side_only,
    )


def _straight_runs(hull: np.ndarray, min_length: float) -> list[tuple[float, float]]:
    """(direction, length) of the hull's straight stretches at least `min_length` long.

    A rectangle's hull (even of a partial view) is a few long straight edges; a circle's
    is many short ones turning a little each.
    """
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    angles = np.arctan2(edges[:, 1], edges[:, 0])
    runs: list[tuple[float, float]] = []
    start, total = angles[0], 0.0
    for angle, length in zip(angles, lengths, strict=True):
        if abs(math.remainder(angle - start, math.tau)) > STRAIGHT_TURN:
            if total >= min_length:
                runs.append((float(start), total))
            start, total = angle, 0.0
        total += float(length)
    if total >= min_length:
        runs.append((float(start), total))
    return runs


def _fit_rect(
    xy: np.ndarray, hull: np.ndarray, angle: float
) -> tuple[tuple[float, float], float, float, float]:
    """The bounding rectangle of the hull aligned with `angle`: centre, long, short, yaw."""
    c, s = math.cos(angle), math.sin(angle)
    u = hull[:, 0] * c + hull[:, 1] * s
    v = -hull[:, 0] * s + hull[:, 1] * c
    (u0, u1), (v0, v1) = (float(u.min()), float(u.max())), (float(v.min()), float(v.max()))
    cu, cv = (u0 + u1) / 2.0, (v0 + v1) / 2.0
    centre = (cu * c - cv * s, cu * s + cv * c)
    lu, lv = u1 - u0, v1 - v0
    return (centre, lu, lv, angle) if lu >= lv else (centre, lv, lu, angle + math.pi / 2)


def _top_face_area(pts: np.ndarray, top: float) -> float:
    """Area of the hull of the points near the top (the top face, where it is seen)."""
    upper = pts[pts[:, 2] >= top - TOP_FACE_DEPTH, :2]
    if len(upper) < 3:
        return 0.0
    return float(cv2.contourArea(_hull(upper)))


def _on_rect_share(
    xy: np.ndarray, centre: tuple[float, float], long_side: float, short_side: float, yaw: float
) -> float:
    """Fraction of the points within `EDGE_BAND` of the rectangle's outline."""
    c, s = math.cos(yaw), math.sin(yaw)
    dx, dy = xy[:, 0] - centre[0], xy[:, 1] - centre[1]
    u, v = np.abs(dx * c + dy * s), np.abs(-dx * s + dy * c)
    gap = np.minimum(long_side / 2.0 - u, short_side / 2.0 - v)
    return float(np.mean(np.abs(gap) <= EDGE_BAND))


def _complete_covered(
    shapes: list[_Shape], colors: Sequence[str], rules: ShapeRules
) -> list[_Shape]:
    """Complete objects seen only from the side under another: mirror through its centre.

    A block under a wider object shows one or two side faces; what stands on it is
    centred on it, so the faces mirrored through the upper object's centre give the rest.
    """
    out = []
    for shape in shapes:
        if not shape.side_only or shape.extent[1] >= rules.complete_below * shape.extent[0]:
            out.append(shape)
            continue
        covers = [
            o
            for o in shapes
            if o is not shape
            and o.lowest >= shape.top - rules.support_margin
            and o.footprint.intersects(shape.footprint)
        ]
        if not covers:
            out.append(shape)
            continue
        cover = min(covers, key=lambda o: o.lowest)
        pts = shape.blob.points
        mirrored = pts.copy()
        mirrored[:, 0] = 2.0 * cover.centre[0] - pts[:, 0]
        mirrored[:, 1] = 2.0 * cover.centre[1] - pts[:, 1]
        blob = Blob(
            np.concatenate([pts, mirrored]),
            shape.blob.votes,
            shape.blob.cameras,
            label=shape.blob.label,
            pad=shape.blob.pad,
        )
        completed = _shape(blob, colors, rules)
        out.append(completed if completed is not None else shape)
    return out


def _rect_corners(
    centre: tuple[float, float], extent: tuple[float, float], yaw: float
) -> list[tuple[float, float]]:
    c, s = math.cos(yaw), math.sin(yaw)
    hx, hy = extent[0] / 2.0, extent[1] / 2.0
    return [
        (centre[0] + c * dx - s * dy, centre[1] + s * dx + c * dy)
        for dx, dy in ((-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy))
    ]


def _support_height(obj: _Shape, below: _Shape) -> float:
    """Height of the surface of `below` that `obj` rests on."""
    if below.category == "bowl":
        inner = below.extent[0] / 2.0 - 0.01
        inside = math.dist(obj.centre, below.centre) <= inner
        return below.floor if inside else below.top
    return below.top


def _resolve_support(shapes: list[_Shape], rules: ShapeRules, robot: RobotState | None) -> None:
    """Set each shape's bottom: the highest surface under it, or its lowest point if held."""
    held = _held(shapes, rules, robot)
    for obj in shapes:
        if obj.category == "zone":
            obj.bottom = TABLE_Z
            continue
        if obj is held:
            obj.bottom = obj.lowest
            continue
        area = obj.footprint.area
        bottom = TABLE_Z
        for below in shapes:
            if below is obj or (below.category == "zone" and obj.category == "zone"):
                continue
            height = _support_height(obj, below)
            if height >= obj.top - rules.support_margin or area <= 0:
                continue
            overlap = obj.footprint.intersection(below.footprint).area
            if overlap >= rules.support_overlap * area:
                bottom = max(bottom, height)
        obj.bottom = bottom


def _held(shapes: list[_Shape], rules: ShapeRules, robot: RobotState | None) -> _Shape | None:
    if robot is None or robot.holding is None:
        return None
    ex, ey, _ = robot.ee_pose.position
    candidates = [
        s
        for s in shapes
        if s.category != "zone" and s.footprint.distance(Point(ex, ey)) <= rules.held_radius
    ]
    return max(candidates, key=lambda s: s.lowest, default=None)


def estimate(
    blobs: Sequence[Blob],
    colors: Sequence[str],
    rules: ShapeRules | None = None,
    robot: RobotState | None = None,
) -> list[Detection]:
    """Detections for `blobs`, ordered by x then y.

    Args:
        blobs: the objects' points, one blob per object.
        colors: the colour names `Blob.votes` counts.
        rules: shape thresholds.
        robot: the robot state, to tell the held object (it rests on nothing).
    """
    rules = rules or ShapeRules()
    shapes = [s for b in blobs if (s := _shape(b, colors, rules)) is not None]
    shapes = _complete_covered(shapes, colors, rules)
    _resolve_support(shapes, rules, robot)
    out = []
    for s in shapes:
        height = max(s.top - s.bottom, 0.001)
        out.append(
            Detection(
                category=s.category,
                color=s.color,
                position=(s.centre[0], s.centre[1], s.bottom + height / 2.0),
                size=(s.extent[0], s.extent[1], height),
                yaw=s.yaw,
                confidence=round(s.confidence, 3),
                cameras=s.blob.cameras,
                label=s.blob.label,
            )
        )
    out.sort(key=lambda d: (round(d.position[0], 4), round(d.position[1], 4)))
    return out
