"""The `heed` command line: a thin layer over the library.

User mistakes (a bad suite file, an unknown object, a refused command) end with a
one-line message and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from heed.bridge_cmd import bridge_app
from heed.console import err_console, fail, show_memory_notices, shown
from heed.memory_cmd import DEFAULT_MEMORY, memory_app
from heed.models_cmd import models_app
from heed.perceive import register as register_perceive
from planner.events import EventBus
from sim.suite import MAX_INSTRUCTION_CHARS, check_instruction
from skills.errors import HeedError

if TYPE_CHECKING:
    from heed.episode import EpisodeResult, RunOptions
    from sim.suite import Episode, Suite

app = typer.Typer(
    help="heedbot: a robot that takes orders in plain language and learns from corrections.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    callback=show_memory_notices,
)
sim_app = typer.Typer(
    help="The PyBullet tabletop simulator: demo, object library, suite checks.",
    no_args_is_help=True,
)
app.add_typer(sim_app, name="sim")
app.add_typer(models_app, name="models")

console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


@sim_app.command("demo")
def sim_demo(
    seed: Annotated[int, typer.Option(help="Layout seed: the same seed gives the same scene.")] = 0,
    gui: Annotated[bool, typer.Option(help="Open the PyBullet GUI (needs a display).")] = False,
    video: Annotated[bool, typer.Option(help="Record episode.mp4 into the run folder.")] = True,
    camera: Annotated[str, typer.Option(help="Camera to record: top or front.")] = "front",
    fps: Annotated[float, typer.Option(help="Video frames per simulated second.")] = 10.0,
    runs_dir: Annotated[Path, typer.Option(help="Folder that receives the run folder.")] = Path(
        "runs"
    ),
    as_json: JsonFlag = False,
) -> None:
    """Pick and place in the simulator: put the red block in the blue bowl, then stack the
    green block on the yellow one. Writes trace.jsonl, scene graphs, result.json and
    episode.mp4 into a new run folder; exits 0 when every success predicate holds."""
    from heed.demo import DemoOptions, run_demo

    options = DemoOptions(seed, gui, video, camera, fps, runs_dir)

    def show(result: object) -> None:
        if not as_json:
            mark = "[green]ok[/]" if result.success else "[red]failed[/]"
            console.print(
                f"{mark} {result.skill}({', '.join(map(str, result.params.values()))}): "
                f"{result.message}  [dim]{result.sim_s:.1f} s sim, {result.wall_s:.2f} s wall[/]"
            )

    try:
        if not as_json:
            console.print(f"[bold]heed sim demo[/] seed={seed}: building the scene…")
        report = run_demo(options, on_step=show)
    except (HeedError, ValueError, KeyError) as error:
        raise fail(str(error).strip("'\"")) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        table = Table("predicate", "holds", "detail", title="success predicates")
        for p in report.predicates:
            table.add_row(
                json.dumps(p["predicate"]), "yes" if p["ok"] else "[red]no[/]", p["detail"]
            )
        console.print(table)
        rtf = report.sim_s / report.wall_s if report.wall_s else 0.0
        console.print(
            f"{'[green]success[/]' if report.success else '[red]failure[/]'}: "
            f"{report.sim_s:.1f} s simulated in {report.wall_s:.1f} s wall ({rtf:.1f}x real time)"
        )
        console.print(f"run folder: {report.run_dir}")
    raise typer.Exit(0 if report.success else 1)


LlmOption = Annotated[
    str,
    typer.Option(
        "--llm",
        help="Planner: auto (default: a verified program remembered for a similar "
        "instruction, else the offline parser, else the local model `heed models pull "
        "qwen2.5-coder-1.5b` fetched, if any); auto+SPEC (the same with SPEC as the model); "
        "embedded (the offline parser alone); local:NAME or local:PATH.gguf (a model run "
        "here by llama.cpp, grammar-constrained; NAME from `heed models list`); "
        "openai:MODEL@URL (any OpenAI-compatible endpoint; key from $OPENAI_API_KEY) or "
        "hf:PATH[@DEVICE] (a transformers model directory or .gguf file).",
    ),
]
ObjectsOption = Annotated[
    str,
    typer.Option("--objects", help="Object source: segmentation (default), rgbd or ground_truth."),
]
RunsDirOption = Annotated[Path, typer.Option(help="Folder that receives the run folders.")]
RobotOption = Annotated[
    str | None,
    typer.Option(
        help="Run against the simulator behind a bridge (tcp://host:port, see "
        "`heed bridge serve`) instead of a local one."
    ),
]
KeysOption = Annotated[
    Path | None, typer.Option(help="Folder of CURVE keys for the bridge (`heed bridge keys`).")
]


def _episode_for(instruction: str, scene: str | None, seed: int | None):
    """The episode `heed run` executes: a suite scene, or the demo scene at a seed."""
    from dataclasses import replace

    from heed.demo import demo_episode
    from sim.suite import load_suite

    if instruction:
        check_instruction(instruction, "the instruction")
    if scene:
        path, _, episode_id = scene.partition("#")
        suite = load_suite(path)
        episode = suite.episode(episode_id) if episode_id else suite.episodes[0]
        if instruction and instruction != episode.instruction:
            episode = replace(episode, instruction=instruction, success=(), expect="success")
    else:
        episode = replace(demo_episode(seed or 0), id="run", instruction=instruction, success=())
    return replace(episode, seed=seed) if seed is not None else episode


@app.command("demo")
def demo(
    llm: LlmOption = "auto",
    objects: ObjectsOption = "segmentation",
    video: Annotated[
        bool, typer.Option(help="Record each task's episode.mp4 into its run folder.")
    ] = True,
    runs_dir: RunsDirOption = Path("runs"),
    as_json: JsonFlag = False,
) -> None:
    """The whole loop offline, step by step: the robot gets a task wrong for lack of a
    preference and a heavy can slips from its grip; the simulated teleoperator corrects
    it; the plan changes; what the corrections teach is stored in a fresh knowledge base;
    then new objects needing the same knowledge succeed with no correction. Everything
    lands in runs/demo-<time>/: one run folder per task (trace, scene graphs, video) and
    the knowledge base (`heed memory list --memory runs/demo-<time>/memory`)."""
    from heed.console import ConsolePrinter
    from heed.episode import RunOptions
    from heed.walkthrough import run_walkthrough
    from planner.factory import make_backend

    def announce(number: int, total: int, instruction: str, story: str) -> None:
        console.rule(f"[bold]Task {number} of {total}[/]")
        console.print(f"[dim]{shown(story)}[/]")

    try:
        options = RunOptions(objects=objects, video=video, runs_dir=runs_dir)
        walk = run_walkthrough(
            make_backend(llm),
            options,
            [] if as_json else [ConsolePrinter(console)],
            None if as_json else announce,
        )
    except (HeedError, ValueError, KeyError) as error:
        raise fail(str(error).strip("'\"")) from None
    ok = all(r.success for r in walk.results)
    if as_json:
        data = {
            "folder": str(walk.folder),
            "episodes": [r.to_dict() for r in walk.results],
            "knowledge": [k.to_dict() for k in walk.knowledge],
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        raise typer.Exit(0 if ok else 1)
    table = Table("task", "instruction", "corrections", "knowledge retrieved", "learned", "result")
    for number, (episode, r) in enumerate(zip(walk.episodes, walk.results, strict=True), 1):
        table.add_row(
            str(number),
            shown(episode.instruction),
            str(r.corrections),
            str(r.retrieved + r.skill_defaults),
            str(r.learned),
            "[green]success[/]" if r.success else "[red]failure[/]",
        )
    console.print(table)
    console.print("[bold]Knowledge base[/] (what the corrections taught):")
    for record in walk.knowledge:
        console.print(f"  #{record.id} ({record.kind}) {shown(record.statement)}")
    console.print(f"Run folders, videos and the knowledge base: {walk.folder}")
    raise typer.Exit(0 if ok else 1)


@app.command("run")
def run(
    instruction: Annotated[
        str,
        typer.Argument(
            help="What the robot should do, in plain words "
            f"(at most {MAX_INSTRUCTION_CHARS} characters)."
        ),
    ] = "",
    scene: Annotated[
        str | None,
        typer.Option(
            help="Scene from a suite: SUITE.yaml#episode-id (its instruction "
            "and success check are used when no instruction is given)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Layout seed for the scene.")] = None,
    llm: LlmOption = "auto",
    objects: ObjectsOption = "segmentation",
    video: Annotated[bool, typer.Option(help="Record episode.mp4 into the run folder.")] = False,
    gui: Annotated[bool, typer.Option(help="Open the PyBullet GUI (needs a display).")] = False,
    robot: RobotOption = None,
    keys: KeysOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    as_json: JsonFlag = False,
    memory: Annotated[
        Path,
        typer.Option(
            envvar="HEEDBOT_MEMORY",
            help="Knowledge base read before planning and filled from your corrections "
            "(default: $HEEDBOT_MEMORY, else ~/.heedbot/memory).",
        ),
    ] = DEFAULT_MEMORY,
    no_memory: Annotated[
        bool, typer.Option("--no-memory", help="Neither use nor add to any knowledge base.")
    ] = False,
    interactive: Annotated[
        bool,
        typer.Option(
            help="After each Observation, and when the planner says it is done, ask on the "
            "terminal for a correction (Enter: none), e.g. 'no, the other bowl', 'squeeze "
            "harder', 'red things always go in the green bowl'. Ctrl-C while the robot "
            "moves stops it at the next skill boundary and asks at once."
        ),
    ] = False,
) -> None:
    """Carry out an instruction in the simulator: the planner thinks, writes code-as-policy,
    the code runs in the sandbox, and every Thought, program and Observation is streamed
    here and written to the run folder. What corrections teach is kept in the knowledge
    base for later runs. Exits 0 when the planner's goal was met on the perceived scene
    (verified), 3 when it finished but could state no goal to check (unverified), 1 when
    the task failed, was refused or stopped."""
    from heed.console import ConsolePrinter
    from heed.episode import RunOptions, run_episode
    from memory.store import KnowledgeBase
    from planner.factory import make_backend

    if interactive and as_json:
        raise fail("--interactive reads corrections from the terminal; drop --json")
    try:
        episode = _episode_for(instruction, scene, seed)
        if not episode.instruction:
            raise fail("give an instruction, or a --scene whose episode has one")
        backend = make_backend(llm)
        options = RunOptions(
            objects=objects, video=video, gui=gui, runs_dir=runs_dir, robot=robot, keys=keys
        )
        subscribers = [] if as_json else [ConsolePrinter(console)]
        corrector = _ask_for_correction if interactive else None
        bus = EventBus()
        with contextlib.ExitStack() as stack:
            kb = None if no_memory else stack.enter_context(KnowledgeBase.open(memory))
            if interactive:
                stack.enter_context(_interrupt_on_ctrl_c(bus))
            answer = _ask_person if interactive else None
            result = run_episode(episode, backend, options, subscribers, kb, corrector, bus, answer)
    except KeyboardInterrupt:
        console.print("stopped by you; the run folder keeps what happened so far")
        raise typer.Exit(130) from None
    except (HeedError, ValueError, KeyError) as error:
        raise fail(str(error).strip("'\"")) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        for line in result.failed_predicates:
            console.print(f"[red]not achieved:[/] {shown(line)}")
        style = {"verified": "green", "unverified": "yellow"}.get(result.self_check, "red")
        verdict = "success" if result.success else "failure"
        console.print(
            f"[{style}]{result.self_check}[/] ({verdict}) in {result.steps} step(s), "
            f"{result.wall_s:.1f} s; run folder: {result.run_dir}"
        )
        if result.self_check != "verified" and result.reason:
            console.print(f"[{style}]why:[/] {shown(result.reason[:300])}")
    raise typer.Exit(run_exit_code(result.success, result.self_check))


def run_exit_code(success: bool, self_check: str) -> int:
    """0: done and checked; 3: done but no goal could be checked; 1: not done."""
    if not success:
        return 1
    return 3 if self_check == "unverified" else 0


@contextlib.contextmanager
def _interrupt_on_ctrl_c(bus: EventBus) -> Iterator[None]:
    """While running, Ctrl-C stops the program at the next skill boundary and asks for a
    correction, instead of killing the run."""

    def handler(signum: int, frame: object) -> None:
        console.print("[bold magenta]interrupted:[/] stopping at the next skill boundary")
        bus.interrupt()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ask_for_correction(acted: bool) -> str | None:
    """A correction typed by the person at the terminal, or None for no correction."""
    text = _prompt("[bold magenta]correction[/] (Enter for none): ")
    return text or None


def _ask_person(question: str) -> str:
    """The person's answer to the planner's question ("I don't know" when left empty)."""
    return _prompt(f"[bold magenta]answer[/] ({shown(question)}): ") or "I don't know"


def _prompt(text: str) -> str:
    """A line from the terminal; Ctrl-C here ends the run instead of interrupting it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return console.input(text).strip()
    finally:
        signal.signal(signal.SIGINT, previous)


