"""Seeded random layouts: objects placed without overlap inside the workspace.

The same seed and object list give the same poses bit for bit (NumPy's PCG64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.objects import ObjectSpec
from skills.frames import WORKSPACE_X, WORKSPACE_Y

CLEARANCE = 0.02  # free space kept between sampled objects
ROUND_TYPES = frozenset({"bowl", "cylinder"})
MAX_TRIES = 2000
FIXED_OVERLAP = 0.7  # fixed poses may come closer than covering circles, not this close

Pose2D = tuple[float, float, float]  # x, y, yaw


@dataclass(frozen=True)
class Placement:
    """An object to place: fixed at `pose` (x, y[, yaw]) or sampled when `pose` is None."""

    spec: ObjectSpec
    pose: tuple[float, ...] | None = None


class LayoutError(ValueError):
    """The objects do not fit in the workspace without overlapping."""


def footprint_radius(spec: ObjectSpec) -> float:
    """Radius of a circle that covers the object's footprint at any yaw."""
    if spec.type in ROUND_TYPES:
        return max(spec.size[:2]) / 2.0
    return math.hypot(spec.size[0], spec.size[1]) / 2.0


def sample_layout(placements: list[Placement], seed: int) -> list[Pose2D]:
    """Poses for `placements` in order; fixed poses are kept, the rest sampled around them."""
    rng = np.random.Generator(np.random.PCG64(seed))
    poses: list[Pose2D | None] = [None] * len(placements)
    taken: list[tuple[float, float, float]] = []  # x, y, radius
    taken_named: list[tuple[float, float, float, str]] = []
    for i, p in enumerate(placements):
        if p.pose is not None:
            x, y = p.pose[0], p.pose[1]
            yaw = p.pose[2] if len(p.pose) > 2 else 0.0
            poses[i] = (float(x), float(y), float(yaw))
            r = footprint_radius(p.spec)
            for tx, ty, tr, name in taken_named:
                if math.hypot(x - tx, y - ty) < (r + tr) * FIXED_OVERLAP:
                    raise LayoutError(
                        f"the fixed poses of {name!r} and {p.spec.name!r} overlap: move one of them"
                    )
            taken_named.append((x, y, r, p.spec.name))
            taken.append((x, y, r))
    for i, p in enumerate(placements):
        if p.pose is None:
            poses[i] = _sample_one(p.spec, taken, rng)
    return [pose for pose in poses if pose is not None]


def _sample_one(
    spec: ObjectSpec, taken: list[tuple[float, float, float]], rng: np.random.Generator
) -> Pose2D:
    r = footprint_radius(spec)
    x_lo, x_hi = WORKSPACE_X[0] + r, WORKSPACE_X[1] - r
    y_lo, y_hi = WORKSPACE_Y[0] + r, WORKSPACE_Y[1] - r
    for _ in range(MAX_TRIES):
        x, y = rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi)
        yaw = 0.0 if spec.type == "zone" else rng.uniform(-math.pi / 2, math.pi / 2)
        if all(math.hypot(x - tx, y - ty) >= r + tr + CLEARANCE for tx, ty, tr in taken):
            taken.append((x, y, r))
            return (float(x), float(y), float(yaw))
    raise LayoutError(
        f"no room for {spec.name!r} after {MAX_TRIES} tries: use fewer or smaller objects, "
        "or give some of them fixed poses"
    )
