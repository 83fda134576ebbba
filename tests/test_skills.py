"""The Robot protocol on the simulated Panda, and the skills on real contact physics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perception.geometry import is_in, is_on
from perception.predicates import parse_predicate
from sim.env import TabletopEnv
from sim.panda import PandaConfig
from skills.errors import SafetyError, UnknownObjectError
from skills.params import MoveParams, PickParams, PlaceParams, PushParams
from skills.primitives import EMPTY_WIDTH, HOME, PLACE_TOLERANCE, Skills
from skills.robot import (
    CameraFrame,
    GripperResult,
    MotionResult,
    Pose,
    Robot,
    RobotState,
)
from skills.safety import SafeRobot

TOLERANCE = PandaConfig().position_tolerance


def by_name(env) -> dict:
    return {s.name: s for s in env.objects()}


def holds(env, *raw: dict) -> list:
    """Evaluate suite-style predicates on `env`; return the details of those that fail."""
    types = {s.name: s.category for s in env.objects()}
    results = env.check([parse_predicate(r, types) for r in raw])
    return [r.detail for r in results if not r.ok]


@pytest.fixture(scope="module")
def scene(item):
    """A still scene for tests that must not move anything: block, bowl and zone."""
    placements = [
        item("block", "red", pose=(0.5, 0.1, 0.0)),
        item("bowl", "blue", pose=(0.45, -0.15, 0.0)),
        item("zone", "green", pose=(0.62, -0.05, 0.0)),
    ]
    with TabletopEnv(placements, seed=0) as env:
        yield env


@pytest.fixture
def skills(scene):
    return Skills(scene.robot, scene)


# --- the Robot protocol -------------------------------------------------------------------


def test_sim_robot_satisfies_the_robot_protocol(scene):
    assert isinstance(scene.robot, Robot)
    assert isinstance(SafeRobot(scene.robot), Robot)
    spec = scene.robot.spec()
    assert len(spec.joint_names) == 7
    assert spec.gripper_max_width == pytest.approx(0.08)
    assert spec.cameras == ("top", "front")


def test_state_reports_every_field_at_home(scene):
    robot = scene.robot
    state = robot.state()
    assert isinstance(state, RobotState)
    spec = robot.spec()
    assert len(state.joints) == len(spec.joint_names)
    for q, lo, hi in zip(
        state.joints, spec.joint_limits.lower, spec.joint_limits.upper, strict=True
    ):
        assert lo <= q <= hi
    assert state.ee_pose.position == pytest.approx(HOME.position, abs=0.01)
    assert state.ee_pose.yaw == pytest.approx(HOME.yaw, abs=0.02)
    assert state.gripper_width == pytest.approx(spec.gripper_max_width, abs=2e-3)
    assert state.holding is None
    assert state.stamp == robot.clock() == scene.world.sim_time
    assert state.to_dict()["holding"] is None


def test_inverse_kinematics_does_not_move_the_arm(scene):
    before, t = scene.robot.state(), scene.world.sim_time
    q = scene.robot.inverse_kinematics(Pose.top_down(0.55, 0.1, 0.2))
    assert len(q) == 7 and all(math.isfinite(v) for v in q)
    assert scene.robot.state().joints == before.joints
    assert scene.world.sim_time == t


@pytest.mark.parametrize(
    "target",
    [Pose.top_down(0.55, 0.12, 0.18, 0.5), Pose.top_down(0.35, -0.2, 0.1, -1.0)],
    ids=["left-yawed", "right-low"],
)
def test_move_ee_reaches_the_pose_and_reports_it(make_env, target):
    env = make_env()
    t0 = env.robot.clock()
    motion = env.robot.move_ee(target, 0.3)
    assert isinstance(motion, MotionResult)
    assert motion.reached and not motion.stopped and motion.contact is None
    assert motion.target == target
    assert motion.error_m <= TOLERANCE
    assert math.dist(motion.final.position, target.position) == pytest.approx(
        motion.error_m, abs=1e-6
    )
    assert motion.final.yaw == pytest.approx(target.yaw, abs=0.03)
    assert motion.duration_s == pytest.approx(env.robot.clock() - t0)
    assert motion.duration_s > 0
    now = env.robot.state().ee_pose
    assert now.position == pytest.approx(target.position, abs=TOLERANCE)


def test_gripper_opens_and_closes_to_the_commanded_widths(make_env, item):
    env = make_env(item("block", "red", pose=(0.5, 0.0, 0.0)))
    robot = env.robot
    closed = robot.close_gripper(20.0)
    assert isinstance(closed, GripperResult)
    assert closed.width < EMPTY_WIDTH and closed.holding is None
    assert closed.force == 20.0 and closed.duration_s > 0
    assert robot.open_gripper(0.04).width == pytest.approx(0.04, abs=2e-3)
    assert robot.open_gripper().width == pytest.approx(0.08, abs=2e-3)

    # Closing on a 4 cm block stops at its width and reports what it holds.
    robot.move_ee(Pose.top_down(0.5, 0.0, 0.12), 0.3)
    robot.move_ee(Pose.top_down(0.5, 0.0, 0.02), 0.3)
    grip = robot.close_gripper(20.0)
    assert grip.width == pytest.approx(0.04, abs=3e-3)
    assert grip.holding == "red block"
    assert robot.state().holding == "red block"


def test_stop_interrupts_a_motion_and_does_not_block_the_next(make_env):
    env = make_env()
    robot, world = env.robot, env.world
    stop_at = world.steps + 40

    def stop_midway(w) -> None:
        if w.steps == stop_at:
            robot.stop()

    world.add_step_listener(stop_midway)
    target = Pose.top_down(0.6, 0.2, 0.15)
    motion = robot.move_ee(target, 0.3)
    world.remove_step_listener(stop_midway)
    assert motion.stopped and not motion.reached
    assert motion.error_m > 0.1  # it stopped well short of the target
    assert motion.final.position == pytest.approx(robot.state().ee_pose.position, abs=2e-3)

    again = robot.move_ee(target, 0.3)
    assert again.reached and not again.stopped
    robot.stop()  # idle: holds still; the next command still runs
    assert robot.move_ee(Pose.top_down(0.5, 0.0, 0.2), 0.3).reached


def test_robot_camera_returns_a_frame(scene):
    frame = scene.robot.camera("top")
    assert isinstance(frame, CameraFrame)
    assert frame.camera == "top"
    assert frame.stamp == scene.robot.clock()
    with pytest.raises(KeyError, match="unknown camera 'side'; cameras: top, front"):
        scene.robot.camera("side")


# --- manipulation ---------------------------------------------------------------------------


def test_pick_and_place_a_block_into_a_bowl(make_env, item):
    env = make_env(
        item("block", "red", pose=(0.45, 0.12, 0.0)),
        item("bowl", "blue", pose=(0.55, -0.12, 0.0)),
    )
    sk = Skills(env.robot, env)
    picked = sk.pick("red block")
    assert picked.success, picked.message
    assert env.robot.state().holding == "red block"
    assert holds(env, {"holding": "nothing"}) == ["the gripper holds red block"]
    placed = sk.place("blue bowl")
    assert placed.success, placed.message
    assert placed.message == "placed red block at blue bowl"
    assert env.robot.state().holding is None
    assert (
        holds(
            env,
            {"in": ["red block", "blue bowl"]},
            {"upright": ["red block"]},
            {"holding": "nothing"},
        )
        == []
    )
    objs = by_name(env)
    assert is_in(objs["red block"], objs["blue bowl"])
    for result in (picked, placed):
        assert result.sim_s > 0 and result.wall_s > 0


def test_put_first_on_second_stacks_blocks(make_env, item):
    env = make_env(
        item("block", "red", pose=(0.42, 0.15, 0.0)),
        item("block", "green", pose=(0.58, -0.1, 0.0)),
    )
    sk = Skills(env.robot, env)
    events: list[tuple[str, str]] = []
    sk.listeners.append(lambda kind, payload: events.append((kind, payload["skill"])))
    result = sk.put_first_on_second("red block", "green block")
    assert result.success, result.message
    assert events == [
        ("skill_start", "put_first_on_second"),
        ("skill_start", "pick"),
        ("skill_end", "pick"),
        ("skill_start", "place"),
        ("skill_end", "place"),
        ("skill_end", "put_first_on_second"),
    ]
    assert result.params == {"first": "red block", "second": "green block"}
    assert holds(env, {"on": ["red block", "green block"]}) == []
    objs = by_name(env)
    assert is_on(objs["red block"], objs["green block"])
    assert objs["green block"].position[:2] == pytest.approx((0.58, -0.1), abs=0.01)


@pytest.mark.parametrize("first", ["block", "bar"])
def test_a_bar_shares_a_bowl_lying_along_its_wall(make_env, item, first):
    """Beside another object in a bowl, a bar lies across the offset: lying along it, it
    would reach over the middle onto its neighbour and rest on it, half out."""
    block = item("block", "black", pose=(0.42, 0.15, 0.0))
    bar = item("bar", "cyan", pose=(0.40, -0.02, 0.0))
    env = make_env(block, bar, item("bowl", "yellow", pose=(0.55, -0.15, 0.0)))
    sk = Skills(env.robot, env)
    names = ["black block", "cyan bar"]
    for name, side in zip(names if first == "block" else names[::-1], (1, -1), strict=True):
        assert sk.pick(name).success
        result = sk.place("yellow bowl", offset=(0.0, 0.03 * side))  # as the planner packs
        assert result.success, result.message
    both = [{"in": [name, "yellow bowl"]} for name in names]
    assert holds(env, *both, {"upright": ["black block"]}) == []


def test_put_first_on_second_places_what_is_already_held(make_env, item):
    env = make_env(item("block", "red", pose=(0.42, 0.15, 0.0)), item("bowl", "blue"))
    sk = Skills(env.robot, env)
    assert sk.pick("red block").success
    events: list[tuple[str, str]] = []
    sk.listeners.append(lambda kind, payload: events.append((kind, payload["skill"])))
    assert sk.put_first_on_second("red block", "blue bowl").success
    assert ("skill_start", "pick") not in events
    assert holds(env, {"in": ["red block", "blue bowl"]}) == []


def test_place_at_a_table_position(make_env, item):
    env = make_env(item("cylinder", "cyan", pose=(0.45, 0.1, 0.0), name="cyan can"))
    sk = Skills(env.robot, env)
    assert sk.pick("cyan can").success
    again = sk.pick("cyan can")
    assert not again.success and "already holding cyan can" in again.message

    result = sk.place((0.6, -0.15))
    assert result.success, result.message
    can = by_name(env)["cyan can"]
    assert math.dist(can.position[:2], (0.6, -0.15)) <= PLACE_TOLERANCE
    assert can.bottom_z == pytest.approx(0.0, abs=3e-3)
    assert can.upright
    assert result.data["final"] == pytest.approx(list(can.position), abs=1e-3)


@pytest.mark.parametrize(
    "kind, yaw",
    [("block", 0.7), ("bar", 0.0), ("bar", 1.2), ("bar", -0.5), ("cylinder", 0.0)],
)
def test_every_graspable_type_is_picked_at_its_yaw_and_placed_in_a_zone(make_env, item, kind, yaw):
    env = make_env(
        item(kind, "red", pose=(0.5, 0.05, yaw), name="thing"),
        item("zone", "green", pose=(0.42, -0.18, 0.0)),
    )
    sk = Skills(env.robot, env)
    picked = sk.pick("thing")
    assert picked.success, picked.message
    placed = sk.place("green zone")
    assert placed.success, placed.message
    assert holds(env, {"in": ["thing", "green zone"]}, {"upright": ["thing"]}) == []


def test_push_left_moves_the_block_along_plus_y(make_env, item):
    env = make_env(item("block", "red", pose=(0.5, 0.0, 0.0)))
    start = by_name(env)["red block"].position
    result = Skills(env.robot, env).push("red block", "left", 0.08)
    assert result.success, result.message
    end = by_name(env)["red block"].position
    assert end[1] - start[1] == pytest.approx(0.08, abs=0.02)
    assert end[0] == pytest.approx(start[0], abs=0.015)
    assert result.data["moved_m"] == pytest.approx(end[1] - start[1], abs=1e-9)
    assert result.message == f"pushed red block {result.data['moved_m']:.3f} m"


def test_pick_of_a_bar_across_its_long_axis_fails_with_a_message(make_env, item):
    env = make_env(item("bar", "red", pose=(0.5, 0.0, 0.0)))
    sk = Skills(env.robot, env)
    ends: list[dict] = []
    sk.listeners.append(lambda kind, payload: ends.append(payload) if kind == "skill_end" else 0)
    result = sk.pick("red bar", yaw=math.pi / 2)  # fingers close along the 12 cm side
    assert not result.success
    assert "red bar" in result.message
    assert not result.message.startswith("picked")
    assert env.robot.state().holding is None
    assert ends[-1]["success"] is False
    assert holds(env, {"holding": "nothing"}) == []


def test_heavy_slippery_can_slips_at_default_force_and_holds_at_60_n(make_env, item):
    can = dict(pose=(0.5, 0.0, 0.0), name="red can", mass=1.2, friction=0.3)
    weak_env = make_env(item("cylinder", "red", **can))
    weak = Skills(weak_env.robot, weak_env).pick("red can")
    assert not weak.success
    assert "slip" in weak.message
    assert weak.params["force"] == PickParams.force
    assert weak_env.robot.state().holding is None

    strong_env = make_env(item("cylinder", "red", **can))
    strong = Skills(strong_env.robot, strong_env).pick("red can", force=60)
    assert strong.success, strong.message
    assert strong.params["force"] == 60
    assert strong_env.robot.state().holding == "red can"
    assert by_name(strong_env)["red can"].bottom_z > 0.03  # lifted off the table


def test_skills_are_reproducible_and_worlds_independent(make_env, item):
    placements = [item("block", "red"), item("bowl", "blue")]
    a, b = make_env(*placements, seed=5), make_env(*placements, seed=5)
    b_before, b_time = b.objects(), b.world.sim_time

    assert Skills(a.robot, a).put_first_on_second("red block", "blue bowl").success
    assert b.objects() == b_before and b.world.sim_time == b_time

    assert Skills(b.robot, b).put_first_on_second("red block", "blue bowl").success
    assert a.objects() == b.objects()  # bit for bit
    assert a.robot.state() == b.robot.state()


# --- refusals: nothing moves ----------------------------------------------------------------


def unmoved(scene, before: RobotState) -> bool:
    after = scene.robot.state()
    return after.ee_pose == before.ee_pose and after.joints == before.joints


def test_pick_of_an_unknown_object_lists_the_scene(scene, skills):
    before = scene.robot.state()
    with pytest.raises(UnknownObjectError) as info:
        skills.pick("purple block")
    assert info.value.name == "purple block"
    assert sorted(info.value.known) == ["blue bowl", "green zone", "red block"]
    assert "objects in the scene: blue bowl, green zone, red block" in str(info.value)
    assert unmoved(scene, before)


def test_place_while_holding_nothing_fails_with_a_message(scene, skills):
    before = scene.robot.state()
    result = skills.place("blue bowl")
    assert not result.success
    assert result.message == "not holding anything to place"
    assert unmoved(scene, before)


@pytest.mark.parametrize("name, kind", [("green zone", "zone"), ("blue bowl", "bowl")])
def test_containers_cannot_be_picked(scene, skills, name, kind):
    before = scene.robot.state()
    result = skills.pick(name)
    assert not result.success
    assert result.message.startswith(f"{name} is a {kind}")
    assert "cannot" in result.message or "only" in result.message
    assert unmoved(scene, before)


@pytest.mark.parametrize(
    "target, limit",
    [
        ((0.9, 0.0, 0.2), "workspace.x"),
        ((0.5, -0.45, 0.2), "workspace.y"),
        ((0.5, 0.0, -0.05), "workspace.z"),
        ((math.nan, 0.0, 0.2), "workspace.x"),
        ((0.5, 0.0, math.nan), "workspace.z"),
    ],
    ids=["far", "right", "below-table", "nan-x", "nan-z"],
)
def test_move_to_outside_the_envelope_is_refused_before_any_motion(scene, skills, target, limit):
    events: list[tuple[str, dict]] = []
    skills.listeners.append(lambda kind, payload: events.append((kind, payload)))
    before, t = scene.robot.state(), scene.world.sim_time
    with pytest.raises(SafetyError) as info:
        skills.move_to(target)
    assert info.value.limit == limit
    assert unmoved(scene, before)
    assert scene.world.sim_time == t
    assert [k for k, _ in events] == ["skill_start", "skill_end"]
    assert events[1][1]["success"] is False
    assert limit in events[1][1]["error"]


def test_listeners_receive_start_and_end_with_params(make_env):
    env = make_env()
    sk = Skills(env.robot, env)
    events: list[tuple[str, dict]] = []
    sk.listeners.append(lambda kind, payload: events.append((kind, payload)))
    result = sk.move_to((0.5, 0.05, 0.2), speed=0.25)
    assert result.success
    assert result.sim_s > 0 and result.wall_s > 0
    assert [k for k, _ in events] == ["skill_start", "skill_end"]
    params = {"pose": [0.5, 0.05, 0.2], "yaw": 0.0, "speed": 0.25}
    assert events[0][1] == {"skill": "move_to", "params": params}
    end = events[1][1]
    assert end["skill"] == "move_to" and end["success"] is True
    assert end["params"] == params
    assert end == result.to_dict()


# --- parameter dataclasses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: PickParams(force=500.0), "PickParams.force"),
        (lambda: PickParams(speed=math.nan), "PickParams.speed"),
        (lambda: PickParams(grasp_height=-0.01), "PickParams.grasp_height"),
        (lambda: PickParams(force=True), "PickParams.force"),
        (lambda: PlaceParams(offset=(0.0, 0.5)), "PlaceParams.offset"),
        (lambda: PlaceParams(offset=(0.0,)), "PlaceParams.offset"),
        (lambda: PushParams(speed=0.0), "PushParams.speed"),
        (lambda: MoveParams(speed=math.inf), "MoveParams.speed"),
        (lambda: PickParams().updated(grip=3.0), "no parameter \\['grip'\\]"),
        (lambda: PickParams().updated(force=500.0), "PickParams.force"),
    ],
)
def test_invalid_parameters_raise_value_error_naming_the_field(make, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        make()


def test_updated_lists_the_known_parameters_and_keeps_the_original():
    with pytest.raises(ValueError, match="parameters: approach_height, force, grasp_height"):
        PickParams().updated(grip=3.0)
    base = PickParams()
    changed = base.updated(force=60.0)
    assert changed.force == 60.0 and base.force == PickParams.force
    assert changed.to_dict() == {**base.to_dict(), "force": 60.0}


@pytest.mark.parametrize("value", [np.float32(30.0), np.int64(30)], ids=["float32", "int64"])
def test_numpy_scalars_are_accepted_as_parameter_values(value):
    assert PickParams(force=value).force == 30.0


def test_skill_overrides_are_validated_before_any_motion(scene, skills):
    before = scene.robot.state()
    with pytest.raises(ValueError, match=r"PickParams\.force"):
        skills.pick("red block", force=500)
    with pytest.raises(ValueError, match=r"PushParams\.speed"):
        skills.push("red block", "left", 0.05, speed=np.float64("nan"))
    assert unmoved(scene, before)
