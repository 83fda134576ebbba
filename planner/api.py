"""The skill API that generated code calls: one source of truth for the prompt, the
sandbox's argument schemas and the parent-side implementation.

Every function is declared once with `@api_function`; its signature and docstring become
the prompt's API listing and its `Param`s the strict schema the sandbox validates.
The implementation runs in the planner's process (never in the worker) on `SkillApi`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from perception import geometry
from planner.corrections import ParamChange
from planner.events import EventBus
from planner.language.grounding import GroundingError, find_described
from planner.sandbox.executor import SandboxExecutor, SandboxLimits
from planner.sandbox.schema import FunctionSpec, Param
from skills.errors import HeedError
from skills.frames import WORKSPACE_X, WORKSPACE_Y
from skills.objects import ObjectSource, ObjectState, find_object
from skills.params import PARAM_DEFAULTS, PickParams, PlaceParams
from skills.primitives import SkillResult, Skills
from skills.registry import Registry

UNITS = (
    "# Units: metres for every position, size and distance (as the scene lists them); "
    "degrees for every angle."
)
FREE_SPOT_RADIUS = 0.03  # room a free spot leaves: a block's half-diagonal
DESCRIBED = re.compile(r'\b(?P<fn>find_all|find)\("(?P<words>[^"\\\n]*)"\)')
"""A call naming objects by the words that describe them: words, not names, inside."""
ROW_MARGIN = 0.04  # how far a lined-up row stays from the table's sides


def _radius(obj: ObjectState) -> float:
    """Half the diagonal of an object's footprint: the disc it needs on the table."""
    return math.hypot(obj.size[0], obj.size[1]) / 2


class ApiError(HeedError):
    """A call the program made failed; the message is what the model reads."""


class TaskEnded(HeedError):
    """The program called done() or refuse(); nothing after it runs."""


@dataclass(frozen=True)
class ApiFunction:
    """A declared API function: its schema and which group it belongs to."""

    spec: FunctionSpec
    group: str  # "skill" | "arm" | "place" | "select" | "query" | "interaction"
    signature: str


API: Registry[ApiFunction] = Registry("API function")


def api_function(group: str, signature: str, *params: Param, returns: str = "None") -> Callable:
    """Declare a `SkillApi` method as an API function (name = method name)."""

    def decorate(method: Callable) -> Callable:
        paragraph = (method.__doc__ or "").strip().split("\n\n")[0]
        doc = " ".join(paragraph.split())
        API.add(
            method.__name__,
            ApiFunction(
                FunctionSpec(method.__name__, tuple(params), doc, returns), group, signature
            ),
        )
        return method

    return decorate


def _opt(name: str, kind: str = "float") -> Param:
    return Param(name, kind, optional=True, default=None)


@dataclass
class ApiLog:
    """What one program did through the API, for the Observation."""

    results: list[dict[str, Any]] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    questions: list[tuple[str, str]] = field(default_factory=list)
    repeated: list[tuple[str, str]] = field(default_factory=list)  # asked before: not asked
    ended: str | None = None  # "done" | "refused"
    reason: str = ""


AskHandler = Callable[[str], str]
ParamDefaults = Callable[[str, ObjectState | None], dict[str, Any]]


def _within_range(skill: str, param: str, value: Any) -> tuple[Any, str]:
    """A corrected value the skill accepts: "harder" past the force limit means the limit;
    angles wrap. Returns the value and a note when it was changed."""
    if param == "yaw" and isinstance(value, float):
        return math.remainder(value, 2 * math.pi), ""
    limits = PARAM_DEFAULTS[skill].limits(param)
    if limits is None or not isinstance(value, int | float) or limits[0] <= value <= limits[1]:
        return value, ""
    lo, hi = limits
    return min(max(float(value), lo), hi), f" (its limit; {value:g} was asked for)"


def _relation(name: str, direction: tuple[float, float], where: str) -> Callable:
    """An API function giving the point `distance` metres from an object in `direction`."""

    def relation(self: SkillApi, obj: str, distance: float = 0.1) -> list[float]:
        return self._offset(name, obj, distance, *direction)

    relation.__name__ = name
    relation.__doc__ = f"The point distance metres {where}, never on obj itself."
    params = (Param("obj", "str"), Param("distance", "float", optional=True, default=0.1))
    return api_function("place", f"{name}(obj, distance=0.1)", *params, returns="[x, y]")(relation)


