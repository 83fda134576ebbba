"""Pick-and-place benchmark of the skill primitives in the PyBullet tabletop world.

What a trial is: a fresh `TabletopEnv` holding the object under test (``red <type>``)
and a ``blue bowl``, both laid out at random from the trial's seed (seeds 0..N-1, the
same for every variant); then ``Skills.pick(object)`` and ``Skills.place("blue bowl")``
with default parameters unless the variant says otherwise.

What counts as success: both skills report success, and at the end the predicates
``in: [object, blue bowl]`` and ``holding: nothing`` hold (`perception.predicates`).

Place target: every tested object goes into the bowl. The bowl (15 cm across, 13.4 cm
inside its walls) takes the 12 cm bar lying flat and the 9 cm cylinder standing (`in`
tests the object's centre and bottom, not its top), so no variant needs a free table
position.

Variants: the three default objects (block, bar, cylinder), each also heavy and slippery
(mass 0.5 kg, or 1.2 kg for the cylinder; friction 0.3), which the default grip force
(20 N per finger) may not hold, and the heavy cylinder again with the corrected grip
force of 60 N.

Speed: wall seconds are those of pick + place only (building the world is its own
column); simulated seconds are the world clock's advance; the real-time factor (RTF) is
total simulated over total wall seconds. Floors measured in the same run put it in
context: bare PyBullet stepping a Panda scene, the heedbot world stepping idle, and the
camera renderer alone.

Targets: >= 98 % success on the default rows; RTF >= 20 without a camera; RTF >= 2 with
the recorder on (10 Hz, 320x240, front camera).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a file (`python benchmarks/skills.py`), this folder would come first on the path
# and shadow the `skills` package with this very module; the repository root goes first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pybullet_data
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from benchmarks.common import (
    Column,
    Stopwatch,
    Verdict,
    console,
    finish,
    now,
    progress,
    table,
    verdict_table,
)
from perception.predicates import Predicate, parse_predicate
from sim.env import TabletopEnv
from sim.layout import Placement
from sim.objects import OBJECT_TYPES, ObjectSpec
from sim.quiet import c_output_silenced
from sim.recorder import VideoRecorder
from sim.world import WorldConfig
from skills.errors import HeedError
from skills.params import PickParams, PlaceParams
from skills.primitives import SkillResult, Skills

BOWL = "blue bowl"
SUCCESS_TARGET = 0.98
RTF_TARGET = 20.0
RECORDER_RTF_TARGET = 2.0
VIDEO = {"camera": "front", "fps": 10.0, "width": 320, "height": 240}
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "skills.json"
WARM_UP_FRAMES = 2
BUSY_RATIO = 1.15  # wall / CPU seconds above this: the timing shared the cores
QUICK = {"trials": 5, "video_trials": 2, "render_frames": 20}


# --- what is measured --------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One row of the benchmark: an object, its physics and the pick parameters.

    Attributes:
        key: short name for ``--variant``.
        label: name in the table.
        object_type: registered object type.
        mass: kilograms; None keeps the type's default.
        friction: lateral friction; None keeps the type's default.
        pick: `PickParams` overrides, as (field, value) pairs.
        place: `PlaceParams` overrides, as (field, value) pairs.
        default: default object and parameters, so the success target applies.
    """

    key: str
    label: str
    object_type: str
    mass: float | None = None
    friction: float | None = None
    pick: tuple[tuple[str, float], ...] = ()
    place: tuple[tuple[str, float], ...] = ()
    default: bool = False

    @property
    def object_name(self) -> str:
        return f"red {self.object_type}"

    def spec(self) -> ObjectSpec:
        return OBJECT_TYPES.get(self.object_type).spec(
            self.object_name, "red", mass=self.mass, friction=self.friction
        )

    def placements(self) -> list[Placement]:
        bowl = OBJECT_TYPES.get("bowl").spec(BOWL, "blue")
        return [Placement(self.spec()), Placement(bowl)]

    def pick_params(self) -> PickParams:
        return PickParams().updated(**dict(self.pick))

    def place_params(self) -> PlaceParams:
        return PlaceParams().updated(**dict(self.place))

    def to_dict(self) -> dict[str, Any]:
        spec = self.spec()
        return {
            "key": self.key,
            "label": self.label,
            "object": {"type": spec.type, "mass": spec.mass, "friction": spec.friction},
            "pick": self.pick_params().to_dict(),
            "place": self.place_params().to_dict(),
            "default": self.default,
        }


