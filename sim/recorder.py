"""Records `episode.mp4` from a chosen camera at a chosen simulated-time rate."""

from __future__ import annotations

from pathlib import Path

import cv2

from sim.world import TabletopWorld


class VideoRecorder:
    """Grabs a frame every 1/`fps` simulated seconds while attached to a world.

    Frames are written as they come (nothing buffered), so a long episode costs no memory.
    """

    def __init__(
        self,
        world: TabletopWorld,
        path: str | Path,
        camera: str = "front",
        fps: float = 10.0,
        width: int = 320,
        height: int = 240,
    ) -> None:
        if not (0.5 <= fps <= 60.0):
            raise ValueError(f"video rate {fps} Hz: choose a rate in [0.5, 60]")
        self.world = world
        self.path = Path(path)
        self.spec = world.camera_spec(camera).resized(width, height)
        self.fps = fps
        self.frames = 0
        self._next_t = world.sim_time
        self._writer: cv2.VideoWriter | None = None

    def start(self) -> VideoRecorder:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
        self._writer = cv2.VideoWriter(
            str(self.path), fourcc, self.fps, (self.spec.width, self.spec.height)
        )
        if not self._writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {self.path}: check the folder is writable")
        self._next_t = self.world.sim_time
        self.world.add_step_listener(self._on_step)
        self.capture()
        return self

    def _on_step(self, world: TabletopWorld) -> None:
        if world.sim_time + 1e-9 >= self._next_t:
            self.capture()

    def capture(self) -> None:
        """Write one frame now."""
        if self._writer is None:
            return
        frame = self.world.render(self.spec, segmentation=False)
        self._writer.write(cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1
        self._next_t = self.world.sim_time + 1.0 / self.fps

    def stop(self) -> int:
        """Detach, finish the file and return the number of frames written."""
        if self._writer is not None:
            self.world.remove_step_listener(self._on_step)
            self._writer.release()
            self._writer = None
        return self.frames

    def __enter__(self) -> VideoRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
