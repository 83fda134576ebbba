"""The robots a bridge serves: registered drivers (``sim``) and any ``module:Class``.

The driver interface
--------------------
A driver is any class implementing `skills.robot.Robot` (``spec``, ``state``, ``clock``,
``inverse_kinematics``, ``move_ee``, ``open_gripper``, ``close_gripper``, ``camera``,
``stop``), built with keyword options (``--option key=value``, values as text). The
bridge promises, and the driver keeps:

- Every method except ``stop`` is called under one lock, never concurrently (from the
  bridge's robot thread; quick reads such as ``state`` also from its server loop when
  the robot is idle). ``move_ee`` and the gripper commands block until the motion ends.
- ``stop()`` may be called from another thread at any time, above all while ``move_ee``
  blocks (the watchdog and a client's stop use it). It must make a running motion end
  promptly with ``MotionResult(stopped=True)``, hold the arm where it is, and leave the
  gripper as it is (never open it). It must not fail when nothing moves.
- Commands arrive already checked by the safety envelope (`skills.safety.SafeRobot`);
  a driver still refuses what its hardware cannot do with a `skills.errors.RobotError`.
- Optional ``set_tick_callback(callback)``: call ``callback()`` often (every control
  tick) from inside blocking commands, on the robot thread; the bridge publishes the
  state stream from it during motions.
- Optional episode hosting, for simulators only (`EpisodeHost`): ``reset_episode``,
  ``objects``, ``check``. A driver without them refuses episode commands.
- Optional ``close()``, called once when the server stops.

The simulator (`bridge.sim_driver.SimDriver`, registered as ``sim``) is the reference
driver.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from bridge.errors import BridgeConfigError
from skills.objects import ObjectState
from skills.registry import Registry
from skills.robot import Robot

DRIVERS: Registry[Callable[..., Robot]] = Registry("bridge driver")


@runtime_checkable
class EpisodeHost(Protocol):
    """A simulator that sets up suite episodes and checks their success predicates."""

    def reset_episode(self, episode: Mapping[str, Any]) -> None:
        """Build the scene of an episode given in its YAML form (`Episode.to_dict()`)."""
        ...

    def objects(self) -> list[ObjectState]:
        """Ground-truth states of the scene's objects."""
        ...

    def check(self, predicates: Sequence[object] | None) -> list[tuple[bool, str]]:
        """(holds, why) per predicate (YAML form); None checks the episode's own success."""
        ...


@DRIVERS.register("sim")
def sim(**options: str) -> Robot:
    """The PyBullet tabletop simulator (options: ``renderer=tiny|egl``)."""
    from bridge.sim_driver import SimDriver

    return SimDriver(**options)


def _import(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise BridgeConfigError(f"robot {target!r}: write a driver as module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise BridgeConfigError(f"robot {target!r}: cannot import {module_name}: {err}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise BridgeConfigError(f"robot {target!r}: {module_name} has no class {attr!r}")
    return factory


def load_driver(name: str, options: Mapping[str, str] | None = None) -> Robot:
    """Build the robot named `name` (a registered driver or ``module:Class``).

    Raises:
        BridgeConfigError: unknown name, import failure, bad options, or not a `Robot`.
    """
    if name in DRIVERS:
        factory = DRIVERS.get(name)
    elif ":" in name:
        factory = _import(name)
    else:
        known = ", ".join(DRIVERS.names())
        raise BridgeConfigError(f"unknown robot {name!r}: use one of {known}, or module:Class")
    try:
        robot = factory(**dict(options or {}))
    except TypeError as err:
        raise BridgeConfigError(f"robot {name!r} does not take these options: {err}") from None
    missing = [m for m in _ROBOT_METHODS if not callable(getattr(robot, m, None))]
    if missing:
        raise BridgeConfigError(f"robot {name!r} is not a Robot: it lacks {', '.join(missing)}")
    return robot


_ROBOT_METHODS = (
    "spec",
    "state",
    "clock",
    "inverse_kinematics",
    "move_ee",
    "open_gripper",
    "close_gripper",
    "camera",
    "stop",
)


def parse_options(items: Sequence[str]) -> dict[str, str]:
    """``["key=value", ...]`` as a dict; a malformed or repeated item is an error."""
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise BridgeConfigError(f"driver option {item!r}: write key=value")
        if key in options:
            raise BridgeConfigError(f"driver option {key!r} given twice")
        options[key] = value
    return options
