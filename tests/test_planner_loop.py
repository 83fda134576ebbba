"""The ReAct loop end to end on the simulator, driven by a scripted test backend."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from fakes import ScriptedBackend

from perception.scene_graph import scene_changes, scene_text
from planner.api import API, SkillApi, api_listing
from planner.events import Event, EventBus
from planner.goals import Goal
from planner.loop import LoopConfig, ReActLoop
from planner.sandbox import SandboxExecutor, SandboxLimits
from skills.primitives import Skills


@pytest.fixture
def scene(make_env, item):
    return make_env(
        item("block", "red", (0.45, 0.10)),
        item("block", "green", (0.55, -0.15)),
        item("bowl", "blue", (0.60, 0.15)),
    )


@pytest.fixture
def harness(scene) -> Iterator[Callable[..., tuple[ReActLoop, list[Event]]]]:
    executors: list[SandboxExecutor] = []

    def build(backend: ScriptedBackend, answers: dict[str, str] | None = None, max_steps: int = 4):
        bus = EventBus()
        events: list[Event] = []
        bus.subscribe(events.append)
        skills = Skills(scene.robot, scene)
        skills.listeners.append(lambda kind, payload: bus.publish(kind, **payload))

        def ask(question: str) -> str:
            return next((a for k, a in (answers or {}).items() if k in question), "I don't know")

        api = SkillApi(skills, scene, bus, ask)
        executor = api.sandbox(SandboxLimits(timeout_s=5))
        executors.append(executor)
        loop = ReActLoop(
            backend, api, executor, scene_text, scene_changes, LoopConfig(max_steps=max_steps)
        )
        return loop, events

    yield build
    for executor in executors:
        executor.close()


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


IN_BOWL = Goal(({"in": ["red block", "blue bowl"]},))


def test_a_program_runs_and_its_goal_is_verified_on_the_scene(harness, scene):
    backend = ScriptedBackend(
        ['put_first_on_second("red block", "blue bowl")\ndone()'], goal=IN_BOWL
    )
    loop, events = harness(backend)
    outcome = loop.run("put the red block in the blue bowl")
    assert outcome.status == "verified" and outcome.steps == 1
    assert outcome.goal == [{"in": ["red block", "blue bowl"]}] and outcome.unmet == []
    check = next(e for e in events if e.kind == "goal_check")
    assert check.data["status"] == "verified"
    assert outcome.prompt_tokens == 10 and outcome.completion_tokens == 5
    assert all(c.ok for c in scene.check([_in("red block", "blue bowl")]))
    assert kinds(events)[:4] == ["start", "thought", "goal", "code"]
    assert {"goal", "skill_start", "skill_end", "observation", "done"} <= set(kinds(events))
    observation = next(e for e in events if e.kind == "observation").data["text"]
    assert "place: ok" in observation and "red block" in observation


def test_put_first_on_second_after_a_pick_of_the_same_object_just_places_it(harness, scene):
    program = 'pick("red block")\nput_first_on_second("red block", "blue bowl")\ndone()'
    loop, _ = harness(ScriptedBackend([program]))
    outcome = loop.run("put the red block in the blue bowl")
    assert outcome.status == "unverified" and outcome.steps == 1
    assert all(c.ok for c in scene.check([_in("red block", "blue bowl")]))


def test_a_failed_step_is_observed_and_the_next_step_fixes_it(harness):
    backend = ScriptedBackend(
        [
            'pick("purple block")',  # not in the scene: the error is the observation
            lambda ctx: (
                'put_first_on_second("green block", "blue bowl")\ndone()'
                if "purple block" in ctx.history[-1].observation
                else "done()"
            ),
        ]
    )
    loop, _ = harness(backend)
    outcome = loop.run("put a block in the bowl")
    assert outcome.status == "unverified" and outcome.steps == 2 and outcome.rescued == 1
    first = outcome.history[0]
    assert not first.ok and "unknown object 'purple block'" in first.observation
    assert "line 1" in first.observation


def test_a_program_the_checker_refuses_is_reported_not_run(harness):
    backend = ScriptedBackend(["import os\ndone()", "done()"])
    loop, _ = harness(backend)
    outcome = loop.run("anything")
    assert "import is not allowed" in outcome.history[0].observation
    assert outcome.status == "unverified"


def test_an_undefined_function_is_written_by_the_backend_then_reused(harness, scene):
    backend = ScriptedBackend(
        ['put_in_bowl("red block")\ndone()'],
        definitions={
            "put_in_bowl": 'def put_in_bowl(name):\n    put_first_on_second(name, "blue bowl")'
        },
    )
    loop, events = harness(backend)
    outcome = loop.run("put the red block in the bowl")
    assert outcome.status == "unverified"
    assert any(e.kind == "code" and e.data.get("defines") == "put_in_bowl" for e in events)
    assert "put_in_bowl" in loop.defined and all(
        c.ok for c in scene.check([_in("red block", "blue bowl")])
    )


def test_ask_reaches_the_user_and_the_answer_is_in_the_next_context(harness):
    backend = ScriptedBackend(
        [
            'ask("Which block do you mean?")',
            lambda ctx: (
                "done()" if ctx.answers == (("Which block do you mean?", "the red one"),) else ""
            ),
        ]
    )
    loop, events = harness(backend, answers={"block": "the red one"})
    outcome = loop.run("move the block")
    assert outcome.status == "unverified" and outcome.questions == [
        ("Which block do you mean?", "the red one")
    ]
    assert [e.data["text"] for e in events if e.kind == "answer"] == ["the red one"]


def test_refuse_ends_the_task_without_motion(harness, scene):
    before = scene.robot.state().joints
    loop, _ = harness(ScriptedBackend(['refuse("there is no purple block")']))
    outcome = loop.run("put the purple block in the bowl")
    assert outcome.status == "refused" and outcome.reason == "there is no purple block"
    assert scene.robot.state().joints == before


def test_the_loop_stops_at_max_steps(harness):
    loop, _ = harness(ScriptedBackend(['say("thinking")']), max_steps=3)
    outcome = loop.run("never finishes")
    assert outcome.status == "failed" and outcome.steps == 3


def test_a_stop_request_ends_the_loop_at_the_next_skill_boundary(harness):
    backend = ScriptedBackend(['put_first_on_second("red block", "blue bowl")\ndone()'])
    loop, events = harness(backend)
    loop.bus.subscribe(lambda e: loop.bus.request_stop() if e.kind == "code" else None)
    outcome = loop.run("put the red block in the blue bowl")
    assert outcome.status == "stopped"
    assert "stopped by the operator" in outcome.history[0].observation
    assert "skill_start" not in kinds(events)


def test_a_paused_loop_waits_at_the_skill_boundary_until_resumed(harness):
    backend = ScriptedBackend(['put_first_on_second("red block", "blue bowl")\ndone()'])
    loop, events = harness(backend)
    loop.bus.subscribe(lambda e: loop.bus.pause() if e.kind == "code" else None)
    timer = threading.Timer(0.3, loop.bus.resume)
    timer.start()
    outcome = loop.run("put the red block in the blue bowl")
    timer.join()
    assert outcome.status == "unverified"
    code_t = next(e.t_wall for e in events if e.kind == "code")
    skill_t = next(e.t_wall for e in events if e.kind == "skill_start")
    assert skill_t - code_t >= 0.25


def test_an_unmet_goal_is_observed_and_the_next_step_meets_it(harness, scene):
    backend = ScriptedBackend(
        ['put_first_on_second("green block", "blue bowl")\ndone()', IN_BOWL_PROGRAM],
        goal=IN_BOWL,
    )
    loop, events = harness(backend)
    outcome = loop.run("put the red block in the blue bowl")
    first = outcome.history[0]
    assert not first.ok and "goal check: NOT met" in first.observation
    assert "in(red block, blue bowl)" in first.observation
    assert outcome.status == "verified" and outcome.steps == 2 and outcome.rescued == 1
    assert [e.data["status"] for e in events if e.kind == "goal_check"] == ["failed", "verified"]


IN_BOWL_PROGRAM = 'put_first_on_second("red block", "blue bowl")\ndone()'


def test_a_goal_still_unmet_when_the_steps_run_out_fails_and_says_why(harness, scene):
    backend = ScriptedBackend(["done()"], goal=IN_BOWL)
    loop, _ = harness(backend, max_steps=2)
    outcome = loop.run("put the red block in the blue bowl")
    assert outcome.status == "failed" and outcome.steps == 2
    assert len(outcome.unmet) == 1 and outcome.unmet[0].startswith("in(red block, blue bowl)")
    assert "goal not met" in outcome.reason


def test_a_task_without_a_goal_ends_unverified_and_says_so(harness):
    loop, events = harness(ScriptedBackend(["done()"], goal=Goal.unstated("no predicate fits")))
    outcome = loop.run("make it nice")
    assert outcome.status == "unverified" and outcome.reason == "no predicate fits"
    said = [e.data["text"] for e in events if e.kind == "say"]
    assert said and "could not check" in said[-1]


def test_goal_parts_no_predicate_checks_leave_the_task_unverified(harness, scene):
    goal = Goal(({"in": ["red block", "blue bowl"]},), unchecked=("the triangle's shape",))
    loop, _ = harness(ScriptedBackend([IN_BOWL_PROGRAM], goal=goal))
    outcome = loop.run("put the red block in the blue bowl in a nice triangle")
    assert outcome.status == "unverified" and "triangle" in outcome.reason


def test_a_question_asked_twice_in_one_task_reaches_the_user_once(harness):
    asked: list[str] = []
    backend = ScriptedBackend(['ask("Which block?")', 'ask("which  block?")\ndone()'])
    loop, events = harness(backend, answers={"block": "I don't know"})
    loop.api._ask = lambda q: asked.append(q) or "I don't know"
    outcome = loop.run("move the block")
    assert asked == ["Which block?"] and outcome.repeated_questions == 1
    assert "asked again, not put to the user twice" in outcome.history[1].observation
    assert [e.kind for e in events].count("question") == 1


def test_the_api_listing_is_generated_from_the_declarations():
    listing = api_listing()
    for name in API:
        assert f"{name}(" in listing
    assert "pick(obj, grasp_height=None" in listing and "# robot skills" in listing


def _in(a: str, b: str):
    from perception.predicates import parse_predicate

    return parse_predicate({"in": [a, b]}, {a: "block", b: "bowl"})


def test_a_correction_no_pattern_read_never_moves_the_robot_it_is_asked_about(harness):
    said: list[str] = []
    backend = ScriptedBackend([IN_BOWL_PROGRAM, "done()"], goal=IN_BOWL)
    loop, _ = harness(backend)
    loop.corrector = lambda acted: None if said else said.append("zorp the flibber") or said[-1]
    outcome = loop.run("put the red block in the blue bowl")
    (record,) = outcome.corrections
    assert record["read_by"] in ("embedding", "default") and record["intent"] == "unclear"
    assert backend.seen[1].corrections[0].intent == "unclear"


IN_GREEN = Goal(({"in": ["green block", "blue bowl"]},))
GREEN_PROGRAM = 'put_first_on_second("green block", "blue bowl")\ndone()'


def restating(backend: ScriptedBackend, goal: Goal, program: str) -> Callable:
    """A step that states another goal than the backend's first (and writes `program`)."""

    def step(context) -> str:
        backend.goal = goal
        return program

    return step


