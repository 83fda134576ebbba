"""Corrections that stick, without the simulator: the embedded planner acting on task
corrections and retrieved knowledge, placement rules, distillation, and supersession."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from tabletop_scenes import moves, obj, propose, scene

from memory.records import SKILL, TASK
from memory.retrieval import skill_defaults, task_knowledge
from memory.store import KnowledgeBase
from planner.chat import ChatPlanner
from planner.context import TaskCorrection
from planner.corrections import CorrectionInterpreter
from planner.distill import distill, rule_statement
from planner.embedded.backend import EmbeddedPlanner
from planner.language.rules import is_general, parse_rule, put_backs
from planner.llm.stub import StubChatModel
from planner.outcome import CorrectedTask, SkillLesson

YELLOW = "the yellow bowl"
TWO_BOWLS = (("blue bowl", 0.55, 0.15), ("green bowl", 0.55, -0.15))


@pytest.fixture(scope="module")
def planner() -> EmbeddedPlanner:
    return EmbeddedPlanner()


# --- placement rules read from words -------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "colors", "category", "target"),
    [
        ("red things always go in the green bowl", ("red",), None, "the green bowl"),
        ("no, bars always go in the purple bowl", (), "bar", "the purple bowl"),
        ("red objects go in the green bowl", ("red",), None, "the green bowl"),
        ("hmm, I keep all my cans in the cyan bowl", (), "cylinder", "the cyan bowl"),
        ("from now on put cylinders in the cyan bowl", (), "cylinder", "the cyan bowl"),
        ("the cyan bowl is where every can goes", (), "cylinder", "the cyan bowl"),
        ("whenever something is blue, the yellow bowl is its home", ("blue",), None, YELLOW),
        ("keep in mind the blue ones always get the yellow bowl", ("blue",), None, YELLOW),
        ("please always use the cyan bowl for cans", (), "cylinder", "the cyan bowl"),
        ("I like blue things to sit in the yellow bowl", ("blue",), None, "the yellow bowl"),
    ],
)
def test_preferences_are_read_as_placement_rules(text, colors, category, target):
    rule = parse_rule(text)
    assert rule is not None
    assert (rule.objects.colors, rule.objects.category, rule.target.text) == (
        colors,
        category,
        target,
    )
    assert is_general(rule)


@pytest.mark.parametrize("text", ["no, it should go in the green bowl", "put it back", "stop"])
def test_sentences_without_a_rule_give_none(text):
    assert parse_rule(text) is None


def test_a_rule_about_one_object_is_not_general():
    rule = parse_rule("the red block should go in the green bowl")
    assert rule is not None and not is_general(rule)


def test_distilled_statements_read_back_as_the_same_rule():
    rule = parse_rule("no, red things always go in the green bowl")
    again = parse_rule(rule_statement(rule))
    assert rule_statement(rule) == "red objects go in the green bowl"
    assert (again.objects.colors, again.target.text) == (("red",), "the green bowl")
    region = parse_rule("Cans go in the back left corner, like always.")
    assert rule_statement(region) == "cans go in the top left corner"
    assert parse_rule(rule_statement(region)).region == "top left corner"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("anything blue ends up in the yellow bowl", "preference"),
        ("the cyan bowl is where every can goes", "preference"),
        ("not this bowl - I meant the other one", "retarget"),
        ("the red block should go in the green bowl", "retarget"),
    ],
)
def test_the_interpreter_tells_general_rules_from_retargets(text, intent):
    assert CorrectionInterpreter().interpret(text).intent == intent


@pytest.mark.parametrize(
    "text", ["tighten your grip, it's sliding out", "clamp down on it more", "it keeps slipping"]
)
def test_slipping_and_clamping_ask_for_more_force(text):
    correction = CorrectionInterpreter().interpret(text)
    assert correction.kind == "skill"
    assert [c.describe() for c in correction.changes] == ["pick.force *= 3.0"]


# --- the embedded planner acting on knowledge and corrections ------------------------------
def test_retrieved_knowledge_settles_an_open_destination(planner):
    objects = scene(("red block", 0.40, 0.0), *TWO_BOWLS)
    assert moves(propose(planner, "put the red block in a bowl", objects)) == [
        ("red block", "blue bowl")  # by default the leftmost bowl
    ]
    known = ("red objects go in the green bowl",)
    assert moves(propose(planner, "put the red block in a bowl", objects, knowledge=known)) == [
        ("red block", "green bowl")
    ]


def test_knowledge_never_overrides_a_named_destination(planner):
    objects = scene(("red block", 0.40, 0.0), *TWO_BOWLS)
    known = ("red objects go in the green bowl",)
    code = propose(planner, "put the red block in the blue bowl", objects, knowledge=known)
    assert moves(code) == [("red block", "blue bowl")]


def test_knowledge_about_other_objects_is_left_out(planner):
    objects = scene(("yellow block", 0.40, 0.0), *TWO_BOWLS)
    known = ("red objects go in the green bowl", "bars go in the green bowl")
    code = propose(planner, "put the yellow block in a bowl", objects, knowledge=known)
    assert moves(code) == [("yellow block", "blue bowl")]


def test_an_ambiguous_destination_is_settled_by_knowledge_instead_of_a_question(planner):
    objects = scene(("red block", 0.40, 0.0), *TWO_BOWLS)
    assert propose(planner, "put the red block in the bowl", objects).startswith("ask(")
    known = ("red objects go in the green bowl",)
    code = propose(planner, "put the red block in the bowl", objects, knowledge=known)
    assert moves(code) == [("red block", "green bowl")]


def test_a_preference_said_during_the_task_beats_the_instruction(planner):
    objects = scene(("red block", 0.55, 0.15), *TWO_BOWLS)  # now in the blue bowl
    said = TaskCorrection("no, red things always go in the green bowl", "preference")
    code = propose(planner, "put the red block in the blue bowl", objects, corrections=(said,))
    assert moves(code) == [("red block", "green bowl")]


def test_the_other_bowl_is_the_one_the_object_is_not_in(planner):
    before = scene(("yellow block", 0.40, 0.0), *TWO_BOWLS)
    after = scene(("yellow block", 0.55, 0.15), *TWO_BOWLS)  # it went into the blue bowl
    said = TaskCorrection("no, the other bowl", "retarget", (("yellow block", 0.40, 0.0),), after)
    code = propose(planner, "put the yellow block in a bowl", after, corrections=(said,))
    assert moves(code) == [("yellow block", "green bowl")]
    assert before[0].position[:2] == (0.40, 0.0)


def test_use_the_x_names_the_destination_and_a_remark_about_the_other_is_no_target(planner):
    after = scene(("yellow block", 0.55, 0.15), *TWO_BOWLS)  # it went into the blue bowl
    said = TaskCorrection(
        "Oh wait, just this time use the green bowl, the blue one's about to be washed.",
        "retarget",
        (("yellow block", 0.40, 0.0),),
        after,
    )
    code = propose(planner, "put the yellow block in the blue bowl", after, corrections=(said,))
    assert moves(code) == [("yellow block", "green bowl")]
    assert distill(_task((said,), objects=after)) == []  # "just this time": followed, never stored


def test_put_it_back_returns_what_the_last_program_moved_and_ends(planner):
    after = scene(("red block", 0.55, 0.15), *TWO_BOWLS)
    said = TaskCorrection("put it back", "undo", (("red block", 0.40, 0.05),), after)
    code = propose(planner, "put the red block in a bowl", after, corrections=(said,))
    assert moves(code) == [("red block", (0.40, 0.05))]
    assert code.rstrip().endswith("done()")


def test_first_clear_the_bowl_empties_it_before_the_task(planner):
    objects = scene(("red block", 0.40, 0.0), ("yellow block", 0.55, 0.15), *TWO_BOWLS)
    said = TaskCorrection("no, first clear the blue bowl", "replan", (), objects)
    code = propose(planner, "put the red block in the blue bowl", objects, corrections=(said,))
    done = moves(code)
    assert done[0][0] == "yellow block" and isinstance(done[0][1], tuple)
    assert done[1] == ("red block", "blue bowl")


def test_an_unclear_correction_is_asked_about(planner):
    objects = scene(("red block", 0.40, 0.0), *TWO_BOWLS)
    said = TaskCorrection("hmm, not like that", "unclear")
    code = propose(planner, "put the red block in a bowl", objects, corrections=(said,))
    assert code.startswith("ask(") and "not like that" in code


# --- distillation ------------------------------------------------------------------------------
def _task(corrections=(), skills=(), status="verified", objects=None) -> CorrectedTask:
    objects = objects or scene(("red block", 0.55, -0.15), *TWO_BOWLS)
    instruction = "put the red block in a bowl"
    return CorrectedTask("ep-1", instruction, status, corrections, skills, objects)


def test_a_preference_is_distilled_into_task_knowledge():
    said = TaskCorrection("no, red things always go in the green bowl", "preference")
    (record,) = distill(_task((said,)))
    assert record.kind == TASK
    assert record.statement == "red objects go in the green bowl"
    assert record.change == {
        "rule": "destination",
        "object": {"color": "red"},
        "target": {"category": "bowl", "color": "green"},
        "relation": "in",
    }
    assert record.provenance.correction == said.text and record.provenance.episode == "ep-1"
    assert {o.name for o in record.context.objects} == {"red block", "green bowl"}


def test_a_retarget_is_distilled_for_that_kind_of_object():
    after = scene(("yellow block", 0.55, 0.15), *TWO_BOWLS)
    said = TaskCorrection("no, the other bowl", "retarget", (("yellow block", 0.4, 0.0),), after)
    final = scene(("yellow block", 0.55, -0.15), *TWO_BOWLS)
    (record,) = distill(_task((said,), objects=final))
    assert record.statement == "yellow blocks go in the green bowl"
    assert record.change["object"] == {"category": "block", "color": "yellow"}


def test_a_skill_correction_is_distilled_for_the_object_category():
    can = obj("gray can", 0.45, 0.10)
    lesson = SkillLesson("pick", can, {"force": 60.0}, ("squeeze harder",))
    (record,) = distill(_task(skills=(lesson,)))
    assert record.kind == SKILL
    assert record.statement == "when picking cylinders, grip with 60 N"
    assert record.change == {
        "skill": "pick",
        "params": {"force": 60.0},
        "applies_to": {"category": "cylinder"},
    }


def test_scene_specific_and_one_off_corrections_teach_nothing_general():
    offset = SkillLesson("place", obj("red block", 0.4, 0.0), {"offset": (0.0, 0.02)})
    undo = TaskCorrection("put it back", "undo")
    assert distill(_task((undo,), (offset,))) == []


def test_a_task_that_did_not_end_done_teaches_nothing():
    said = TaskCorrection("no, red things always go in the green bowl", "preference")
    assert distill(_task((said,), status="failed")) == []


def test_an_llm_backend_distills_with_its_model_and_falls_back_on_the_draft():
    said = TaskCorrection("no, red things always go in the green bowl", "preference")
    reply = json.dumps(
        [
            {
                "kind": "task",
                "statement": "put red things into the green bowl",
                "change": {"rule": "destination", "object": {"color": "red"}},
            }
        ]
    )
    model = StubChatModel([f"Here you go:\n```json\n{reply}\n```", "no JSON at all"])
    chat = ChatPlanner(model)
    (record,) = chat.distill(_task((said,)))
    assert record.statement == "put red things into the green bowl"
    assert record.provenance.correction == said.text
    assert "red objects go in the green bowl" in model.calls[0][0].content  # the draft
    (fallback,) = chat.distill(_task((said,)))
    assert fallback.statement == "red objects go in the green bowl"


# --- storing: a contradiction supersedes, retrieval then finds only the new rule -------------
def test_a_contradicting_preference_supersedes_the_old_one(tmp_path):
    green = TaskCorrection("red things always go in the green bowl", "preference")
    blue = TaskCorrection("from now on red things go in the blue bowl", "preference")
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        (first,) = distill(_task((green,)))
        first_id, replaced = kb.learn(first)
        assert replaced == []
        assert kb.learn(first) == (first_id, [])  # the same lesson twice is one record
        (second,) = distill(_task((blue,)))
        second_id, replaced = kb.learn(second)
        assert replaced == [first_id]
        assert kb.get(first_id).superseded_by == second_id
        found = task_knowledge(kb, "put the red cylinder in a bowl", scene(*TWO_BOWLS))
        assert found == ["red objects go in the blue bowl"]


def test_distilled_skill_knowledge_sets_defaults_for_that_kind_of_object(tmp_path):
    lesson = SkillLesson("pick", obj("gray can", 0.45, 0.1), {"force": 60.0}, ("grip harder",))
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        for record in distill(_task(skills=(lesson,))):
            kb.learn(record)
        assert skill_defaults(kb, "pick", obj("white can", 0.5, 0.0)) == {"force": 60.0}
        assert skill_defaults(kb, "pick", obj("white block", 0.5, 0.0)) == {}


def test_the_other_block_swaps_the_object_and_puts_the_wrong_one_back(planner):
    after = scene(("red block", 0.55, 0.15), ("green block", 0.40, -0.1), *TWO_BOWLS)
    said = TaskCorrection("no, the other block", "retarget", (("red block", 0.40, 0.1),), after)
    code = propose(planner, "put a block in the blue bowl", after, corrections=(said,))
    assert moves(code) == [("red block", (0.40, 0.1)), ("green block", "blue bowl")]


def test_a_named_destination_is_not_mistaken_for_another_object(planner):
    after = scene(("red block", 0.55, 0.15), ("green block", 0.40, -0.1), *TWO_BOWLS)
    said = TaskCorrection(
        "no, put it on the green block", "retarget", (("red block", 0.40, 0.1),), after
    )
    code = propose(planner, "put the red block in the blue bowl", after, corrections=(said,))
    assert moves(code) == [("red block", "green block")]


def test_qualified_preferences_are_not_stored_as_plainer_ones():
    for text in (
        "blocks that are not red always go in the blue bowl",
        "red blocks always go in the bowl closest to the mat",
    ):
        assert distill(_task((TaskCorrection(text, "preference"),))) == []


def test_an_unclear_correction_is_asked_about_once(planner):
    objects = scene(("red block", 0.40, 0.0), *TWO_BOWLS)
    said = TaskCorrection("hmm, not like that", "unclear")
    question = propose(planner, "put the red block in a bowl", objects, corrections=(said,))
    asked = ((question[5:-2], "I don't know"),)
    code = propose(planner, "put the red block in a bowl", objects, asked, corrections=(said,))
    assert moves(code) == [("red block", "blue bowl")]


def test_clearing_something_that_is_not_a_container_is_asked_about(planner):
    objects = scene(("red block", 0.40, 0.0), *TWO_BOWLS)
    assert propose(planner, "empty the red block", objects).startswith("ask(")


def test_a_retarget_keeps_to_the_exact_objects_even_with_numbered_twins(planner):
    twin = replace(obj("blue bowl", 0.55, -0.15), name="blue bowl 2")  # as perception names it
    after = (*scene(("red block", 0.55, 0.15), ("blue bowl", 0.55, 0.15)), twin)
    said = TaskCorrection("no, the other bowl", "retarget", (("red block", 0.40, 0.05),), after)
    code = propose(planner, "put the red block in a bowl", after, corrections=(said,))
    assert moves(code) == [("red block", "blue bowl 2")]


def test_model_skill_records_with_unknown_or_unsafe_parameters_are_refused():
    lesson = SkillLesson("pick", obj("gray can", 0.45, 0.1), {"force": 60.0}, ("grip harder",))
    bad = [
        {"kind": "skill", "statement": "grip cans hard", "change": change}
        for change in (
            {"skill": "pick", "params": {"grip_force": 60}},
            {"skill": "pick", "params": {"force": 500.0}},
            {"skill": "juggle", "params": {"force": 60.0}},
        )
    ]
    chat = ChatPlanner(StubChatModel([json.dumps(bad)]))
    (record,) = chat.distill(_task(skills=(lesson,)))
    assert record.statement == "when picking cylinders, grip with 60 N"  # the draft
    (again,) = chat.distill(_task(skills=(lesson,)))  # the model is gone: still the draft
    assert again.statement == record.statement


def test_put_it_back_includes_an_object_still_held_over_where_it_was(planner):
    held = replace(obj("red block", 0.40, 0.05), position=(0.40, 0.05, 0.15))
    after = (held, *scene(*TWO_BOWLS))
    said = TaskCorrection("put it back", "undo", (("red block", 0.40, 0.05),), after)
    assert put_backs(said, after) == [(held, (0.40, 0.05))]
