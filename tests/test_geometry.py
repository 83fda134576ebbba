"""Spatial relations of perception.geometry on hand-built scenes, thresholds included."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Point, box

from perception import geometry as g
from skills.objects import ObjectState

BLOCK = (0.04, 0.04, 0.04)
BOWL = (0.15, 0.15, 0.05)
BAR = (0.12, 0.03, 0.03)


def obj(
    name: str = "a",
    x: float = 0.5,
    y: float = 0.0,
    z: float = 0.02,
    size: tuple[float, float, float] = BLOCK,
    category: str = "block",
    yaw: float = 0.0,
    upright: bool = True,
) -> ObjectState:
    return ObjectState(name, category, "red", (x, y, z), size, yaw, upright)


def on_top(lower: ObjectState, name: str = "top", dx: float = 0.0, gap: float = 0.0, **kw):
    size = kw.pop("size", BLOCK)
    z = lower.top_z + gap + size[2] / 2
    return obj(name, lower.position[0] + dx, lower.position[1], z, size=size, **kw)


def bowl(name: str = "bowl", x: float = 0.5, y: float = 0.0) -> ObjectState:
    return obj(name, x, y, BOWL[2] / 2, size=BOWL, category="bowl")


def zone(name: str = "zone", x: float = 0.5, y: float = 0.0) -> ObjectState:
    return obj(name, x, y, 0.001, size=(0.12, 0.12, 0.002), category="zone")


# footprint


def test_block_footprint_is_its_rectangle():
    assert g.footprint(obj()).equals(box(0.48, -0.02, 0.52, 0.02))


def test_rotated_bar_footprint_swaps_extents():
    minx, miny, maxx, maxy = g.footprint(obj(size=BAR, yaw=math.pi / 2)).bounds
    assert maxx - minx == pytest.approx(0.03)
    assert maxy - miny == pytest.approx(0.12)


@pytest.mark.parametrize("category", ["cylinder", "bowl"])
def test_round_footprint_uses_smaller_extent(category):
    shape = g.footprint(obj(size=(0.10, 0.06, 0.05), category=category, yaw=1.0))
    assert shape.area == pytest.approx(math.pi * 0.03**2, rel=0.01)
    assert shape.centroid.distance(Point(0.5, 0.0)) < 1e-9


# on


def test_block_resting_on_block_is_on():
    base = obj("base")
    assert g.is_on(on_top(base), base)
    assert not g.is_on(base, on_top(base))


@pytest.mark.parametrize(("gap", "expected"), [(0.015, True), (-0.015, True), (0.016, False)])
def test_on_vertical_gap_threshold(gap, expected):
    base = obj("base")
    assert g.is_on(on_top(base, gap=gap), base) is expected


@pytest.mark.parametrize(("dx", "expected"), [(0.028, True), (0.029, False)])
def test_on_overlap_threshold_is_thirty_percent(dx, expected):
    base = obj("base")
    top = on_top(base, dx=dx)
    assert g.overlap_fraction(top, base) == pytest.approx(1 - dx / 0.04)
    assert g.is_on(top, base) is expected


def test_rotated_bar_on_block_depends_on_yaw():
    base = obj("base")
    across = obj("bar", 0.5, 0.04, base.top_z + 0.015, size=BAR, yaw=math.pi / 2)
    along = obj("bar", 0.5, 0.04, base.top_z + 0.015, size=BAR, yaw=0.0)
    assert g.is_on(across, base)
    assert not g.is_on(along, base)


def test_overlap_fraction_of_zero_area_footprint_is_zero_not_nan():
    flat = obj(size=(0.0, 0.04, 0.04))
    assert g.overlap_fraction(flat, obj("b")) == 0.0


# in


def test_block_inside_bowl_is_in():
    container = bowl()
    assert g.is_in(obj(z=0.008 + 0.02), container)


def test_block_resting_on_bowl_rim_is_on_not_in():
    container = bowl()
    rim = obj(x=0.5 + 0.06, z=container.top_z + 0.02)
    assert not g.is_in(rim, container)
    assert g.is_on(rim, container)


@pytest.mark.parametrize(("bottom", "expected"), [(0.04, True), (0.041, False)])
def test_in_bowl_needs_bottom_below_rim(bottom, expected):
    assert g.is_in(obj(z=bottom + 0.02), bowl()) is expected


@pytest.mark.parametrize(("dx", "expected"), [(0.06, True), (0.0651, False)])
def test_in_bowl_centre_must_clear_the_wall(dx, expected):
    assert g.is_in(obj(x=0.5 + dx, z=0.028), bowl()) is expected


def test_object_under_a_bowl_is_not_in_it():
    block = obj(z=0.02)
    raised = obj("bowl", z=block.top_z + BOWL[2] / 2, size=BOWL, category="bowl")
    assert not g.is_in(block, raised)


def test_block_on_zone_is_in_zone():
    area = zone()
    assert g.is_in(obj(z=0.022), area)
    assert g.is_in(obj(x=0.56, z=0.022), area)  # centre on the edge counts


@pytest.mark.parametrize(("x", "z"), [(0.57, 0.022), (0.5, 0.022 + 0.031)])
def test_block_off_or_above_zone_is_not_in_it(x, z):
    assert not g.is_in(obj(x=x, z=z), zone())


def test_in_is_false_for_non_containers():
    assert not g.is_in(obj("a", z=0.02), obj("b", size=(0.2, 0.2, 0.04)))


# directions

DIRECTIONS = [
    (g.is_left_of, (0.0, 1.0)),
    (g.is_right_of, (0.0, -1.0)),
    (g.is_behind, (1.0, 0.0)),
    (g.is_in_front_of, (-1.0, 0.0)),
]


def offset(along: float, across: float, direction: tuple[float, float]) -> ObjectState:
    """An object `along` metres in `direction` from the origin and `across` metres sideways."""
    ux, uy = direction
    return obj("a", along * ux - across * uy, along * uy + across * ux)


ORIGIN = obj("b", 0.0, 0.0)


@pytest.mark.parametrize(("relation", "direction"), DIRECTIONS)
@pytest.mark.parametrize(
    ("along", "across", "expected"),
    [
        (0.10, 0.0, True),
        (0.02, 0.0, True),  # exactly the margin
        (0.0199, 0.0, False),
        (0.03, 0.06, True),  # exactly half the offset across
        (0.03, 0.0601, False),
        (-0.10, 0.0, False),
    ],
)
def test_direction_margin_and_dominance(relation, direction, along, across, expected):
    assert relation(offset(along, across, direction), ORIGIN) is expected


@pytest.mark.parametrize(("relation", "direction"), DIRECTIONS)
def test_directions_are_converse(relation, direction):
    a = offset(0.1, 0.0, direction)
    assert relation(a, ORIGIN)
    assert not relation(ORIGIN, a)
    others = [r for r, _ in DIRECTIONS if r is not relation]
    assert not any(r(a, ORIGIN) for r in others)


def test_left_is_plus_y_and_behind_is_plus_x():
    assert g.is_left_of(obj("a", 0.5, 0.2), obj("b", 0.5, 0.0))
    assert g.is_behind(obj("a", 0.6, 0.0), obj("b", 0.4, 0.0))


def test_diagonal_offset_counts_in_both_directions():
    a = obj("a", 0.1, 0.1)
    assert g.is_left_of(a, ORIGIN)
    assert g.is_behind(a, ORIGIN)


# near


@pytest.mark.parametrize(("distance", "expected"), [(0.09, True), (0.0901, False)])
def test_near_default_is_five_centimetres_between_footprints(distance, expected):
    assert g.is_near(obj("a", x=0.5 + distance), obj("b")) is expected


def test_near_takes_a_distance():
    a, b = obj("a", x=0.65), obj("b")
    assert not g.is_near(a, b)
    assert g.is_near(a, b, dist=0.11)


def test_near_uses_round_footprints():
    assert g.footprint_distance(bowl(x=0.5), obj(x=0.5 + 0.075 + 0.02)) == pytest.approx(
        0.0, abs=1e-3
    )


# between


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (0.5, 0.0, True),
        (0.5, 0.03, True),  # exactly the corridor half-width
        (0.5, 0.0301, False),
        (0.4, 0.0, False),  # at b: not strictly inside
        (0.35, 0.0, False),  # beyond b
        (0.65, 0.0, False),  # beyond c
    ],
)
def test_between_corridor(x, y, expected):
    assert g.is_between(obj("a", x, y), obj("b", 0.4, 0.0), obj("c", 0.6, 0.0)) is expected


def test_between_coincident_ends_is_false_and_finite():
    b = obj("b", 0.4, 0.0)
    fraction, distance = g.segment_position(obj("a", 0.5, 0.0), b, b)
    assert (fraction, distance) == (0.0, pytest.approx(0.1))
    assert not g.is_between(obj("a", 0.4, 0.0), b, b)


def test_segment_position_on_a_diagonal():
    fraction, distance = g.segment_position(obj("a", 0.0, 0.1), obj("b", 0, 0), obj("c", 0.1, 0.1))
    assert fraction == pytest.approx(0.5)
    assert distance == pytest.approx(math.sqrt(2) * 0.05)


# regions


def test_regions_lie_inside_the_workspace():
    workspace = box(g.WORKSPACE_X[0], g.WORKSPACE_Y[0], g.WORKSPACE_X[1], g.WORKSPACE_Y[1])
    assert set(g.REGIONS) == {
        "center",
        "top left corner",
        "top right corner",
        "bottom left corner",
        "bottom right corner",
        "top side",
        "bottom side",
        "left side",
        "right side",
    }
    for name, polygon in g.REGIONS.items():
        assert workspace.covers(polygon), name
        assert g.is_at(obj("p", *g.region_point(name)), name), name


@pytest.mark.parametrize(
    ("name", "point"),
    [
        ("center", (0.5, 0.0)),
        ("top left corner", (0.625, 0.225)),
        ("top right corner", (0.625, -0.225)),
        ("bottom left corner", (0.375, 0.225)),
        ("bottom right corner", (0.375, -0.225)),
        ("top side", (0.64, 0.0)),
        ("bottom side", (0.36, 0.0)),
        ("left side", (0.5, 0.24)),
        ("right side", (0.5, -0.24)),
    ],
)
def test_region_points(name, point):
    assert g.region_point(name) == pytest.approx(point)


def test_sides_include_their_corners():
    corner = obj(x=0.68, y=0.28)
    assert all(g.is_at(corner, r) for r in ("top left corner", "top side", "left side"))
    assert not g.is_at(corner, "right side")
    assert not g.is_at(corner, "center")


def test_region_boundary_counts():
    assert g.is_at(obj(x=0.575, y=0.075), "center")
    assert not g.is_at(obj(x=0.5751, y=0.0), "center")


def test_unknown_region_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown region 'middle top'.*top left corner"):
        g.is_at(obj(), "middle top")
    with pytest.raises(ValueError, match="unknown region"):
        g.region_point("Top Left Corner")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("top left corner", "top left corner"),
        ("Top-Left corner", "top left corner"),
        ("upper left corner", "top left corner"),
        ("the lower_right", "bottom right corner"),
        ("  top   left  ", "top left corner"),
        ("centre", "center"),
        ("middle", "center"),
        ("left edge", "left side"),
        ("top", "top side"),
    ],
)
def test_normalize_region(text, name):
    assert g.normalize_region(text) == name


@pytest.mark.parametrize("text", ["", "somewhere", "left top corner"])
def test_normalize_region_refuses_unknown(text):
    with pytest.raises(ValueError, match="known: center"):
        g.normalize_region(text)


# stacks, lines, motion, uprightness


def test_stacked_three_blocks():
    base = obj("base")
    middle = on_top(base, "middle")
    top = on_top(middle, "top", dx=0.01)
    assert g.is_stacked([base, middle, top])
    assert not g.is_stacked([base, top, middle])
    assert not g.is_stacked([base, middle, on_top(middle, "top", gap=0.03)])


def test_stacked_needs_two_objects():
    with pytest.raises(ValueError, match="at least two"):
        g.is_stacked([obj()])


def test_line_of_diagonal_centres():
    objs = [obj(str(i), 0.4 + 0.05 * i, -0.1 + 0.05 * i) for i in range(4)]
    assert g.line_deviation(objs) == pytest.approx(0.0, abs=1e-12)
    assert g.is_line(objs)


@pytest.mark.parametrize(("dy", "expected"), [(0.0375, True), (0.0376, False)])
def test_line_deviation_threshold(dy, expected):
    # the best-fit line through (0,0), (0.1,dy), (0.2,0) is y = dy/3; deviations are 2dy/3
    objs = [obj("a", 0.4, 0.0), obj("b", 0.5, dy), obj("c", 0.6, 0.0)]
    assert g.line_deviation(objs) == pytest.approx(2 * dy / 3)
    assert g.is_line(objs) is expected


def test_line_refuses_degenerate_spacing():
    objs = [obj("a", 0.4), obj("b", 0.42), obj("c", 0.6)]
    assert g.min_spacing(objs) == pytest.approx(0.02)
    assert not g.is_line(objs)
    assert not g.is_line([obj("a"), obj("b"), obj("c")])


def test_line_needs_three_objects():
    with pytest.raises(ValueError, match="at least three"):
        g.is_line([obj("a"), obj("b", 0.6)])


@pytest.mark.parametrize(
    ("dx", "yaw", "category", "expected"),
    [
        (0.01, 0.0, "block", True),
        (0.0101, 0.0, "block", False),
        (0.0, math.radians(10), "block", True),
        (0.0, math.radians(11), "block", False),
        (0.0, math.radians(90), "cylinder", True),
        (0.0, 2 * math.pi - 0.05, "block", True),
    ],
)
def test_unmoved(dx, yaw, category, expected):
    before = obj(category=category)
    now = obj(x=0.5 + dx, yaw=yaw, category=category)
    assert g.is_unmoved(now, before) is expected


@pytest.mark.parametrize(
    ("size", "yaw", "expected"),
    [
        ((0.12, 0.03, 0.03), math.pi, True),  # a bar a half turn round looks as it was
        ((0.12, 0.03, 0.03), math.pi / 2, False),
        (BLOCK, math.pi / 2, True),  # a cube a quarter turn round too
        (BLOCK, math.pi / 4, False),
    ],
)
def test_unmoved_counts_only_turns_that_show(size, yaw, expected):
    """Perception reads a bar's yaw only up to a half turn: a turn that leaves the footprint
    as it was is no move (a goal check once failed on a bar 'moved 0.0 cm, 180 deg')."""
    assert g.is_unmoved(obj(size=size, yaw=yaw), obj(size=size)) is expected


def test_upright():
    assert g.is_upright(obj())
    assert not g.is_upright(obj(upright=False))


# relations and tolerances


def test_relations_of_a_small_scene_in_stable_order():
    container = bowl("bowl", 0.5, 0.0)
    inside = obj("inside", 0.5, 0.0, 0.028)
    far = obj("far", 0.5, 0.25)
    expected = [
        ("right_of", "bowl", "far"),
        ("in", "inside", "bowl"),
        ("near", "inside", "bowl"),
        ("left_of", "far", "bowl"),
        ("left_of", "far", "inside"),
        ("right_of", "inside", "far"),
        ("near", "bowl", "inside"),
    ]
    found = g.relations([far, inside, container])
    assert sorted(found) == sorted(expected)
    assert found == g.relations([container, far, inside])
    assert [r[1:] for r in found] == sorted(r[1:] for r in found)


def test_custom_tolerances():
    loose = g.RelationTolerances(direction_margin=0.0, near=0.2)
    a, b = obj("a", 0.5, 0.01), obj("b", 0.65)
    assert not g.is_left_of(a, b)
    assert g.is_near(a, b, tol=loose)
    with pytest.raises(AttributeError):
        g.TOLERANCES.near = 1.0  # type: ignore[misc]


def test_free_spot_is_the_nearest_clear_point_and_none_on_a_full_table():
    bowl = obj(size=(0.17, 0.17, 0.05), category="bowl", x=0.5, y=0.0)
    spot = g.free_spot([bowl], near=(0.5, 0.0), radius=0.03, clearance=0.02)
    assert spot is not None and g.in_workspace(*spot, margin=0.03)
    assert 0.085 + 0.05 - 0.011 <= math.dist(spot, (0.5, 0.0)) <= 0.085 + 0.05 + 0.011
    wall = [obj(x=x / 100, y=y / 100) for x in range(30, 71, 3) for y in range(-30, 31, 3)]
    assert g.free_spot(wall, near=(0.5, 0.0), radius=0.03) is None


def test_turns_show_modulo_the_shapes_symmetry():
    cube, bar = obj(), obj(size=(0.12, 0.03, 0.03), category="bar")
    assert g.yaw_period(cube) == pytest.approx(math.pi / 2)
    assert g.yaw_period(bar) == pytest.approx(math.pi)
    assert g.visible_turn(math.pi / 2, g.yaw_period(cube)) == pytest.approx(0.0)
    assert g.visible_turn(math.radians(60), g.yaw_period(cube)) == pytest.approx(math.radians(30))
