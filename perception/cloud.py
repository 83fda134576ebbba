"""Back-projection of depth images into table-frame points, vectorised and cached per camera.

A pixel (u, v) of depth d (metres along the optical axis) lies at
``t + d * R @ K^-1 [u, v, 1]`` in the table frame, with (R, t) the camera-to-table extrinsics
(OpenCV's convention: the centre of the top-left pixel is (0, 0)). The per-pixel rays depend
only on the calibration, so they are computed once per camera.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from skills.robot import CameraFrame

Region = tuple[tuple[float, float], tuple[float, float]]
"""An (x range, y range) rectangle of the table frame."""

_CACHE_SIZE = 8


@dataclass(frozen=True)
class Rays:
    """Per-pixel ray directions of one calibrated camera, cropped to a region of interest.

    Attributes:
        origin: camera centre (x, y, z) in the table frame.
        dirs: three contiguous (h, w) float32 arrays, the x, y and z of the ray directions,
            scaled so that point = origin + depth * direction.
        rows, cols: the slices of the full image the arrays cover.
    """

    origin: tuple[float, float, float]
    dirs: tuple[np.ndarray, np.ndarray, np.ndarray]
    rows: slice
    cols: slice


@dataclass(frozen=True)
class Cloud:
    """Table-frame coordinates of the pixels of a crop of one frame (all (h, w) float32)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    rows: slice
    cols: slice


_rays_cache: OrderedDict[bytes, Rays] = OrderedDict()


def _region_rows_cols(
    k: np.ndarray, pose: np.ndarray, shape: tuple[int, int], region: Region, heights: tuple
) -> tuple[slice, slice]:
    """The image rectangle that holds the region's box (between `heights`), clipped."""
    (x0, x1), (y0, y1) = region
    corners = np.array(
        [(x, y, z, 1.0) for x in (x0, x1) for y in (y0, y1) for z in heights], dtype=float
    )
    cam = (np.linalg.inv(pose) @ corners.T)[:3]
    h, w = shape
    if np.any(cam[2] <= 1e-6):  # some corner behind the camera: keep the whole image
        return slice(0, h), slice(0, w)
    uv = (k @ cam)[:2] / cam[2]
    u0, u1 = np.clip([np.floor(uv[0].min()), np.ceil(uv[0].max()) + 1], 0, w).astype(int)
    v0, v1 = np.clip([np.floor(uv[1].min()), np.ceil(uv[1].max()) + 1], 0, h).astype(int)
    return slice(int(v0), int(v1)), slice(int(u0), int(u1))


def rays(frame: CameraFrame, region: Region | None = None, max_height: float = 0.3) -> Rays:
    """The (cached) rays of `frame`'s camera over the crop that sees `region`."""
    k = np.asarray(frame.intrinsics, dtype=float)
    pose = np.asarray(frame.extrinsics, dtype=float)
    shape = (int(frame.depth.shape[0]), int(frame.depth.shape[1]))
    key = k.tobytes() + pose.tobytes() + repr((shape, region, max_height)).encode()
    cached = _rays_cache.get(key)
    if cached is not None:
        _rays_cache.move_to_end(key)
        return cached
    if region is None:
        rows, cols = slice(0, shape[0]), slice(0, shape[1])
    else:
        rows, cols = _region_rows_cols(k, pose, shape, region, (0.0, max_height))
    v, u = np.mgrid[rows, cols].astype(float)
    kinv = np.linalg.inv(k)
    pix = np.stack([u, v, np.ones_like(u)], axis=-1)
    cam = pix @ kinv.T
    cam /= cam[..., 2:3]  # depth is measured along the optical axis
    dirs = cam @ pose[:3, :3].T
    result = Rays(
        tuple(float(v) for v in pose[:3, 3]),
        tuple(np.ascontiguousarray(dirs[..., i], dtype=np.float32) for i in range(3)),
        rows,
        cols,
    )
    _rays_cache[key] = result
    if len(_rays_cache) > _CACHE_SIZE:
        _rays_cache.popitem(last=False)
    return result


def back_project(
    frame: CameraFrame, region: Region | None = None, max_height: float = 0.3
) -> Cloud:
    """Table-frame x, y, z of every pixel in the crop of `frame` that can see `region`."""
    r = rays(frame, region, max_height)
    depth = np.asarray(frame.depth, dtype=np.float32)[r.rows, r.cols]
    coords = []
    for direction, origin in zip(r.dirs, r.origin, strict=True):
        c = np.multiply(depth, direction)
        c += np.float32(origin)
        coords.append(c)
    return Cloud(*coords, r.rows, r.cols)


def project(frame: CameraFrame, points: np.ndarray) -> np.ndarray:
    """Pixel coordinates (u, v) of table-frame `points` (N, 3); NaN behind the camera."""
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    pose = np.asarray(frame.extrinsics, dtype=float)
    cam = (pts - pose[:3, 3]) @ pose[:3, :3]
    uv = cam @ np.asarray(frame.intrinsics, dtype=float).T
    with np.errstate(divide="ignore", invalid="ignore"):
        out = uv[:, :2] / uv[:, 2:3]
    out[cam[:, 2] <= 1e-6] = np.nan
    return out
