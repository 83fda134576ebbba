"""The RGB-D detector: objects from colour and depth alone, with OpenCV and NumPy.

Per camera: back-project depth into the table frame (intrinsics and extrinsics); drop what
lies outside the search region, the robot's own gripper and arm (from its state), and the
table plane; keep raised pixels (higher than `min_height`) and, on the plane, pixels whose
colour differs from the table's (zones are 2 mm thin). Each pixel gets a palette colour.
Then, for all cameras together, the points of each colour are rasterised on a table-frame
grid and split into connected components: one object each, its points gathered from every
camera that saw it (so one camera fills in what the arm or another object hides from the
other). `perception.estimate` measures each object.

No simulator knowledge is used: no masks, no labels, no object list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from perception.cloud import Region, back_project
from perception.colors import ColorNamer
from perception.detector import DETECTORS, Detection, check_frames
from perception.estimate import Blob, ShapeRules, estimate
from perception.segmentation import default_region, split_by
from skills.frames import TABLE_Z
from skills.robot import CameraFrame, RobotState


@dataclass(frozen=True)
class RobotFilter:
    """The robot's own volume, relative to its end effector, removed from the points.

    Attributes:
        half_along: half the hand's extent across its fingers' closing direction, m.
        half_across: half the hand's extent along the closing direction (open fingers), m.
        below: how far the fingertips reach below the end-effector point, m.
        arm_above: points this far above the end effector near it are the wrist and arm.
        arm_radius: horizontal reach of that wrist-and-arm test, m.
    """

    half_along: float = 0.06
    half_across: float = 0.115
    below: float = 0.007
    arm_above: float = 0.11
    arm_radius: float = 0.30

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, robot: RobotState) -> np.ndarray:
        """True where a point belongs to the robot."""
        ex, ey, ez = robot.ee_pose.position
        c, s = math.cos(robot.ee_pose.yaw), math.sin(robot.ee_pose.yaw)
        dx, dy = x - np.float32(ex), y - np.float32(ey)
        along = dx * np.float32(c) + dy * np.float32(s)
        across = dy * np.float32(c) - dx * np.float32(s)
        hand = (
            (np.abs(along) <= self.half_along)
            & (np.abs(across) <= self.half_across)
            & (z >= ez - self.below)
        )
        arm = (z >= ez + self.arm_above) & (dx * dx + dy * dy <= self.arm_radius**2)
        return hand | arm


@dataclass
class RgbdDetector:
    """Objects from RGB and depth frames, without masks or labels.

    Attributes:
        region: (x range, y range) of the table searched for objects.
        min_height: points higher than this above the table are raised (objects).
        max_height: points higher than this are the arm (or out of reach), ignored.
        zone_contrast: a point on the table plane whose colour differs from the table's
            by more than this in some channel (0..255) counts as a zone.
        cell: grid cell of the table-frame clustering, m.
        close_cells: closing kernel of that grid, cells: it joins the sparse samples of an
            oblique camera (about 3-4 mm apart on the table for the front camera).
        rules: shape thresholds shared with the segmentation detector.
        robot_filter: the robot's own volume, removed when the robot state is given.
    """

    region: Region = field(default_factory=default_region)
    min_height: float = 0.005
    max_height: float = 0.25
    zone_contrast: int = 30
    cell: float = 0.002
    close_cells: int = 5
    rules: ShapeRules = field(default_factory=ShapeRules)
    robot_filter: RobotFilter = field(default_factory=RobotFilter)
    name: str = "rgbd"

    def __post_init__(self) -> None:
        if not (0.0 < self.min_height < self.max_height):
            raise ValueError(
                f"rgbd detector: need 0 < min_height < max_height, got "
                f"{self.min_height} and {self.max_height}"
            )
        if not (0.0005 <= self.cell <= 0.01):
            raise ValueError(f"rgbd detector: cell {self.cell} m: use 0.0005 to 0.01 m")
        self._namer = ColorNamer()

    def detect(
        self, frames: Mapping[str, CameraFrame], robot: RobotState | None = None
    ) -> list[Detection]:
        """Detections of the objects the frames show (see `Detector.detect`)."""
        check_frames(frames)
        cams = list(frames)
        per_cam = [self._points(frames[c], robot) for c in cams]
        xyz = np.concatenate([p[0] for p in per_cam])
        layer = np.concatenate([p[1] for p in per_cam])
        cam_id = np.concatenate(
            [np.full(len(p[1]), i, dtype=np.int8) for i, p in enumerate(per_cam)]
        )
        blobs = self._cluster(xyz, layer, cam_id, cams)
        return estimate(blobs, self._namer.names, self.rules, robot)

    def _points(
        self, frame: CameraFrame, robot: RobotState | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate points of one frame and their layer (colour, or colour + n if flat)."""
        cloud = back_project(frame, self.region, self.max_height)
        x, y, z = cloud.x, cloud.y, cloud.z
        (x0, x1), (y0, y1) = self.region
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        height = z - np.float32(TABLE_Z) if TABLE_Z else z
        raised = inside & (height > self.min_height) & (height < self.max_height)
        plane = inside & (np.abs(height) <= self.min_height)
        rgb = np.asarray(frame.rgb)[cloud.rows, cloud.cols]
        idx_r = np.flatnonzero(raised)
        idx_f = np.flatnonzero(self._zone_pixels(rgb, plane, raised))
        idx = np.concatenate([idx_r, idx_f])
        xyz = np.stack([x.ravel()[idx], y.ravel()[idx], z.ravel()[idx]], axis=1)
        n = len(self._namer.names)
        layer = self._namer.classify(rgb.reshape(-1, 3)[idx]).astype(np.int16)
        layer[len(idx_r) :] += n
        if robot is not None:
            keep = ~self.robot_filter.mask(xyz[:, 0], xyz[:, 1], xyz[:, 2], robot)
            xyz, layer = xyz[keep], layer[keep]
        return xyz, layer

    def _zone_pixels(self, rgb: np.ndarray, plane: np.ndarray, raised: np.ndarray) -> np.ndarray:
        """Table-plane pixels whose colour is not the table's, away from raised objects."""
        sample = rgb[::4, ::4][plane[::4, ::4]]
        if len(sample) < 50:
            return np.zeros_like(plane)
        table = np.median(sample, axis=0)
        tol = self.zone_contrast
        like_table = cv2.inRange(rgb, np.clip(table - tol, 0, 255), np.clip(table + tol, 0, 255))
        near_raised = cv2.dilate(raised.view(np.uint8), np.ones((7, 7), np.uint8))
        return plane & ((like_table | near_raised) == 0)

    def _cluster(
        self, xyz: np.ndarray, layer: np.ndarray, cam_id: np.ndarray, cams: list[str]
    ) -> list[Blob]:
        """One blob per connected component of each layer's table-frame occupancy grid."""
        n = len(self._namer.names)
        if not len(xyz):
            return []
        (x0, _), (y0, _) = self.region
        ix = ((xyz[:, 0] - x0) / self.cell).astype(np.int32)
        iy = ((xyz[:, 1] - y0) / self.cell).astype(np.int32)
        comp = np.full(len(xyz), -1, dtype=np.int32)
        n_comp = 0
        kernel = np.ones((self.close_cells, self.close_cells), np.uint8)
        present = np.flatnonzero(np.bincount(layer, minlength=2 * n))
        for where in _groups(layer, present):
            gx, gy = ix[where], iy[where]
            pad = self.close_cells
            ox, oy = gx.min() - pad, gy.min() - pad
            grid = np.zeros((gy.max() - oy + pad + 1, gx.max() - ox + pad + 1), np.uint8)
            grid[gy - oy, gx - ox] = 1
            grid = cv2.morphologyEx(grid, cv2.MORPH_CLOSE, kernel)  # bridge sparse samples
            count, labels = cv2.connectedComponents(grid, connectivity=8)
            comp[where] = labels[gy - oy, gx - ox] - 1 + n_comp
            n_comp += count - 1
        blobs = []
        for members in split_by(comp, n_comp):
            if len(members) < self.rules.min_points:
                continue
            k = int(layer[members[0]])
            votes = np.zeros(n, dtype=np.int64)
            votes[k % n] = len(members)
            seen = tuple(cams[i] for i in np.unique(cam_id[members]))
            blobs.append(Blob(xyz[members], votes, seen, flat=k >= n))
        return blobs


def _groups(layer: np.ndarray, present: np.ndarray) -> list[np.ndarray]:
    """Positions of each present layer value in `layer`."""
    order = np.argsort(layer, kind="stable")
    sorted_layer = layer[order]
    starts = np.searchsorted(sorted_layer, present, side="left")
    ends = np.searchsorted(sorted_layer, present, side="right")
    return [order[s:e] for s, e in zip(starts, ends, strict=True)]


DETECTORS.add("rgbd", RgbdDetector)
