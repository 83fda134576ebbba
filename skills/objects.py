"""Object states and the `ObjectSource` interface skills use to find objects by name.

The simulator's ground truth is one source; perception's scene graph is another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from skills.errors import UnknownObjectError

ROUND_CATEGORIES = frozenset({"bowl", "cylinder"})


@dataclass(frozen=True)
class ObjectState:
    """Where an object is and what it looks like, in the table frame.

    Attributes:
        name: unique name in the scene, e.g. ``red block``.
        category: object type (``block``, ``bowl``, ``zone``, ``bar``, ``cylinder``).
        color: palette colour name.
        position: centre of the object's bounding box (x, y, z), metres.
        size: bounding-box extent (sx, sy, sz) in the object's own frame, metres.
        yaw: rotation about z, radians; the object's x extent lies along this angle.
        upright: whether the object's own z axis points up (within 20 degrees).
        confidence: 1.0 for ground truth, detector confidence otherwise.
    """

    name: str
    category: str
    color: str
    position: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0
    upright: bool = True
    confidence: float = 1.0

    @property
    def bottom_z(self) -> float:
        return self.position[2] - self.size[2] / 2.0

    @property
    def top_z(self) -> float:
        return self.position[2] + self.size[2] / 2.0

    def half_extent(self, ux: float, uy: float) -> float:
        """Half the object's footprint extent along the unit direction (ux, uy)."""
        if self.category in ROUND_CATEGORIES:
            return min(self.size[:2]) / 2.0
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return abs(ux * c + uy * s) * self.size[0] / 2 + abs(-ux * s + uy * c) * self.size[1] / 2

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "category": self.category,
            "color": self.color,
            "position": [round(v, 4) for v in self.position],
            "size": [round(v, 4) for v in self.size],
            "yaw": round(self.yaw, 4),
            "upright": self.upright,
            "confidence": round(self.confidence, 3),
        }


@runtime_checkable
class ObjectSource(Protocol):
    """Anything that can list the objects in the scene with their current states."""

    def objects(self) -> list[ObjectState]:
        """All objects currently known, in a stable order."""
        ...


def find_object(source: ObjectSource, name: str) -> ObjectState:
    """Look `name` up in `source`; raise `UnknownObjectError` listing the known names."""
    states = source.objects()
    for state in states:
        if state.name == name:
            return state
    raise UnknownObjectError(name, [s.name for s in states])
