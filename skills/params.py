"""Parameters of each skill, one dataclass per skill, with the defaults in one place.

Distances are metres, angles radians, forces newtons, speeds m/s. Corrections change
these fields ("grasp it lower" lowers `PickParams.grasp_height`); `replace` makes the copy.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, Self

from skills.errors import quote


def _check_range(owner: str, name: str, value: float, lo: float, hi: float) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{owner}.{name} = {quote(value)}: must be a number in [{lo}, {hi}]")


class SkillParams:
    """Shared behaviour of skill parameter dataclasses."""

    _ranges: ClassVar[dict[str, tuple[float, float]]] = {}

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name, (lo, hi) in self._ranges.items():
            value = getattr(self, name)
            if value is not None:
                _check_range(owner, name, value, lo, hi)

    @classmethod
    def limits(cls, name: str) -> tuple[float, float] | None:
        """The accepted (low, high) range of a numeric parameter; None when unbounded."""
        return cls._ranges.get(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def updated(self, **changes: Any) -> Self:
        """A copy with `changes`; unknown fields are refused with the known ones listed."""
        known = {f.name for f in fields(self)}  # type: ignore[arg-type]
        unknown = set(changes) - known
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no parameter {quote(sorted(unknown))}; "
                f"parameters: {', '.join(sorted(known))}"
            )
        return replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class PickParams(SkillParams):
    """How to pick an object.

    Attributes:
        grasp_height: fingertip-centre height above the object's bottom; None grasps at
            half the object's height, at most 2.5 cm up.
        approach_height: clearance above the object's top before descending.
        yaw: gripper rotation added to the grasp the object's shape suggests.
        force: gripping force per finger.
        speed: end-effector speed.
    """

    grasp_height: float | None = None
    approach_height: float = 0.08
    yaw: float = 0.0
    force: float = 20.0
    speed: float = 0.3

    _ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "grasp_height": (0.0, 0.3),
        "approach_height": (0.02, 0.3),
        "yaw": (-math.pi, math.pi),
        "force": (1.0, 140.0),
        "speed": (0.01, 0.5),
    }


@dataclass(frozen=True)
class PlaceParams(SkillParams):
    """How to put the held object down.

    Attributes:
        offset: (dx, dy) added to the target position.
        release_height: gap between the held object's bottom and the surface when released.
        speed: end-effector speed.
        turn: gripper rotation (and so the held object's) added before release, radians.
    """

    offset: tuple[float, float] = (0.0, 0.0)
    release_height: float = 0.01
    speed: float = 0.3
    turn: float = 0.0

    _ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "release_height": (0.0, 0.3),
        "speed": (0.01, 0.5),
        "turn": (-math.pi, math.pi),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.offset) != 2:
            raise ValueError(f"PlaceParams.offset = {quote(self.offset)}: must be (dx, dy)")
        for v in self.offset:
            _check_range("PlaceParams", "offset", v, -0.3, 0.3)


@dataclass(frozen=True)
class PushParams(SkillParams):
    """How to push an object along the table.

    Attributes:
        contact_height: fingertip height above the object's bottom while pushing.
        standoff: gap between the fingertips and the object before the push starts.
        speed: end-effector speed while pushing.
    """

    contact_height: float = 0.015
    standoff: float = 0.03
    speed: float = 0.1

    _ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "contact_height": (0.005, 0.1),
        "standoff": (0.01, 0.1),
        "speed": (0.01, 0.3),
    }


@dataclass(frozen=True)
class MoveParams(SkillParams):
    """Free end-effector motion (move_to, move_by, go_home).

    Attributes:
        speed: end-effector speed.
        travel_clearance: height kept above the tallest object when carrying something.
    """

    speed: float = 0.3
    travel_clearance: float = 0.05

    _ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "speed": (0.01, 0.5),
        "travel_clearance": (0.01, 0.3),
    }


# The skills whose parameters corrections and stored skill knowledge may set.
PARAM_DEFAULTS: dict[str, type[SkillParams]] = {"pick": PickParams, "place": PlaceParams}
