"""Seeded layouts: fixed poses kept, no overlap, inside the workspace, reproducible, errors."""

from __future__ import annotations

import math
from itertools import combinations

import pytest

from sim.layout import CLEARANCE, LayoutError, footprint_radius, sample_layout
from skills.frames import WORKSPACE_X, WORKSPACE_Y

SEEDS = range(150)


@pytest.fixture(scope="module")
def mixed(item):
    """One of every type, two blocks, and a fixed block in the middle of the workspace."""
    return [
        item("bowl", "blue"),
        item("zone", "green"),
        item("bar", "yellow"),
        item("cylinder", "cyan"),
        item("block", "red"),
        item("block", "white", pose=(0.50, 0.0, 0.3)),
        item("block", "pink"),
    ]


def test_fixed_poses_are_kept_exactly(item):
    placements = [
        item("block", "red"),
        item("bowl", "blue", pose=(0.42, -0.17, 0.25)),
        item("zone", "green", pose=(0.61, 0.18)),  # no yaw given: yaw 0
        item("cylinder", "cyan"),
    ]
    for seed in range(20):
        poses = sample_layout(placements, seed)
        assert len(poses) == len(placements)
        assert poses[1] == (0.42, -0.17, 0.25)
        assert poses[2] == (0.61, 0.18, 0.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_sampled_objects_never_overlap_and_stay_in_the_workspace(mixed, seed):
    poses = sample_layout(mixed, seed)
    assert len(poses) == len(mixed)
    circles = [(x, y, footprint_radius(p.spec)) for p, (x, y, _) in zip(mixed, poses, strict=True)]
    for (xa, ya, ra), (xb, yb, rb) in combinations(circles, 2):
        gap = math.hypot(xa - xb, ya - yb) - ra - rb
        assert gap >= CLEARANCE - 1e-12, (seed, gap)
    for p, (x, y, yaw) in zip(mixed, poses, strict=True):
        r = footprint_radius(p.spec)
        assert WORKSPACE_X[0] <= x - r and x + r <= WORKSPACE_X[1], (p.spec.name, x)
        assert WORKSPACE_Y[0] <= y - r and y + r <= WORKSPACE_Y[1], (p.spec.name, y)
        assert -math.pi / 2 <= yaw <= math.pi / 2
        if p.spec.type == "zone":
            assert yaw == 0.0


def test_same_seed_gives_the_same_layout_and_other_seeds_differ(mixed):
    assert sample_layout(mixed, 7) == sample_layout(mixed, 7)
    layouts = {tuple(sample_layout(mixed, seed)) for seed in range(10)}
    assert len(layouts) == 10


def test_footprint_radius_covers_any_yaw(item):
    bar = item("bar", "red").spec  # 0.12 x 0.03
    assert footprint_radius(bar) == pytest.approx(math.hypot(0.12, 0.03) / 2)
    bowl = item("bowl", "blue").spec
    assert footprint_radius(bowl) == pytest.approx(bowl.size[0] / 2)


def test_too_many_objects_raise_layout_error_naming_the_object(item):
    bowls = [item("bowl", "blue", name=f"bowl {i}") for i in range(15)]
    with pytest.raises(LayoutError, match=r"no room for 'bowl \d+'.*fewer or smaller objects"):
        sample_layout(bowls, seed=0)


def test_layout_error_is_a_value_error():
    assert issubclass(LayoutError, ValueError)
