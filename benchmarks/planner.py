"""Planner overhead per step, excluding model time, and the sandbox's own costs.

Overhead is what the loop adds around the model and the skills: building the context
(scene text, history), parsing the reply, checking the program and handing it to a worker
that was started ahead of time. It is measured on real tasks through `ReActLoop` with
the ground-truth object source (so camera rendering, which is perception's cost, stays
out), once with the embedded backend and once with an LLM prompt path whose model is a
stub that replays a fixed reply instantly. The sandbox's worker start-up and the
worker -> parent -> worker round trip of one skill call are reported beside it.

Run: ``python -m benchmarks.planner [--episodes N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.common import (
    Column,
    Verdict,
    console,
    finish,
    now,
    progress,
    table,
    verdict_table,
)
from perception.scene_graph import scene_changes, scene_text
from planner.api import SkillApi
from planner.backend import PlannerBackend
from planner.chat import ChatPlanner
from planner.events import EventBus
from planner.factory import make_backend
from planner.llm import StubChatModel
from planner.loop import LoopConfig, ReActLoop
from planner.sandbox.timing import measure
from sim.env import TabletopEnv
from sim.suite import load_suite
from skills.primitives import Skills

TARGET_MS = 5.0
STUB_REPLY = (
    "Thought: put each block where it belongs.\n```python\n"
    "for name in objects(category='block'):\n"
    "    x, y, z = get_pos(name)\n"
    "    say(f'{name} at {x:.2f}, {y:.2f}')\n"
    "done()\n```"
)


def overhead_per_step(backend: PlannerBackend, suite_path: Path, episodes: int) -> list[float]:
    """Per-step loop overhead (seconds) over the first `episodes` episodes of the suite."""
    samples: list[float] = []
    suite = load_suite(suite_path)
    chosen = [e for e in suite.episodes if e.expect == "success"][:episodes]
    with progress() as bar:
        task = bar.add_task(f"{backend.name} overhead", total=len(chosen))
        for episode in chosen:
            with TabletopEnv.from_episode(episode) as env:
                bus = EventBus()
                skills = Skills(env.robot, env)
                api = SkillApi(skills, env, bus, lambda q: "I don't know")
                with api.sandbox() as executor:
                    executor.warm()
                    loop = ReActLoop(
                        backend,
                        api,
                        executor,
                        scene_text,
                        scene_changes,
                        LoopConfig(max_steps=episode.max_steps),
                    )
                    samples += loop.run(episode.instruction).overhead_s
            bar.advance(task)
    return samples


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Planner overhead per step (excluding model time) and sandbox costs.",
        epilog="Example: python -m benchmarks.planner --episodes 10 --json /tmp/planner.json",
    )
    parser.add_argument(
        "--suite",
        type=Path,
        default=Path("suites/tabletop.yaml"),
        help="suite whose episodes are run (default: %(default)s)",
    )
    parser.add_argument(
        "--episodes", type=int, default=12, help="episodes per backend (default: %(default)s)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=20,
        help="repeats of each sandbox measurement (default: %(default)s)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("benchmarks/results/planner.json"),
        help="where to write the results (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    started = now()
    out = console()

    sandbox = measure(args.repeats)
    backends: list[PlannerBackend] = [
        make_backend("embedded"),
        ChatPlanner(StubChatModel([STUB_REPLY] * 10_000, name="stub (LLM prompt path)")),
    ]
    rows, results, verdicts = [], {}, []
    for backend in backends:
        samples = overhead_per_step(backend, args.suite, args.episodes)
        stats = {
            "steps": len(samples),
            "median_ms": round(1000 * statistics.median(samples), 3),
            "p95_ms": round(_ms(samples, 0.95), 3),
            "max_ms": round(1000 * max(samples), 3),
        }
        results[backend.name] = stats
        rows.append(
            [
                backend.name,
                str(stats["steps"]),
                f"{stats['median_ms']:.2f}",
                f"{stats['p95_ms']:.2f}",
                f"{stats['max_ms']:.2f}",
            ]
        )
        verdicts.append(
            Verdict(
                f"planner overhead per step <= {TARGET_MS:.0f} ms ({backend.name}, median)",
                f"{stats['median_ms']:.2f} ms (p95 {stats['p95_ms']:.2f} ms)",
                stats["median_ms"] <= TARGET_MS,
            )
        )
    out.print(
        table(
            "Planner overhead per step, model time excluded",
            [
                Column("backend", False),
                Column("steps"),
                Column("median ms"),
                Column("p95 ms"),
                Column("max ms"),
            ],
            rows,
        )
    )
    out.print(
        table(
            "Sandbox (medians)",
            [Column("measure", False), Column("ms")],
            [
                [
                    "worker start-up (started ahead, hidden from steps)",
                    f"{1000 * sandbox.startup_s:.1f}",
                ],
                ["check a 20-line program", f"{1000 * sandbox.check_s:.3f}"],
                ["hand a program to a warm worker and back", f"{1000 * sandbox.handoff_s:.3f}"],
                [
                    "skill call round trip worker -> parent -> worker",
                    f"{1000 * sandbox.call_round_trip_s:.3f}",
                ],
                ["typical program end to end", f"{1000 * sandbox.typical_program_wall_s:.3f}"],
            ],
        )
    )
    out.print(
        "confinement layers: "
        + ", ".join(f"{k}={'on' if v else 'off'}" for k, v in sandbox.layers.items())
    )
    out.print(verdict_table(verdicts))
    body = {"overhead": results, "sandbox": sandbox.to_dict()}
    return finish(out, args.json, "planner", started, body, verdicts)


if __name__ == "__main__":
    raise SystemExit(main())