HEAVY_FRICTION = 0.3  # "slippery": the grip holds mass * g only up to 2 x force x friction
VARIANTS: tuple[Variant, ...] = (
    Variant("block", "block", "block", default=True),
    Variant("bar", "bar", "bar", default=True),
    Variant("cylinder", "cylinder", "cylinder", default=True),
    Variant("block-heavy", "block heavy/slippery", "block", mass=0.5, friction=HEAVY_FRICTION),
    Variant("bar-heavy", "bar heavy/slippery", "bar", mass=0.5, friction=HEAVY_FRICTION),
    Variant(
        "cylinder-heavy", "cylinder heavy/slippery", "cylinder", mass=1.2, friction=HEAVY_FRICTION
    ),
    Variant(
        "cylinder-heavy-60n",
        "cylinder heavy/slippery, force 60 N (corrected)",
        "cylinder",
        mass=1.2,
        friction=HEAVY_FRICTION,
        pick=(("force", 60.0),),
    ),
    Variant("bar-steel", "steel bar (0.7 kg, slippery)", "bar", mass=0.7, friction=HEAVY_FRICTION),
    Variant(
        "bar-steel-slow",
        "steel bar, speed 0.075 m/s (corrected)",
        "bar",
        mass=0.7,
        friction=HEAVY_FRICTION,
        pick=(("speed", 0.075),),
        place=(("speed", 0.075),),
    ),
)
# (defaults row, corrected row, what the correction changed): each perturbation must make
# the defaults fail in >= PERTURBATION_TARGET of the seeds and the correction succeed as often
PERTURBATIONS = (
    ("cylinder-heavy", "cylinder-heavy-60n", "heavy cylinder: grip 60 N instead of 20 N"),
    ("bar-steel", "bar-steel-slow", "steel bar: move at 0.075 m/s instead of 0.3"),
)
PERTURBATION_TARGET = 0.9
VARIANT_KEYS = {v.key: v for v in VARIANTS}


@dataclass
class Trial:
    """One seeded pick-and-place.

    Attributes:
        seed: layout seed.
        success: both skills succeeded and the success predicates hold.
        reason: why it failed (``pick: ...``, ``place: ...``, ``check: ...``), or None.
        sim_s: simulated seconds of pick + place.
        wall_s: wall seconds of pick + place.
        cpu_s: CPU seconds of this process during pick + place.
        construct_s: wall seconds to build and settle the world.
        start: the object's state after settling; bowl: the bowl's.
        end: the object's state at the end.
        frames: video frames written, when recorded.
    """

    seed: int
    success: bool
    reason: str | None
    sim_s: float
    wall_s: float
    cpu_s: float
    construct_s: float
    start: dict[str, Any]
    bowl: dict[str, Any]
    end: dict[str, Any]
    frames: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("sim_s", "wall_s", "cpu_s", "construct_s"):
            out[key] = round(out[key], 4)
        return out


def real_time_factor(trials: Sequence[Trial], clock: str = "wall_s") -> float:
    """Total simulated seconds over total `clock` seconds (``wall_s`` or ``cpu_s``)."""
    spent = sum(getattr(t, clock) for t in trials)
    return sum(t.sim_s for t in trials) / spent if spent > 0 else 0.0


def reason_kind(reason: str) -> str:
    """A failure reason with its numbers blanked, so alike failures count together."""
    return re.sub(r"-?\d+(?:\.\d+)?", "#", reason)


@dataclass
class VariantResult:
    """All trials of one variant, and what they add up to."""

    variant: Variant
    trials: list[Trial] = field(default_factory=list)
    recorded: bool = False

    @property
    def label(self) -> str:
        return f"{self.variant.label} + recorder" if self.recorded else self.variant.label

    @property
    def successes(self) -> int:
        return sum(t.success for t in self.trials)

    @property
    def success_rate(self) -> float:
        return self.successes / len(self.trials) if self.trials else 0.0

    def mean(self, attr: str) -> float:
        values = [getattr(t, attr) for t in self.trials]
        return sum(values) / len(values) if values else 0.0

    def rtf(self, clock: str = "wall_s") -> float:
        return real_time_factor(self.trials, clock)

    def failures(self) -> list[tuple[str, int]]:
        """Failure kinds, most frequent first."""
        return Counter(reason_kind(t.reason) for t in self.trials if t.reason).most_common()

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant.to_dict(),
            "recorded": self.recorded,
            "video": VIDEO if self.recorded else None,
            "trials_run": len(self.trials),
            "successes": self.successes,
            "success_rate": round(self.success_rate, 4),
            "sim_s_per_trial": round(self.mean("sim_s"), 4),
            "wall_s_per_trial": round(self.mean("wall_s"), 4),
            "cpu_s_per_trial": round(self.mean("cpu_s"), 4),
            "construct_s_per_trial": round(self.mean("construct_s"), 4),
            "rtf": round(self.rtf(), 2),
            "rtf_cpu": round(self.rtf("cpu_s"), 2),
            "failures": [{"kind": kind, "count": n} for kind, n in self.failures()],
            "failed_seeds": [t.seed for t in self.trials if not t.success],
            "trials": [t.to_dict() for t in self.trials],
        }


