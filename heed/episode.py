"""Run one instruction on one scene: the wiring of world, perception, skills, planner.

`heed run` and `heed eval` both call `run_episode`; it writes the run folder (config,
trace, scene graphs, result, optional video) and returns the episode's result in the
form `heed eval` reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.client import RemoteEpisode
from heed.runs import RunFolder
from heed.teleop import SimulatedTeleoperator
from memory.records import PROGRAM, TASK, KnowledgeRecord
from memory.retrieval import in_scope, retrieve, skill_defaults, task_records
from memory.store import KnowledgeBase
from perception.predicates import PredicateError, parse_predicate
from perception.scene_graph import SceneGraph, scene_changes, scene_text
from perception.source import DEFAULT_OBJECT_SOURCE, make_object_source
from planner.api import AskHandler, ParamDefaults, SkillApi
from planner.backend import PlannerBackend
from planner.context import RememberedProgram
from planner.events import Event, EventBus
from planner.language.forget import mentions, parse_forget
from planner.loop import Corrector, LoopConfig, ReActLoop
from planner.outcome import FINISHED, TaskOutcome, corrected_task
from planner.programs import program_record
from sim.env import TabletopEnv
from sim.recorder import VideoRecorder
from sim.suite import Episode
from sim.world import WorldConfig
from skills.objects import ObjectState
from skills.primitives import Skills

PROGRAM_THRESHOLD = 0.6  # text similarity a remembered program needs to be considered
# (whether it replays is decided word by word: `planner.programs.replay`)


@dataclass
class RunOptions:
    """How to run an episode.

    Attributes:
        objects: object source: ``ground_truth``, ``segmentation`` or ``rgbd``.
        video: record ``episode.mp4``.
        camera: camera the video is taken from.
        fps: video frames per simulated second.
        gui: show the PyBullet GUI.
        runs_dir: where run folders go.
        robot: ``tcp://host:port`` of a bridge serving the simulator, instead of a local one.
        keys: folder of CURVE keys for the bridge (``heed bridge keys``), if it uses them.
    """

    objects: str = DEFAULT_OBJECT_SOURCE
    video: bool = False
    camera: str = "front"
    fps: float = 10.0
    gui: bool = False
    runs_dir: Path = Path("runs")
    robot: str | None = None
    keys: Path | None = None

    def __post_init__(self) -> None:
        if self.robot is not None and self.video:
            raise ValueError("--video records the local simulator; drop it with --robot")
        if self.robot is not None and self.gui:
            raise ValueError("--gui shows the local simulator; drop it with --robot")


@dataclass
class EpisodeResult:
    """One episode's outcome, with the per-episode keys `heed eval` writes."""

    id: str
    family: str
    round: int
    success: bool
    status: str
    failed_predicates: list[str] = field(default_factory=list)
    corrections: int = 0
    questions: int = 0
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    run_dir: str = ""
    rescued: int = 0
    overhead_ms: float = 0.0
    retrieved: int = 0  # task knowledge records put into the planner's context
    learned: int = 0  # knowledge records distilled from this episode's corrections
    skill_defaults: int = 0  # skill calls whose parameter defaults came from knowledge
    model_s: float = 0.0  # seconds the planner's model spent (0 for the offline parser)
    step_model_s: list[float] = field(default_factory=list)  # model seconds per step
    cached_tokens: int = 0  # prompt tokens the model reused instead of evaluating
    reason: str = ""  # why the planner ended as it did (goal met, unmet predicates, refusal)
    self_check: str = ""  # the planner's own verdict: verified/failed/unverified/refused/stopped
    goal: list[dict] = field(default_factory=list)  # the goal the planner stated
    unmet: list[str] = field(default_factory=list)  # its predicates the planner found unmet
    served_by: list[str] = field(default_factory=list)  # cascade level of each step
    step_plan_s: list[float] = field(default_factory=list)  # seconds proposing each step
    repeated_questions: int = 0  # questions a program asked again in one task
    knowledge_applied: int = 0  # retrieved task knowledge statements the plan acted on
    knowledge_outside_scope: int = 0  # of those, acted on for no object in their scope

    @property
    def false_success(self) -> bool:
        """The planner verified its goal while the suite's predicates say it failed."""
        return self.self_check == "verified" and not self.success

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _forget(kb: KnowledgeBase, said: str, bus: EventBus) -> None:
    """Revoke the task knowledge a forget correction is about (deleted records keep their
    history in the knowledge base), and say so in the trace."""
    subject = parse_forget(said)
    if subject is None:
        return
    for record in list(kb.records(TASK)):
        if record.id is not None and mentions(record.statement, subject):
            kb.delete(record.id)
            bus.publish("forgotten", id=record.id, statement=record.statement, said=said)


