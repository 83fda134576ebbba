"""The safety envelope: every target is checked before it reaches a robot.

Commands outside the envelope are refused with a `SafetyError` that names the limit
and the offending value; nothing is ever clamped. `SafeRobot` wraps any `Robot` and
runs the checks before forwarding a command, so a refused command never moves it.

Frames follow ARCHITECTURE.md (table frame, metres, radians). The end-effector
reference point is the fingertip centre.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields

from skills.errors import SafetyError, StaleStateError
from skills.frames import WORKSPACE_X, WORKSPACE_Y
from skills.robot import (
    CameraFrame,
    GripperResult,
    MotionResult,
    Pose,
    Robot,
    RobotSpec,
    RobotState,
)

_RANGE_FIELDS = ("x_range", "y_range")


def _config_number(name: str, value: object) -> float:
    """A finite real number for a config field, or a ValueError that says what to give."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"SafetyLimits.{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"SafetyLimits.{name} must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SafetyLimits:
    """All safety limits in one place (table frame, metres, seconds, newtons, radians).

    Joint limits and the gripper's width range come from the robot's `RobotSpec`;
    `joint_margin` shrinks every joint range on both sides.

    Attributes:
        x_range: workspace (low, high) along x, metres.
        y_range: workspace (low, high) along y, metres.
        table_clearance: lowest end-effector (fingertip centre) height above the table.
        z_max: highest end-effector height.
        joint_margin: radians kept clear of each joint limit.
        min_speed: slowest accepted end-effector speed, m/s.
        max_speed: fastest accepted end-effector speed, m/s.
        min_gripper_force: weakest accepted grip force, N.
        max_gripper_force: strongest accepted grip force, N (the spec's maximum also applies).
        max_state_age_s: oldest robot state a command may rely on, seconds.
        max_step_m: longest single relative move, metres.
        quat_tolerance: allowed deviation of an orientation quaternion's norm from 1.
    """

    x_range: tuple[float, float] = WORKSPACE_X
    y_range: tuple[float, float] = WORKSPACE_Y
    table_clearance: float = 0.005
    z_max: float = 0.60
    joint_margin: float = 0.0
    min_speed: float = 0.005
    max_speed: float = 0.5
    min_gripper_force: float = 1.0
    max_gripper_force: float = 140.0
    max_state_age_s: float = 0.5
    max_step_m: float = 0.5
    quat_tolerance: float = 1e-3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _RANGE_FIELDS:
                if isinstance(value, str | bytes) or not isinstance(value, Sequence):
                    raise ValueError(f"SafetyLimits.{f.name} must be (low, high), got {value!r}")
                if len(value) != 2:
                    raise ValueError(f"SafetyLimits.{f.name} must be (low, high), got {value!r}")
                pair = tuple(_config_number(f"{f.name}[{i}]", v) for i, v in enumerate(value))
                object.__setattr__(self, f.name, pair)
            else:
                object.__setattr__(self, f.name, _config_number(f.name, value))
        for name in _RANGE_FIELDS:
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(
                    f"SafetyLimits.{name} {(lo, hi)} is empty or inverted: give (low, high) "
                    "with low < high"
                )
        self._require_positive(
            "table_clearance", allow_zero=True, hint="keep the EE above the table"
        )
        if not self.z_max > self.table_clearance:
            raise ValueError(
                f"SafetyLimits.z_max {self.z_max} must be above table_clearance "
                f"{self.table_clearance}: raise z_max or lower table_clearance"
            )
        self._require_positive("joint_margin", allow_zero=True, hint="use 0.0 for no margin")
        self._require_ordered("min_speed", "max_speed", "m/s")
        self._require_ordered("min_gripper_force", "max_gripper_force", "N")
        self._require_positive("max_state_age_s", hint="give the oldest acceptable state age")
        self._require_positive("max_step_m", hint="give the longest acceptable relative move")
        self._require_positive("quat_tolerance", hint="e.g. 1e-3")

    def _require_positive(self, name: str, allow_zero: bool = False, hint: str = "") -> None:
        value = getattr(self, name)
        if value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise ValueError(f"SafetyLimits.{name} must be {bound}, got {value}: {hint}")

    def _require_ordered(self, low: str, high: str, unit: str) -> None:
        lo, hi = getattr(self, low), getattr(self, high)
        if not 0 < lo <= hi:
            raise ValueError(
                f"SafetyLimits needs 0 < {low} <= {high}, got {lo} and {hi} {unit}: "
                f"set {low} positive and no larger than {high}"
            )

    def to_dict(self) -> dict:
        """Plain JSON/YAML-ready mapping of every limit (ranges as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SafetyLimits:
        """Build limits from a mapping; missing keys keep their defaults, unknown keys fail."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown SafetyLimits keys: {', '.join(map(str, unknown))}; "
                f"known keys: {', '.join(sorted(known))}"
            )
        return cls(**data)


