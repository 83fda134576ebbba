"""Corrections: the interpreter, the simulated teleoperator's rules, and the loop taking them."""

from __future__ import annotations

import math

import pytest
from fakes import ScriptedBackend

from heed.teleop import UNKNOWN_ANSWER, SimulatedTeleoperator
from perception.scene_graph import scene_changes, scene_text
from planner.api import SkillApi
from planner.corrections import CorrectionInterpreter, ParamChange
from planner.events import EventBus
from planner.loop import LoopConfig, ReActLoop
from planner.sandbox import SandboxLimits
from sim.suite import parse_suite
from skills.primitives import Skills


@pytest.fixture(scope="module")
def interpreter():
    return CorrectionInterpreter()


@pytest.mark.parametrize(
    ("text", "kind", "intent"),
    [
        ("no, it should go in the green bowl", "task", "retarget"),
        ("no, the other bowl", "task", "retarget"),
        ("first clear the bowl", "task", "replan"),
        ("The bar as well, into the yellow bowl.", "task", "replan"),
        ("And the cyan block, into the yellow bowl.", "task", "replan"),
        ("no, it goes in the gray bowl too", "task", "retarget"),
        ("red things always go in the green bowl", "task", "preference"),
        ("from now on, cans belong on the mat", "task", "preference"),
        (
            "Whenever you handle a cylinder, it should end up on the orange mat.",
            "task",
            "preference",
        ),
        ("put it back", "task", "undo"),
        ("stop", "stop", "stop"),
        ("wait, stop now", "stop", "stop"),
        ("grasp it lower", "skill", "param"),
        ("squeeze harder", "skill", "param"),
        ("slower please", "skill", "param"),
        ("rotate the gripper 90 degrees", "skill", "param"),
        ("a bit more to the left", "skill", "param"),
        ("lower it before letting go", "skill", "param"),
    ],
)
def test_each_kind_of_correction_is_recognised(interpreter, text, kind, intent):
    correction = interpreter.interpret(text)
    assert (correction.kind, correction.intent) == (kind, intent)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("grasp it lower", ("pick", "grasp_height", "add", -0.01)),
        ("grab it 2 cm lower", ("pick", "grasp_height", "add", -0.02)),
        ("grasp it a lot lower", ("pick", "grasp_height", "add", -0.03)),
        ("squeeze harder", ("pick", "force", "scale", 3.0)),
        ("grip it with 60 N", ("pick", "force", "set", 60.0)),
        ("rotate the gripper 90 degrees", ("pick", "yaw", "add", math.pi / 2)),
        ("lower it before letting go", ("place", "release_height", "set", 0.0)),
    ],
)
def test_quantities_become_numbers(interpreter, text, expected):
    change = interpreter.interpret(text).changes[0]
    skill, param, op, value = expected
    assert (change.skill, change.param, change.op) == (skill, param, op)
    assert change.value == pytest.approx(value)


def test_a_bit_more_to_the_left_moves_the_place_offset_towards_plus_y(interpreter):
    (change,) = interpreter.interpret("a bit more to the left").changes
    assert change.param == "offset" and change.value[1] > 0 and change.value[0] == 0


def test_param_changes_apply_to_current_values():
    assert ParamChange("pick", "force", "scale", 3.0).apply(20.0) == 60.0
    assert ParamChange("pick", "grasp_height", "add", -0.01).apply(0.025) == pytest.approx(0.015)
    assert ParamChange("pick", "force", "set", 50.0).apply(20.0) == 50.0
    assert ParamChange("place", "offset", "add", (0.0, 0.02)).apply((0.01, 0.0)) == (0.01, 0.02)


SUITE = {
    "name": "t",
    "episodes": [
        {
            "id": "prefer-green",
            "seed": 0,
            "max_corrections": 2,
            "objects": [
                {"name": "red block", "type": "block", "color": "red", "pose": [0.45, 0.10]},
                {"name": "blue bowl", "type": "bowl", "color": "blue", "pose": [0.60, -0.15]},
                {"name": "green bowl", "type": "bowl", "color": "green", "pose": [0.60, 0.15]},
            ],
            "instruction": "put the red block in a bowl",
            "success": [{"in": ["red block", "green bowl"]}],
            "user": [
                {"violated": {"in": ["red block", "green bowl"]}, "say": "no, the green bowl"},
                {"violated": {"holding": "nothing"}, "say": "let go of it"},
            ],
            "answers": [{"match": "bowl", "say": "the green one"}],
        }
    ],
}


def test_the_teleoperator_answers_from_its_script():
    teleop = SimulatedTeleoperator(parse_suite(SUITE, "t.yaml").episodes[0])
    assert teleop.answer("Which bowl do you mean?") == "the green one"
    assert teleop.answer("What colour?") == UNKNOWN_ANSWER
    assert teleop.asked[-1] == ("What colour?", UNKNOWN_ANSWER)