@app.command("eval")
def eval_suite(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file, e.g. suites/tabletop.yaml.")],
    llm: LlmOption = "auto",
    objects: ObjectsOption = "segmentation",
    workers: Annotated[int, typer.Option(help="Episodes run in parallel processes.")] = 1,
    only: Annotated[
        list[str] | None, typer.Option(help="Run only these episode ids or families (repeatable).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results here.")] = None,
    robot: RobotOption = None,
    keys: KeysOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    rounds: Annotated[
        bool,
        typer.Option(
            help="Run the suite in round order with one knowledge base (--memory, else a "
            "fresh one in the runs folder), then without memory as the baseline, and "
            "compare success and corrections per episode round by round."
        ),
    ] = False,
    memory: Annotated[
        Path | None,
        typer.Option(
            help="Knowledge-base folder kept across the suite: retrieved before each task, "
            "filled with what corrections teach. Episodes then run one at a time."
        ),
    ] = None,
    no_memory: Annotated[
        bool, typer.Option("--no-memory", help="Only the baseline: no knowledge base.")
    ] = False,
) -> None:
    """Run every episode of a suite with a progress bar, print success per family and
    overall (steps, tokens, wall time), and write machine-readable JSON with --json.

    Corrections suites: `heed eval suites/corrections.yaml --rounds` shows whether what
    was learnt in round 1 spares corrections in rounds 2 and 3."""
    from heed.episode import RunOptions
    from heed.evaluate import report, rounds_report, select
    from sim.suite import load_suite

    if no_memory and memory is not None:
        raise fail("--memory and --no-memory contradict each other; give one")
    if workers < 1:
        raise fail(f"--workers must be 1 or more, not {workers}")
    try:
        loaded = load_suite(suite)
        episodes = select(loaded, only or [])
        options = RunOptions(objects=objects, runs_dir=runs_dir, robot=robot, keys=keys)
        if rounds and memory is None and not no_memory:
            memory = runs_dir / f"memory-{loaded.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        passes: dict[str, Path | None] = {"memory": memory} if memory is not None else {}
        if no_memory or rounds:
            passes["baseline"] = None
        results = {
            name: _eval_pass(loaded, llm, options, workers, episodes, kb, name)
            for name, kb in (passes or {"eval": None}).items()
        }
    except (HeedError, ValueError, KeyError) as error:
        raise fail(str(error).strip("'\"")) from None
    data = report(loaded, llm, next(iter(results.values())))  # with memory when there was
    if rounds:
        data["memory"] = str(memory) if memory is not None else None
        data["baseline_episodes"] = report(loaded, llm, results["baseline"])["episodes"]
        data.update(rounds_report(results.get("memory", []), results["baseline"]))
        _print_rounds(data)
    table = Table(
        "family",
        "episodes",
        "success",
        "verified",
        "false success",
        "steps",
        "tokens",
        "wall s",
        title=loaded.name,
    )
    rows = [*data["summary"]["families"].items(), ("overall", data["summary"]["overall"])]
    for name, stats in rows:
        verified = stats["self_checks"].get("verified", 0) / max(1, stats["episodes"])
        table.add_row(
            str(name),
            str(stats["episodes"]),
            f"{100 * stats['success_rate']:.0f}%",
            f"{100 * verified:.0f}%",
            f"{100 * stats['false_success_rate']:.0f}%",
            f"{stats['mean_steps']:.1f}",
            str(stats["prompt_tokens"] + stats["completion_tokens"]),
            f"{stats['mean_wall_s']:.1f}",
        )
    console.print(table)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(data, indent=2) + "\n")
        console.print(f"results: {json_out}")


