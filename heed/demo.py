"""`heed sim demo`: a scripted pick-and-place in the simulator, written to a run folder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from heed.runs import RunFolder
from sim.env import TabletopEnv
from sim.recorder import VideoRecorder
from sim.suite import Episode, Suite, load_suite
from sim.world import WorldConfig
from skills.primitives import SkillResult, Skills

DEMO_SUITE = "demo.yaml"
DEMO_EPISODE = "sort-and-stack"
# The oracle for the demo episode: (object to move, where it goes).
DEMO_STEPS = (("red block", "blue bowl"), ("green block", "yellow block"))


@dataclass
class DemoOptions:
    """Settings of a demo run.

    Attributes:
        seed: layout seed (objects without fixed poses are placed from it).
        gui: show the PyBullet GUI.
        video: record ``episode.mp4`` into the run folder.
        camera: camera to record from.
        fps: video frames per simulated second.
        runs_dir: where run folders are made.
    """

    seed: int = 0
    gui: bool = False
    video: bool = True
    camera: str = "front"
    fps: float = 10.0
    runs_dir: Path = Path("runs")


@dataclass
class DemoReport:
    """What the demo did, for the terminal and for ``--json``."""

    run_dir: str
    success: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    predicates: list[dict[str, Any]] = field(default_factory=list)
    sim_s: float = 0.0
    wall_s: float = 0.0
    video: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def packaged_suite(filename: str) -> Suite:
    """A suite shipped in the package's data folder."""
    path = resources.files("heed") / "data" / filename
    with resources.as_file(path) as file:
        return load_suite(file)


def demo_episode(seed: int) -> Episode:
    """The packaged demo episode, re-seeded."""
    return replace(packaged_suite(DEMO_SUITE).episode(DEMO_EPISODE), seed=seed)


def run_demo(options: DemoOptions, on_step: Any = None) -> DemoReport:
    """Run the demo episode with its oracle; `on_step(result)` sees each finished skill."""
    episode = demo_episode(options.seed)
    run = RunFolder.create("sim-demo", options.runs_dir)
    config = WorldConfig(gui=options.gui)
    run.write_json(
        "config.json",
        {
            "episode": episode.to_dict(),
            "world": {
                "gui": config.gui,
                "renderer": config.renderer,
                "time_step": config.time_step,
            },
            "video": options.video,
            "camera": options.camera,
            "fps": options.fps,
        },
    )
    t0 = time.perf_counter()
    with TabletopEnv.from_episode(episode, config) as env, run.trace() as trace:
        skills = Skills(env.robot, env)
        skills.listeners.append(
            lambda event, payload: trace.write(event, t_sim=round(env.world.sim_time, 4), **payload)
        )
        run.write_json("scene_initial.json", [o.to_dict() for o in env.objects()])
        recorder = None
        if options.video:
            recorder = VideoRecorder(
                env.world, run.file("episode.mp4"), options.camera, options.fps
            )
            recorder.start()
        sim0 = env.world.sim_time
        results: list[SkillResult] = []
        try:
            for obj, target in DEMO_STEPS:
                result = skills.put_first_on_second(obj, target)
                results.append(result)
                if on_step is not None:
                    on_step(result)
                if not result.success:
                    break
            skills.go_home()
        finally:
            if recorder is not None:
                recorder.stop()
        checks = env.check(episode.success)
        report = DemoReport(
            run_dir=str(run.path),
            success=all(c.ok for c in checks),
            steps=[r.to_dict() for r in results],
            predicates=[
                {"predicate": p.to_raw(), "ok": c.ok, "detail": c.detail}
                for p, c in zip(episode.success, checks, strict=True)
            ],
            sim_s=round(env.world.sim_time - sim0, 3),
            wall_s=round(time.perf_counter() - t0, 3),
            video=str(run.file("episode.mp4")) if recorder is not None else None,
        )
        trace.write("done", success=report.success, predicates=report.predicates)
        run.write_json("scene_final.json", [o.to_dict() for o in env.objects()])
    run.write_json("result.json", report.to_dict())
    return report
