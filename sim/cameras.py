"""Simulated pinhole cameras: RGB, metric depth, segmentation, intrinsics and extrinsics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pybullet_utils.bullet_client import BulletClient

from skills.robot import CameraFrame


@dataclass(frozen=True)
class CameraSpec:
    """Where a camera sits and what it sees.

    Attributes:
        name: camera name used by `Robot.camera`.
        eye: camera position in the table frame.
        target: point the optical axis passes through.
        up: world direction that appears up in the image.
        fov_deg: vertical field of view, degrees.
        width, height: image size in pixels.
        near, far: clipping planes, metres.
    """

    name: str
    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float]
    fov_deg: float = 45.0
    width: int = 640
    height: int = 480
    near: float = 0.05
    far: float = 3.0

    def resized(self, width: int, height: int) -> CameraSpec:
        """The same camera with another image size (field of view kept)."""
        return CameraSpec(
            self.name,
            self.eye,
            self.target,
            self.up,
            self.fov_deg,
            width,
            height,
            self.near,
            self.far,
        )

    def intrinsics(self) -> np.ndarray:
        """3x3 pinhole matrix with square pixels (OpenCV convention: pixel centres at integer
        coordinates). The principal point is where PyBullet's renderer puts it, measured
        by back-projecting rendered depth: (W/2, H/2 - 1), not the geometric centre."""
        f = self.height / (2.0 * math.tan(math.radians(self.fov_deg) / 2.0))
        cx, cy = self.width / 2.0, self.height / 2.0 - 1.0
        return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])

    def extrinsics(self) -> np.ndarray:
        """4x4 camera-to-world transform in OpenCV axes (x right, y down, z forward)."""
        eye = np.asarray(self.eye, dtype=float)
        forward = np.asarray(self.target, dtype=float) - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, np.asarray(self.up, dtype=float))
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        pose = np.eye(4)
        pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
        return pose


# Top-down camera above the workspace centre, image up = far edge (+x).
TOP = CameraSpec(
    "top", eye=(0.5, 0.0, 1.0), target=(0.5, 0.0, 0.0), up=(1.0, 0.0, 0.0), fov_deg=45.0
)
# Front oblique camera beyond the far edge, looking back at the robot and the table.
FRONT = CameraSpec(
    "front", eye=(1.15, 0.0, 0.55), target=(0.45, 0.0, 0.0), up=(0.0, 0.0, 1.0), fov_deg=50.0
)
DEFAULT_CAMERAS: tuple[CameraSpec, ...] = (TOP, FRONT)


def render(
    client: BulletClient,
    spec: CameraSpec,
    labels: dict[int, str],
    renderer: int,
    stamp: float = 0.0,
    segmentation: bool = True,
) -> CameraFrame:
    """Render one frame from `spec`; `labels` maps body ids to object names.

    Without `segmentation` (video recording) the mask is skipped, which renders faster.
    """
    view = client.computeViewMatrix(spec.eye, spec.target, spec.up)
    aspect = spec.width / spec.height
    proj = client.computeProjectionMatrixFOV(spec.fov_deg, aspect, spec.near, spec.far)
    _, _, rgba, depth_buf, seg = client.getCameraImage(
        spec.width,
        spec.height,
        view,
        proj,
        renderer=renderer,
        flags=0 if segmentation else client.ER_NO_SEGMENTATION_MASK,
    )
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(spec.height, spec.width, 4)[:, :, :3]
    z_buf = np.asarray(depth_buf, dtype=np.float32).reshape(spec.height, spec.width)
    depth = spec.far * spec.near / (spec.far - (spec.far - spec.near) * z_buf)
    seg_arr = (
        np.asarray(seg, dtype=np.int32).reshape(spec.height, spec.width) if segmentation else None
    )
    return CameraFrame(
        rgb=np.ascontiguousarray(rgb),
        depth=depth.astype(np.float32),
        intrinsics=spec.intrinsics(),
        extrinsics=spec.extrinsics(),
        segmentation=seg_arr,
        labels=dict(labels),
        camera=spec.name,
        stamp=stamp,
    )
