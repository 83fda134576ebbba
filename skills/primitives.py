"""Skill primitives on any `Robot`: move, gripper, pick, place, push.

Skills talk only to the `Robot` protocol (through the safety envelope) and an
`ObjectSource`; they never touch a simulator. Each returns a `SkillResult` saying whether
it worked and why not, or raises a typed error (`SafetyError`, `UnknownObjectError`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from skills.objects import ROUND_CATEGORIES, ObjectSource, ObjectState, find_object
from skills.params import MoveParams, PickParams, PlaceParams, PushParams
from skills.robot import MotionResult, Pose, Robot
from skills.safety import SafeRobot, SafetyLimits

HOME = Pose.top_down(0.40, 0.0, 0.30, 0.0)
EMPTY_WIDTH = 0.002  # a gripper closed narrower than this holds nothing
JOINT_ROOM = 0.25  # rad: a grasp this close to a joint limit turns half a turn if that helps
KNOCK_TOLERANCE = 0.015  # an object pushed further than this by a descending grasp was hit
FINGER_CLEARANCE = 0.02  # extra opening beyond the object's width
PALM_MARGIN = 0.01  # space kept between an object's top and the palm
PLACE_TOLERANCE = 0.03  # a placed object ends within this of its target (x, y)
RELEASE_REACH = 0.07  # how far the opened fingers reach from a release point along their axis
PICK_REACH = 0.065  # how far the opened fingers reach from an object's centre to grasp it
CLEAR_REACH = 0.04  # fingers this far from every neighbour are clear either way round
MAX_PUSH_M = 0.4  # the longest single push: a longer one is made of several
MAX_LIFT_M = 0.4  # the highest lift above where the object stood
FLAT_CATEGORIES = frozenset({"zone"})
GRASPABLE_CATEGORIES = frozenset({"block", "bar", "cylinder"})  # what `pick` can lift
CONTAINER_FLOOR = {"bowl": 0.008}  # height of a container's inner floor above its bottom
DROP_SLACK = 0.03  # into a bowl, a release stopped this short (by what is in it) lets go there
CONTAINER_SPOTS = {  # offsets from a container's centre where a second, third... object goes
    "bowl": tuple(
        (0.03 * math.cos(a * math.pi / 3), 0.03 * math.sin(a * math.pi / 3)) for a in range(6)
    ),
    "zone": ((0.03, 0.03), (-0.03, -0.03), (0.03, -0.03), (-0.03, 0.03)),
}

DIRECTIONS = {
    "left": (0.0, 1.0),
    "right": (0.0, -1.0),
    "forward": (1.0, 0.0),
    "away": (1.0, 0.0),
    "back": (1.0, 0.0),
    "backward": (1.0, 0.0),
    "front": (-1.0, 0.0),
    "toward": (-1.0, 0.0),
    "towards": (-1.0, 0.0),
}


@dataclass
class SkillResult:
    """Outcome of one skill call.

    Attributes:
        skill: skill name.
        success: whether the skill achieved what it is for.
        message: what happened, in words the planner and a person can read.
        params: the parameters the skill actually used.
        sim_s: robot-clock seconds spent.
        wall_s: wall-clock seconds spent.
        data: extra facts (final widths, positions, motion errors).
    """

    skill: str
    success: bool
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    sim_s: float = 0.0
    wall_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "skill": self.skill,
            "success": self.success,
            "message": self.message,
            "params": self.params,
            "sim_s": round(self.sim_s, 4),
            "wall_s": round(self.wall_s, 4),
            "data": self.data,
        }


SkillListener = Callable[[str, dict[str, Any]], None]


class _Failure(Exception):
    """Ends a skill early with a failure message (internal to this module)."""


def _elongated(obj: ObjectState) -> bool:
    """Whether an object is a bar-like shape, whose turn matters where it is set down."""
    short, long = sorted(obj.size[:2])
    return obj.category != "cylinder" and long > 1.5 * short


def _long_axis(obj: ObjectState) -> float:
    """The world yaw of an object's long side (along its y axis when that is longer)."""
    return obj.yaw + (math.pi / 2 if obj.size[1] > obj.size[0] else 0.0)


def _grasp_yaw(obj: ObjectState) -> float:
    """Gripper yaw that closes across the object's narrow side (fingers close along y at 0)."""
    if obj.category == "cylinder":
        return 0.0
    if obj.category == "block" and abs(obj.size[0] - obj.size[1]) < 1e-3:
        return math.remainder(obj.yaw, math.pi / 2)
    return math.remainder(_long_axis(obj), math.pi)


