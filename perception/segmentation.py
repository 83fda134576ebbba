"""The segmentation detector: objects from a source's instance masks, measured from depth.

Where the source gives a segmentation mask (the simulator; a depth camera with an instance
segmenter), each labelled instance's pixels of every camera are back-projected and measured
by `perception.estimate`, exactly like the RGB-D detector's clusters. It is the accuracy
reference for the RGB-D detector: same measurement, perfect grouping. Detections carry the
source's label as their name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from perception.cloud import Region, back_project
from perception.colors import ColorNamer
from perception.detector import DETECTORS, Detection, FrameError, check_frames
from perception.estimate import Blob, ShapeRules, estimate
from skills.frames import WORKSPACE_X, WORKSPACE_Y
from skills.robot import CameraFrame, RobotState

REGION_MARGIN = 0.10


def default_region() -> Region:
    """The workspace grown by `REGION_MARGIN` on every side: where objects are looked for."""
    return (
        (WORKSPACE_X[0] - REGION_MARGIN, WORKSPACE_X[1] + REGION_MARGIN),
        (WORKSPACE_Y[0] - REGION_MARGIN, WORKSPACE_Y[1] + REGION_MARGIN),
    )


def pixel_pad(frame: CameraFrame, depth: np.ndarray) -> float:
    """How much a hull of pixel samples undersizes an outline: about one pixel's footprint."""
    k = np.asarray(frame.intrinsics, dtype=float)
    return float(np.median(depth)) / float(k[0, 0]) if depth.size else 0.0


def split_by(ids: np.ndarray, count: int) -> list[np.ndarray]:
    """Positions of each id 0..count-1 in `ids` (one array per id, in order)."""
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(count + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(count)]


@dataclass
class SegmentationDetector:
    """Objects from the frames' segmentation masks and labels.

    Attributes:
        region: (x range, y range) of the table searched for objects.
        rules: shape thresholds shared with the RGB-D detector.
        pad_pixels: outline padding in pixel footprints (hull-of-samples correction).
    """

    region: Region = field(default_factory=default_region)
    rules: ShapeRules = field(default_factory=ShapeRules)
    pad_pixels: float = 0.0
    name: str = "segmentation"

    def __post_init__(self) -> None:
        self._namer = ColorNamer()

    def detect(
        self, frames: Mapping[str, CameraFrame], robot: RobotState | None = None
    ) -> list[Detection]:
        """Detections of every labelled object the frames show (see `Detector.detect`)."""
        check_frames(frames)
        names: list[str] = sorted({n for f in frames.values() for n in f.labels.values()})
        index = {n: i for i, n in enumerate(names)}
        parts: list[list[tuple[str, np.ndarray, np.ndarray, float]]] = [[] for _ in names]
        for cam, frame in frames.items():
            if frame.segmentation is None:
                raise FrameError(
                    f"camera {cam!r} gives no segmentation mask: use the rgbd detector "
                    "for sources without one"
                )
            cloud = back_project(frame, self.region)
            seg = np.asarray(frame.segmentation)[cloud.rows, cloud.cols].ravel()
            ids = {i: index[n] for i, n in frame.labels.items()}
            if not ids:
                continue
            lut = np.full(max(ids) + 2, -1, dtype=np.int32)
            for body, k in ids.items():
                lut[body + 1] = k
            obj = lut[np.clip(seg + 1, 0, len(lut) - 1)]
            pick = np.flatnonzero(obj >= 0)
            if not len(pick):
                continue
            xyz = np.stack([c.ravel()[pick] for c in (cloud.x, cloud.y, cloud.z)], axis=1)
            (x0, x1), (y0, y1) = self.region
            inside = (xyz[:, 0] >= x0) & (xyz[:, 0] <= x1) & (xyz[:, 1] >= y0) & (xyz[:, 1] <= y1)
            pick, xyz = pick[inside], xyz[inside]
            rgb = np.asarray(frame.rgb)[cloud.rows, cloud.cols].reshape(-1, 3)[pick]
            classes = self._namer.classify(rgb)
            depth = np.asarray(frame.depth)[cloud.rows, cloud.cols].ravel()[pick]
            for k, where in enumerate(split_by(obj[pick], len(names))):
                if len(where):
                    pad = pixel_pad(frame, depth[where]) * self.pad_pixels
                    parts[k].append((cam, xyz[where], classes[where], pad))
        blobs = []
        for name, seen in zip(names, parts, strict=True):
            if not seen:
                continue
            points = np.concatenate([p for _, p, _, _ in seen])
            votes = np.bincount(
                np.concatenate([c for _, _, c, _ in seen]), minlength=len(self._namer.names)
            )
            flat = float(np.percentile(points[:, 2], 98)) < self.rules.flat_height
            blobs.append(
                Blob(
                    points,
                    votes,
                    tuple(c for c, _, _, _ in seen),
                    flat=flat,
                    label=name,
                    pad=min(p for _, _, _, p in seen),
                )
            )
        return estimate(blobs, self._namer.names, self.rules, robot)


DETECTORS.add("segmentation", SegmentationDetector)
