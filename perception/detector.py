"""Detections and the `Detector` interface: camera frames in, table-frame objects out.

A detector turns the frames of one instant (one per camera, keyed by camera name) into
`Detection`s in the table frame (ARCHITECTURE.md: x away from the robot, y to its left,
z up, metres). Detectors register in `DETECTORS` under the name configuration uses.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from skills.errors import HeedError
from skills.registry import Registry
from skills.robot import CameraFrame, RobotState


class PerceptionError(HeedError):
    """Perception could not run: a bad frame, a missing model, an unknown detector."""


class FrameError(PerceptionError, ValueError):
    """A camera frame lacks what a detector needs (intrinsics, extrinsics, matching depth)."""


@dataclass(frozen=True)
class Detection:
    """One object seen by a detector, in the table frame.

    Attributes:
        category: ``block``, ``bar``, ``cylinder``, ``bowl`` or ``zone``.
        color: palette colour name.
        position: centre of the bounding box (x, y, z), metres.
        size: bounding-box extent (sx, sy, sz), metres; sx lies along `yaw`.
        yaw: rotation about z, radians (0 for round objects).
        confidence: in [0, 1].
        cameras: the cameras that saw the object.
        label: the source's own name for the object (segmentation labels), if it has one.
    """

    category: str
    color: str
    position: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0
    confidence: float = 1.0
    cameras: tuple[str, ...] = ()
    label: str | None = None

    @property
    def base_name(self) -> str:
        """``<colour> <category>``, the name an object gets unless the source labels it."""
        return f"{self.color} {self.category}"


@runtime_checkable
class Detector(Protocol):
    """Frames of one instant in, detections out."""

    name: str

    def detect(
        self, frames: Mapping[str, CameraFrame], robot: RobotState | None = None
    ) -> list[Detection]:
        """Detect the objects in `frames` (camera name -> frame).

        Args:
            frames: one frame per camera, all taken at the same instant.
            robot: the robot's state at that instant, when known: its gripper and what
                it holds are told apart from the objects on the table.
        """
        ...


DETECTORS: Registry[Callable[..., Detector]] = Registry("detector")
"""Detector factories by name: ``segmentation``, ``rgbd`` and, optionally, ``owlvit``."""

BUILTIN_DETECTORS = ("perception.segmentation", "perception.rgbd", "perception.owlvit")
"""Modules whose import registers the built-in detectors (imported on first use)."""


def _load_builtins() -> None:
    for module in BUILTIN_DETECTORS:
        importlib.import_module(module)


def detector_names() -> list[str]:
    """The registered detector names, built-in ones included."""
    _load_builtins()
    return DETECTORS.names()


def make_detector(name: str, **options: Any) -> Detector:
    """Build the detector registered as `name` with its options.

    Raises:
        PerceptionError: no detector of that name; the message lists the known ones.
    """
    _load_builtins()
    try:
        factory = DETECTORS.get(name)
    except KeyError as error:
        raise PerceptionError(str(error).strip("'\"")) from None
    return factory(**options)


def check_frame(name: str, frame: CameraFrame) -> None:
    """Raise `FrameError` naming the camera when `frame` cannot be back-projected."""
    fix = "give the camera's calibration in CameraFrame"
    k = frame.intrinsics
    if k is None or np.shape(k) != (3, 3):
        got = "None" if k is None else f"shape {np.shape(k)}"
        raise FrameError(
            f"camera {name!r}: intrinsics must be a 3x3 pinhole matrix K, got {got}; {fix}"
        )
    k = np.asarray(k, dtype=float)
    if not (np.all(np.isfinite(k)) and k[0, 0] > 0 and k[1, 1] > 0):
        raise FrameError(f"camera {name!r}: intrinsics need positive finite focal lengths; {fix}")
    e = frame.extrinsics
    if e is None or np.shape(e) != (4, 4) or not np.all(np.isfinite(e)):
        got = "None" if e is None else f"shape {np.shape(e)}"
        raise FrameError(
            f"camera {name!r}: extrinsics must be a finite 4x4 camera-to-table transform, "
            f"got {got}; {fix}"
        )
    rgb, depth = np.asarray(frame.rgb), np.asarray(frame.depth)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or depth.shape != rgb.shape[:2]:
        raise FrameError(
            f"camera {name!r}: need an HxWx3 RGB image and an HxW depth image of the same "
            f"size, got {rgb.shape} and {depth.shape}"
        )


def check_frames(frames: Mapping[str, CameraFrame]) -> None:
    """`check_frame` on each frame; also refuse an empty set of frames."""
    if not frames:
        raise FrameError("no camera frames given: pass at least one, e.g. {'top': frame}")
    for name, frame in frames.items():
        check_frame(name, frame)


def wrap_yaw(yaw: float, period: float = math.pi) -> float:
    """`yaw` wrapped into (-period/2, period/2]."""
    wrapped = math.remainder(yaw, period)
    return period / 2 if math.isclose(wrapped, -period / 2, abs_tol=1e-9) else wrapped