@dataclass(frozen=True)
class StepRate:
    """Physics stepping speed of one scene."""

    label: str
    steps: int
    time_step: float
    wall_s: float
    cpu_s: float

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.wall_s

    @property
    def rtf(self) -> float:
        return self.steps * self.time_step / self.wall_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "steps": self.steps,
            "time_step": self.time_step,
            "wall_s": round(self.wall_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "steps_per_s": round(self.steps_per_s, 1),
            "rtf": round(self.rtf, 2),
        }


@dataclass(frozen=True)
class RenderRate:
    """Camera rendering speed alone, at the video size."""

    label: str
    frames: int
    wall_s: float
    cpu_s: float

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "camera": VIDEO["camera"],
            "width": VIDEO["width"],
            "height": VIDEO["height"],
            "frames": self.frames,
            "wall_s": round(self.wall_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "fps": round(self.fps, 2),
        }


# --- measurements ------------------------------------------------------------------------
def success_predicates(env: TabletopEnv, obj: str) -> list[Predicate]:
    """``in: [obj, blue bowl]`` and ``holding: nothing``, parsed against the scene."""
    kinds = {o.name: o.category for o in env.objects()}
    return [parse_predicate(raw, kinds) for raw in ({"in": [obj, BOWL]}, {"holding": "nothing"})]


def pick_and_place(skills: Skills, variant: Variant) -> str | None:
    """Pick the variant's object and place it in the bowl; the first failure, or None."""
    steps: tuple[tuple[str, Callable[[], SkillResult]], ...] = (
        ("pick", lambda: skills.pick(variant.object_name, variant.pick_params())),
        ("place", lambda: skills.place(BOWL, variant.place_params())),
    )
    for name, step in steps:
        try:
            result = step()
        except HeedError as error:
            return f"{name} raised {type(error).__name__}: {error}"
        if not result.success:
            return f"{name}: {result.message}"
    return None


def run_trial(variant: Variant, seed: int, video_dir: Path | None = None) -> Trial:
    """Build the seeded scene, then time pick + place (recording when `video_dir` is set)."""
    with Stopwatch() as construct:
        env = TabletopEnv(variant.placements(), seed=seed)
    with env:
        skills = Skills(env.robot, env)
        checks = success_predicates(env, variant.object_name)
        recorder = None
        if video_dir is not None:
            recorder = VideoRecorder(env.world, video_dir / f"seed{seed}.mp4", **VIDEO)
        sim0 = env.world.sim_time
        with Stopwatch() as watch:
            if recorder is not None:
                recorder.start()
            try:
                reason = pick_and_place(skills, variant)
            finally:
                frames = recorder.stop() if recorder is not None else None
        if reason is None:
            failed = [r.detail for r in env.check(checks) if not r.ok]
            reason = "check: " + "; ".join(failed) if failed else None
        return Trial(
            seed=seed,
            success=reason is None,
            reason=reason,
            sim_s=env.world.sim_time - sim0,
            wall_s=watch.wall_s,
            cpu_s=watch.cpu_s,
            construct_s=construct.wall_s,
            start=env.initial[variant.object_name].to_dict(),
            bowl=env.initial[BOWL].to_dict(),
            end=env.world.object_state(variant.object_name).to_dict(),
            frames=frames,
        )


def run_variant(
    variant: Variant, trials: int, bar: Progress, task: TaskID, video_dir: Path | None = None
) -> VariantResult:
    """Trials with seeds 0..`trials`-1, advancing `task` of the progress bar after each."""
    result = VariantResult(variant, recorded=video_dir is not None)
    for seed in range(trials):
        bar.update(task, description=f"{result.label}, seed {seed}")
        bar.refresh()
        result.trials.append(run_trial(variant, seed, video_dir))
        bar.advance(task)
    bar.refresh()
    return result