class SkillApi:
    """Implements the API functions on skills, an object source and the event bus.

    Args:
        skills: skill primitives bound to a (safety-wrapped) robot.
        objects: where objects are looked up (ground truth or perception).
        bus: the planner's event bus (skill events, says, questions, pauses).
        ask: answers a question (a person, or the simulated teleoperator).
        param_defaults: retrieved skill knowledge: (skill, object) -> parameter defaults.
    """

    def __init__(
        self,
        skills: Skills,
        objects: ObjectSource,
        bus: EventBus,
        ask: AskHandler,
        param_defaults: ParamDefaults | None = None,
    ) -> None:
        self.skills = skills
        self.source = objects
        self.bus = bus
        self._ask = ask
        self._param_defaults = param_defaults or (lambda skill, obj: {})
        self.log = ApiLog()
        self.adjustments: dict[tuple[str, str], dict[str, Any]] = {}  # (skill, obj) -> params
        self.manner: dict[str, dict[str, Any]] = {}  # skill -> params the wording asks for
        self.last_object: dict[str, str] = {}  # skill -> object of its latest call
        self.asked: dict[str, str] = {}  # this task's questions (normalised) -> answers
        self.task_scene: tuple[ObjectState, ...] = ()  # where find() grounds descriptions

    def sandbox(self, limits: SandboxLimits | None = None) -> SandboxExecutor:
        """A sandbox whose programs call this API: schemas from the declarations, the
        robot stopped when a program is killed, skill errors passed to the program."""
        return SandboxExecutor(
            function_specs(),
            self.call,
            limits,
            on_abort=self.skills.robot.stop,
            forward_errors=(HeedError,),
        )

    def new_task(self) -> None:
        """Forget the questions of the previous task (one task never asks the same twice)
        and how it said to move."""
        self.asked = {}
        self.manner = {}
        self.task_scene = ()

    def set_manner(self, changes: Sequence[ParamChange]) -> None:
        """Task-wide parameters from how the instruction says to move ("carefully": slower),
        above retrieved knowledge and below the corrections of one object."""
        manner: dict[str, dict[str, Any]] = {}
        for change in changes:
            base = PARAM_DEFAULTS[change.skill]().to_dict().get(change.param)
            value, _ = _within_range(change.skill, change.param, change.apply(base))
            manner.setdefault(change.skill, {})[change.param] = value
        self.manner = manner

    def new_program(self) -> ApiLog:
        """Start a fresh log for the next program and return the previous one."""
        previous, self.log = self.log, ApiLog()
        return previous

    def call(self, name: str, args: dict[str, Any]) -> Any:
        """Dispatch a validated call from the sandbox; failures raise `ApiError`."""
        if self.log.ended is not None:
            raise TaskEnded(f"the task already ended with {self.log.ended}(); {name}() was not run")
        method = getattr(self, name)
        try:
            return method(**args)
        except ApiError:
            raise
        except (HeedError, ValueError) as error:  # safety refusals, unknown objects, bad
            raise ApiError(f"{name}(): {error}") from error  # parameters: the model must see

    # --- helpers -----------------------------------------------------------------------------
    def _object(self, name: str) -> ObjectState:
        return find_object(self.source, name)

    def _skill(self, name: str, run: Callable[[], SkillResult]) -> bool:
        if not self.bus.skill_boundary():
            raise ApiError(f"{name}(): stopped by the operator")
        result = run()
        self.log.results.append(result.to_dict())
        if not result.success:
            raise ApiError(f"{name}() failed: {result.message}")
        return True

    def _with_defaults(
        self, skill: str, obj: str, given: dict[str, Any], fallback: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Parameters of a call: what the API chose for the situation (`fallback`), then
        retrieved knowledge, then corrections in this task, then what the program passed."""
        self.last_object[skill] = obj
        chosen = {k: v for k, v in given.items() if v is not None}
        defaults = self._param_defaults(skill, self._object(obj))
        if defaults:
            self.bus.publish("knowledge", skill=skill, obj=obj, defaults=defaults)
        adjusted = self.adjustments.get((skill, obj), {})
        return {**(fallback or {}), **defaults, **self.manner.get(skill, {}), **adjusted, **chosen}

    def adjust(self, changes: Sequence[ParamChange]) -> list[str]:
        """Apply skill-level corrections to the object each skill last worked on."""
        applied = []
        for change in changes:
            obj = self.last_object.get(change.skill) or self.last_object.get("pick")
            if obj is None:
                continue
            current = {
                **PARAM_DEFAULTS[change.skill]().to_dict(),
                **self._param_defaults(change.skill, self._object(obj)),
                **self.manner.get(change.skill, {}),
                **self.adjustments.get((change.skill, obj), {}),
            }
            if current.get(change.param) is None and change.param == "grasp_height":
                current["grasp_height"] = self.skills.default_grasp_height(self._object(obj))
            value, note = _within_range(
                change.skill, change.param, change.apply(current.get(change.param))
            )
            self.adjustments.setdefault((change.skill, obj), {})[change.param] = value
            applied.append(f"{change.skill} on {obj}: {change.param} = {value}{note}")
        return applied

    # --- skills ------------------------------------------------------------------------------
    @api_function(
        "skill",
        "pick(obj, grasp_height=None, approach_height=None, yaw=None, force=None, speed=None)",
        Param("obj", "str"),
        _opt("grasp_height"),
        _opt("approach_height"),
        _opt("yaw"),
        _opt("force"),
        _opt("speed"),
        returns="True",
    )
    def pick(
        self,
        obj: str,
        grasp_height: float | None = None,
        approach_height: float | None = None,
        yaw: float | None = None,
        force: float | None = None,
        speed: float | None = None,
    ) -> bool:
        """Pick up an object by name from above (heights m, yaw degrees, force N, speed m/s)."""
        given = {
            "grasp_height": grasp_height,
            "approach_height": approach_height,
            "yaw": None if yaw is None else math.radians(yaw),
            "force": force,
            "speed": speed,
        }
        params = self._pick_params(obj, given)
        return self._skill("pick", lambda: self.skills.pick(obj, params))

    def _pick_params(
        self, obj: str, given: dict[str, Any], fallback: dict[str, Any] | None = None
    ) -> PickParams:
        """The parameters a pick of `obj` runs with (see `_with_defaults`)."""
        return PickParams().updated(**self._with_defaults("pick", obj, given, fallback))

    @api_function(
        "skill",
        "place(target, offset=None, release_height=None, speed=None)",
        Param("target", "str|vec"),
        Param("offset", "vec2", optional=True, default=None),
        _opt("release_height"),
        _opt("speed"),
        returns="True",
    )
    def place(
        self,
        target: str | list[float],
        offset: list[float] | None = None,
        release_height: float | None = None,
        speed: float | None = None,
        turn: float | None = None,
    ) -> bool:
        """Put the held object on/in an object (name) or at a table position [x, y]."""
        given = {
            "offset": tuple(offset) if offset else None,
            "release_height": release_height,
            "speed": speed,
            "turn": None if turn is None else math.radians(turn),
        }
        held = self.skills.held()
        chosen = (
            self._with_defaults("place", held, given)
            if held
            else {k: v for k, v in given.items() if v is not None}
        )
        params = PlaceParams().updated(**chosen)
        return self._skill("place", lambda: self.skills.place(target, params))

    @api_function(
        "skill",
        "put_first_on_second(obj, target)",
        Param("obj", "str"),
        Param("target", "str|vec"),
        returns="True",
    )
    def put_first_on_second(self, obj: str, target: str | list[float]) -> bool:
        """Pick obj (unless held) and place it on/in target: an object's name or a place [x, y].

        An object already in the gripper is just placed. The grasp turns a quarter when that
        keeps the fingers clear of neighbours (unless knowledge or a correction set a yaw)."""
        if self.skills.held() != obj:
            params = self._pick_params(obj, {}, {"yaw": self.skills.grasp_turn(obj, target)})
            self._skill("pick", lambda: self.skills.pick(obj, params))
        return self.place(target)

    @api_function(
        "skill",
        "push(obj, direction, distance)",
        Param("obj", "str"),
        Param("direction", "str|vec"),
        Param("distance", "float"),
        returns="True",
    )
    def push(self, obj: str, direction: str | list[float], distance: float) -> bool:
        """Slide obj along the table (push, nudge, shove): direction is 'left', 'right',
        'away' or 'front' (towards the robot), or [dx, dy]; distance in metres."""
        return self._skill("push", lambda: self.skills.push(obj, direction, distance))

    @api_function(
        "arm",
        "move_to(x, y, z, yaw=0.0)",
        Param("x", "float"),
        Param("y", "float"),
        Param("z", "float"),
        Param("yaw", "float", optional=True, default=0.0),
        returns="True",
    )
    def move_to(self, x: float, y: float, z: float, yaw: float = 0.0) -> bool:
        """Move the gripper to (x, y, z), pointing down, rotated by yaw degrees."""
        pose = (x, y, z, math.radians(yaw))
        return self._skill("move_to", lambda: self.skills.move_to(pose))

    @api_function(
        "arm",
        "move_by(dx, dy, dz)",
        Param("dx", "float"),
        Param("dy", "float"),
        Param("dz", "float"),
        returns="True",
    )
    def move_by(self, dx: float, dy: float, dz: float) -> bool:
        """Move the gripper by (dx, dy, dz) metres."""
        return self._skill("move_by", lambda: self.skills.move_by(dx, dy, dz))

    @api_function(
        "skill",
        "lift(obj, height)",
        Param("obj", "str"),
        Param("height", "float"),
        returns="True",
    )
    def lift(self, obj: str, height: float) -> bool:
        """Pick obj (unless held) and hold it with its bottom height metres up; it stays held."""
        params = self._pick_params(obj, {})
        return self._skill("lift", lambda: self.skills.lift(obj, height, params))

    @api_function(
        "skill",
        "rotate(obj, angle)",
        Param("obj", "str"),
        Param("angle", "float"),
        returns="True",
    )
    def rotate(self, obj: str, angle: float) -> bool:
        """Turn obj in place by angle degrees (positive: counter-clockwise seen from above)."""
        if not -180.0 <= angle <= 180.0:
            raise ApiError(f"rotate(): angle {angle:g} must be in [-180, 180] degrees")
        state = self._object(obj)
        x, y, _ = state.position
        if self.skills.held() != obj:
            self.pick(obj)
        self.place([x, y, state.bottom_z], turn=angle)
        return True

    @api_function("skill", "swap(a, b)", Param("a", "str"), Param("b", "str"), returns="True")
    def swap(self, a: str, b: str) -> bool:
        """Exchange the places of two objects (a waits on a free spot while b moves)."""
        first, second = self._object(a), self._object(b)
        parking = geometry.free_spot(self.objects_source(), first.position[:2], _radius(first))
        if parking is None:
            raise ApiError(f"swap(): no free spot on the table to set {a} down meanwhile")
        self.put_first_on_second(a, list(parking))
        self.put_first_on_second(b, list(first.position[:2]))
        self.put_first_on_second(a, list(second.position[:2]))
        return True

    @api_function(
        "skill",
        "build_tower(bottom=obj, above=[obj, ...])",
        Param("bottom", "str", named=True),
        Param("above", "strs", min_len=1, max_len=7, named=True),
        returns="True",
    )
    def build_tower(self, bottom: str, above: list[str]) -> bool:
        """Build one tower: bottom stays where it is and the objects above go on it, the lowest
        first (build_tower(bottom=B, above=[A]) is put_first_on_second(A, B))."""
        tower = [bottom, *above]
        if len(set(tower)) != len(tower):
            raise ApiError("build_tower(): an object is listed twice")
        for lower, upper in pairwise(tower):
            self.put_first_on_second(upper, lower)
        return True

    @api_function(
        "skill",
        "put_all(objs, target)",
        Param("objs", "strs", min_len=1, max_len=8),
        Param("target", "str|vec"),
        returns="True",
    )
    def put_all(self, objs: list[str], target: str | list[float]) -> bool:
        """Put each of objs on/in target (a bowl or zone for several), one after the other."""
        if len(set(objs)) != len(objs) or target in objs:
            raise ApiError("put_all(): an object is listed twice, or as its own target")
        if not isinstance(target, str) and len(objs) > 1:
            raise ApiError("put_all(): several objects need a bowl or zone, not one point")
        for obj in objs:
            self.put_first_on_second(obj, target)
        return True

    @api_function(
        "skill",
        "line_up(objs, spacing=0.08, along=None, order=None)",
        Param("objs", "strs", min_len=2, max_len=8),
        Param("spacing", "float", optional=True, default=0.08),
        _opt("along", "str"),
        _opt("order", "str"),
        returns="True",
    )
    def line_up(
        self,
        objs: list[str],
        spacing: float = 0.08,
        along: str | None = None,
        order: str | None = None,
    ) -> bool:
        """Put objs in a row in the order listed, from the first one, running `order` ("left
        to right" unless said; "right to left", "front to back": away from the robot, "back
        to front"); along a side ("top side", "left side") the row runs by that edge."""
        if len(set(objs)) != len(objs):
            raise ApiError("line_up(): an object is listed twice")
        if not 0.03 <= spacing <= 0.3:
            raise ApiError(f"line_up(): spacing {spacing:g} must be in [0.03, 0.3] metres")
        if order is not None and order not in geometry.ROW_ORDERS:
            raise ApiError(f"line_up(): order takes one of {', '.join(geometry.ROW_ORDERS)}")
        if along is None:
            spots = self._row(objs, spacing, order or "left to right")
        else:
            spots = self._edge_row(objs, spacing, along, order)
        for obj, spot in zip(objs, spots, strict=True):
            if math.dist(spot, self._object(obj).position[:2]) > 0.01:
                self.put_first_on_second(obj, spot)
        return True

    @staticmethod
    def _span(objs: list[str], spacing: float, room: float) -> float:
        """The length of a row of objs, which must fit in `room` metres."""
        span = (len(objs) - 1) * spacing
        if span > room:
            raise ApiError(f"line_up(): {len(objs)} objects {spacing:g} m apart do not fit")
        return span

    def _row(self, objs: list[str], spacing: float, order: str) -> list[list[float]]:
        """Spots of a row running `order` through the first object, shifted to fit."""
        axis, sign = geometry.ROW_ORDERS[order]
        start = list(self._object(objs[0]).position[:2])
        low, high = (WORKSPACE_X, WORKSPACE_Y)[axis]
        low, high = low + ROW_MARGIN, high - ROW_MARGIN
        span = self._span(objs, spacing, high - low)
        least, most = (low + span, high) if sign < 0 else (low, high - span)
        start[axis] = min(max(start[axis], least), most)  # the row moves, the first with it
        return [self._row_spot(start, axis, sign * i * spacing) for i in range(len(objs))]

    def _row_spot(self, start: list[float], axis: int, step: float) -> list[float]:
        """The spot `step` metres from `start` along `axis`, checked to be on the table."""
        spot = list(start)
        spot[axis] += step
        return self._on_table("line_up", spot[0], spot[1])

    def _edge_row(
        self, objs: list[str], spacing: float, along: str, order: str | None
    ) -> list[list[float]]:
        """Spots of a row centred on a side of the table, along its edge: left to right by
        the top or bottom side, front to back by a left or right side, unless `order` says
        the other way."""
        try:
            side = geometry.normalize_region(along)
        except ValueError:
            side = ""
        if side not in geometry.SIDES:
            sides = ", ".join(geometry.SIDES)
            raise ApiError(f"line_up(): along takes a side of the table: {sides}")
        across = side in ("top side", "bottom side")  # across the table, from left to right
        order = order or ("left to right" if across else "front to back")
        axis, sign = geometry.ROW_ORDERS[order]
        if axis != int(across):
            raise ApiError(f"line_up(): a row along the {side} can not run {order}")
        low, high = (WORKSPACE_X, WORKSPACE_Y)[axis]
        half = self._span(objs, spacing, high - low - 2 * ROW_MARGIN) / 2
        middle = list(geometry.region_point(side))
        middle[axis] -= sign * half
        return [self._row_spot(middle, axis, sign * i * spacing) for i in range(len(objs))]

    @api_function("arm", "open_gripper()", returns="True")
    def open_gripper(self) -> bool:
        """Open the gripper (drops what it holds)."""
        return self._skill("open_gripper", self.skills.open_gripper)

    @api_function(
        "arm",
        "close_gripper(force=20.0)",
        Param("force", "float", optional=True, default=20.0),
        returns="True",
    )
    def close_gripper(self, force: float = 20.0) -> bool:
        """Close the gripper with force newtons per finger."""
        return self._skill("close_gripper", lambda: self.skills.close_gripper(force))

    @api_function("skill", "go_home()", returns="True")
    def go_home(self) -> bool:
        """Move the arm to its home pose above the table."""
        return self._skill("go_home", self.skills.go_home)

    # --- queries -----------------------------------------------------------------------------
    @api_function(
        "query",
        "objects(category='', color='')",
        Param("category", "str", optional=True, default=""),
        Param("color", "str", optional=True, default=""),
        returns="list of names",
    )
    def objects(self, category: str = "", color: str = "") -> list[str]:
        """Names of the objects in view, optionally only one category and/or colour."""
        return [
            o.name
            for o in self.objects_source()
            if (not category or o.category == category) and (not color or o.color == color)
        ]

    def objects_source(self) -> list[ObjectState]:
        return self.source.objects()

    # --- finding objects by the words that describe them ------------------------------------
    @api_function("select", "find(description)", Param("description", "str"), returns="name")
    def find(self, description: str) -> str:
        """The one object the words describe ("leftmost block", "block nearest to the cyan
        bowl", "biggest purple object"), as the scene was when the task began."""
        return self._described(description, many=False)[0]

    @api_function(
        "select", "find_all(description)", Param("description", "str"), returns="list of names"
    )
    def find_all(self, description: str) -> list[str]:
        """The objects the words describe ("blocks except the purple one", "objects that are
        not red", "two blocks"), as the scene was when the task began."""
        return self._described(description, many=True)

    def _described(self, description: str, many: bool) -> list[str]:
        now = self.objects_source()
        try:
            found = find_described(description, self.task_scene or now, now, many)
        except GroundingError as error:
            raise ApiError(f"{'find_all' if many else 'find'}(): {error}") from error
        return [o.name for o in found]

    @api_function("query", "get_pos(obj)", Param("obj", "str"), returns="[x, y, z]")
    def get_pos(self, obj: str) -> list[float]:
        """Centre of an object in metres (table frame: x away from the robot, y to its left)."""
        return [round(v, 4) for v in self._object(obj).position]

    @api_function("query", "get_size(obj)", Param("obj", "str"), returns="[sx, sy, sz]")
    def get_size(self, obj: str) -> list[float]:
        """Bounding-box size of an object in metres."""
        return [round(v, 4) for v in self._object(obj).size]

    @api_function("query", "get_color(obj)", Param("obj", "str"), returns="colour name")
    def get_color(self, obj: str) -> str:
        """Colour name of an object."""
        return self._object(obj).color

    @api_function("query", "get_category(obj)", Param("obj", "str"), returns="category")
    def get_category(self, obj: str) -> str:
        """Category of an object: block, bar, cylinder, bowl or zone."""
        return self._object(obj).category

    # --- places: positions [x, y] for put_first_on_second and place ---------------------------
    @api_function("place", "region_pos(region)", Param("region", "str"), returns="[x, y]")
    def region_pos(self, region: str) -> list[float]:
        """The middle of a table region: center, top/bottom left/right corner, a side."""
        try:
            return [round(v, 4) for v in geometry.region_point(geometry.normalize_region(region))]
        except ValueError as error:
            raise ApiError(f"region_pos(): {error}") from None

    def _offset(self, name: str, obj: str, distance: float, dx: float, dy: float) -> list[float]:
        if not 0.0 < distance <= 0.5:
            raise ApiError(f"{name}(): distance {distance:g} must be in (0, 0.5] metres")
        state = self._object(obj)
        x, y, _ = state.position
        distance = max(distance, state.half_extent(dx, dy) + FREE_SPOT_RADIUS)  # not on it
        return self._on_table(name, x + dx * distance, y + dy * distance)

    @staticmethod
    def _on_table(name: str, x: float, y: float) -> list[float]:
        if not geometry.in_workspace(x, y):
            (x0, x1), (y0, y1) = WORKSPACE_X, WORKSPACE_Y
            raise ApiError(
                f"{name}(): [{x:.3f}, {y:.3f}] is off the workspace (x {x0}..{x1}, "
                f"y {y0}..{y1}); choose a shorter distance or another side"
            )
        return [round(x, 4), round(y, 4)]

    left_of = _relation("left_of", (0.0, 1.0), "to the left of obj's centre (+y)")
    right_of = _relation("right_of", (0.0, -1.0), "to the right of obj's centre (-y)")
    in_front_of = _relation("in_front_of", (-1.0, 0.0), "in front of obj, towards the robot (-x)")
    behind = _relation("behind", (1.0, 0.0), "behind obj, away from the robot (+x)")

    @api_function("place", "between(a, b)", Param("a", "str"), Param("b", "str"), returns="[x, y]")
    def between(self, a: str, b: str) -> list[float]:
        """The point halfway between the centres of a and b."""
        (xa, ya, _), (xb, yb, _) = self._object(a).position, self._object(b).position
        return self._on_table("between", (xa + xb) / 2, (ya + yb) / 2)

    @api_function("place", "free_spot_near(obj)", Param("obj", "str"), returns="[x, y]")
    def free_spot_near(self, obj: str) -> list[float]:
        """The clear table point nearest obj with room for a block, clear of every object."""
        near = self._object(obj).position[:2]
        spot = geometry.free_spot(self.objects_source(), near, FREE_SPOT_RADIUS, clearance=0.02)
        if spot is None:
            raise ApiError("free_spot_near(): the table has no clear spot left")
        return list(spot)

    @api_function("query", "holding()", returns="name or None")
    def holding(self) -> str | None:
        """Name of the object in the gripper, or None."""
        return self.skills.held()

    @api_function("query", "distance(a, b)", Param("a", "str"), Param("b", "str"), returns="metres")
    def distance(self, a: str, b: str) -> float:
        """Distance between two objects' centres on the table, metres."""
        pa, pb = self._object(a).position, self._object(b).position
        return round(math.dist(pa[:2], pb[:2]), 4)

    # --- interaction -------------------------------------------------------------------------
    @api_function("interaction", "say(text)", Param("text", "str"))
    def say(self, text: str) -> None:
        """Tell the user something."""
        self.log.said.append(text)
        self.bus.publish("say", text=text)

    @api_function("interaction", "ask(question)", Param("question", "str"), returns="answer text")
    def ask(self, question: str) -> str:
        """Ask the user a question when the instruction is ambiguous; returns the answer.
        A question asked before in this task is not asked again: its answer is returned."""
        key = " ".join(question.lower().split())
        if key in self.asked:
            self.log.repeated.append((question, self.asked[key]))
            return self.asked[key]
        self.bus.publish("question", text=question)
        t0 = time.perf_counter()
        answer = self._ask(question)
        self.log.questions.append((question, answer))
        self.asked[key] = answer
        self.bus.publish("answer", text=answer, wait_s=round(time.perf_counter() - t0, 3))
        return answer

    @api_function("interaction", "done()")
    def done(self) -> None:
        """Declare the task finished."""
        self.log.ended = "done"

    @api_function("interaction", "refuse(reason)", Param("reason", "str"))
    def refuse(self, reason: str) -> None:
        """Decline an impossible instruction (say why); nothing is moved."""
        self.log.ended, self.log.reason = "refused", reason
        self.bus.publish("say", text=reason)


def function_specs() -> dict[str, FunctionSpec]:
    """Schemas of every API function, for the sandbox."""
    return {name: API.get(name).spec for name in API}


def api_listing() -> str:
    """The API as the prompt shows it: the units, then one line per function, grouped."""
    lines = [UNITS]
    for group, title in (
        ("skill", "# robot skills on objects (raise an error when they fail)"),
        ("arm", "# the arm and gripper alone: these move no object"),
        ("place", "# places: positions [x, y] to give put_first_on_second or place"),
        ("select", "# objects by description: use the name they give as an object"),
        ("query", "# scene queries"),
        ("interaction", "# talking and ending"),
    ):
        lines.append(title)
        for name in API:
            fn = API.get(name)
            if fn.group == group:
                lines.append(f"{fn.signature} -> {fn.spec.returns}  # {fn.spec.doc}")
    return "\n".join(lines)
