"""`heed perceive`: the scene graph of a seeded scene, with an annotated image.

Also home of `random_scene`, the seeded scene generator the perception benchmark and
tests share: 3 to 7 objects from the library in random colours, laid out by
`sim.layout`, some stacked on another object or put in a bowl.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from sim.env import TabletopEnv
from sim.layout import LayoutError, Placement, sample_layout
from sim.objects import OBJECT_TYPES
from sim.world import WorldConfig
from skills.palette import PALETTE

KIND_WEIGHTS = {"block": 0.35, "bar": 0.15, "cylinder": 0.15, "bowl": 0.15, "zone": 0.20}
MAX_OF_KIND = {"bowl": 2, "zone": 2}
STACK_CHANCE = 0.3
"""Chance that a scene stacks one object on another (block or cylinder on a block or bar)."""
IN_BOWL_CHANCE = 0.5
"""Chance, when the scene has a bowl, that an object is put in it."""
UPPER_KINDS = ("block", "cylinder")
LOWER_KINDS = ("block", "bar")
BOWL_FLOOR = 0.008


@dataclass(frozen=True)
class SceneRecipe:
    """A seeded scene: objects laid out on the table, then some put on or in others.

    Attributes:
        seed: the seed it was drawn from (also the layout seed).
        placements: objects laid out on the table by `sim.layout`.
        on_top: (object, support) pairs: the object goes on (or in, for a bowl) the support.
    """

    seed: int
    placements: tuple[Placement, ...]
    on_top: tuple[tuple[Placement, str], ...] = ()

    @property
    def size(self) -> int:
        return len(self.placements) + len(self.on_top)


def _name(kind: str, color: str, taken: set[str]) -> str:
    base, n = f"{color} {kind}", 2
    name = base
    while name in taken:
        name, n = f"{base} {n}", n + 1
    taken.add(name)
    return name


def scene_recipe(seed: int, min_objects: int = 3, max_objects: int = 7) -> SceneRecipe:
    """Draw a scene from `seed` (deterministic): kinds, colours and what goes on what.

    Objects resting on or in another get a colour different from their support's, so the
    two stay apart for a colour-based detector.
    """
    rng = np.random.default_rng(seed)
    colors = list(PALETTE)
    kinds, weights = list(KIND_WEIGHTS), np.array(list(KIND_WEIGHTS.values()))
    count = int(rng.integers(min_objects, max_objects + 1))
    chosen: list[tuple[str, str]] = []
    while len(chosen) < count:
        kind = str(rng.choice(kinds, p=weights / weights.sum()))
        if sum(k == kind for k, _ in chosen) >= MAX_OF_KIND.get(kind, count):
            continue
        chosen.append((kind, str(rng.choice(colors))))
    taken: set[str] = set()
    named = [(kind, color, _name(kind, color, taken)) for kind, color in chosen]
    upper: list[tuple[int, str]] = []  # (index into named, support name)
    bowls = [i for i, (k, _, _) in enumerate(named) if k == "bowl"]
    free = [i for i, (k, _, _) in enumerate(named) if k in ("block", "bar", "cylinder")]
    if bowls and free and rng.random() < IN_BOWL_CHANCE:
        i, b = int(rng.choice(free)), int(rng.choice(bowls))
        upper.append((i, named[b][2]))
        free.remove(i)
    lowers = [i for i in free if named[i][0] in LOWER_KINDS]
    uppers = [i for i in free if named[i][0] in UPPER_KINDS]
    if lowers and rng.random() < STACK_CHANCE:
        lo = int(rng.choice(lowers))
        candidates = [i for i in uppers if i != lo]
        if candidates:
            up = int(rng.choice(candidates))
            upper.append((up, named[lo][2]))
    support_color = {named[i][2]: named[i][1] for i in range(len(named))}
    moved = {i for i, _ in upper}
    on_top = []
    for i, support in upper:
        kind, color, _ = named[i]
        if color == support_color[support]:
            color = str(rng.choice([c for c in colors if c != color]))
            taken.discard(named[i][2])
            named[i] = (kind, color, _name(kind, color, taken))
        on_top.append((Placement(OBJECT_TYPES.get(kind).spec(named[i][2], color)), support))
    placements = tuple(
        Placement(OBJECT_TYPES.get(kind).spec(name, color))
        for i, (kind, color, name) in enumerate(named)
        if i not in moved
    )
    return SceneRecipe(seed, placements, tuple(on_top))


LAYOUT_ATTEMPTS = 20


def _laid_out(recipe: SceneRecipe) -> list[Placement]:
    """The recipe's placements with fixed poses: biggest first, re-drawn if they do not fit.

    Layout seeds are ``seed``, then ``seed + 100003 * k``: deterministic, like the rest.
    """
    order = sorted(recipe.placements, key=lambda p: -p.spec.size[0] * p.spec.size[1])
    for attempt in range(LAYOUT_ATTEMPTS):
        try:
            poses = sample_layout(order, recipe.seed + 100003 * attempt)
        except LayoutError:
            continue
        return [Placement(p.spec, pose) for p, pose in zip(order, poses, strict=True)]
    raise LayoutError(f"scene {recipe.seed}: no layout fits after {LAYOUT_ATTEMPTS} tries")


def build_scene(recipe: SceneRecipe, config: WorldConfig | None = None) -> TabletopEnv:
    """The recipe's world, settled, with the arm at home.

    Objects going on a support are dropped at its centre (a small random offset and yaw
    from the seed) just above its top, or its floor for a bowl, and the world settles.
    """
    env = TabletopEnv(_laid_out(recipe), recipe.seed, config)
    try:
        rng = np.random.default_rng(recipe.seed + 7919)
        world = env.world
        for placement, support_name in recipe.on_top:
            support = world.object_state(support_name)
            bowl = support.category == "bowl"
            spread = 0.015 if bowl else 0.006
            dx, dy = rng.uniform(-spread, spread, size=2)
            yaw = float(rng.uniform(-np.pi / 2, np.pi / 2))
            x, y = support.position[0] + dx, support.position[1] + dy
            body = world.add_object(placement.spec, x, y, yaw)
            base = support.bottom_z + BOWL_FLOOR if bowl else support.top_z
            z = base + placement.spec.size[2] / 2.0 + 0.001
            orientation = world.client.getQuaternionFromEuler([0.0, 0.0, yaw])
            world.client.resetBasePositionAndOrientation(body, [x, y, z], orientation)
        if recipe.on_top:
            world.settle()
    except BaseException:
        env.close()
        raise
    return env


def random_scene(seed: int, config: WorldConfig | None = None) -> TabletopEnv:
    """`build_scene(scene_recipe(seed))`: a seeded random scene."""
    return build_scene(scene_recipe(seed), config)


def suite_scene(reference: str, seed: int | None = None) -> TabletopEnv:
    """The scene of a suite episode, ``PATH`` (its first episode) or ``PATH:EPISODE``."""
    from dataclasses import replace

    from sim.suite import load_suite

    path, _, episode_id = reference.partition(":")
    suite = load_suite(path)
    episode = suite.episode(episode_id) if episode_id else suite.episodes[0]
    if seed is not None:
        episode = replace(episode, seed=seed)
    return TabletopEnv.from_episode(episode)


@dataclass
class PerceiveReport:
    """What `heed perceive` saw, for the terminal and for ``--json``."""

    run_dir: str
    source: str
    seed: int
    scene: str
    text: str
    graph: dict[str, Any]
    image: str
    capture_ms: float
    detect_ms: float
    truth: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_perceive(
    seed: int, source: str, runs_dir: Path, suite: str | None = None
) -> PerceiveReport:
    """Build the scene, perceive it with `source`, write the run folder; return the report."""
    import cv2

    from heed.runs import RunFolder
    from perception.annotate import annotate_frames
    from perception.scene_graph import SceneGraph
    from perception.source import OBJECT_SOURCES, PerceptionSource, make_object_source

    if source not in OBJECT_SOURCES:
        known = ", ".join(OBJECT_SOURCES.names())
        raise ValueError(f"unknown object source {source!r}; choose one of {known}")
    env = suite_scene(suite, seed) if suite else random_scene(seed)
    with env:
        run = RunFolder.create(f"perceive-{source}", runs_dir)
        objects = make_object_source(source, env)
        t0 = time.perf_counter()
        if isinstance(objects, PerceptionSource):
            cycle = objects.perceive()
            graph, frames = cycle.graph, cycle.frames
            capture_s, detect_s = cycle.capture_s, cycle.detect_s
        else:
            frames = {name: env.robot.camera(name) for name in env.robot.spec().cameras}
            capture_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            graph = SceneGraph.build(objects.objects(), env.world.sim_time, source)
            detect_s = time.perf_counter() - t1
        image = run.file("perception.png")
        cv2.imwrite(str(image), annotate_frames(frames, graph))
        truth = [s.to_dict() for s in env.objects()]
        run.write_json("scene_graph.json", graph.to_json())
        run.write_json("scene_truth.json", truth)
        report = PerceiveReport(
            run_dir=str(run.path),
            source=source,
            seed=seed,
            scene=suite or "random",
            text=graph.to_text(),
            graph=graph.to_json(),
            image=str(image),
            capture_ms=round(capture_s * 1000, 1),
            detect_ms=round(detect_s * 1000, 1),
            truth=truth,
        )
        run.write_json("result.json", report.to_dict())
    return report


def perceive_command(
    seed: Annotated[int, typer.Option(help="Scene seed: the same seed gives the same scene.")] = 0,
    source: Annotated[
        str, typer.Option(help="Object source: ground_truth, segmentation or rgbd.")
    ] = "segmentation",
    runs_dir: Annotated[Path, typer.Option(help="Folder that receives the run folder.")] = Path(
        "runs"
    ),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON only.")
    ] = False,
    suite: Annotated[
        str | None,
        typer.Option(help="Perceive a suite episode's scene instead: PATH or PATH:EPISODE."),
    ] = None,
) -> int:
    """Print the scene graph of a seeded scene (objects with positions in metres, then their
    relations) and save it, with an annotated camera image (outlines and names), into a new
    run folder. A random scene of 3-7 library objects unless --suite names an episode.
    Returns the exit code: 0, or 2 after a one-line error."""
    from rich.console import Console
    from rich.markup import escape

    from skills.errors import HeedError

    console, err = Console(), Console(stderr=True)
    try:
        report = run_perceive(seed, source, runs_dir, suite)
    except (HeedError, ValueError, KeyError, FileNotFoundError) as error:
        err.print(
            f"[bold red]error:[/] {escape(str(error).strip(chr(39) + chr(34)))}",
            highlight=False,
            soft_wrap=True,
        )
        return 2
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        return 0
    console.print(
        f"[bold]heed perceive[/] seed={seed} source={source} scene={report.scene}: "
        f"{len(report.graph['objects'])} objects  [dim]capture {report.capture_ms:.0f} ms, "
        f"detect {report.detect_ms:.0f} ms[/]"
    )
    console.print(report.text, highlight=False, markup=False)
    console.print(f"annotated image: {report.image}")
    console.print(f"run folder: {report.run_dir}")
    return 0


def register(app: typer.Typer, name: str = "perceive") -> None:
    """Add `perceive_command` to `app` as the command `name` (its exit code kept)."""

    @app.command(name)
    @functools.wraps(perceive_command)
    def perceive(**options: Any) -> None:
        raise typer.Exit(perceive_command(**options))
