"""A Franka Panda in the tabletop world, implementing the `Robot` protocol.

The end-effector reference point is the fingertip centre (``panda_grasptarget``). Motions
follow straight Cartesian lines with inverse kinematics at the control rate and joint
position control; the fingers have their own position control (the URDF mimic joint is
ignored by PyBullet), so grasps hold by friction only.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from sim.assets import panda_urdf
from sim.world import TabletopWorld
from skills.errors import RobotError
from skills.primitives import HOME
from skills.robot import (
    CameraFrame,
    GripperResult,
    JointLimits,
    MotionResult,
    Pose,
    RobotSpec,
    RobotState,
)

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
EE_LINK = 11
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
REST_POSE = (0.0, -0.3, 0.0, -2.2, 0.0, 2.0, math.pi / 4)
FINGER_MAX = 0.04


@dataclass(frozen=True)
class PandaConfig:
    """Control settings of the simulated arm.

    Attributes:
        control_every: physics steps between inverse-kinematics updates.
        position_tolerance: end-effector error (m) at which a motion counts as reached.
        settle_steps: most extra steps to converge after the trajectory ends.
        finger_friction: lateral friction of the finger pads.
        gripper_speed: finger closing speed, m/s per finger.
    """

    control_every: int = 8
    position_tolerance: float = 0.004
    settle_steps: int = 240
    finger_friction: float = 1.0
    gripper_speed: float = 0.1


class SimRobot:
    """The Panda arm of a `TabletopWorld` as a `Robot`."""

    def __init__(self, world: TabletopWorld, config: PandaConfig | None = None) -> None:
        self.world = world
        self.config = config or PandaConfig()
        c = world.client
        self.body = c.loadURDF(panda_urdf(), [0, 0, 0], useFixedBase=True)
        info = [c.getJointInfo(self.body, j) for j in ARM_JOINTS]
        self._spec = RobotSpec(
            name="panda (pybullet)",
            joint_names=tuple(i[1].decode() for i in info),
            joint_limits=JointLimits(tuple(i[8] for i in info), tuple(i[9] for i in info)),
            gripper_max_width=2 * FINGER_MAX,
            gripper_max_force=140.0,
            cameras=tuple(s.name for s in world.config.cameras),
            gripper_depth=0.04,  # grasp target 0.105 m below the hand, palm ends ~0.065
        )
        lower, upper = self._spec.joint_limits.lower, self._spec.joint_limits.upper
        self._ik_ranges = [hi - lo for lo, hi in zip(lower, upper, strict=True)]
        for finger in FINGER_JOINTS:
            c.changeDynamics(
                self.body,
                finger,
                lateralFriction=self.config.finger_friction,
                spinningFriction=0.01,
                frictionAnchor=True,
            )
        self._finger_force = 20.0
        self._stop = threading.Event()
        self._moving = False
        self._owner = threading.get_ident()  # PyBullet is not thread-safe: only this thread steps
        self.reset()

    # --- protocol -----------------------------------------------------------------------
    def spec(self) -> RobotSpec:
        return self._spec

    def clock(self) -> float:
        return self.world.sim_time

    def reset(self) -> None:
        """Put the arm at home with the gripper open, without simulating the motion."""
        c = self.world.client
        for j, q in zip(ARM_JOINTS, REST_POSE, strict=True):
            c.resetJointState(self.body, j, q)
        for _ in range(3):
            q_home = self._ik(HOME)
            for j, q in zip(ARM_JOINTS, q_home, strict=True):
                c.resetJointState(self.body, j, q)
        for f in FINGER_JOINTS:
            c.resetJointState(self.body, f, FINGER_MAX)
        self._hold_arm(self._joint_positions())
        self._command_fingers(FINGER_MAX, self._finger_force)

    def state(self) -> RobotState:
        return RobotState(
            joints=self._joint_positions(),
            ee_pose=self._ee_pose(),
            gripper_width=self._gripper_width(),
            holding=self._holding(),
            stamp=self.clock(),
        )

    def inverse_kinematics(self, pose: Pose) -> tuple[float, ...]:
        return self._ik(pose)

    def move_ee(self, pose: Pose, speed: float) -> MotionResult:
        """Follow a straight line to `pose` at `speed`, then settle on it."""
        if not speed > 0:
            raise RobotError(f"speed must be positive, got {speed}")
        self._stop.clear()
        self._moving = True
        try:
            return self._follow_line(pose, speed)
        finally:
            self._moving = False

    def _follow_line(self, pose: Pose, speed: float) -> MotionResult:
        start_time = self.clock()
        start = self._ee_pose()
        p0, p1 = np.array(start.position), np.array(pose.position)
        yaw0, yaw1 = start.yaw, pose.yaw
        dyaw = math.remainder(yaw1 - yaw0, 2 * math.pi)
        distance = float(np.linalg.norm(p1 - p0))
        rot_time = abs(dyaw) / 2.0  # 2 rad/s wrist rotation
        duration = max(1.5 * distance / speed, rot_time, 1e-6)  # peak speed of _smooth = 1.5x mean
        dt = self.world.config.time_step * self.config.control_every
        n_ctrl = max(1, math.ceil(duration / dt))
        for k in range(1, n_ctrl + 1):
            if self._stop.is_set():
                break
            s = _smooth(k / n_ctrl)
            waypoint = Pose.top_down(*(p0 + s * (p1 - p0)), yaw0 + s * dyaw)
            self._hold_arm(self._ik(waypoint))
            self.world.step(self.config.control_every)
        stopped = self._stop.is_set()
        if stopped:
            self._hold_arm(self._joint_positions())
        error = self._distance_to(pose) if stopped else self._track(pose)
        final = self._ee_pose()
        return MotionResult(
            reached=error <= self.config.position_tolerance,
            target=pose,
            final=final,
            error_m=error,
            duration_s=self.clock() - start_time,
            contact=self._arm_contact(),
            stopped=stopped,
        )

    def open_gripper(self, width: float | None = None) -> GripperResult:
        target = FINGER_MAX if width is None else width / 2.0
        return self._run_gripper(target, self._finger_force, opening=True)

    def close_gripper(self, force: float) -> GripperResult:
        self._finger_force = force
        return self._run_gripper(0.0, force, opening=False)

    def camera(self, name: str) -> CameraFrame:
        return self.world.render(self.world.camera_spec(name))

    def stop(self) -> None:
        """Stop now: hold the joints where they are; the fingers keep their command.

        Safe to call from another thread while `move_ee` runs: the motion loop sees the
        request at its next control tick and holds position there.
        """
        self._stop.set()
        if not self._moving and threading.get_ident() == self._owner:
            self._hold_arm(self._joint_positions())
        # From another thread, the motors already hold their last targets: nothing to do.

    # --- internals ----------------------------------------------------------------------
    def _joint_positions(self) -> tuple[float, ...]:
        states = self.world.client.getJointStates(self.body, ARM_JOINTS)
        return tuple(float(s[0]) for s in states)

    def _ee_pose(self) -> Pose:
        link = self.world.client.getLinkState(self.body, EE_LINK, computeForwardKinematics=True)
        pos, orn = link[4], link[5]
        return Pose(tuple(float(v) for v in pos), tuple(float(v) for v in orn))

    def _gripper_width(self) -> float:
        states = self.world.client.getJointStates(self.body, FINGER_JOINTS)
        return float(states[0][0] + states[1][0])

    def _ik(self, pose: Pose) -> tuple[float, ...]:
        lim = self._spec.joint_limits
        q = self.world.client.calculateInverseKinematics(
            self.body,
            EE_LINK,
            pose.position,
            pose.orientation,
            lowerLimits=[*lim.lower, 0.0, 0.0],
            upperLimits=[*lim.upper, FINGER_MAX, FINGER_MAX],
            jointRanges=[*self._ik_ranges, FINGER_MAX, FINGER_MAX],
            restPoses=[*REST_POSE, FINGER_MAX, FINGER_MAX],
            maxNumIterations=20,
            residualThreshold=1e-4,
        )
        return tuple(float(v) for v in q[: len(ARM_JOINTS)])

    def _hold_arm(self, q: tuple[float, ...]) -> None:
        self.world.client.setJointMotorControlArray(
            self.body,
            ARM_JOINTS,
            self.world.client.POSITION_CONTROL,
            targetPositions=q,
            forces=ARM_FORCES,
            positionGains=[0.2] * len(ARM_JOINTS),
        )

    def _track(self, pose: Pose) -> float:
        """Re-solve IK against the target until the error is within tolerance or time runs out."""
        error = self._distance_to(pose)
        step = self.config.control_every
        for _ in range(0, self.config.settle_steps, step):
            if error <= self.config.position_tolerance * 0.5 or self._stop.is_set():
                break
            self._hold_arm(self._ik(pose))
            self.world.step(step)
            error = self._distance_to(pose)
        return error

    def _distance_to(self, pose: Pose) -> float:
        return float(np.linalg.norm(np.array(self._ee_pose().position) - np.array(pose.position)))

    def _command_fingers(self, target: float, force: float) -> None:
        c = self.world.client
        for finger in FINGER_JOINTS:
            c.setJointMotorControl2(
                self.body,
                finger,
                c.POSITION_CONTROL,
                targetPosition=target,
                force=force,
                maxVelocity=self.config.gripper_speed,
            )

    def _run_gripper(self, target: float, force: float, opening: bool) -> GripperResult:
        start = self.clock()
        self._stop.clear()  # a new command; a stop during it ends the wait, the fingers hold
        self._command_fingers(target, force)
        max_steps = int(0.8 / self.world.config.time_step)
        last = self._gripper_width()
        for i in range(max_steps):
            if self._stop.is_set():
                break
            self.world.step()
            if i % 6 == 5:
                width = self._gripper_width()
                if abs(width - 2 * target) < 5e-4 or (i > 24 and abs(width - last) < 5e-5):
                    break
                last = width
        if not opening:
            self.world.step(int(0.1 / self.world.config.time_step))  # let the grip build up
        return GripperResult(
            width=self._gripper_width(),
            holding=self._holding(),
            force=force,
            duration_s=self.clock() - start,
        )

    def _holding(self) -> str | None:
        """The object both fingers touch, if any."""
        c = self.world.client
        names = self.world.body_names()
        touched = []
        for finger in FINGER_JOINTS:
            bodies = {p[2] for p in c.getContactPoints(bodyA=self.body, linkIndexA=finger)}
            touched.append({names[b] for b in bodies if b in names})
        both = touched[0] & touched[1]
        return min(both) if both else None

    def _arm_contact(self) -> str | None:
        """An object touched by an arm link other than the fingers, if any."""
        names = self.world.body_names()
        for p in self.world.client.getContactPoints(bodyA=self.body):
            if p[3] not in FINGER_JOINTS and p[2] in names:
                return names[p[2]]
        return None


def _smooth(s: float) -> float:
    """Minimum-jerk-like time scaling from 0 to 1."""
    return s * s * (3.0 - 2.0 * s)