class Skills:
    """The skill API over one robot and one object source.

    Every motion goes through `SafeRobot`, so each target is checked before it reaches
    the robot. Listeners receive ``("skill_start" | "skill_end", payload)`` events.
    """

    def __init__(
        self,
        robot: Robot,
        objects: ObjectSource,
        limits: SafetyLimits | None = None,
        move: MoveParams | None = None,
    ) -> None:
        self.robot = robot if isinstance(robot, SafeRobot) else SafeRobot(robot, limits)
        self.objects = objects
        self.move_params = move or MoveParams()
        self.listeners: list[SkillListener] = []
        self._held_below_ee = 0.0  # how far the held object's bottom hangs below the EE
        self._held: str | None = None  # the object-source name of what this skill picked
        self._held_long_axis: float | None = None  # held object's long axis from the EE yaw

    def held(self) -> str | None:
        """The object in the gripper, named as the object source names it, or None.

        The robot says whether it holds something; which object it is, the skills
        remember from the pick (robot and perception may name objects differently).
        """
        robot_says = self.robot.state().holding
        if robot_says is None:
            self._held = self._held_long_axis = None
            return None
        return self._held or robot_says

    # --- plumbing -------------------------------------------------------------------------
    def _run(
        self, name: str, params: dict[str, Any], body: Callable[[], SkillResult]
    ) -> SkillResult:
        for listener in self.listeners:
            listener("skill_start", {"skill": name, "params": params})
        t_wall, t_sim = time.perf_counter(), self.robot.clock()
        try:
            result = body()
        except _Failure as failure:
            result = SkillResult(name, False, str(failure))
        except Exception as error:  # typed errors and faults alike: close the event, re-raise
            for listener in self.listeners:
                listener("skill_end", {"skill": name, "success": False, "error": str(error)})
            raise
        result.skill, result.params = name, params
        result.sim_s = self.robot.clock() - t_sim
        result.wall_s = time.perf_counter() - t_wall
        for listener in self.listeners:
            listener("skill_end", result.to_dict())
        return result

    def _move(self, pose: Pose, speed: float, what: str, slack: float = 0.0) -> MotionResult:
        """Move the gripper to `pose`; stopping short by at most `slack` metres counts."""
        motion = self.robot.move_ee(pose, speed)
        if not motion.reached and motion.error_m > slack:
            raise _Failure(
                f"could not reach {what}: stopped {motion.error_m * 100:.1f} cm from the target"
            )
        return motion

    def _ee(self) -> tuple[float, float, float]:
        return self.robot.state().ee_pose.position

    def _travel_z(self, carrying: bool, exclude: str | None = None) -> float:
        """A height that clears every object (and what the gripper carries)."""
        tops = [o.top_z for o in self.objects.objects() if o.name != exclude]
        hanging = self._held_below_ee if carrying else 0.0
        return max([0.0, *tops]) + self.move_params.travel_clearance + hanging

    # --- free motion ----------------------------------------------------------------------
    def move_to(self, pose: Pose | Sequence[float], speed: float | None = None) -> SkillResult:
        """Move the gripper to `pose`: a `Pose` or (x, y, z[, yaw]) in the table frame."""
        target = pose if isinstance(pose, Pose) else Pose.top_down(*pose)
        v = speed if speed is not None else self.move_params.speed

        def body() -> SkillResult:
            motion = self._move(target, v, "the target pose")
            return SkillResult("move_to", True, "reached", data={"error_m": motion.error_m})

        return self._run(
            "move_to", {"pose": list(target.position), "yaw": target.yaw, "speed": v}, body
        )

    def move_by(self, dx: float = 0.0, dy: float = 0.0, dz: float = 0.0) -> SkillResult:
        """Move the gripper by (dx, dy, dz) metres, keeping its orientation."""
        state = self.robot.state().ee_pose
        x, y, z = state.position
        target = Pose((x + dx, y + dy, z + dz), state.orientation)
        v = self.move_params.speed

        def body() -> SkillResult:
            self.robot.envelope.check_step((dx, dy, dz))  # a relative move has its own bound
            motion = self._move(target, v, "the offset position")
            return SkillResult("move_by", True, "moved", data={"error_m": motion.error_m})

        return self._run("move_by", {"dx": dx, "dy": dy, "dz": dz, "speed": v}, body)

    def go_home(self) -> SkillResult:
        """Lift straight up to a safe height, then move to the home pose."""
        v = self.move_params.speed

        def body() -> SkillResult:
            x, y, z = self._ee()
            carrying = self.held() is not None
            safe_z = max(z, min(self._travel_z(carrying), HOME.position[2]))
            self._move(Pose.top_down(x, y, safe_z, HOME.yaw), v, "a safe height")
            self._move(HOME, v, "home")
            return SkillResult("go_home", True, "at home")

        return self._run("go_home", {"speed": v}, body)

    def open_gripper(self) -> SkillResult:
        """Open the gripper fully (releases whatever it holds)."""

        def body() -> SkillResult:
            g = self.robot.open_gripper()
            return SkillResult("open_gripper", True, "opened", data={"width": g.width})

        return self._run("open_gripper", {}, body)

    def close_gripper(self, force: float = PickParams.force) -> SkillResult:
        """Close the gripper with `force` newtons per finger."""

        def body() -> SkillResult:
            g = self.robot.close_gripper(force)
            message = f"holding {g.holding}" if g.holding else "closed on nothing"
            return SkillResult(
                "close_gripper", True, message, data={"width": g.width, "holding": g.holding}
            )

        return self._run("close_gripper", {"force": force}, body)

    # --- manipulation -----------------------------------------------------------------------
    def pick(self, obj: str, params: PickParams | None = None, **overrides: Any) -> SkillResult:
        """Pick `obj` from above: approach, descend, close, lift; report what was grasped."""
        p = (params or PickParams()).updated(**overrides)

        def body() -> SkillResult:
            target = find_object(self.objects, obj)
            if target.category not in GRASPABLE_CATEGORIES:
                raise _Failure(
                    f"{obj} is a {target.category}; only blocks, bars and cylinders can be picked"
                )
            if self.held() is not None:
                raise _Failure(f"already holding {self.held()}; place it first")
            grasp_h = (
                p.grasp_height if p.grasp_height is not None else self.default_grasp_height(target)
            )
            x, y, _ = target.position
            grasp_z = target.bottom_z + grasp_h
            above_z = max(target.top_z + p.approach_height, grasp_z + 0.02)
            yaw = self._reachable_yaw(x, y, (grasp_z, above_z), _grasp_yaw(target) + p.yaw)
            across = 2 * target.half_extent(-math.sin(yaw), math.cos(yaw))
            self.robot.open_gripper(self._opening(across + FINGER_CLEARANCE))
            ex, ey, ez = self._ee()
            self._move(
                Pose.top_down(ex, ey, max(ez, self._travel_z(False)), yaw), p.speed, "travel height"
            )
            self._move(
                Pose.top_down(x, y, max(above_z, self._travel_z(False)), yaw),
                p.speed,
                f"above {obj}",
            )
            self._move(Pose.top_down(x, y, above_z, yaw), p.speed, f"above {obj}")
            self._move(Pose.top_down(x, y, grasp_z, yaw), p.speed, f"the grasp pose on {obj}")
            grip = self.robot.close_gripper(p.force)
            if grip.width < EMPTY_WIDTH or grip.holding is None:
                # Why the grip failed; perceived positions are only trusted now, since the
                # descending hand hides the object from the cameras and shifts its estimate.
                self.robot.open_gripper()
                shift = math.dist(find_object(self.objects, obj).position[:2], (x, y))
                if shift > KNOCK_TOLERANCE:
                    hit = f"the fingers hit {obj} on the way down and pushed it"
                    hit += f" {100 * shift:.1f} cm"
                    if across + FINGER_CLEARANCE > self.robot.spec().gripper_max_width:
                        hit += f": it is {100 * across:.1f} cm wide across the grasp, too wide"
                    raise _Failure(hit)
                if grip.width < EMPTY_WIDTH:
                    raise _Failure(f"the gripper closed on nothing where {obj} was expected")
                raise _Failure(f"the gripper closed without holding {obj}")
            self._held = obj
            self._held_below_ee = grasp_z - target.bottom_z
            self._held_long_axis = _long_axis(target) - yaw if _elongated(target) else None
            self._move(
                Pose.top_down(x, y, self._travel_z(True, exclude=obj), yaw),
                p.speed,
                "the lift height",
            )
            if self.held() is None:
                raise _Failure(f"{obj} slipped from the gripper while lifting")
            return SkillResult(
                "pick", True, f"picked {obj}", data={"width": grip.width, "yaw": yaw}
            )

        return self._run("pick", {"obj": obj, **p.to_dict()}, body)

    def _reachable_yaw(self, x: float, y: float, heights: Sequence[float], yaw: float) -> float:
        """`yaw`, or the same finger line turned half a turn (the fingers close the same
        way) when `yaw` would bring the arm within `JOINT_ROOM` of a joint limit at (x, y)
        and the given heights and the turn gives it more room (IK is only a forecast: the
        arm solves again from wherever it is)."""
        wanted = math.remainder(yaw, 2 * math.pi)
        turned = math.remainder(wanted + math.pi, 2 * math.pi)
        room = {
            c: min(self._joint_room(Pose.top_down(x, y, z, c)) for z in heights)
            for c in (wanted, turned)
        }
        tight = room[wanted] < JOINT_ROOM
        return turned if tight and room[turned] > room[wanted] else wanted

    def _joint_room(self, pose: Pose) -> float:
        """How far (rad) the IK solution for `pose` stays inside the nearest joint limit."""
        limits = self.robot.spec().joint_limits
        joints = self.robot.inverse_kinematics(pose)
        bounds = zip(joints, limits.lower, limits.upper, strict=False)
        return min(min(q - lo, hi - q) for q, lo, hi in bounds)

    def _opening(self, width: float) -> float:
        """Open no wider than needed, so fingers do not brush neighbouring objects."""
        return min(width, self.robot.spec().gripper_max_width)

    def default_grasp_height(self, obj: ObjectState) -> float:
        """Low on the object (at most 2.5 cm up) but high enough for the palm to clear its top."""
        palm_clear = obj.size[2] - self.robot.spec().gripper_depth + PALM_MARGIN
        return max(min(obj.size[2] / 2, 0.025), palm_clear)

    def place(
        self,
        target: str | Sequence[float],
        params: PlaceParams | None = None,
        **overrides: Any,
    ) -> SkillResult:
        """Put the held object on/in the object named `target`, or at (x, y[, z])."""
        p = (params or PlaceParams()).updated(**overrides)

        def body() -> SkillResult:
            held = self.held()
            if held is None:
                raise _Failure("not holding anything to place")
            x, y, surface_z, label, inside = self._place_target(target, held)
            offset = p.offset
            if offset == (0.0, 0.0) and isinstance(target, str):
                offset = self._room_in(find_object(self.objects, target), held)
            x, y = x + offset[0], y + offset[1]
            release_z = surface_z + p.release_height + self._held_below_ee
            yaw = self.robot.state().ee_pose.yaw
            if offset != (0.0, 0.0):  # fingers across the offset, clear of walls/neighbours;
                radial = math.atan2(offset[1], offset[0])  # a bar lies along the wall, not
                if self._held_long_axis is not None:  # across the middle onto a neighbour
                    radial += math.pi / 2 - self._held_long_axis
                yaw = _closest_equivalent(radial, yaw, math.pi)
            yaw = self._reachable_yaw(x, y, (release_z,), yaw + p.turn)
            travel = max(self._travel_z(True, exclude=held), release_z)
            ex, ey, ez = self._ee()
            self._move(Pose.top_down(ex, ey, max(ez, travel), yaw), p.speed, "travel height")
            self._move(Pose.top_down(x, y, travel, yaw), p.speed, f"above {label}")
            if self.held() is None:
                raise _Failure(f"{held} slipped from the gripper on the way to {label}")
            slack = DROP_SLACK if inside else 0.0  # into a bowl: let go a little above
            release = Pose.top_down(x, y, release_z, yaw)
            self._move(release, p.speed, f"the release pose at {label}", slack)
            width = self.robot.state().gripper_width
            self.robot.open_gripper(self._opening(width + FINGER_CLEARANCE))
            self._held_below_ee, self._held, self._held_long_axis = 0.0, None, None
            self._move(Pose.top_down(x, y, travel, yaw), p.speed, "the retreat height")
            final = find_object(self.objects, held)
            miss = math.dist(final.position[:2], (x, y))
            if miss > PLACE_TOLERANCE + max(final.size[:2]) / 2:
                raise _Failure(f"{held} ended {miss:.3f} m from {label}")
            return SkillResult(
                "place", True, f"placed {held} at {label}", data={"final": list(final.position)}
            )

        params_out = {"target": target if isinstance(target, str) else list(target), **p.to_dict()}
        return self._run("place", params_out, body)

    def _room_in(self, target: ObjectState, held: str) -> tuple[float, float]:
        """Where in a container the held object goes, as an offset from its centre: none
        when nothing is in it, else the spot of `CONTAINER_SPOTS` farthest from what is
        already there (objects dropped on the centre would pile up and spill). Any other
        target: no offset."""
        x, y = target.position[0], target.position[1]
        spots = CONTAINER_SPOTS.get(target.category)
        half = min(target.size[0], target.size[1]) / 2
        inside = [
            (o.position[0] - x, o.position[1] - y)
            for o in self.objects.objects()
            if o.name not in (held, target.name) and math.dist(o.position[:2], (x, y)) < half
        ]
        if not spots or not inside:
            return (0.0, 0.0)
        return max(spots, key=lambda spot: min(math.dist(spot, o) for o in inside))

    def _place_target(
        self, target: str | Sequence[float], held: str
    ) -> tuple[float, float, float, str, bool]:
        """(x, y, surface height, label, whether it is inside a container) of a place
        target, read before the arm moves (a moved arm means a new perception)."""
        if isinstance(target, str):
            if target == held:
                raise _Failure(f"cannot place {held} on itself")
            obj = find_object(self.objects, target)
            floor = CONTAINER_FLOOR.get(obj.category)
            surface = obj.bottom_z + floor if floor is not None else obj.top_z
            return obj.position[0], obj.position[1], surface, target, floor is not None
        coords = [float(v) for v in target]
        if len(coords) not in (2, 3):
            raise _Failure(f"a place position needs (x, y) or (x, y, z), got {len(coords)} numbers")
        z = coords[2] if len(coords) == 3 else 0.0
        return coords[0], coords[1], z, f"({coords[0]:.2f}, {coords[1]:.2f})", False

    def lift(self, obj: str, height: float, params: PickParams | None = None) -> SkillResult:
        """Pick `obj` (unless it is already held) and hold it up with its bottom `height`
        metres above where its bottom was, straight above where it was picked."""

        def body() -> SkillResult:
            if not 0.0 < height <= MAX_LIFT_M:
                raise _Failure(f"lift height {height} m must be in (0, {MAX_LIFT_M}]")
            start = find_object(self.objects, obj)
            if self.held() != obj:
                picked = self.pick(obj, params)
                if not picked.success:
                    raise _Failure(picked.message)
            ex, ey, _ = self._ee()
            yaw = self.robot.state().ee_pose.yaw
            speed = (params or PickParams()).speed
            self._move(
                Pose.top_down(ex, ey, start.bottom_z + height + self._held_below_ee, yaw),
                speed,
                f"{height:.3f} m up",
            )
            if self.held() != obj:
                raise _Failure(f"{obj} slipped from the gripper while lifting")
            return SkillResult("lift", True, f"holding {obj} {height:.3f} m up")

        return self._run("lift", {"obj": obj, "height": height}, body)

    def grasp_turn(self, first: str, second: str | Sequence[float]) -> float:
        """Extra grasp yaw (0 or a quarter turn) for `first` that keeps the fingers farther
        from its neighbours, where they open to pick it and where they open to release it
        on `second`. Only a square block or a cylinder can be held either way round."""
        obj = find_object(self.objects, first)
        square = obj.category == "block" and abs(obj.size[0] - obj.size[1]) < 1e-3
        if not (square or obj.category == "cylinder"):
            return 0.0
        into = second if isinstance(second, str) else None
        release = find_object(self.objects, into).position[:2] if into else tuple(second[:2])
        others = [
            o
            for o in self.objects.objects()
            if o.name not in (first, into) and o.category not in FLAT_CATEGORIES
        ]
        grasp = _grasp_yaw(obj)

        def clearance(turn: float) -> float:
            axis = (-math.sin(grasp + turn), math.cos(grasp + turn))
            sites = ((obj.position[:2], PICK_REACH), (release, RELEASE_REACH))
            return min(
                [_sweep_gap(at, axis, reach, o) for at, reach in sites for o in others],
                default=CLEAR_REACH,
            )

        quarter = -math.copysign(math.pi / 2, grasp)  # the turn that keeps the wrist nearer 0
        if min(CLEAR_REACH, clearance(quarter)) > min(CLEAR_REACH, clearance(0.0)) + 0.005:
            return quarter
        return 0.0

    def put_first_on_second(self, first: str, second: str | Sequence[float]) -> SkillResult:
        """Pick `first` and place it on/in `second` (an object or a position); when `first`
        is already in the gripper, just place it."""

        def body() -> SkillResult:
            turn = 0.0 if self.held() == first else self.grasp_turn(first, second)
            steps = [lambda: self.pick(first, yaw=turn), lambda: self.place(second)]
            if self.held() == first:
                steps = steps[1:]
            for step in steps:
                result = step()
                if not result.success:
                    raise _Failure(result.message)
            return SkillResult("put_first_on_second", True, f"put {first} on {second}")

        return self._run("put_first_on_second", {"first": first, "second": second}, body)

    def push(
        self,
        obj: str,
        direction: str | Sequence[float],
        distance: float,
        params: PushParams | None = None,
        **overrides: Any,
    ) -> SkillResult:
        """Push `obj` `distance` metres along `direction` (a word like "left" or a 2-D vector)."""
        p = (params or PushParams()).updated(**overrides)

        def body() -> SkillResult:
            ux, uy = _unit_direction(direction)
            if not (0.0 < distance <= MAX_PUSH_M):
                raise _Failure(f"push distance {distance} m must be in (0, {MAX_PUSH_M}]")
            target = find_object(self.objects, obj)
            if self.held() is not None:
                raise _Failure("cannot push while holding an object; place it first")
            start_xy = target.position[:2]
            reach = target.half_extent(ux, uy) + p.standoff
            sx, sy = start_xy[0] - ux * reach, start_xy[1] - uy * reach
            contact_z = target.bottom_z + p.contact_height
            yaw = math.remainder(math.atan2(uy, ux), math.pi)  # fingers across the push line
            self.robot.close_gripper(PickParams.force)
            ex, ey, ez = self._ee()
            travel = self._travel_z(False)
            self._move(Pose.top_down(ex, ey, max(ez, travel), yaw), p.speed * 3, "travel height")
            self._move(Pose.top_down(sx, sy, travel, yaw), p.speed * 3, f"behind {obj}")
            self._move(
                Pose.top_down(sx, sy, contact_z, yaw), p.speed * 3, f"the push start at {obj}"
            )
            travel_len = p.standoff + distance
            self._move(
                Pose.top_down(sx + ux * travel_len, sy + uy * travel_len, contact_z, yaw),
                p.speed,
                f"the end of the push of {obj}",
            )
            ex, ey, _ = self._ee()
            self._move(
                Pose.top_down(ex - ux * 0.02, ey - uy * 0.02, travel, yaw),
                p.speed * 3,
                "the retreat height",
            )
            end = find_object(self.objects, obj).position[:2]
            moved = (end[0] - start_xy[0]) * ux + (end[1] - start_xy[1]) * uy
            if abs(moved - distance) > max(0.02, 0.3 * distance):
                raise _Failure(f"{obj} moved {moved:.3f} m instead of {distance:.3f} m")
            return SkillResult("push", True, f"pushed {obj} {moved:.3f} m", data={"moved_m": moved})

        params_out = {
            "obj": obj,
            "direction": direction if isinstance(direction, str) else list(direction),
            "distance": distance,
            **p.to_dict(),
        }
        return self._run("push", params_out, body)