def _learn(kb: KnowledgeBase, record: KnowledgeRecord, bus: EventBus) -> bool:
    """Store a record and say so in the trace (with what it replaced); a record the store
    refuses (a correction too long to keep as a statement) is said so, and the run goes on."""
    try:
        record_id, replaced = kb.learn(record)
    except ValueError as refused:
        bus.publish("error", message=f"not learned: {refused}")
        return False
    bus.publish(
        "distilled",
        id=record_id,
        kind=record.kind,
        statement=record.statement,
        change=record.change,
        supersedes=replaced,
    )
    return True


def _skill_knowledge(kb: KnowledgeBase | None) -> ParamDefaults | None:
    """Parameter defaults that stored skill knowledge sets for a call (None: no memory)."""
    if kb is None:
        return None
    return lambda skill, obj: {} if obj is None else skill_defaults(kb, skill, obj)


def open_episode(episode: Episode, options: RunOptions) -> TabletopEnv | RemoteEpisode:
    """The episode's scene: a local simulator, or the simulator behind a bridge (whose
    client handshakes again after a lost link: see `bridge.client.Recovery`)."""
    if options.robot is None:
        return TabletopEnv.from_episode(episode, WorldConfig(gui=options.gui))
    from bridge.client import connect_robot

    client = connect_robot(options.robot, keys=options.keys, recover=True)
    return client.start_episode(episode)