def bare_pybullet_rate(steps: int, when: str) -> StepRate:
    """The floor: a plain Panda (pybullet_data, fixed base), a plane and one 4 cm box."""
    # Imported here, after `sim` has imported pybullet with its banner silenced.
    from pybullet_utils.bullet_client import BulletClient

    time_step = 1.0 / 240.0
    with c_output_silenced():
        client = BulletClient()  # DIRECT
    try:
        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        client.setGravity(0, 0, -9.81)
        client.setTimeStep(time_step)
        client.loadURDF("plane.urdf")
        client.loadURDF("franka_panda/panda.urdf", [0, 0, 0], useFixedBase=True)
        box = client.createCollisionShape(client.GEOM_BOX, halfExtents=[0.02] * 3)
        client.createMultiBody(0.08, box, -1, [0.5, 0.0, 0.02])
        with Stopwatch() as watch:
            for _ in range(steps):
                client.stepSimulation()
    finally:
        client.disconnect()
    label = f"bare PyBullet: Panda + plane + 4 cm box ({when})"
    return StepRate(label, steps, time_step, watch.wall_s, watch.cpu_s)


def idle_world_rate(steps: int) -> StepRate:
    """The heedbot world (table, Panda holding its pose, block and bowl) stepping idle."""
    with TabletopEnv(VARIANT_KEYS["block"].placements(), seed=0) as env:
        with Stopwatch() as watch:
            env.world.step(steps)
        time_step = env.world.config.time_step
    label = "heedbot world idle: table + Panda + block + bowl"
    return StepRate(label, steps, time_step, watch.wall_s, watch.cpu_s)


def render_rate(renderer: str, frames: int) -> RenderRate:
    """Frames per second of the front camera at the video size.

    Two warm-up frames are not timed (EGL initialises, and prints, on its first frames).
    EGL silently falls back to the CPU TinyRenderer where its plugin cannot load, so the
    EGL row is labelled as requested; equal rates mean it fell back.
    """
    config = WorldConfig(renderer=renderer)
    with TabletopEnv(VARIANT_KEYS["block"].placements(), seed=0, config=config) as env:
        spec = env.world.camera_spec(VIDEO["camera"]).resized(VIDEO["width"], VIDEO["height"])
        with c_output_silenced():
            for _ in range(WARM_UP_FRAMES):
                env.world.render(spec, segmentation=False)
        with Stopwatch() as watch:
            for _ in range(frames):
                env.world.render(spec, segmentation=False)
    label = "tiny (CPU)" if renderer == "tiny" else f"{renderer} (requested)"
    return RenderRate(f"renderer {label}", frames, watch.wall_s, watch.cpu_s)


# --- report ------------------------------------------------------------------------------
@dataclass
class Report:
    """Everything one run measured."""

    rows: list[VariantResult] = field(default_factory=list)
    recorded: VariantResult | None = None
    floors: list[StepRate] = field(default_factory=list)
    renders: list[RenderRate] = field(default_factory=list)

    def row(self, key: str) -> VariantResult | None:
        return next((r for r in self.rows if r.variant.key == key), None)

    def bare_floors(self) -> list[StepRate]:
        return [f for f in self.floors if f.label.startswith("bare")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "variants": [r.to_dict() for r in self.rows],
            "recorder": self.recorded.to_dict() if self.recorded else None,
            "floors": [f.to_dict() for f in self.floors],
            "renderers": [r.to_dict() for r in self.renders],
        }


def _failure_cell(result: VariantResult, top: int = 2) -> str:
    return "\n".join(f"{n}x {kind}" for kind, n in result.failures()[:top]) or "-"


def results_table(report: Report) -> Table:
    columns = (
        Column("variant", numeric=False),
        Column("trials"),
        Column("success"),
        Column("sim s/trial"),
        Column("wall s/trial"),
        Column("CPU s/trial"),
        Column("RTF"),
        Column("RTF (CPU)"),
        Column("construct s"),
        Column("top failures (count x kind)", numeric=False),
    )
    rows = [*report.rows, *([report.recorded] if report.recorded else [])]
    cells = [
        (
            r.label,
            str(len(r.trials)),
            f"{r.success_rate:.0%}",
            f"{r.mean('sim_s'):.2f}",
            f"{r.mean('wall_s'):.3f}",
            f"{r.mean('cpu_s'):.3f}",
            f"{r.rtf():.1f}x",
            f"{r.rtf('cpu_s'):.1f}x",
            f"{r.mean('construct_s'):.3f}",
            _failure_cell(r),
        )
        for r in rows
    ]
    return table("Pick and place into the blue bowl (seeds 0..N-1)", columns, cells)


