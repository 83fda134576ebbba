"""The PyBullet tabletop world: object library, real contact physics, clients and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perception.geometry import is_in
from sim.env import TabletopEnv
from sim.objects import OBJECT_TYPES, ZONE_THICKNESS, ObjectSpec
from sim.world import TabletopWorld, WorldConfig
from skills.palette import PALETTE, rgba

TYPE_COLOURS = {
    "block": "red",
    "bar": "yellow",
    "cylinder": "cyan",
    "bowl": "blue",
    "zone": "green",
}
SETTLE_STEPS = 240  # one simulated second


@pytest.fixture
def world():
    with TabletopWorld() as w:
        yield w


def aabb_extent(world: TabletopWorld, name: str) -> np.ndarray:
    lo, hi = world.client.getAABB(world.objects[name].body)
    return np.subtract(hi, lo)


def drop(world: TabletopWorld, name: str, x: float, y: float, bottom_z: float) -> None:
    """Hold object `name` with its bottom at `bottom_z` above (x, y), upright, at rest."""
    obj = world.objects[name]
    centre_z = bottom_z + obj.spec.size[2] / 2
    world.client.resetBasePositionAndOrientation(obj.body, [x, y, centre_z], [0, 0, 0, 1])
    world.client.resetBaseVelocity(obj.body, [0, 0, 0], [0, 0, 0])


# --- object library ------------------------------------------------------------------------


def test_the_library_registers_the_five_types():
    assert set(TYPE_COLOURS) <= set(OBJECT_TYPES.names())


@pytest.mark.parametrize("kind", sorted(TYPE_COLOURS))
def test_every_type_builds_with_its_defaults_and_palette_colour(world, kind):
    colour = TYPE_COLOURS[kind]
    kind_spec = OBJECT_TYPES.get(kind)
    name = f"{colour} {kind}"
    body = world.add_object(kind_spec.spec(name, colour), 0.5, 0.1, 0.0)
    world.settle()

    state = world.object_state(name)
    assert (state.name, state.category, state.color) == (name, kind, colour)
    assert state.size == kind_spec.size
    assert state.upright
    assert state.position[:2] == pytest.approx((0.5, 0.1), abs=2e-3)
    assert state.bottom_z == pytest.approx(0.0, abs=2e-3)  # resting on the table top
    mass, friction = world.client.getDynamicsInfo(body, -1)[:2]
    assert mass == pytest.approx(kind_spec.mass)
    assert friction == pytest.approx(kind_spec.friction)
    visuals = world.client.getVisualShapeData(body)
    assert visuals
    for shape in visuals:
        assert shape[7] == pytest.approx(rgba(colour), abs=1e-6)


@pytest.mark.parametrize("kind", ["block", "bar", "zone"])
def test_box_shapes_have_their_size_as_bounding_box(world, kind):
    spec = OBJECT_TYPES.get(kind).spec("thing", "gray")
    world.add_object(spec, 0.5, 0.0)
    assert aabb_extent(world, "thing") == pytest.approx(spec.size, abs=1e-3)


def test_overrides_of_size_mass_and_friction_take_effect(world):
    spec = OBJECT_TYPES.get("block").spec(
        "odd block", "purple", size=(0.03, 0.05, 0.06), mass=0.5, friction=0.3
    )
    body = world.add_object(spec, 0.45, -0.1)
    can = OBJECT_TYPES.get("cylinder").spec("big can", "orange", size=(0.07, 0.07, 0.12), mass=1.2)
    can_body = world.add_object(can, 0.6, 0.1)
    world.settle()

    assert world.object_state("odd block").size == (0.03, 0.05, 0.06)
    assert aabb_extent(world, "odd block") == pytest.approx((0.03, 0.05, 0.06), abs=1e-3)
    mass, friction = world.client.getDynamicsInfo(body, -1)[:2]
    assert (mass, friction) == (pytest.approx(0.5), pytest.approx(0.3))

    assert world.object_state("big can").size == (0.07, 0.07, 0.12)
    assert aabb_extent(world, "big can") == pytest.approx((0.07, 0.07, 0.12), abs=2e-3)
    assert world.client.getDynamicsInfo(can_body, -1)[0] == pytest.approx(1.2)
    assert world.object_state("big can").bottom_z == pytest.approx(0.0, abs=2e-3)


def test_unknown_colour_is_refused_listing_the_palette():
    with pytest.raises(KeyError, match="unknown colour 'magenta'; known: blue, red"):
        OBJECT_TYPES.get("block").spec("magenta block", "magenta")
    assert "magenta" not in PALETTE


def test_unknown_type_is_refused_listing_the_registered_types(world):
    with pytest.raises(KeyError, match="unknown object type 'sphere'; known: bar, block, bowl"):
        OBJECT_TYPES.get("sphere")
    bad = ObjectSpec("ball", "sphere", "red", (0.04, 0.04, 0.04), 0.1, 0.5)
    with pytest.raises(KeyError, match="unknown object type 'sphere'"):
        world.add_object(bad, 0.5, 0.0)
    assert world.objects == {}


def test_duplicate_names_and_bad_specs_are_refused(world):
    world.add_object(OBJECT_TYPES.get("block").spec("red block", "red"), 0.5, 0.0)
    with pytest.raises(ValueError, match="'red block' is already in the world"):
        world.add_object(OBJECT_TYPES.get("block").spec("red block", "blue"), 0.4, 0.1)
    with pytest.raises(ValueError, match="mass -1"):
        OBJECT_TYPES.get("block").spec("b", "red", mass=-1)
    with pytest.raises(ValueError, match="size"):
        OBJECT_TYPES.get("block").spec("b", "red", size=(0.04, 0.04, 0.0))


# --- physics of containers -------------------------------------------------------------------


def test_a_block_dropped_into_the_bowl_ends_in_it_and_stays(world):
    world.add_object(OBJECT_TYPES.get("bowl").spec("blue bowl", "blue"), 0.5, 0.0)
    world.settle()
    bowl_before = world.object_state("blue bowl")
    world.add_object(OBJECT_TYPES.get("block").spec("red block", "red"), 0.5, 0.0)
    drop(world, "red block", 0.5, 0.0, bowl_before.top_z + 0.10)

    world.step(SETTLE_STEPS)
    block, bowl = world.object_state("red block"), world.object_state("blue bowl")
    assert is_in(block, bowl)
    # It rests on the bowl's inner floor (a concave body), not on a convex hull's lid.
    assert block.bottom_z < bowl.top_z - 0.02
    assert block.upright

    world.step(SETTLE_STEPS)
    later = world.object_state("red block")
    assert is_in(later, world.object_state("blue bowl"))
    assert later.position == pytest.approx(block.position, abs=1e-3)


def test_zone_is_flat_static_and_holds_a_dropped_block(world):
    zone_body = world.add_object(OBJECT_TYPES.get("zone").spec("green zone", "green"), 0.5, 0.2)
    start = world.object_state("green zone")
    assert start.size[2] == ZONE_THICKNESS
    assert aabb_extent(world, "green zone")[2] == pytest.approx(ZONE_THICKNESS, abs=1e-4)
    assert world.client.getDynamicsInfo(zone_body, -1)[0] == 0.0  # mass 0: static

    world.add_object(OBJECT_TYPES.get("block").spec("red block", "red"), 0.5, 0.2)
    drop(world, "red block", 0.52, 0.21, 0.10)
    world.step(SETTLE_STEPS)

    block, zone = world.object_state("red block"), world.object_state("green zone")
    assert is_in(block, zone)
    assert zone.position == start.position
    assert zone.yaw == start.yaw


# --- clients, time, determinism --------------------------------------------------------------


def test_time_advances_only_by_steps_and_listeners_see_each(world):
    seen: list[int] = []
    world.add_step_listener(lambda w: seen.append(w.steps))
    assert world.sim_time == 0.0
    world.step(5)
    assert seen == [1, 2, 3, 4, 5]
    assert world.sim_time == pytest.approx(5 * world.config.time_step)


def test_world_config_is_validated():
    with pytest.raises(ValueError, match="renderer 'vulkan'"):
        WorldConfig(renderer="vulkan")
    with pytest.raises(ValueError, match=r"time_step 0\.5"):
        WorldConfig(time_step=0.5)


def test_two_worlds_in_one_process_are_independent():
    block = OBJECT_TYPES.get("block").spec("red block", "red")
    with TabletopWorld() as a, TabletopWorld() as b:
        a.add_object(block, 0.5, 0.0)
        b.add_object(block, 0.5, 0.0)
        b.settle()
        b_time, b_state = b.sim_time, b.object_state("red block")

        drop(a, "red block", 0.45, 0.1, 0.2)
        a.step(120)
        assert a.object_state("red block").position[:2] == pytest.approx((0.45, 0.1), abs=1e-3)
        assert b.sim_time == b_time
        assert b.object_state("red block") == b_state

        a.close()  # closing one leaves the other running
        b.step(10)
        assert b.object_state("red block").position == pytest.approx(b_state.position, abs=1e-4)


def _scene(item):
    return [
        item("block", "red"),
        item("bowl", "blue"),
        item("cylinder", "green", name="green can"),
        item("bar", "yellow", pose=(0.6, 0.2, 0.4)),
    ]


def test_same_seed_gives_the_same_scene_bit_for_bit(make_env, item):
    a, b = make_env(*_scene(item), seed=3), make_env(*_scene(item), seed=3)
    c = make_env(*_scene(item), seed=4)
    states_a = a.objects()
    assert [s.name for s in states_a] == ["red block", "blue bowl", "green can", "yellow bar"]
    assert states_a == b.objects()  # exact float equality, not approx
    assert a.world.steps == b.world.steps
    assert states_a != c.objects()
    # The fixed bar stands where it was put whatever the seed.
    assert c.objects()[3].position[:2] == pytest.approx((0.6, 0.2), abs=1e-3)
    assert c.objects()[3].yaw == pytest.approx(0.4, abs=1e-3)


def test_env_initial_states_and_objects_agree(make_env, item):
    env = make_env(*_scene(item), seed=1)
    assert list(env.initial) == [s.name for s in env.objects()]
    assert env.initial == {s.name: s for s in env.objects()}
    for state in env.objects():
        assert state.upright, state.name
        assert not math.isnan(state.yaw)


def test_env_refuses_a_scene_that_does_not_fit(item):
    bowls = [item("bowl", "blue", name=f"bowl {i}") for i in range(15)]
    with pytest.raises(ValueError, match="no room"):
        TabletopEnv(bowls, seed=0)
