"""Test doubles for tests only; library code must never import this module."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from planner.context import PlannerContext, Proposal
from planner.goals import Goal
from skills.robot import (
    CameraFrame,
    GripperResult,
    JointLimits,
    MotionResult,
    Pose,
    RobotSpec,
    RobotState,
)

PANDA_LOWER = (-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671)
PANDA_UPPER = (2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671)
MOTION_COMMANDS = frozenset({"move_ee", "open_gripper", "close_gripper"})


def panda_like_spec(gripper_max_force: float = 140.0) -> RobotSpec:
    """A 7-joint Panda-like spec with a 0.08 m gripper."""
    return RobotSpec(
        name="fake-panda",
        joint_names=tuple(f"joint{i}" for i in range(1, 8)),
        joint_limits=JointLimits(PANDA_LOWER, PANDA_UPPER),
        gripper_max_width=0.08,
        gripper_max_force=gripper_max_force,
        cameras=("front",),
    )


class FakeRobot:
    """An in-memory `Robot` that records every call and teleports the end effector.

    Attributes:
        calls: every call as ``(method name, args tuple)``, in order.
        ik_result: what `inverse_kinematics` returns (mid-range joints by default).
        now: the robot clock; tests set or `advance` it.
        state_stamp: when not None, `state()` reports this stamp instead of `now`.
    """

    def __init__(
        self,
        spec: RobotSpec | None = None,
        ik_result: tuple[float, ...] | None = None,
        now: float = 0.0,
    ) -> None:
        self._spec = spec if spec is not None else panda_like_spec()
        limits = self._spec.joint_limits
        mid = tuple((lo + hi) / 2.0 for lo, hi in zip(limits.lower, limits.upper, strict=True))
        self.ik_result: tuple[float, ...] = ik_result if ik_result is not None else mid
        self.calls: list[tuple[str, tuple]] = []
        self.now = now
        self.state_stamp: float | None = None
        self.joints = mid
        self.ee_pose = Pose.top_down(0.5, 0.0, 0.3)
        self.gripper_width = self._spec.gripper_max_width
        self.holding: str | None = None

    def commands(self) -> list[tuple[str, tuple]]:
        """The recorded calls that command motion (arm or gripper)."""
        return [c for c in self.calls if c[0] in MOTION_COMMANDS]

    def advance(self, dt: float) -> None:
        self.now += dt

    def spec(self) -> RobotSpec:
        self.calls.append(("spec", ()))
        return self._spec

    def state(self) -> RobotState:
        self.calls.append(("state", ()))
        stamp = self.now if self.state_stamp is None else self.state_stamp
        return RobotState(self.joints, self.ee_pose, self.gripper_width, self.holding, stamp)

    def clock(self) -> float:
        self.calls.append(("clock", ()))
        return self.now

    def inverse_kinematics(self, pose: Pose) -> tuple[float, ...]:
        self.calls.append(("inverse_kinematics", (pose,)))
        return self.ik_result

    def move_ee(self, pose: Pose, speed: float) -> MotionResult:
        self.calls.append(("move_ee", (pose, speed)))
        distance = math.dist(self.ee_pose.position, pose.position)
        self.ee_pose = pose
        self.joints = tuple(self.ik_result)
        return MotionResult(True, pose, pose, 0.0, distance / speed)

    def open_gripper(self, width: float | None = None) -> GripperResult:
        self.calls.append(("open_gripper", (width,)))
        self.gripper_width = self._spec.gripper_max_width if width is None else width
        self.holding = None
        return GripperResult(self.gripper_width, None, 0.0, 0.0)

    def close_gripper(self, force: float) -> GripperResult:
        self.calls.append(("close_gripper", (force,)))
        self.gripper_width = 0.0
        return GripperResult(0.0, self.holding, force, 0.0)

    def camera(self, name: str) -> CameraFrame:
        self.calls.append(("camera", (name,)))
        return CameraFrame(
            rgb=np.zeros((4, 4, 3), dtype=np.uint8),
            depth=np.zeros((4, 4), dtype=np.float32),
            intrinsics=np.eye(3),
            extrinsics=np.eye(4),
            camera=name,
            stamp=self.now,
        )

    def stop(self) -> None:
        self.calls.append(("stop", ()))


Script = Callable[[PlannerContext], str] | str


@dataclass
class ScriptedBackend:
    """Test double: replies with scripted programs in order and records what it saw."""

    steps: list[Script]
    definitions: dict[str, str] = field(default_factory=dict)
    seen: list[PlannerContext] = field(default_factory=list)
    name: str = "scripted"
    goal: Goal | None = None  # stated with every proposal

    def propose(self, context: PlannerContext) -> Proposal:
        self.seen.append(context)
        step = self.steps[min(len(self.seen), len(self.steps)) - 1]
        code = step(context) if callable(step) else step
        return Proposal(
            f"step {len(self.seen)}", code, goal=self.goal, prompt_tokens=10, completion_tokens=5
        )

    def define(self, function: str, call_site: str, context: PlannerContext) -> Proposal:
        return Proposal(f"define {function}", self.definitions[function])

    def classify_correction(self, text: str, context: PlannerContext) -> None:
        return None  # a script has no model to read corrections with
