"""Keeps object names stable across frames, also while the gripper carries an object.

Each update matches the new detections to the tracked objects: same colour and category
(or the same source label), nearest to where the object is expected, within a gate. An
object the robot holds is expected where the gripper took it: its offset from the end
effector is fixed at the grasp, so its name follows it even when the hand hides it. Objects
no camera sees are kept for a few updates (the arm may hide them), held ones for as long as
they are held.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from perception.detector import Detection
from perception.scene_graph import SceneNode
from skills.robot import RobotState


@dataclass(frozen=True)
class TrackerConfig:
    """Tracking thresholds (metres).

    Attributes:
        gate: largest distance between where an object was and a detection of it.
        held_gate: the same for the held object, around where the gripper carries it.
        grasp_radius: at a grasp, the held object is the one nearest the end effector
            within this (horizontal) distance.
        max_missing: updates an unseen object is kept before it is dropped.
    """

    gate: float = 0.08
    held_gate: float = 0.10
    grasp_radius: float = 0.06
    max_missing: int = 3

    def __post_init__(self) -> None:
        for label in ("gate", "held_gate", "grasp_radius"):
            if getattr(self, label) <= 0:
                raise ValueError(f"tracker: {label} must be positive (metres)")
        if self.max_missing < 0:
            raise ValueError("tracker: max_missing must be 0 or more updates")


@dataclass
class _Track:
    node: SceneNode
    label: str | None
    missing: int = 0


@dataclass(frozen=True)
class _Grasp:
    name: str
    offset: tuple[float, float, float]
    yaw: float  # end-effector yaw at the grasp
    released: bool = False  # let go since the last update: expected under the gripper


def _xy(p: Sequence[float]) -> tuple[float, float]:
    return (float(p[0]), float(p[1]))


class Tracker:
    """Names detections consistently from one update to the next."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: dict[str, _Track] = {}
        self._grasp: _Grasp | None = None

    @property
    def held(self) -> str | None:
        """The name of the object tracked as held, if any."""
        return self._grasp.name if self._grasp else None

    def reset(self) -> None:
        """Forget every object."""
        self._tracks.clear()
        self._grasp = None

    def update(
        self, detections: Sequence[Detection], robot: RobotState | None = None
    ) -> list[SceneNode]:
        """Match `detections` to the tracked objects and return every object, by name."""
        self._update_grasp(robot)
        expected = {name: self._expected(name, robot) for name in self._tracks}
        pairs = []
        for name, track in self._tracks.items():
            held = self._grasp is not None and self._grasp.name == name  # or just released
            gate = self.config.held_gate if held else self.config.gate
            for j, det in enumerate(detections):
                if not self._compatible(track, det):
                    continue
                d = math.dist(_xy(expected[name]), _xy(det.position))
                if track.label is not None and track.label == det.label:
                    d = -1.0  # the source's own label decides
                elif d > gate:
                    continue
                elif track.node.category != det.category and not held:
                    d += gate  # a partial view (gripper, occlusion): only if nothing fits better
                pairs.append((d, name, j))
        pairs.sort()
        used_tracks: set[str] = set()
        used_dets: set[int] = set()
        for _, name, j in pairs:
            if name in used_tracks or j in used_dets:
                continue
            used_tracks.add(name)
            used_dets.add(j)
            self._refresh(name, detections[j], robot)
        for name in list(self._tracks):
            if name not in used_tracks:
                self._miss(name, expected[name])
        fresh = sorted(
            (d for j, d in enumerate(detections) if j not in used_dets),
            key=lambda d: (d.position[0], d.position[1]),
        )
        for det in fresh:
            name = self._new_name(det)
            self._tracks[name] = _Track(_node(name, det), det.label)
        if self._grasp is not None and self._grasp.released:
            self._grasp = None
        return [self._tracks[n].node for n in sorted(self._tracks)]

    # --- internals -----------------------------------------------------------------------
    def _compatible(self, track: _Track, det: Detection) -> bool:
        if track.label is not None and det.label is not None:
            return track.label == det.label
        return track.node.color == det.color

    def _update_grasp(self, robot: RobotState | None) -> None:
        if robot is None or robot.holding is None:
            # Just let go: for one more update the object is looked for under the gripper,
            # since nobody may have looked while it was carried.
            held = self._grasp is not None and not self._grasp.released and robot is not None
            self._grasp = replace(self._grasp, released=True) if held else None
            return
        if self._grasp is not None and self._grasp.name in self._tracks:
            return
        ee = robot.ee_pose.position
        near = [
            (math.dist(_xy(t.node.position), _xy(ee)), name)
            for name, t in self._tracks.items()
            if t.node.category not in ("zone", "bowl")
        ]
        near = [(d, name) for d, name in near if d <= self.config.grasp_radius]
        if not near:
            self._grasp = None
            return
        name = min(near)[1]
        pos = self._tracks[name].node.position
        offset = (pos[0] - ee[0], pos[1] - ee[1], pos[2] - ee[2])
        self._grasp = _Grasp(name, offset, robot.ee_pose.yaw)

    def _expected(self, name: str, robot: RobotState | None) -> tuple[float, float, float]:
        node = self._tracks[name].node
        if self._grasp is None or self._grasp.name != name or robot is None:
            return node.position
        ee = robot.ee_pose.position
        off = self._grasp.offset
        if self._grasp.released:  # on its support now, below where the gripper let go
            return (ee[0] + off[0], ee[1] + off[1], node.position[2])
        return (ee[0] + off[0], ee[1] + off[1], ee[2] + off[2])

    def _refresh(self, name: str, det: Detection, robot: RobotState | None) -> None:
        track = self._tracks[name]
        track.missing = 0
        grasp = self._grasp
        old = track.node
        position, yaw = old.position, old.yaw
        if grasp is not None and grasp.name == name and not grasp.released and robot is not None:
            # The hand hides part of a held object: it moves rigidly with the gripper.
            position = self._expected(name, robot)
            yaw = old.yaw + math.remainder(robot.ee_pose.yaw - grasp.yaw, math.tau)
            self._grasp = replace(grasp, yaw=robot.ee_pose.yaw)
        elif old.category == det.category or det.label is not None:
            track.node = _node(name, det)
            return
        # Otherwise seen only in part (fingers around it): keep what is known of it.
        track.node = replace(
            old,
            position=position,
            yaw=math.remainder(yaw, math.tau),
            cameras=det.cameras,
            hidden=False,
        )

    def _miss(self, name: str, expected: tuple[float, float, float]) -> None:
        track = self._tracks[name]
        if self._grasp is not None and self._grasp.name == name and not self._grasp.released:
            track.node = replace(track.node, position=expected, cameras=(), hidden=True)
            return
        track.missing += 1
        if track.missing > self.config.max_missing:
            del self._tracks[name]
        else:
            track.node = replace(track.node, cameras=(), hidden=True)

    def _new_name(self, det: Detection) -> str:
        if det.label is not None and det.label not in self._tracks:
            return det.label
        base = det.label or det.base_name
        if base not in self._tracks:
            return base
        n = 2
        while f"{base} {n}" in self._tracks:
            n += 1
        return f"{base} {n}"


def _node(name: str, det: Detection) -> SceneNode:
    return SceneNode(
        name=name,
        category=det.category,
        color=det.color,
        position=tuple(float(v) for v in det.position),
        size=tuple(float(v) for v in det.size),
        yaw=float(det.yaw),
        confidence=float(det.confidence),
        cameras=det.cameras,
    )
