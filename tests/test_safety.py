"""Tests of the safety envelope: every limit refuses, and a refused command never moves."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fakes import PANDA_UPPER, FakeRobot, panda_like_spec

from skills.errors import SafetyError, StaleStateError
from skills.primitives import Skills
from skills.robot import Pose, Robot
from skills.safety import SafeRobot, SafetyEnvelope, SafetyLimits

DOWN = (1.0, 0.0, 0.0, 0.0)
NAN, INF = math.nan, math.inf


@pytest.fixture
def robot() -> FakeRobot:
    return FakeRobot(now=10.0)


@pytest.fixture
def safe(robot: FakeRobot) -> SafeRobot:
    return SafeRobot(robot)


def refused(safe: SafeRobot, robot: FakeRobot, command: str, *args: object) -> SafetyError:
    """Run a command that must be refused; return the error after checking nothing moved."""
    with pytest.raises(SafetyError) as info:
        getattr(safe, command)(*args)
    assert robot.commands() == []
    assert info.value.limit in str(info.value)
    return info.value


# --- valid commands pass through -------------------------------------------------------


@pytest.mark.parametrize(
    "position",
    [(0.5, 0.0, 0.2), (0.30, -0.30, 0.005), (0.70, 0.30, 0.60), (0.3, 0.3, 0.3)],
)
def test_valid_move_reaches_robot(safe: SafeRobot, robot: FakeRobot, position: tuple) -> None:
    pose = Pose(position, DOWN)
    result = safe.move_ee(pose, 0.2)
    assert result.reached
    assert robot.commands() == [("move_ee", (pose, 0.2))]
    assert robot.ee_pose == pose


def test_valid_gripper_commands_reach_robot(safe: SafeRobot, robot: FakeRobot) -> None:
    safe.open_gripper()
    safe.open_gripper(0.04)
    safe.open_gripper(0.0)
    safe.close_gripper(40.0)
    assert robot.commands() == [
        ("open_gripper", (None,)),
        ("open_gripper", (0.04,)),
        ("open_gripper", (0.0,)),
        ("close_gripper", (40.0,)),
    ]


def test_numpy_values_accepted(safe: SafeRobot, robot: FakeRobot) -> None:
    pose = Pose(np.array([0.5, 0.1, 0.2]), np.array(DOWN))
    safe.move_ee(pose, np.float32(0.1))
    assert len(robot.commands()) == 1


def test_reads_and_stop_forward(safe: SafeRobot, robot: FakeRobot) -> None:
    assert isinstance(safe, Robot) and isinstance(robot, Robot)
    assert safe.spec() == robot.spec()
    assert safe.clock() == 10.0
    assert safe.state().stamp == 10.0
    assert safe.inverse_kinematics(Pose((0.5, 0.0, 0.2))) == robot.ik_result
    assert safe.camera("front").rgb.shape == (4, 4, 3)
    safe.stop()
    assert robot.calls[-1] == ("stop", ())


def test_stop_is_never_refused(safe: SafeRobot, robot: FakeRobot) -> None:
    robot.state_stamp = -100.0
    safe.stop()
    assert robot.calls[-1] == ("stop", ())


# --- pose ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "limit"),
    [
        ((0.29, 0.0, 0.2), "workspace.x"),
        ((0.71, 0.0, 0.2), "workspace.x"),
        ((0.5, -0.31, 0.2), "workspace.y"),
        ((0.5, 0.31, 0.2), "workspace.y"),
        ((0.5, 0.0, 0.004), "workspace.z"),
        ((0.5, 0.0, -0.1), "workspace.z"),
        ((0.5, 0.0, 0.61), "workspace.z"),
    ],
)
def test_workspace_bounds(safe: SafeRobot, robot: FakeRobot, position: tuple, limit: str) -> None:
    err = refused(safe, robot, "move_ee", Pose(position, DOWN), 0.2)
    assert err.limit == limit
    assert err.value == position["xyz".index(limit[-1])]


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_non_finite_position(safe: SafeRobot, robot: FakeRobot, index: int, bad: float) -> None:
    position = [0.5, 0.0, 0.2]
    position[index] = bad
    err = refused(safe, robot, "move_ee", Pose(tuple(position), DOWN), 0.2)
    assert err.limit == f"workspace.{'xyz'[index]}"


@pytest.mark.parametrize("index", [0, 1, 2, 3])
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_non_finite_orientation(safe: SafeRobot, robot: FakeRobot, index: int, bad: float) -> None:
    quat = [0.0, 0.0, 0.0, 0.0]
    quat[index] = bad
    err = refused(safe, robot, "move_ee", Pose((0.5, 0.0, 0.2), tuple(quat)), 0.2)
    assert err.limit == "pose.orientation.norm"


@pytest.mark.parametrize(
    ("position", "orientation", "limit"),
    [
        ((0.5, 0.0), DOWN, "pose.position"),
        ((0.5, 0.0, 0.2, 0.0), DOWN, "pose.position"),
        ((), DOWN, "pose.position"),
        (0.5, DOWN, "pose.position"),
        ((0.5, 0.0, 0.2), (1.0, 0.0, 0.0), "pose.orientation"),
        ((0.5, 0.0, 0.2), (1.0, 0.0, 0.0, 0.0, 0.0), "pose.orientation"),
        ((0.5, 0.0, 0.2), "1000", "pose.orientation"),
    ],
)
def test_wrong_length_vectors(
    safe: SafeRobot, robot: FakeRobot, position: object, orientation: object, limit: str
) -> None:
    assert refused(safe, robot, "move_ee", Pose(position, orientation), 0.2).limit == limit


@pytest.mark.parametrize(
    "quat", [(0.9, 0.0, 0.0, 0.0), (1.0, 0.1, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0), (2.0, 0, 0, 0)]
)
def test_non_unit_quaternion(safe: SafeRobot, robot: FakeRobot, quat: tuple) -> None:
    err = refused(safe, robot, "move_ee", Pose((0.5, 0.0, 0.2), quat), 0.2)
    assert err.limit == "pose.orientation.norm"


def test_nearly_unit_quaternion_accepted(safe: SafeRobot, robot: FakeRobot) -> None:
    safe.move_ee(Pose((0.5, 0.0, 0.2), (1.0005, 0.0, 0.0, 0.0)), 0.2)
    assert len(robot.commands()) == 1


@pytest.mark.parametrize("bad", ["0.5", True, False, None, b"1"])
@pytest.mark.parametrize(("field", "index"), [("position", 0), ("position", 2), ("orientation", 3)])
def test_non_numbers_in_pose(
    safe: SafeRobot, robot: FakeRobot, bad: object, field: str, index: int
) -> None:
    values = {"position": [0.5, 0.0, 0.2], "orientation": list(DOWN)}
    values[field][index] = bad
    pose = Pose(tuple(values["position"]), tuple(values["orientation"]))
    err = refused(safe, robot, "move_ee", pose, 0.2)
    assert err.limit == f"pose.{field}[{index}]"
    assert "expected a number" in str(err)


def test_not_a_pose(safe: SafeRobot, robot: FakeRobot) -> None:
    assert refused(safe, robot, "move_ee", (0.5, 0.0, 0.2), 0.2).limit == "pose"


# --- speed, force, width -----------------------------------------------------------------


@pytest.mark.parametrize("speed", [0.0, -0.1, 0.004, 0.51, 5.0, NAN, INF, -INF])
def test_speed_refused(safe: SafeRobot, robot: FakeRobot, speed: float) -> None:
    assert refused(safe, robot, "move_ee", Pose((0.5, 0.0, 0.2), DOWN), speed).limit == "speed"


@pytest.mark.parametrize("speed", ["fast", True, None])
def test_speed_not_a_number(safe: SafeRobot, robot: FakeRobot, speed: object) -> None:
    err = refused(safe, robot, "move_ee", Pose((0.5, 0.0, 0.2), DOWN), speed)
    assert err.limit == "speed"
    assert "expected a number" in str(err)


@pytest.mark.parametrize("speed", [0.005, 0.5])
def test_speed_bounds_accepted(safe: SafeRobot, robot: FakeRobot, speed: float) -> None:
    safe.move_ee(Pose((0.5, 0.0, 0.2), DOWN), speed)
    assert len(robot.commands()) == 1


@pytest.mark.parametrize("force", [141.0, 1000.0, 0.5, 0.0, -10.0, NAN, INF, "40", True])
def test_force_refused(safe: SafeRobot, robot: FakeRobot, force: object) -> None:
    assert refused(safe, robot, "close_gripper", force).limit == "gripper.force"


def test_force_capped_by_spec() -> None:
    robot = FakeRobot(spec=panda_like_spec(gripper_max_force=70.0))
    safe = SafeRobot(robot)
    assert refused(safe, robot, "close_gripper", 80.0).limit == "gripper.force"
    safe.close_gripper(70.0)
    assert robot.commands() == [("close_gripper", (70.0,))]


@pytest.mark.parametrize("width", [-0.001, 0.081, 1.0, NAN, INF, "0.04", False])
def test_width_refused(safe: SafeRobot, robot: FakeRobot, width: object) -> None:
    assert refused(safe, robot, "open_gripper", width).limit == "gripper.width"


# --- joints from IK ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "value"),
    [(3, 0.1), (0, -3.0), (5, 3.9), (6, NAN), (1, INF)],
)
def test_ik_joint_limits(robot: FakeRobot, index: int, value: float) -> None:
    safe = SafeRobot(robot)
    q = list(robot.ik_result)
    q[index] = value
    robot.ik_result = tuple(q)
    err = refused(safe, robot, "move_ee", Pose((0.5, 0.0, 0.2), DOWN), 0.2)
    assert err.limit == f"joints.joint{index + 1}"
    assert ("inverse_kinematics", (Pose((0.5, 0.0, 0.2), DOWN),)) in robot.calls


@pytest.mark.parametrize("length", [0, 6, 8])
def test_ik_wrong_length(robot: FakeRobot, length: int) -> None:
    robot.ik_result = (0.0,) * length
    safe = SafeRobot(robot)
    assert refused(safe, robot, "move_ee", Pose((0.5, 0.0, 0.2), DOWN), 0.2).limit == "joints"


def test_joint_margin(robot: FakeRobot) -> None:
    envelope = SafetyEnvelope(SafetyLimits(joint_margin=0.1), robot.spec())
    near_limit = list(robot.ik_result)
    near_limit[3] = PANDA_UPPER[3] - 0.05
    with pytest.raises(SafetyError, match=r"joints\.joint4"):
        envelope.check_joints(near_limit)
    SafetyEnvelope(SafetyLimits(), robot.spec()).check_joints(near_limit)


def test_joint_margin_too_wide(robot: FakeRobot) -> None:
    with pytest.raises(ValueError, match="joint_margin"):
        SafetyEnvelope(SafetyLimits(joint_margin=2.0), robot.spec())


# --- state freshness -------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", [9.4, 0.0, 10.5, NAN, INF, -INF])
@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("move_ee", (Pose((0.5, 0.0, 0.2), DOWN), 0.2)),
        ("open_gripper", ()),
        ("close_gripper", (5,)),
    ],
)
def test_stale_state_refused(
    safe: SafeRobot, robot: FakeRobot, stamp: float, command: str, args: tuple
) -> None:
    robot.state_stamp = stamp
    err = refused(safe, robot, command, *args)
    assert isinstance(err, StaleStateError)
    assert err.limit == "state.age_s"


def test_state_just_fresh_enough(safe: SafeRobot, robot: FakeRobot) -> None:
    robot.state_stamp = 9.5
    safe.move_ee(Pose((0.5, 0.0, 0.2), DOWN), 0.2)
    assert len(robot.commands()) == 1


def test_clock_not_finite(safe: SafeRobot, robot: FakeRobot) -> None:
    robot.now = NAN
    robot.state_stamp = 10.0
    assert isinstance(refused(safe, robot, "open_gripper"), StaleStateError)


# --- relative step ---------------------------------------------------------------------------


def test_check_step(robot: FakeRobot) -> None:
    envelope = SafetyEnvelope(SafetyLimits(), robot.spec())
    envelope.check_step((0.3, 0.4, 0.0))
    for bad, limit in [((0.3, 0.4, 0.01), "step.length"), ((0.1, NAN, 0), "step.length")]:
        with pytest.raises(SafetyError) as info:
            envelope.check_step(bad)
        assert info.value.limit == limit
    with pytest.raises(SafetyError, match="expected 3 numbers"):
        envelope.check_step((0.1, 0.1))


class EmptyScene:
    def objects(self) -> list:
        return []


def test_a_relative_move_longer_than_max_step_is_refused_before_any_command(
    robot: FakeRobot,
) -> None:
    """`move_by(0.36, 0.54, 0.5)` once moved the arm 0.77 m past a 0.5 m step limit: the
    skill checks the step, and the robot gets no command."""
    skills = Skills(robot, EmptyScene(), SafetyLimits(max_step_m=0.5))
    with pytest.raises(SafetyError) as info:
        skills.move_by(0.36, 0.54, 0.5)
    assert info.value.limit == "step.length" and robot.commands() == []
    assert skills.move_by(0.0, 0.0, 0.05).success


# --- SafetyLimits ------------------------------------------------------------------------------


def test_limits_defaults() -> None:
    lim = SafetyLimits()
    assert lim.x_range == (0.30, 0.70) and lim.y_range == (-0.30, 0.30)
    assert (lim.table_clearance, lim.z_max) == (0.005, 0.60)
    assert (lim.min_speed, lim.max_speed) == (0.005, 0.5)
    assert (lim.min_gripper_force, lim.max_gripper_force) == (1.0, 140.0)
    assert (lim.max_state_age_s, lim.max_step_m, lim.joint_margin) == (0.5, 0.5, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x_range": (0.7, 0.3)}, "x_range"),
        ({"y_range": (0.1, 0.1)}, "y_range"),
        ({"x_range": (0.3,)}, "x_range"),
        ({"x_range": "ab"}, "x_range"),
        ({"y_range": (NAN, 0.3)}, r"y_range\[0\]"),
        ({"table_clearance": -0.01}, "table_clearance"),
        ({"z_max": 0.004}, "z_max"),
        ({"joint_margin": -0.1}, "joint_margin"),
        ({"max_speed": 0.0}, "max_speed"),
        ({"min_speed": 0.0}, "min_speed"),
        ({"min_speed": 0.6}, "min_speed"),
        ({"max_gripper_force": 0.5}, "max_gripper_force"),
        ({"min_gripper_force": -1.0}, "min_gripper_force"),
        ({"max_state_age_s": 0.0}, "max_state_age_s"),
        ({"max_step_m": -1.0}, "max_step_m"),
        ({"max_speed": True}, "max_speed"),
        ({"max_speed": "0.5"}, "max_speed"),
        ({"max_speed": INF}, "max_speed"),
    ],
)
def test_limits_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SafetyLimits(**kwargs)


def test_limits_dict_round_trip() -> None:
    lim = SafetyLimits(x_range=(0.35, 0.65), max_speed=0.3)
    data = json.loads(json.dumps(lim.to_dict()))
    assert data["x_range"] == [0.35, 0.65]
    assert SafetyLimits.from_dict(data) == lim
    assert SafetyLimits.from_dict({}) == SafetyLimits()


def test_limits_from_dict_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown SafetyLimits keys: max_sped, zmax"):
        SafetyLimits.from_dict({"max_sped": 0.1, "zmax": 0.5, "max_speed": 0.2})


def test_limits_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SafetyLimits().max_speed = 10.0  # type: ignore[misc]


def test_custom_limits_apply(robot: FakeRobot) -> None:
    safe = SafeRobot(robot, SafetyLimits(table_clearance=0.05, max_speed=0.1))
    assert refused(safe, robot, "move_ee", Pose((0.5, 0.0, 0.02), DOWN), 0.05).limit == (
        "workspace.z"
    )
    assert refused(safe, robot, "move_ee", Pose((0.5, 0.0, 0.2), DOWN), 0.2).limit == "speed"