def speed_table(report: Report) -> Table:
    columns = (Column("reference", numeric=False), Column("measured"), Column("rate"))
    cells = [
        (
            f.label,
            f"{f.steps} steps in {f.wall_s:.3f} s (CPU {f.cpu_s:.3f} s)",
            f"{f.steps_per_s:,.0f} steps/s, RTF {f.rtf:.1f}x",
        )
        for f in report.floors
    ]
    size = f"{VIDEO['width']}x{VIDEO['height']} {VIDEO['camera']}"
    cells += [
        (
            f"{r.label}, {size}",
            f"{r.frames} frames in {r.wall_s:.3f} s (CPU {r.cpu_s:.3f} s)",
            f"{r.fps:.1f} frames/s",
        )
        for r in report.renders
    ]
    return table("Speed references (same run)", columns, cells)


def _busy_note(trials: Sequence[Trial]) -> str:
    """A warning when wall time ran well above CPU time: other programs took the cores."""
    ratio = sum(t.wall_s for t in trials) / max(sum(t.cpu_s for t in trials), 1e-9)
    return f"; machine busy: wall time {ratio:.2f}x CPU time" if ratio > BUSY_RATIO else ""


def _floor_context(report: Report) -> str:
    floors = " / ".join(f"{f.rtf:.0f}x" for f in report.bare_floors())
    return f"; bare PyBullet floor {floors} (before / after trials)" if floors else ""


def verdicts(report: Report) -> list[Verdict]:
    """The issue's targets, checked on what this run measured."""
    out = []
    for variant in VARIANTS:
        row = report.row(variant.key)
        if variant.default and row is not None:
            out.append(
                Verdict(
                    f"success >= {SUCCESS_TARGET:.0%}, {variant.label} (defaults)",
                    f"{row.successes}/{len(row.trials)} = {row.success_rate:.1%}",
                    row.success_rate >= SUCCESS_TARGET,
                )
            )
    pooled = [t for r in report.rows if r.variant.default for t in r.trials]
    if pooled:
        rtf = real_time_factor(pooled)
        wall = sum(t.wall_s for t in pooled)
        out.append(
            Verdict(
                f"pick+place RTF >= {RTF_TARGET:.0f}x, DIRECT, no camera (default rows)",
                f"{rtf:.1f}x (CPU time {real_time_factor(pooled, 'cpu_s'):.1f}x; "
                f"{len(pooled)} trials in {wall:.1f} s{_floor_context(report)}"
                f"{_busy_note(pooled)})",
                rtf >= RTF_TARGET,
            )
        )
    if report.recorded is not None:
        rec = report.recorded
        tiny = next((r for r in report.renders if "tiny" in r.label), None)
        context = f"; tiny renderer alone {tiny.fps:.0f} frames/s" if tiny else ""
        out.append(
            Verdict(
                f"pick+place RTF >= {RECORDER_RTF_TARGET:.0f}x with the recorder "
                f"({VIDEO['fps']:.0f} Hz, {VIDEO['width']}x{VIDEO['height']})",
                f"{rec.rtf():.1f}x (CPU time {rec.rtf('cpu_s'):.1f}x; "
                f"{rec.mean('frames'):.0f} frames/trial{context}{_busy_note(rec.trials)})",
                rec.rtf() >= RECORDER_RTF_TARGET,
            )
        )
    for defaults_key, corrected_key, what in PERTURBATIONS:
        defaults, corrected = report.row(defaults_key), report.row(corrected_key)
        if defaults is None or corrected is None:
            continue
        failing = 1.0 - defaults.success_rate
        out.append(
            Verdict(
                f"perturbation, {what}: defaults fail and the correction succeeds in "
                f">= {PERTURBATION_TARGET:.0%} of seeds",
                f"defaults fail {failing:.0%}, corrected succeed {corrected.success_rate:.0%}",
                failing >= PERTURBATION_TARGET and corrected.success_rate >= PERTURBATION_TARGET,
            )
        )
    return out