def run_episode(
    episode: Episode,
    backend: PlannerBackend,
    options: RunOptions,
    subscribers: Iterable[Callable[[Event], None]] = (),
    kb: KnowledgeBase | None = None,
    corrector: Corrector | None = None,
    bus: EventBus | None = None,
    answer: AskHandler | None = None,
) -> EpisodeResult:
    """Set up the episode's scene, let the planner work, check success, write the run folder.

    With a knowledge base, task knowledge retrieved for the instruction goes into the
    planner's context, skill knowledge sets parameter defaults of each skill call, and
    what the episode's corrections teach is distilled and stored at the end. Corrections
    come from `corrector` and answers to the planner's questions from `answer` (a person)
    or else from the episode's simulated teleoperator;
    pass `bus` to pause, interrupt or stop the run from outside (e.g. on Ctrl-C).
    """
    t0 = time.perf_counter()
    run = RunFolder.create(episode.id, options.runs_dir)
    run.write_json(
        "config.json",
        {
            "episode": episode.to_dict(),
            "backend": backend.name,
            "objects": options.objects,
            "video": options.video,
            "camera": options.camera,
            "fps": options.fps,
            "robot": options.robot or "local simulator",
        },
    )
    with open_episode(episode, options) as env, run.trace() as trace:
        bus = bus or EventBus()
        bus.subscribe(
            lambda e: trace.write(e.kind, step=e.step, t_sim=round(env.robot.clock(), 3), **e.data)
        )
        for subscriber in subscribers:
            bus.subscribe(subscriber)
        if isinstance(env, RemoteEpisode):  # a lost link and what is known since, in the trace
            env.robot.listeners.append(lambda r: bus.publish("bridge", **r.to_dict()))
        knowledge_calls: list[Event] = []
        bus.subscribe(lambda e: knowledge_calls.append(e) if e.kind == "knowledge" else None)
        source = make_object_source(options.objects, env)
        skills = Skills(env.robot, source)
        skills.listeners.append(lambda kind, payload: bus.publish(kind, **payload))
        teleop = SimulatedTeleoperator(episode, holds=lambda p: env.check([p])[0].ok)
        knowledge: list[str] = []
        records: dict[str, KnowledgeRecord] = {}
        programs: list[RememberedProgram] = []
        initial = source.objects()
        if kb is not None:
            found = task_records(kb, episode.instruction, initial)
            knowledge = [r.record.statement for r in found]
            records = {r.record.statement: r.record for r in found}
            bus.publish("retrieved", records=[r.to_dict() for r in found])
            programs = [
                RememberedProgram(r.record.statement, r.record.change, r.score, r.record.id)
                for r in retrieve(
                    kb, episode.instruction, initial, PROGRAM, k=3, threshold=PROGRAM_THRESHOLD
                )
            ]
        api = SkillApi(skills, source, bus, answer or teleop.answer, _skill_knowledge(kb))
        run.write_json("scene_initial.json", SceneGraph.build(initial).to_json())
        recorder = None
        if options.video:
            video = run.file("episode.mp4")
            recorder = VideoRecorder(env.world, video, options.camera, options.fps)
            recorder.start()
        executor = api.sandbox()
        try:
            loop = ReActLoop(
                backend,
                api,
                executor,
                scene_text,
                scene_changes,
                LoopConfig(max_steps=episode.max_steps),
                corrector=corrector or (teleop.correct if episode.user else None),
            )
            outcome = loop.run(episode.instruction, knowledge, programs)
        finally:
            executor.close()
            if recorder is not None:
                recorder.stop()
        checks = env.check(episode.success)
        final_scene = source.objects()
        run.write_json("scene_final.json", SceneGraph.build(final_scene).to_json())
        learned = 0
        if kb is not None:  # a verified program is remembered for similar orders
            program = program_record(run.path.name, episode.instruction, outcome, initial)
            if program is not None:
                _learn(kb, program, bus)
        if kb is not None:  # what the user asked to forget is revoked, whatever the outcome
            for said in (c.text for c in outcome.task_corrections if c.intent == "forget"):
                _forget(kb, said, bus)
        if kb is not None and (outcome.corrections or outcome.task_corrections):
            task = corrected_task(run.path.name, episode.instruction, outcome, final_scene)
            for record in backend.distill(task):
                learned += _learn(kb, record, bus)
    expected = ("refused",) if episode.expect == "refuse" else FINISHED
    pairs = zip(episode.success, checks, strict=True)
    failed = [f"{p.to_raw()}: {c.detail}" for p, c in pairs if not c.ok]
    if outcome.status not in expected:
        failed.append(f"planner ended {outcome.status!r}, expected {' or '.join(expected)}")
    result = EpisodeResult(
        id=episode.id,
        family=episode.family,
        round=episode.round,
        success=not failed,
        status=outcome.status,
        failed_predicates=failed,
        questions=len(outcome.questions),
        corrections=len(outcome.corrections),
        steps=outcome.steps,
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        wall_s=round(time.perf_counter() - t0, 3),
        run_dir=str(run.path),
        rescued=outcome.rescued,
        overhead_ms=round(1000 * max(outcome.overhead_s, default=0.0), 3),
        retrieved=len(knowledge),
        learned=learned,
        skill_defaults=len(knowledge_calls),
        model_s=round(outcome.model_s, 3),
        step_model_s=outcome.step_model_s,
        cached_tokens=outcome.cached_tokens,
        self_check=outcome.status,
        reason=outcome.reason,
        goal=outcome.goal,
        unmet=outcome.unmet,
        served_by=outcome.served_by,
        step_plan_s=outcome.step_plan_s,
        repeated_questions=outcome.repeated_questions,
        knowledge_applied=len(outcome.knowledge_applied),
        knowledge_outside_scope=len(_outside_scope(outcome, records, initial)),
    )
    run.write_json("result.json", result.to_dict())
    return result


def _outside_scope(
    outcome: TaskOutcome, records: dict[str, KnowledgeRecord], scene: Sequence[ObjectState]
) -> list[str]:
    """The applied statements whose record's object scope fits none of the objects the
    final goal is about (a rule about red blocks used for a red can)."""
    named = _goal_names(outcome.goal, scene)
    acted_on = [o for o in scene if o.name in named]
    return [
        s
        for s in outcome.knowledge_applied
        if s in records and acted_on and not in_scope(records[s], acted_on)
    ]


def _goal_names(goal: Sequence[dict], scene: Sequence[ObjectState]) -> set[str]:
    """The objects a goal's predicates are about (not those it keeps unmoved)."""
    kinds = {o.name: o.category for o in scene}
    names: set[str] = set()
    for raw in goal:
        try:
            predicate = parse_predicate(raw, kinds)
        except PredicateError:
            continue  # a malformed goal was reported by the goal check
        if predicate.kind != "unmoved":
            names.update(predicate.names)
    return names
