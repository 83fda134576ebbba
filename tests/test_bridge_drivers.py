"""Bridge drivers: loading by name, option parsing, and test drivers served in subprocesses.

`SlowRobot` is a ``--robot test_bridge_drivers:SlowRobot`` driver for the server tests: a
`FakeRobot` whose motions (and, with ``-o camera_ms=N``, camera frames) take wall-clock
time, and whose motions stop when `stop()` is called from another thread, as the driver
interface asks of hardware.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes import FakeRobot

from bridge.drivers import DRIVERS, EpisodeHost, load_driver, parse_options
from bridge.errors import BridgeConfigError
from skills.robot import CameraFrame, MotionResult, Pose, RobotState

TICK_S = 0.005


class SlowRobot(FakeRobot):
    """A `FakeRobot` that moves in real time (straight line) and can be stopped mid-motion."""

    def __init__(self, **options: str) -> None:
        super().__init__()
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._tick: Callable[[], None] | None = None
        self.options = options

    def set_tick_callback(self, callback: Callable[[], None]) -> None:
        self._tick = callback

    def clock(self) -> float:
        return time.monotonic() - self._t0

    def state(self) -> RobotState:
        self.now = self.clock()
        return super().state()

    def move_ee(self, pose: Pose, speed: float) -> MotionResult:
        start, begin = self.ee_pose, self.clock()
        distance = math.dist(start.position, pose.position)
        duration = max(distance / speed, TICK_S)
        self._stop.clear()
        while True:
            s = min(1.0, (self.clock() - begin) / duration)
            position = tuple(
                a + s * (b - a) for a, b in zip(start.position, pose.position, strict=True)
            )
            self.ee_pose = Pose(position, pose.orientation)
            if self._tick is not None:
                self._tick()
            if s >= 1.0 or self._stop.wait(TICK_S):
                break
        stopped = self._stop.is_set() and s < 1.0
        error = math.dist(self.ee_pose.position, pose.position)
        return MotionResult(
            not stopped, pose, self.ee_pose, error, self.clock() - begin, stopped=stopped
        )

    def camera(self, name: str) -> CameraFrame:
        """A frame that takes option ``camera_ms`` (default 0) to grab, as a real camera's does;
        with option ``hold=PATH``, not before file PATH exists (a test decides when)."""
        time.sleep(float(self.options.get("camera_ms", 0)) / 1000)
        hold = self.options.get("hold")
        while hold is not None and not Path(hold).exists():
            time.sleep(TICK_S)
        return super().camera(name)

    def stop(self) -> None:
        self._stop.set()


def test_sim_is_registered_and_module_class_loads() -> None:
    assert "sim" in DRIVERS
    robot = load_driver("test_bridge_drivers:SlowRobot", {"port": "x"})
    assert isinstance(robot, SlowRobot) and robot.options == {"port": "x"}
    assert not isinstance(robot, EpisodeHost)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nosuch", "unknown robot 'nosuch': use one of sim, or module:Class"),
        ("no_module_here:X", "cannot import no_module_here"),
        ("fakes:Nope", "fakes has no class 'Nope'"),
        ("fakes:panda_like_spec", "is not a Robot: it lacks spec, state"),
        (":X", "write a driver as module:Class"),
    ],
)
def test_load_driver_errors_say_what_to_fix(name: str, message: str) -> None:
    with pytest.raises(BridgeConfigError, match=message.replace("(", r"\(")):
        load_driver(name)


def test_driver_options_are_checked() -> None:
    assert parse_options(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(BridgeConfigError, match="write key=value"):
        parse_options(["novalue"])
    with pytest.raises(BridgeConfigError, match="given twice"):
        parse_options(["a=1", "a=2"])
    with pytest.raises(BridgeConfigError, match="does not take these options"):
        load_driver("fakes:FakeRobot", {"bogus": "1"})


def test_slow_robot_stops_from_another_thread() -> None:
    robot = SlowRobot()
    threading.Timer(0.1, robot.stop).start()
    t0 = time.monotonic()
    result = robot.move_ee(Pose.top_down(0.5, 0.2, 0.3), 0.05)
    assert result.stopped and not result.reached
    assert time.monotonic() - t0 < 1.0