# --- command line ------------------------------------------------------------------------
HELP = """\
Pick-and-place benchmark of the skill primitives in the PyBullet tabletop world.

For block, bar and cylinder, with default and with heavy/slippery physics, and the
perturbations that need a skill correction (a heavy slippery cylinder at 20 N and at the
corrected 60 N; a slippery steel bar at 0.3 and at the corrected 0.075 m/s), run seeded
trials: pick the object, place it in a blue bowl. Prints success rate, simulated, wall
and CPU seconds per trial and the real-time factor (RTF) beside speed floors measured in
the same run (bare PyBullet, the idle heedbot world, the camera renderer alone), then
checks the targets: >= 98 % success on the default rows, each perturbation failing with
defaults and succeeding when corrected in >= 90 % of seeds, RTF >= 20x without a camera
and RTF >= 2x with the video recorder (10 Hz, 320x240)."""
EPILOG = """\
Trial i of every variant uses layout seed i, so rows compare like with like.
RTF is simulated seconds over wall seconds of pick + place only; 'RTF (CPU)' divides
by this process's CPU seconds instead and stays put when other programs load the
machine: a large gap between the two means the wall timing was disturbed.

Exit status: 0 when every target passes, 1 when one fails.

Examples:
  python -m benchmarks.skills --quick
  python -m benchmarks.skills --variant bar --variant bar-heavy --trials 200 --video-trials 0"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.skills",
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=50,
        metavar="N",
        help="trials per variant, with seeds 0..N-1 (default: %(default)s)",
    )
    parser.add_argument(
        "--video-trials",
        type=int,
        default=10,
        metavar="N",
        help="block trials (seeds 0..N-1) repeated with the video recorder on: front camera, "
        "10 Hz, 320x240; 0 skips them (default: %(default)s)",
    )
    parser.add_argument(
        "--render-frames",
        type=int,
        default=100,
        metavar="N",
        help="frames rendered by each renderer (tiny, then egl as requested) to time the "
        "camera alone; 0 skips it (default: %(default)s)",
    )
    parser.add_argument(
        "--floor-steps",
        type=int,
        default=2400,
        metavar="N",
        help="physics steps of 1/240 s for the bare-PyBullet floor (timed before and after "
        "the trials) and the idle heedbot world (default: %(default)s)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        choices=list(VARIANT_KEYS),
        metavar="KEY",
        help=f"run only this variant; repeat for several; one of {', '.join(VARIANT_KEYS)} "
        "(default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: {QUICK['trials']} trials per variant, {QUICK['video_trials']} "
        f"recorded, {QUICK['render_frames']} frames per renderer (overrides those counts)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help="write every number (per trial too), the machine facts and the command line "
        "here (default: benchmarks/results/skills.json)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    for name in ("trials", "video_trials", "render_frames", "floor_steps"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more")
    if args.trials == 0 or args.floor_steps == 0:
        parser.error("--trials and --floor-steps need at least 1")
    return args


def run(args: argparse.Namespace) -> Report:
    """Floors first, then every variant's trials, then the recorded ones and the renderers."""
    chosen = [VARIANT_KEYS[k] for k in args.variant] if args.variant else list(VARIANTS)
    report = Report(floors=[bare_pybullet_rate(args.floor_steps, "before trials")])
    report.floors.append(idle_world_rate(args.floor_steps))
    total = args.trials * len(chosen) + args.video_trials
    with progress() as bar, tempfile.TemporaryDirectory(prefix="heedbot-bench-") as tmp:
        task = bar.add_task("trials", total=total)
        report.rows = [run_variant(v, args.trials, bar, task) for v in chosen]
        if args.video_trials:
            block = VARIANT_KEYS["block"]
            report.recorded = run_variant(block, args.video_trials, bar, task, Path(tmp))
    if args.render_frames:
        report.renders = [render_rate(r, args.render_frames) for r in ("tiny", "egl")]
    report.floors.append(bare_pybullet_rate(args.floor_steps, "after trials"))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started, t0 = now(), time.perf_counter()
    report = run(args)
    out: Console = console()
    out.print(results_table(report))
    out.print(speed_table(report))
    checks = verdicts(report)
    out.print(verdict_table(checks))
    settings = {
        "trials": args.trials,
        "seeds": [0, args.trials - 1],
        "video_trials": args.video_trials,
        "render_frames": args.render_frames,
        "floor_steps": args.floor_steps,
        "place_target": BOWL,
    }
    body = {
        "settings": settings,
        "duration_s": round(time.perf_counter() - t0, 2),
        **report.to_dict(),
    }
    return finish(out, args.json, "skills", started, body, checks)


if __name__ == "__main__":
    sys.exit(main())
