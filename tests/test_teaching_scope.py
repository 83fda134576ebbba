"""Scope of what people teach: a habit said about the object just moved ("no, it always
goes in the green bowl") is acted on at once and asked about once (every red object, or
only red blocks?); the answer is the stored rule's scope, "just this one" stores nothing."""

from __future__ import annotations

import pytest
from tabletop_scenes import moves, obj, scene, sized

from planner.context import PlannerContext, TaskCorrection
from planner.distill import distill
from planner.embedded.backend import EmbeddedPlanner
from planner.outcome import CorrectedTask

AFTER = scene(("red block", 0.55, 0.15), ("blue bowl", 0.55, 0.15), ("green bowl", 0.55, -0.15))
INSTRUCTION = "put the red block in a bowl"
QUESTION = "Do you mean every red object, or only red blocks?"


def _said(text: str, intent: str = "preference") -> TaskCorrection:
    return TaskCorrection(text, intent, (("red block", 0.40, 0.0),), AFTER)


def _propose(said: TaskCorrection, answers=()) -> str:
    context = PlannerContext(INSTRUCTION, AFTER, "", corrections=(said,), answers=answers)
    return EmbeddedPlanner().propose(context).code


def _learnt(said: TaskCorrection, answers=()) -> list[str]:
    task = CorrectedTask("ep-1", INSTRUCTION, "verified", (said,), (), AFTER, answers=answers)
    return [r.statement for r in distill(task)]


@pytest.mark.parametrize(
    "text",
    [
        "No, it always goes in the green bowl",
        "this one always goes in the green bowl from now on",
        "the red ones go in the green bowl from now on",
        "no, always the other bowl",
    ],
)
def test_a_habit_about_the_moved_object_is_asked_about_once_then_followed(text):
    said = _said(text)
    assert _propose(said) == f"ask({QUESTION!r})"
    for answer, learnt in (
        ("Every red object.", ["red objects go in the green bowl"]),
        ("only red blocks", ["red blocks go in the green bowl"]),
        ("I don't know", ["red blocks go in the green bowl"]),
        ("just this one", []),
    ):
        answers = ((QUESTION, answer),)
        assert moves(_propose(said, answers)) == [("red block", "green bowl")], answer
        assert _learnt(said, answers) == learnt, answer


def test_a_rule_that_names_its_objects_or_a_one_off_retarget_asks_nothing():
    for said in (
        _said("red things always go in the green bowl"),
        _said("no, the other bowl", "retarget"),
    ):
        assert moves(_propose(said)) == [("red block", "green bowl")], said.text


@pytest.mark.parametrize(
    ("answer", "learnt"),
    [
        ("Anything red. Blocks, cans, whatever - if it's red, it goes there.", "red objects"),
        ("all the red ones - any kind, not just blocks", "red objects"),
        ("Every block, whatever colour.", "blocks"),
        ("every red thing, whatever it is", "red objects"),
        ("blocks of any colour", "blocks"),
    ],
)
def test_a_scope_answer_widens_the_habit_by_kind_or_by_colour(answer, learnt):
    said = _said("No, it always goes in the green bowl")
    assert _learnt(said, ((QUESTION, answer),)) == [f"{learnt} go in the green bowl"]


def test_a_rule_about_big_things_holds_for_things_bigger_than_usual_of_their_kind():
    said = "No - big blocks always go on the grey mat. Only the big ones, mind."
    big, small = (0.055,) * 3, (0.03,) * 3
    scene_ = (sized("pink block", 0.6, 0.2, big), obj("gray zone", 0.5, 0.0))
    moved = (("pink block", 0.6, 0.2),)
    task = CorrectedTask(
        "ep-1",
        "put the pink block on a mat",
        "verified",
        (TaskCorrection(said, "preference", moved, scene_),),
        (),
        scene_,
    )
    ((record,),) = [distill(task)]
    assert record.statement == "only big blocks go on the gray mat"
    assert record.change["object"] == {"category": "block", "size": "big"}
    mats = (obj("gray zone", 0.5, 0.0), obj("purple zone", 0.4, 0.2))
    for block, place in (
        (sized("black block", 0.6, -0.2, big), "gray zone"),
        (sized("pink block", 0.6, -0.2, small), "purple zone"),
        (obj("red block", 0.6, -0.2), "purple zone"),
    ):  # usual size: not big
        context = PlannerContext(
            "put the block on a mat", (block, *mats), "", knowledge=(record.statement,)
        )
        assert moves(EmbeddedPlanner().propose(context).code) == [(block.name, place)], block