def test_a_later_step_can_not_rewrite_the_goal_it_missed(harness, scene):
    """The goal says what the instruction asks: a step that misses it and restates the goal
    as what it did is not verified; the Observation says the goal was kept."""
    backend = ScriptedBackend([GREEN_PROGRAM], goal=IN_BOWL)
    backend.steps.append(restating(backend, IN_GREEN, "done()"))
    loop, _ = harness(backend, max_steps=2)
    outcome = loop.run("put the red block in the blue bowl")
    assert outcome.status == "failed" and outcome.goal == [{"in": ["red block", "blue bowl"]}]
    assert "goal kept: in(red block, blue bowl)" in outcome.history[1].observation


def test_a_correction_or_an_answer_lets_the_goal_be_said_anew(harness, scene):
    backend = ScriptedBackend([GREEN_PROGRAM], goal=IN_BOWL)
    backend.steps.append(restating(backend, IN_GREEN, "done()"))
    loop, _ = harness(backend, max_steps=2)
    said: list[str] = []
    loop.corrector = lambda acted: None if said else said.append("no, the green block") or said[-1]
    outcome = loop.run("put the red block in the blue bowl")
    assert outcome.corrections[0]["kind"] == "task"
    assert outcome.status == "verified" and outcome.goal == [{"in": ["green block", "blue bowl"]}]
    asking = ScriptedBackend(['ask("Which block?")'], goal=IN_BOWL)
    asking.steps.append(restating(asking, IN_GREEN, GREEN_PROGRAM))
    loop, _ = harness(asking, answers={"Which": "the green one"}, max_steps=2)
    outcome = loop.run("put a block in the blue bowl")
    assert outcome.status == "verified" and outcome.goal == [{"in": ["green block", "blue bowl"]}]


def test_a_goal_nothing_acted_on_may_still_be_restated(harness, scene):
    """A step that neither moved anything nor had its goal checked leaves it open."""
    backend = ScriptedBackend(['say("Let me look.")'], goal=IN_BOWL)
    backend.steps.append(restating(backend, IN_GREEN, GREEN_PROGRAM))
    loop, _ = harness(backend, max_steps=2)
    outcome = loop.run("put the green block in the blue bowl")
    assert outcome.status == "verified" and outcome.goal == [{"in": ["green block", "blue bowl"]}]
