"""The object library: each type registers its default size, mass, friction and builder.

Bodies are built from primitive collision shapes, so nothing is downloaded and a
bowl is really concave (a base plate and a ring of wall segments).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from pybullet_utils.bullet_client import BulletClient

from skills.palette import rgba
from skills.registry import Registry


@dataclass(frozen=True)
class ObjectSpec:
    """One object to put in the world: type, colour and physical properties.

    Attributes:
        name: unique name in the scene.
        type: registered object type.
        color: palette colour.
        size: bounding-box extent (sx, sy, sz), metres.
        mass: kilograms; 0 makes the object static (zones).
        friction: lateral friction coefficient.
    """

    name: str
    type: str
    color: str
    size: tuple[float, float, float]
    mass: float
    friction: float

    def __post_init__(self) -> None:
        for label, value in (("mass", self.mass), ("friction", self.friction)):
            if not (0.0 <= value <= 100.0):
                raise ValueError(f"object {self.name!r}: {label} {value} is outside [0, 100]")
        if len(self.size) != 3 or not all(0.001 <= s <= 0.5 for s in self.size):
            raise ValueError(
                f"object {self.name!r}: size {list(self.size)} must be three extents "
                "between 0.001 and 0.5 m"
            )


Builder = Callable[[BulletClient, ObjectSpec], int]


@dataclass(frozen=True)
class ObjectType:
    """A registered object type: defaults and the function that builds its body."""

    name: str
    size: tuple[float, float, float]
    mass: float
    friction: float
    build: Builder
    graspable: bool = True
    container: bool = False

    def spec(
        self,
        name: str,
        color: str,
        size: tuple[float, float, float] | None = None,
        mass: float | None = None,
        friction: float | None = None,
    ) -> ObjectSpec:
        """An `ObjectSpec` of this type with the given overrides."""
        rgba(color)  # validates the colour name
        base = ObjectSpec(name, self.name, color, self.size, self.mass, self.friction)
        overrides = {
            k: v
            for k, v in (("size", size), ("mass", mass), ("friction", friction))
            if v is not None
        }
        if "size" in overrides:
            overrides["size"] = tuple(float(v) for v in overrides["size"])
        return replace(base, **overrides)


OBJECT_TYPES: Registry[ObjectType] = Registry("object type")


def _finish(client: BulletClient, body: int, spec: ObjectSpec) -> int:
    client.changeDynamics(
        body,
        -1,
        lateralFriction=spec.friction,
        spinningFriction=0.001,
        rollingFriction=0.0001,
        restitution=0.0,
        activationState=client.ACTIVATION_STATE_ENABLE_SLEEPING,
    )
    return body


def _build_box(client: BulletClient, spec: ObjectSpec) -> int:
    half = [s / 2.0 for s in spec.size]
    col = client.createCollisionShape(client.GEOM_BOX, halfExtents=half)
    vis = client.createVisualShape(client.GEOM_BOX, halfExtents=half, rgbaColor=rgba(spec.color))
    body = client.createMultiBody(spec.mass, col, vis, basePosition=[0, 0, half[2]])
    return _finish(client, body, spec)


def _build_cylinder(client: BulletClient, spec: ObjectSpec) -> int:
    radius = min(spec.size[0], spec.size[1]) / 2.0
    height = spec.size[2]
    col = client.createCollisionShape(client.GEOM_CYLINDER, radius=radius, height=height)
    vis = client.createVisualShape(
        client.GEOM_CYLINDER, radius=radius, length=height, rgbaColor=rgba(spec.color)
    )
    body = client.createMultiBody(spec.mass, col, vis, basePosition=[0, 0, height / 2.0])
    return _finish(client, body, spec)


BOWL_WALL = 0.008
BOWL_BASE = 0.008
WALL_LIFT = 0.001
BOWL_SEGMENTS = 12  # PyBullet visual shape arrays crash beyond 16 parts


def _build_bowl(client: BulletClient, spec: ObjectSpec) -> int:
    """A concave bowl: one rigid body whose compound shape is a base plate and a wall ring."""
    radius = min(spec.size[0], spec.size[1]) / 2.0
    half_h = spec.size[2] / 2.0
    seg_len = 2.0 * radius * math.tan(math.pi / BOWL_SEGMENTS) + 0.002
    halves = [[radius * 0.75, radius * 0.75, BOWL_BASE / 2.0]]
    positions = [[0.0, 0.0, -half_h + BOWL_BASE / 2.0]]
    orientations = [[0.0, 0.0, 0.0, 1.0]]
    for i in range(BOWL_SEGMENTS):
        angle = 2.0 * math.pi * i / BOWL_SEGMENTS
        r = radius - BOWL_WALL / 2.0
        # walls stop 1 mm above the table: only the base plate touches it (4 contacts, not 52)
        halves.append([BOWL_WALL / 2.0, seg_len / 2.0, half_h - WALL_LIFT / 2.0])
        positions.append([r * math.cos(angle), r * math.sin(angle), WALL_LIFT / 2.0])
        orientations.append(list(client.getQuaternionFromEuler([0.0, 0.0, angle])))
    n = len(halves)
    col = client.createCollisionShapeArray(
        [client.GEOM_BOX] * n,
        halfExtents=halves,
        collisionFramePositions=positions,
        collisionFrameOrientations=orientations,
    )
    vis = client.createVisualShapeArray(
        [client.GEOM_BOX] * n,
        halfExtents=halves,
        rgbaColors=[rgba(spec.color)] * n,
        fileNames=[""] * n,
        meshScales=[[1.0, 1.0, 1.0]] * n,  # omitting these segfaults
        visualFramePositions=positions,
        visualFrameOrientations=orientations,
    )
    body = client.createMultiBody(spec.mass, col, vis, basePosition=[0, 0, half_h])
    return _finish(client, body, spec)


ZONE_THICKNESS = 0.002


def _build_zone(client: BulletClient, spec: ObjectSpec) -> int:
    half = [spec.size[0] / 2.0, spec.size[1] / 2.0, ZONE_THICKNESS / 2.0]
    col = client.createCollisionShape(client.GEOM_BOX, halfExtents=half)
    vis = client.createVisualShape(client.GEOM_BOX, halfExtents=half, rgbaColor=rgba(spec.color))
    body = client.createMultiBody(0.0, col, vis, basePosition=[0, 0, half[2]])
    return _finish(client, body, spec)


OBJECT_TYPES.add("block", ObjectType("block", (0.04, 0.04, 0.04), 0.08, 0.8, _build_box))
OBJECT_TYPES.add("bar", ObjectType("bar", (0.12, 0.03, 0.03), 0.10, 0.8, _build_box))
OBJECT_TYPES.add(
    "cylinder", ObjectType("cylinder", (0.055, 0.055, 0.09), 0.15, 0.8, _build_cylinder)
)
OBJECT_TYPES.add(
    "bowl",
    ObjectType("bowl", (0.17, 0.17, 0.05), 0.4, 0.8, _build_bowl, graspable=False, container=True),
)
OBJECT_TYPES.add(
    "zone",
    ObjectType(
        "zone",
        (0.12, 0.12, ZONE_THICKNESS),
        0.0,
        0.8,
        _build_zone,
        graspable=False,
        container=True,
    ),
)