def _eval_pass(
    suite: Suite,
    llm: str,
    options: RunOptions,
    workers: int,
    episodes: list[Episode],
    memory: Path | None,
    name: str,
) -> list[EpisodeResult]:
    """One pass over the episodes with a progress bar (a knowledge base at `memory`)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from heed.evaluate import evaluate

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console
    ) as bar:
        task = bar.add_task(f"{name} {suite.name}", total=len(episodes))

        def tick(result: object) -> None:
            mark = "ok" if result.success else "FAIL"
            bar.console.print(
                f"{mark:4s} {result.id}  corrections {result.corrections}", highlight=False
            )
            bar.advance(task)

        return evaluate(suite, llm, options, workers, episodes, tick, memory)


def _print_rounds(data: dict) -> None:
    """The per-round comparison of `heed eval --rounds`."""
    table = Table(
        "round",
        "episodes",
        "success (memory)",
        "corrections/ep (memory)",
        "success (baseline)",
        "corrections/ep (baseline)",
        "knowledge applied (memory)",
        "outside its scope",
        title="corrections by round",
    )
    for n, pair in data["rounds"].items():
        cells = []
        for key in ("memory", "baseline"):
            stats = pair[key] or {}
            success, per_episode = stats.get("success_rate"), stats.get("corrections_per_episode")
            cells.append("-" if success is None else f"{100 * success:.0f}%")
            cells.append("-" if per_episode is None else f"{per_episode:.2f}")
        applied = (pair["memory"] or {}).get("knowledge_applied_share")
        cells.append("-" if applied is None else f"{100 * applied:.0f}%")
        outside = (pair["memory"] or {}).get("knowledge_outside_scope")
        cells.append("-" if outside is None else str(outside))
        size = (pair["memory"] or pair["baseline"])["episodes"]
        table.add_row(str(n), str(size), *cells)
    console.print(table)
    for key, label in (
        ("final_success", "final success with memory"),
        ("later_vs_first_round", "corrections/ep, later rounds vs round 1"),
        ("first_round_vs_baseline", "corrections/ep, round 1 vs baseline"),
    ):
        if data.get(key) is not None:
            console.print(f"{label}: {100 * data[key]:.0f}%")


@sim_app.command("objects")
def sim_objects(as_json: JsonFlag = False) -> None:
    """List the registered object types (default size, mass, friction) and colours."""
    from sim.objects import OBJECT_TYPES
    from skills.palette import PALETTE

    types = {
        name: {
            "size": list(t.size),
            "mass": t.mass,
            "friction": t.friction,
            "graspable": t.graspable,
            "container": t.container,
        }
        for name in OBJECT_TYPES
        for t in [OBJECT_TYPES.get(name)]
    }
    if as_json:
        sys.stdout.write(json.dumps({"types": types, "colors": list(PALETTE)}, indent=2) + "\n")
        return
    table = Table("type", "size (cm)", "mass (kg)", "friction", "graspable", "container")
    for name, t in types.items():
        size = " x ".join(f"{v * 100:g}" for v in t["size"])
        table.add_row(
            name,
            size,
            f"{t['mass']:g}",
            f"{t['friction']:g}",
            str(t["graspable"]),
            str(t["container"]),
        )
    console.print(table)
    console.print("colours: " + ", ".join(PALETTE))


@sim_app.command("check")
def sim_check(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file to validate.")],
    as_json: JsonFlag = False,
) -> None:
    """Validate a suite file: fields, object types and colours, predicates, poses."""
    from sim.suite import load_suite

    try:
        loaded = load_suite(suite)
    except HeedError as error:
        raise fail(str(error)) from None
    summary = {
        "suite": loaded.name,
        "episodes": len(loaded.episodes),
        "rounds": sorted({e.round for e in loaded.episodes}),
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        console.print(
            f"{suite}: suite {loaded.name!r} is valid: {summary['episodes']} episodes, "
            f"rounds {summary['rounds']}"
        )


register_perceive(app)
app.add_typer(bridge_app, name="bridge")
app.add_typer(memory_app, name="memory")


def main() -> None:
    """Entry point of the `heed` console script."""
    app()


if __name__ == "__main__":
    main()
