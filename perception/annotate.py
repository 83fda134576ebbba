"""Annotated camera images: each scene-graph object outlined and named."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from perception.cloud import project
from perception.scene_graph import SceneGraph, SceneNode
from skills.objects import ROUND_CATEGORIES
from skills.robot import CameraFrame

_GREEN = (40, 220, 40)
_GRAY = (160, 160, 160)


def box_corners(node: SceneNode) -> np.ndarray:
    """(8, 3) corners of the node's bounding box (round objects: of the inscribed prism)."""
    x, y, z = node.position
    sx, sy, sz = node.size
    if node.category in ROUND_CATEGORIES:
        r = min(sx, sy) / 2.0
        angles = np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False)
        ring = np.stack([x + r * np.cos(angles), y + r * np.sin(angles)], axis=1)
    else:
        c, s = math.cos(node.yaw), math.sin(node.yaw)
        local = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], float) * (sx / 2.0, sy / 2.0)
        ring = np.stack(
            [x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1]], axis=1
        )
    low = np.column_stack([ring, np.full(len(ring), z - sz / 2.0)])
    high = np.column_stack([ring, np.full(len(ring), z + sz / 2.0)])
    return np.vstack([low, high])


def annotate(frame: CameraFrame, nodes: Sequence[SceneNode]) -> np.ndarray:
    """The frame's image (BGR) with each node's outline and name drawn on it."""
    image = cv2.cvtColor(np.ascontiguousarray(frame.rgb), cv2.COLOR_RGB2BGR)
    for node in nodes:
        uv = project(frame, box_corners(node))
        if np.isnan(uv).any():
            continue
        hull = cv2.convexHull(np.round(uv).astype(np.int32))
        colour = _GRAY if node.hidden else _GREEN
        cv2.polylines(image, [hull], True, colour, 2, cv2.LINE_AA)
        u, v = int(uv[:, 0].min()), int(uv[:, 1].min()) - 6
        v = max(v, 14)
        label = node.name
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        cv2.rectangle(image, (u - 1, v - th - 3), (u + tw + 2, v + 3), (0, 0, 0), -1)
        cv2.putText(image, label, (u, v), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    cv2.putText(
        image, frame.camera, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA
    )
    return image


def annotate_frames(frames: Mapping[str, CameraFrame], graph: SceneGraph) -> np.ndarray:
    """Every camera's annotated image side by side (BGR), scaled to a common height."""
    images = [annotate(f, graph.nodes) for f in frames.values()]
    if not images:
        raise ValueError("annotate_frames: no frames to draw on")
    height = max(i.shape[0] for i in images)
    scaled = [
        i if i.shape[0] == height else cv2.resize(i, (i.shape[1] * height // i.shape[0], height))
        for i in images
    ]
    return np.hstack(scaled)
