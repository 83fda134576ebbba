"""The `Robot` protocol every robot implements (simulator, bridge client, hardware driver).

Frames follow ARCHITECTURE.md: the table frame is the world frame, x away from the
robot base, y to its left, z up; metres and radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


def quat_from_yaw(yaw: float) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of a gripper pointing straight down, rotated by `yaw` about z."""
    # Rotation pi about x (pointing down), then yaw about the world z axis.
    half = yaw / 2.0
    return (math.cos(half), math.sin(half), 0.0, 0.0)


def yaw_from_quat(q: tuple[float, float, float, float]) -> float:
    """Inverse of `quat_from_yaw` for a downward-pointing gripper orientation."""
    x, y, _, _ = q
    return math.remainder(2.0 * math.atan2(y, x), 2.0 * math.pi)


@dataclass(frozen=True)
class Pose:
    """A position (x, y, z) and orientation quaternion (x, y, z, w) in the table frame."""

    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)

    @classmethod
    def top_down(cls, x: float, y: float, z: float, yaw: float = 0.0) -> Pose:
        """A gripper pose pointing straight down at (x, y, z), rotated by yaw about z."""
        return cls((float(x), float(y), float(z)), quat_from_yaw(yaw))

    @property
    def yaw(self) -> float:
        return yaw_from_quat(self.orientation)

    def to_dict(self) -> dict:
        return {"position": list(self.position), "orientation": list(self.orientation)}


@dataclass(frozen=True)
class JointLimits:
    """Lower and upper position limits of each arm joint, radians."""

    lower: tuple[float, ...]
    upper: tuple[float, ...]


@dataclass(frozen=True)
class RobotSpec:
    """What a robot is: its joints and their limits, and its gripper's range.

    `gripper_depth` is how far above the fingertip centre an object may reach before it
    touches the palm; grasps of tall objects are placed so the palm clears them.
    """

    name: str
    joint_names: tuple[str, ...]
    joint_limits: JointLimits
    gripper_max_width: float
    gripper_max_force: float
    cameras: tuple[str, ...] = ()
    gripper_depth: float = 0.04


@dataclass(frozen=True)
class RobotState:
    """A snapshot of the robot; `stamp` is the robot clock (seconds) when it was read."""

    joints: tuple[float, ...]
    ee_pose: Pose
    gripper_width: float
    holding: str | None
    stamp: float

    def to_dict(self) -> dict:
        return {
            "joints": [round(q, 5) for q in self.joints],
            "ee_pose": self.ee_pose.to_dict(),
            "gripper_width": round(self.gripper_width, 5),
            "holding": self.holding,
            "stamp": self.stamp,
        }


@dataclass(frozen=True)
class MotionResult:
    """What a motion command actually did.

    Attributes:
        reached: whether the end effector converged on the target within tolerance.
        target: the pose that was commanded (after checks; never silently changed).
        final: the end-effector pose when the motion ended.
        error_m: distance between target and final positions.
        duration_s: robot-clock seconds the motion took.
        contact: name of an object the arm hit unexpectedly, if any.
        stopped: the motion was interrupted by `Robot.stop`.
    """

    reached: bool
    target: Pose
    final: Pose
    error_m: float
    duration_s: float
    contact: str | None = None
    stopped: bool = False


@dataclass(frozen=True)
class GripperResult:
    """What a gripper command did: the final width and whether it closed on something."""

    width: float
    holding: str | None
    force: float
    duration_s: float


@dataclass
class CameraFrame:
    """One camera reading.

    Attributes:
        rgb: HxWx3 uint8 image.
        depth: HxW float32 metric depth along the optical axis, metres.
        intrinsics: 3x3 pinhole matrix K.
        extrinsics: 4x4 camera-to-world transform (OpenCV camera axes: x right, y down,
            z forward).
        segmentation: HxW int32 ids where the source has them (simulator), else None.
        labels: segmentation id -> object name, for ids that are objects.
        camera: the camera's name.
        stamp: robot-clock seconds at capture.
    """

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: np.ndarray
    extrinsics: np.ndarray
    segmentation: np.ndarray | None = None
    labels: dict[int, str] = field(default_factory=dict)
    camera: str = ""
    stamp: float = 0.0


@runtime_checkable
class Robot(Protocol):
    """The contract between skills and any robot; calls return results or raise typed errors.

    A robot does not check commands itself beyond what its hardware needs: the
    `skills.safety.SafeRobot` wrapper checks every target before it reaches one.
    """

    def spec(self) -> RobotSpec:
        """Describe the robot: joints, limits, gripper range, cameras."""
        ...

    def state(self) -> RobotState:
        """Read the current state."""
        ...

    def clock(self) -> float:
        """Current robot-clock time in seconds (simulated time in the simulator)."""
        ...

    def inverse_kinematics(self, pose: Pose) -> tuple[float, ...]:
        """Joint positions that put the end effector at `pose` (no motion)."""
        ...

    def move_ee(self, pose: Pose, speed: float) -> MotionResult:
        """Move the end effector in a straight line to `pose` at `speed` m/s."""
        ...

    def open_gripper(self, width: float | None = None) -> GripperResult:
        """Open the gripper to `width` metres (fully when None)."""
        ...

    def close_gripper(self, force: float) -> GripperResult:
        """Close the gripper with `force` newtons per finger until it stops."""
        ...

    def camera(self, name: str) -> CameraFrame:
        """Read a frame from the named camera."""
        ...

    def stop(self) -> None:
        """Stop all motion now, holding the gripper as it is."""
        ...