def _sweep_gap(
    at: Sequence[float], axis: tuple[float, float], reach: float, other: ObjectState
) -> float:
    """Distance from the fingers' sweep (`reach` either side of `at` along `axis`) to the
    disc that bounds `other`'s footprint."""
    ox, oy = other.position[0] - at[0], other.position[1] - at[1]
    along = max(-reach, min(reach, ox * axis[0] + oy * axis[1]))
    gap = math.hypot(ox - along * axis[0], oy - along * axis[1])
    round_ = other.category in ROUND_CATEGORIES
    radius = min(other.size[:2]) / 2 if round_ else math.hypot(other.size[0], other.size[1]) / 2
    return gap - radius


def _closest_equivalent(angle: float, reference: float, period: float) -> float:
    """`angle` plus a multiple of `period`, as close as possible to `reference`."""
    return reference + math.remainder(angle - reference, period)


def _unit_direction(direction: str | Sequence[float]) -> tuple[float, float]:
    if isinstance(direction, str):
        key = direction.strip().lower()
        if key not in DIRECTIONS:
            raise _Failure(
                f"unknown push direction {direction!r}; "
                f"use one of {', '.join(DIRECTIONS)} or (dx, dy)"
            )
        return DIRECTIONS[key]
    vec = [float(v) for v in direction]
    norm = math.hypot(*vec) if len(vec) == 2 else 0.0
    if not (len(vec) == 2 and math.isfinite(norm) and norm > 1e-6):
        raise _Failure(f"push direction {direction!r} must be a non-zero (dx, dy)")
    return vec[0] / norm, vec[1] / norm
