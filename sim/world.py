"""The PyBullet tabletop world: one `BulletClient` per world, a table, objects, sim clock.

The table top is the plane z = 0 of the table frame; the arm's base stands on it at the
origin. Time advances only through `step`, so timeouts count simulated steps.
"""

from __future__ import annotations

import math
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

import pybullet
from pybullet_utils.bullet_client import BulletClient

from sim.cameras import DEFAULT_CAMERAS, CameraSpec, render
from sim.objects import OBJECT_TYPES, ObjectSpec
from sim.quiet import c_output_silenced
from skills.objects import ObjectState
from skills.robot import CameraFrame

RENDERERS = ("egl", "tiny")


@dataclass(frozen=True)
class WorldConfig:
    """How to run the simulator.

    Attributes:
        gui: open the PyBullet GUI instead of running headless (DIRECT).
        time_step: physics step, seconds.
        renderer: ``egl`` (OpenGL through EGL, falls back to ``tiny`` when unavailable) or
            ``tiny`` (PyBullet's CPU TinyRenderer).
        cameras: the cameras the world offers.
        solver_iterations: constraint solver iterations per step.
    """

    gui: bool = False
    time_step: float = 1.0 / 240.0
    renderer: str = "tiny"
    cameras: tuple[CameraSpec, ...] = DEFAULT_CAMERAS
    solver_iterations: int = 20

    def __post_init__(self) -> None:
        if self.renderer not in RENDERERS:
            raise ValueError(f"renderer {self.renderer!r}: choose one of {', '.join(RENDERERS)}")
        if not (1e-4 <= self.time_step <= 0.02):
            raise ValueError(f"time_step {self.time_step}: use a value in [0.0001, 0.02] s")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique, got {names}")


@dataclass
class SimObject:
    """A body in the world and the spec it was built from."""

    spec: ObjectSpec
    body: int
    initial_pose: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))


TABLE_SIZE = (1.2, 1.4, 0.05)
TABLE_CENTER_X = 0.45
TABLE_COLOR = (0.80, 0.70, 0.55, 1.0)


class TabletopWorld:
    """A table with objects in its own PyBullet connection; close it when done."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        mode = pybullet.GUI if self.config.gui else pybullet.DIRECT
        with c_output_silenced():
            self.client = BulletClient(connection_mode=mode)
            self._renderer = self._load_renderer()
        c = self.client
        c.setGravity(0, 0, -9.81)
        c.setTimeStep(self.config.time_step)
        c.setPhysicsEngineParameter(numSolverIterations=self.config.solver_iterations)
        self.table = self._build_table()
        self.objects: dict[str, SimObject] = {}
        self.steps = 0
        self._step_listeners: list[Callable[[TabletopWorld], None]] = []

    def _load_renderer(self) -> int:
        """Load the EGL plugin (before any body, as PyBullet requires) or use TinyRenderer."""
        if self.config.renderer == "egl" and not self.config.gui:
            loader = pkgutil.get_loader("eglRenderer")
            if loader is not None:
                plugin = self.client.loadPlugin(loader.get_filename(), "_eglRendererPlugin")
                if plugin >= 0:
                    return pybullet.ER_BULLET_HARDWARE_OPENGL
        return pybullet.ER_TINY_RENDERER

    def _build_table(self) -> int:
        c = self.client
        half = [s / 2.0 for s in TABLE_SIZE]
        col = c.createCollisionShape(c.GEOM_BOX, halfExtents=half)
        vis = c.createVisualShape(c.GEOM_BOX, halfExtents=half, rgbaColor=TABLE_COLOR)
        body = c.createMultiBody(0.0, col, vis, basePosition=[TABLE_CENTER_X, 0.0, -half[2]])
        c.changeDynamics(body, -1, lateralFriction=0.6, restitution=0.0)
        return body

    # --- time -------------------------------------------------------------------------
    @property
    def sim_time(self) -> float:
        return self.steps * self.config.time_step

    def step(self, n: int = 1) -> None:
        """Advance physics by `n` steps, notifying step listeners (recorders) after each."""
        for _ in range(n):
            self.client.stepSimulation()
            self.steps += 1
            for listener in self._step_listeners:
                listener(self)

    def add_step_listener(self, listener: Callable[[TabletopWorld], None]) -> None:
        self._step_listeners.append(listener)

    def remove_step_listener(self, listener: Callable[[TabletopWorld], None]) -> None:
        self._step_listeners.remove(listener)

    # --- objects ------------------------------------------------------------------------
    def add_object(self, spec: ObjectSpec, x: float, y: float, yaw: float = 0.0) -> int:
        """Build `spec` standing on the table at (x, y) rotated by `yaw`."""
        if spec.name in self.objects:
            raise ValueError(f"an object named {spec.name!r} is already in the world")
        body = OBJECT_TYPES.get(spec.type).build(self.client, spec)
        z = spec.size[2] / 2.0
        self.client.resetBasePositionAndOrientation(
            body, [x, y, z], self.client.getQuaternionFromEuler([0.0, 0.0, yaw])
        )
        self.objects[spec.name] = SimObject(spec, body, (x, y, yaw))
        return body

    def body_names(self) -> dict[int, str]:
        """Body id -> object name, for segmentation labels and contact reports."""
        return {o.body: name for name, o in self.objects.items()}

    def object_state(self, name: str) -> ObjectState:
        """Ground-truth state of one object."""
        obj = self.objects[name]
        pos, orn = self.client.getBasePositionAndOrientation(obj.body)
        rot = self.client.getMatrixFromQuaternion(orn)
        z_axis_up = rot[8]  # world z component of the body's z axis
        yaw = math.atan2(rot[3], rot[0])
        return ObjectState(
            name=name,
            category=obj.spec.type,
            color=obj.spec.color,
            position=(float(pos[0]), float(pos[1]), float(pos[2])),
            size=obj.spec.size,
            yaw=yaw,
            upright=z_axis_up >= math.cos(math.radians(20.0)),
        )

    def object_states(self) -> list[ObjectState]:
        """Ground-truth states of all objects, in insertion order."""
        return [self.object_state(name) for name in self.objects]

    def settle(self, max_steps: int = 480, speed_tol: float = 1e-3) -> int:
        """Step until every object is nearly at rest (or `max_steps`); return steps taken."""
        for i in range(max_steps):
            self.step()
            if i % 12 == 11 and self._at_rest(speed_tol):
                return i + 1
        return max_steps

    def _at_rest(self, speed_tol: float) -> bool:
        for obj in self.objects.values():
            lin, ang = self.client.getBaseVelocity(obj.body)
            if max(abs(v) for v in (*lin, *ang)) > speed_tol * 10:
                return False
        return True

    # --- cameras ------------------------------------------------------------------------
    def camera_spec(self, name: str) -> CameraSpec:
        for spec in self.config.cameras:
            if spec.name == name:
                return spec
        known = ", ".join(c.name for c in self.config.cameras)
        raise KeyError(f"unknown camera {name!r}; cameras: {known}")

    def render(self, spec: CameraSpec, segmentation: bool = True) -> CameraFrame:
        return render(
            self.client, spec, self.body_names(), self._renderer, self.sim_time, segmentation
        )

    def close(self) -> None:
        if self.client.isConnected():
            with c_output_silenced():  # the EGL plugin says goodbye on stdout
                self.client.disconnect()

    def __enter__(self) -> TabletopWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
