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
MAX_TRIES = 2000  # candidate positions per object and attempt
RESTARTS = 100  # whole-layout restarts, largest objects first, after the first attempt fails
FIXED_OVERLAP = 0.7  # fixed poses may come closer than covering circles, not this close

Pose2D = tuple[float, float, float]  # x, y, yaw
Circle = tuple[float, float, float]  # x, y, radius


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
    """Poses for `placements` in order; fixed poses are kept, the rest sampled around them.

    The first attempt samples in the given order from `seed`; if an object does not fit, the
    whole layout restarts, largest objects first, from seeds derived from `seed`.
    """
    fixed, circles = _fixed(placements)
    free = [i for i, p in enumerate(placements) if p.pose is None]
    largest_first = sorted(free, key=lambda i: -footprint_radius(placements[i].spec))
    for attempt in range(RESTARTS + 1):
        rng = np.random.Generator(np.random.PCG64([seed, attempt] if attempt else seed))
        poses, taken = dict(fixed), list(circles)
        for i in largest_first if attempt else free:
            pose = _sample_one(placements[i].spec, taken, rng)
            if pose is None:
                missing = placements[i].spec.name
                break
            poses[i] = pose
        else:
            return [poses[i] for i in range(len(placements))]
    raise LayoutError(
        f"no room for {missing!r} among {len(placements)} objects after {RESTARTS + 1} "
        "attempts: use fewer or smaller objects, or give some of them fixed poses"
    )


def _fixed(placements: list[Placement]) -> tuple[dict[int, Pose2D], list[Circle]]:
    """The fixed poses by index (yaw 0 when not given) and their covering circles."""
    poses: dict[int, Pose2D] = {}
    circles: list[Circle] = []
    names: list[str] = []
    for i, p in enumerate(placements):
        if p.pose is None:
            continue
        x, y, r = p.pose[0], p.pose[1], footprint_radius(p.spec)
        for (tx, ty, tr), name in zip(circles, names, strict=True):
            if math.hypot(x - tx, y - ty) < (r + tr) * FIXED_OVERLAP:
                raise LayoutError(
                    f"the fixed poses of {name!r} and {p.spec.name!r} overlap: move one of them"
                )
        poses[i] = (float(x), float(y), float(p.pose[2] if len(p.pose) > 2 else 0.0))
        circles.append((x, y, r))
        names.append(p.spec.name)
    return poses, circles


def _sample_one(spec: ObjectSpec, taken: list[Circle], rng: np.random.Generator) -> Pose2D | None:
    """A free pose for `spec` (added to `taken`), or None after MAX_TRIES candidates.

    Candidates are drawn in growing batches; on success the generator is rewound to just after
    the accepted one, so it advances exactly as drawing (x, y[, yaw]) one try at a time would.
    """
    r = footprint_radius(spec)
    dims = 2 if spec.type == "zone" else 3
    low = [WORKSPACE_X[0] + r, WORKSPACE_Y[0] + r, -math.pi / 2][:dims]
    high = [WORKSPACE_X[1] - r, WORKSPACE_Y[1] - r, math.pi / 2][:dims]
    if low[0] > high[0] or low[1] > high[1]:
        return None  # wider than the workspace
    tried = 0
    while tried < MAX_TRIES:
        batch = min(max(16, tried), MAX_TRIES - tried)
        start = rng.bit_generator.state
        draws = rng.uniform(low, high, size=(batch, dims))
        blocked = np.zeros(batch, dtype=bool)
        for tx, ty, tr in taken:  # a loose vector check first; the exact one below decides
            blocked |= np.hypot(draws[:, 0] - tx, draws[:, 1] - ty) < r + tr + CLEARANCE - 1e-9
        for j in np.flatnonzero(~blocked):
            x, y = float(draws[j, 0]), float(draws[j, 1])
            if all(math.hypot(x - tx, y - ty) >= r + tr + CLEARANCE for tx, ty, tr in taken):
                rng.bit_generator.state = start
                rng.bit_generator.advance(dims * (int(j) + 1))
                taken.append((x, y, r))
                return (x, y, float(draws[j, 2]) if dims == 3 else 0.0)
        tried += batch
    return None
