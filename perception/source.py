"""Perception as an `ObjectSource`: the robot's cameras, a detector and a tracker.

`make_object_source` builds the source configuration names: ``ground_truth`` (the
simulator's own states), ``segmentation`` (the default in simulation) or ``rgbd``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from perception.detector import Detection, Detector, PerceptionError, make_detector
from perception.scene_graph import SceneGraph
from perception.tracking import Tracker
from skills.objects import ObjectSource, ObjectState
from skills.registry import Registry
from skills.robot import CameraFrame, Robot

DEFAULT_OBJECT_SOURCE = "segmentation"
"""The object source of simulated runs unless configuration says otherwise."""


@dataclass(frozen=True)
class Perception:
    """One perception cycle: the frames, the detections and the graph, with timings."""

    frames: dict[str, CameraFrame]
    detections: list[Detection]
    graph: SceneGraph
    capture_s: float
    detect_s: float


class PerceptionSource:
    """An `ObjectSource` that looks through the robot's cameras.

    The scene is perceived again whenever the robot clock has moved since the last look
    (each skill asks for objects several times per motion; one look serves them all).

    Attributes:
        last: the latest perception cycle, or None before the first.
    """

    def __init__(
        self,
        robot: Robot,
        detector: Detector,
        cameras: Sequence[str] | None = None,
        tracker: Tracker | None = None,
    ) -> None:
        self.robot = robot
        self.detector = detector
        offered = tuple(robot.spec().cameras)
        self.cameras = tuple(cameras) if cameras is not None else offered
        missing = [c for c in self.cameras if c not in offered]
        if not self.cameras or missing:
            raise PerceptionError(
                f"cameras {list(missing or self.cameras)} are not offered by the robot "
                f"(it has {list(offered) or 'none'}); choose from those"
            )
        self.tracker = tracker or Tracker()
        self.last: Perception | None = None
        self._clock: float | None = None

    def perceive(self) -> Perception:
        """Read every camera, detect, track; return (and keep) the cycle."""
        t0 = time.perf_counter()
        frames = {name: self.robot.camera(name) for name in self.cameras}
        state = self.robot.state()
        t1 = time.perf_counter()
        detections = self.detector.detect(frames, state)
        nodes = self.tracker.update(detections, state)
        t2 = time.perf_counter()
        stamp = max((f.stamp for f in frames.values()), default=state.stamp)
        graph = SceneGraph.build(nodes, stamp=stamp, source=self.detector.name)
        self.last = Perception(frames, detections, graph, t1 - t0, t2 - t1)
        self._clock = self.robot.clock()
        return self.last

    def scene_graph(self) -> SceneGraph:
        """The current scene graph, perceived anew if the robot clock moved."""
        if self.last is None or self._clock != self.robot.clock():
            return self.perceive().graph
        return self.last.graph

    def objects(self) -> list[ObjectState]:
        return self.scene_graph().objects()


class Scene(Protocol):
    """What `make_object_source` needs: a robot and the ground-truth objects (`TabletopEnv`)."""

    robot: Robot

    def objects(self) -> list[ObjectState]: ...


OBJECT_SOURCES: Registry[Callable[[Scene], ObjectSource]] = Registry("object source")
"""Object-source factories by configuration name."""


@OBJECT_SOURCES.register("ground_truth")
def _ground_truth(scene: Scene) -> ObjectSource:
    return scene


@OBJECT_SOURCES.register("segmentation")
def _segmentation(scene: Scene) -> ObjectSource:
    return PerceptionSource(scene.robot, make_detector("segmentation"))


@OBJECT_SOURCES.register("rgbd")
def _rgbd(scene: Scene) -> ObjectSource:
    return PerceptionSource(scene.robot, make_detector("rgbd"))


def make_object_source(kind: str, scene: Scene) -> ObjectSource:
    """The object source called `kind` over `scene` (a `TabletopEnv` or alike).

    Raises:
        PerceptionError: unknown kind; the message lists the known ones.
    """
    try:
        factory = OBJECT_SOURCES.get(kind)
    except KeyError as error:
        raise PerceptionError(str(error).strip("'\"")) from None
    return factory(scene)


def scene_graph(source: ObjectSource, source_name: str = "") -> SceneGraph:
    """The scene graph of any object source (perception's own, or one built from states)."""
    if isinstance(source, PerceptionSource):
        return source.scene_graph()
    return SceneGraph.build(source.objects(), source=source_name)