def test_the_teleoperator_says_the_first_violated_rule_once_until_the_robot_acts():
    episode = parse_suite(SUITE, "t.yaml").episodes[0]
    state = {"in": False, "holding": True}
    teleop = SimulatedTeleoperator(episode, holds=lambda p: state[p.kind])
    assert teleop.correct(acted=True) == "no, the green bowl"
    assert teleop.correct(acted=False) is None  # not twice in a row without an action
    state["in"], state["holding"] = True, False
    assert teleop.correct(acted=True) == "let go of it"
    state["in"] = False
    assert teleop.correct(acted=True) is None  # max_corrections = 2 reached
    assert teleop.corrections == ["no, the green bowl", "let go of it"]


def test_a_skill_correction_changes_the_parameters_of_the_retry(make_env, item):
    env = make_env(
        item("cylinder", "gray", (0.45, 0.10), name="heavy can", mass=1.2, friction=0.3),
        item("bowl", "blue", (0.60, -0.12)),
    )
    bus = EventBus()
    skills = Skills(env.robot, env)
    api = SkillApi(skills, env, bus, lambda q: UNKNOWN_ANSWER)
    program = 'put_first_on_second("heavy can", "blue bowl")\ndone()'
    said: list[str] = []

    def corrector(acted: bool) -> str | None:
        holds = all(c.ok for c in env.check([_in("heavy can", "blue bowl")]))
        if holds or said:
            return None
        said.append("squeeze harder")
        return said[-1]

    outcome = _run(api, [program], corrector, "put the heavy can in the blue bowl")
    assert outcome.status == "unverified" and outcome.steps == 2
    assert "slipped" in outcome.history[0].observation
    (record,) = outcome.corrections
    assert record["kind"] == "skill" and record["applied"] == ["pick on heavy can: force = 60.0"]
    assert api.adjustments[("pick", "heavy can")] == {"force": 60.0}


def _run(api: SkillApi, steps: list[str], corrector, instruction: str):
    """Run scripted programs through the sandbox and the loop, with a corrector."""
    with api.sandbox(SandboxLimits(timeout_s=5)) as executor:
        loop = ReActLoop(
            ScriptedBackend(steps),
            api,
            executor,
            scene_text,
            scene_changes,
            LoopConfig(max_steps=3),
            corrector=corrector,
        )
        return loop.run(instruction)


def _in(a: str, b: str):
    from perception.predicates import parse_predicate

    return parse_predicate({"in": [a, b]}, {a: "cylinder", b: "bowl"})


def test_an_interrupt_ends_the_program_at_the_next_skill_and_asks_for_a_correction(make_env, item):
    env = make_env(item("block", "red", (0.45, 0.10)), item("bowl", "blue", (0.60, -0.12)))
    bus = EventBus()
    skills = Skills(env.robot, env)
    skills.listeners.append(  # the person hits Ctrl-C while the arm is picking
        lambda kind, payload: bus.interrupt() if kind == "skill_end" and not asked else None
    )
    api = SkillApi(skills, env, bus, lambda q: UNKNOWN_ANSWER)
    asked: list[bool] = []

    def corrector(acted: bool) -> str | None:
        asked.append(acted)
        return "no, red things always go in the green bowl" if len(asked) == 1 else None

    first = 'pick("red block")\nplace("blue bowl")\ndone()'
    steps = [first, 'place("blue bowl")\ndone()']
    outcome = _run(api, steps, corrector, "put the red block in the blue bowl")
    observation = outcome.history[0].observation
    assert "place(): stopped by the operator" in observation and "task done" not in observation
    assert asked[0] is True and outcome.corrections[0]["intent"] == "preference"
    assert outcome.status == "unverified" and outcome.steps == 2 and not bus.stop_requested


@pytest.mark.parametrize(
    ("instruction", "intent"),
    [
        ("From now on, red things go in the green bowl.", "preference"),
        ("never put cans in the white bowl", "never"),
        ("when I say tidy up, I mean put everything in the gray bowl", "meaning"),
        ("forget what I said about the white bowl", "forget"),
        ("the blue block always goes at the bottom, then the red one", "order"),
        ("put the red block in the green bowl", None),
        ("red things go in the green bowl", None),  # an order to act now
        ("orange goes at the right end", None),
        ("line up the red, green and blue blocks from left to right", None),
    ],
)
def test_an_instruction_that_teaches_is_told_from_one_that_asks_for_motion(
    interpreter, instruction, intent
):
    taught = interpreter.teaching(instruction)
    assert (taught.intent if taught else None) == intent