def _number(limit: str, value: object, error: type[SafetyError] = SafetyError) -> float:
    """`value` as a float; bools, strings and other non-numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(limit, value, f"expected a number, got {type(value).__name__}")
    return float(value)


def _vector(limit: str, value: object, n: int) -> tuple[float, ...]:
    """`value` as a tuple of exactly `n` numbers, refused otherwise."""
    if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
        raise SafetyError(limit, value, f"expected {n} numbers")
    if len(value) != n:
        raise SafetyError(limit, value, f"expected {n} numbers, got {len(value)}")
    return tuple(_number(f"{limit}[{i}]", v) for i, v in enumerate(value))


def _check_range(
    limit: str,
    value: object,
    lo: float,
    hi: float,
    unit: str,
    error: type[SafetyError] = SafetyError,
) -> float:
    """Refuse `value` unless `lo <= value <= hi` (NaN always fails); return it as a float."""
    x = _number(limit, value, error)
    if not lo <= x <= hi:
        raise error(limit, value, f"allowed range [{lo:g}, {hi:g}] {unit}")
    return x


class SafetyEnvelope:
    """Pure checks of targets against `SafetyLimits` and a robot's `RobotSpec`.

    Every check returns None or raises `SafetyError(limit, value, detail)`.
    """

    def __init__(self, limits: SafetyLimits, spec: RobotSpec) -> None:
        jl = spec.joint_limits
        n = len(spec.joint_names)
        if len(jl.lower) != n or len(jl.upper) != n:
            raise ValueError(
                f"RobotSpec {spec.name!r} has {n} joints but {len(jl.lower)} lower and "
                f"{len(jl.upper)} upper limits: give one limit pair per joint"
            )
        m = limits.joint_margin
        for name, lo, hi in zip(spec.joint_names, jl.lower, jl.upper, strict=True):
            if not lo + m <= hi - m:
                raise ValueError(
                    f"joint_margin {m} rad leaves no range for joint {name!r} "
                    f"[{lo}, {hi}]: lower joint_margin"
                )
        self.limits = limits
        self.spec = spec

    def check_pose(self, pose: Pose) -> None:
        """Position inside the workspace box and z range; orientation a unit quaternion."""
        lim = self.limits
        if not isinstance(pose, Pose):
            raise SafetyError("pose", pose, "expected a Pose")
        x, y, z = _vector("pose.position", pose.position, 3)
        _check_range("workspace.x", x, *lim.x_range, "m")
        _check_range("workspace.y", y, *lim.y_range, "m")
        _check_range("workspace.z", z, lim.table_clearance, lim.z_max, "m")
        quat = _vector("pose.orientation", pose.orientation, 4)
        norm = math.sqrt(sum(c * c for c in quat))
        tol = lim.quat_tolerance
        _check_range("pose.orientation.norm", norm, 1.0 - tol, 1.0 + tol, "(unit quaternion)")

    def check_joints(self, q: Sequence[float]) -> None:
        """One finite position per joint, each within its limits shrunk by the margin."""
        spec, m = self.spec, self.limits.joint_margin
        values = _vector("joints", q, len(spec.joint_names))
        for name, v, lo, hi in zip(
            spec.joint_names, values, spec.joint_limits.lower, spec.joint_limits.upper, strict=True
        ):
            _check_range(f"joints.{name}", v, lo + m, hi - m, "rad")

    def check_speed(self, v: float) -> None:
        """End-effector speed within [min_speed, max_speed] m/s."""
        _check_range("speed", v, self.limits.min_speed, self.limits.max_speed, "m/s")

    def check_force(self, f: float) -> None:
        """Grip force within [min_gripper_force, min(max_gripper_force, spec max)] N."""
        hi = min(self.limits.max_gripper_force, self.spec.gripper_max_force)
        _check_range("gripper.force", f, self.limits.min_gripper_force, hi, "N")

    def check_width(self, w: float) -> None:
        """Gripper opening within [0, spec.gripper_max_width] m."""
        _check_range("gripper.width", w, 0.0, self.spec.gripper_max_width, "m")

    def check_step(self, offset: Sequence[float]) -> None:
        """A relative move (dx, dy, dz) no longer than max_step_m."""
        d = _vector("step", offset, 3)
        _check_range("step.length", math.hypot(*d), 0.0, self.limits.max_step_m, "m")

    def check_state(self, state: RobotState, now: float) -> None:
        """Refuse with `StaleStateError` a state older than max_state_age_s (or from the future)."""
        stamp = _number("state.stamp", state.stamp, StaleStateError)
        age = _number("clock", now, StaleStateError) - stamp
        _check_range(
            "state.age_s", age, 0.0, self.limits.max_state_age_s, "s", error=StaleStateError
        )


class SafeRobot:
    """A `Robot` that checks every command with a `SafetyEnvelope` before forwarding it.

    A refused command raises `SafetyError` and the wrapped robot receives no command.
    Reads (`state`, `clock`, `spec`, `inverse_kinematics`, `camera`) and `stop` are
    forwarded unchecked; `stop` is never refused.
    """

    def __init__(self, robot: Robot, limits: SafetyLimits | None = None) -> None:
        self.robot = robot
        self.limits = limits if limits is not None else SafetyLimits()
        self.envelope = SafetyEnvelope(self.limits, robot.spec())

    def _check_fresh(self) -> None:
        self.envelope.check_state(self.robot.state(), self.robot.clock())

    def spec(self) -> RobotSpec:
        return self.robot.spec()

    def state(self) -> RobotState:
        return self.robot.state()

    def clock(self) -> float:
        return self.robot.clock()

    def inverse_kinematics(self, pose: Pose) -> tuple[float, ...]:
        return self.robot.inverse_kinematics(pose)

    def move_ee(self, pose: Pose, speed: float) -> MotionResult:
        """Check state freshness, pose, speed and the IK solution's joints; then move."""
        self._check_fresh()
        self.envelope.check_pose(pose)
        self.envelope.check_speed(speed)
        self.envelope.check_joints(self.robot.inverse_kinematics(pose))
        return self.robot.move_ee(pose, speed)

    def open_gripper(self, width: float | None = None) -> GripperResult:
        """Check state freshness and the width (None opens fully); then open."""
        self._check_fresh()
        if width is not None:
            self.envelope.check_width(width)
        return self.robot.open_gripper(width)

    def close_gripper(self, force: float) -> GripperResult:
        """Check state freshness and the force; then close."""
        self._check_fresh()
        self.envelope.check_force(force)
        return self.robot.close_gripper(force)

    def camera(self, name: str) -> CameraFrame:
        return self.robot.camera(name)

    def stop(self) -> None:
        """Forwarded unconditionally: stopping is never refused."""
        self.robot.stop()
