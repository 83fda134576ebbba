"""Optional open-vocabulary detector: OWL-ViT boxes from text queries, measured from depth.

OWL-ViT (through `transformers`) finds "a red block", "a blue bowl", ... in one camera's
image; the raised depth pixels inside each box are back-projected and measured like the
RGB-D detector's clusters. The model loads from a local directory only (never a hub), and
nothing imports `transformers` until a detector is built, so it is needed neither by
default nor by the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perception.cloud import Region, back_project
from perception.colors import ColorNamer
from perception.detector import DETECTORS, Detection, PerceptionError, check_frames
from perception.estimate import Blob, ShapeRules, estimate
from perception.segmentation import default_region
from skills.robot import CameraFrame, RobotState

CATEGORIES = ("block", "bar", "cylinder", "bowl")


@dataclass
class OwlVitDetector:
    """Open-vocabulary boxes from OWL-ViT, 3-D extent from depth.

    Attributes:
        model_dir: local folder of a saved OWL-ViT model and processor
            (``save_pretrained`` output, e.g. of ``google/owlvit-base-patch32``).
        camera: the camera whose image is searched.
        score_threshold: smallest box score kept.
        min_height: depth pixels inside a box higher than this above the table are the
            object's.
        region: (x range, y range) of the table searched for objects.
        rules: shape thresholds shared with the other detectors.
    """

    model_dir: str | Path
    camera: str = "top"
    score_threshold: float = 0.15
    min_height: float = 0.005
    region: Region = field(default_factory=default_region)
    rules: ShapeRules = field(default_factory=ShapeRules)
    name: str = "owlvit"

    def __post_init__(self) -> None:
        path = Path(self.model_dir)
        if not (path / "config.json").is_file():
            raise PerceptionError(
                f"no OWL-ViT model in {path}: save one there with save_pretrained (the "
                "detector never downloads), or use the segmentation or rgbd detector"
            )
        try:
            import torch
            from transformers import OwlViTForObjectDetection, OwlViTProcessor
        except ImportError as error:
            raise PerceptionError(
                f"the owlvit detector needs torch and transformers ({error}); install "
                "heedbot with its [hf] extra"
            ) from None
        self._torch = torch
        self._processor = OwlViTProcessor.from_pretrained(path, local_files_only=True)
        self._model = OwlViTForObjectDetection.from_pretrained(path, local_files_only=True)
        self._model.eval()
        self._namer = ColorNamer()
        self._queries = [(c, k) for c in self._namer.names for k in CATEGORIES]

    def _boxes(self, rgb: np.ndarray) -> list[tuple[float, int, np.ndarray]]:
        """(score, query index, box x0 y0 x1 y1 in pixels) of each kept box."""
        texts = [[f"a photo of a {c} {k}" for c, k in self._queries]]
        inputs = self._processor(text=texts, images=rgb, return_tensors="pt")
        with self._torch.no_grad():
            outputs = self._model(**inputs)
        target = self._torch.tensor([rgb.shape[:2]])
        result: Any = self._processor.post_process_object_detection(
            outputs, threshold=self.score_threshold, target_sizes=target
        )[0]
        return [
            (float(s), int(q), b.numpy())
            for s, q, b in zip(result["scores"], result["labels"], result["boxes"], strict=True)
        ]

    def detect(
        self, frames: Mapping[str, CameraFrame], robot: RobotState | None = None
    ) -> list[Detection]:
        """Detections in the chosen camera's image (see `Detector.detect`)."""
        check_frames(frames)
        if self.camera not in frames:
            raise PerceptionError(
                f"the owlvit detector reads camera {self.camera!r}, not among the frames "
                f"({', '.join(frames)})"
            )
        frame = frames[self.camera]
        cloud = back_project(frame)
        raised = cloud.z > self.min_height
        blobs = []
        colours = list(self._namer.names)
        taken = np.zeros_like(raised)
        for _score, query, box in sorted(self._boxes(np.asarray(frame.rgb)), reverse=True):
            x0, y0, x1, y1 = (round(float(v)) for v in box)
            inside = np.zeros_like(raised)
            inside[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
            pick = inside & raised & ~taken
            if pick.sum() < self.rules.min_points:
                continue
            taken |= pick
            points = np.stack([cloud.x[pick], cloud.y[pick], cloud.z[pick]], axis=1)
            votes = np.zeros(len(colours), dtype=np.int64)
            votes[colours.index(self._queries[query][0])] = len(points)
            blobs.append(Blob(points, votes, (self.camera,)))
        return estimate(blobs, colours, self.rules, robot)


DETECTORS.add("owlvit", OwlVitDetector)
