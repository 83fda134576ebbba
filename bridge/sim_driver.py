"""The reference driver: the PyBullet tabletop simulator as a `Robot` and an `EpisodeHost`.

It starts with an empty table; ``episode.reset`` builds a suite episode's scene exactly
as `sim.env.TabletopEnv.from_episode` does locally, so the same suite gives the same
results through the bridge.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bridge.errors import EpisodeRefused
from perception.predicates import PredicateError, parse_predicate
from sim.env import TabletopEnv
from sim.panda import SimRobot
from sim.suite import Episode, SuiteError, parse_suite
from sim.world import TabletopWorld, WorldConfig
from skills.objects import ObjectState
from skills.robot import CameraFrame, GripperResult, MotionResult, Pose, RobotSpec, RobotState


class SimDriver:
    """A `TabletopEnv` behind the bridge; episode set-up replaces the whole world."""

    def __init__(self, renderer: str = "tiny") -> None:
        self._config = WorldConfig(renderer=renderer)
        self._env = TabletopEnv([], 0, self._config)
        self._episode: Episode | None = None
        self._tick: Callable[[], None] | None = None
        self._swap = threading.Lock()  # guards `_env` against a stop() from another thread
        self._watch(self._env)

    @property
    def robot(self) -> SimRobot:
        return self._env.robot

    # --- Robot -----------------------------------------------------------------------------
    def spec(self) -> RobotSpec:
        return self.robot.spec()

    def state(self) -> RobotState:
        return self.robot.state()

    def clock(self) -> float:
        return self.robot.clock()

    def inverse_kinematics(self, pose: Pose) -> tuple[float, ...]:
        return self.robot.inverse_kinematics(pose)

    def move_ee(self, pose: Pose, speed: float) -> MotionResult:
        return self.robot.move_ee(pose, speed)

    def open_gripper(self, width: float | None = None) -> GripperResult:
        return self.robot.open_gripper(width)

    def close_gripper(self, force: float) -> GripperResult:
        return self.robot.close_gripper(force)

    def camera(self, name: str) -> CameraFrame:
        return self.robot.camera(name)

    def stop(self) -> None:
        with self._swap:
            self._env.robot.stop()

    # --- bridge hooks ----------------------------------------------------------------------
    def set_tick_callback(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every physics step (the bridge throttles it)."""
        self._tick = callback

    def _watch(self, env: TabletopEnv) -> None:
        def listener(_: TabletopWorld) -> None:
            if self._tick is not None:
                self._tick()

        env.world.add_step_listener(listener)

    # --- EpisodeHost -----------------------------------------------------------------------
    def reset_episode(self, episode: Mapping[str, Any]) -> None:
        """Build the scene of `episode` (its YAML form) and drop the previous world."""
        try:
            parsed = parse_suite({"name": "bridge", "episodes": [dict(episode)]}, "episode")
        except SuiteError as err:
            raise EpisodeRefused(str(err)) from None
        new = TabletopEnv.from_episode(parsed.episodes[0], self._config)
        self._watch(new)
        with self._swap:
            old, self._env = self._env, new
        self._episode = parsed.episodes[0]
        old.close()

    def objects(self) -> list[ObjectState]:
        return self._env.objects()

    def check(self, predicates: Sequence[object] | None) -> list[tuple[bool, str]]:
        if self._episode is None:
            raise EpisodeRefused("no episode is set up: send episode.reset first")
        if predicates is None:
            parsed = list(self._episode.success)
        else:
            types = {o.name: o.type for o in self._episode.objects}
            try:
                parsed = [parse_predicate(raw, types) for raw in predicates]
            except PredicateError as err:
                raise EpisodeRefused(str(err)) from None
        return [(r.ok, r.detail) for r in self._env.check(parsed)]

    def close(self) -> None:
        self._env.close()
