"""The task turn says which objects the instruction names that the scene does not hold,
and what the scene calls one it names in other words."""

from __future__ import annotations

import pytest

from planner.llm.mentions import MISSING, OPEN, note, unclear, unnamed_alike, unsaid, unseen
from skills.objects import ObjectState

BLOCK = (0.04, 0.04, 0.04)
SCENE = (
    ObjectState("red block", "block", "red", (0.45, 0.10, 0.02), BLOCK),
    ObjectState("blue bowl", "bowl", "blue", (0.60, -0.12, 0.025), (0.17, 0.17, 0.05)),
    ObjectState("gray can", "cylinder", "gray", (0.50, 0.20, 0.045), (0.06, 0.06, 0.09)),
)


@pytest.mark.parametrize(
    ("instruction", "missing"),
    [
        ("put the purple block in the blue bowl", ["purple block"]),
        ("drop the pink cube into the black dish", ["pink cube", "black dish"]),
        ("set the red block on the mat", ["mat"]),  # no zone at all
        ("put the green ball in the bowl", ["green ball"]),  # a kind no scene has
        ("pop the banana into the dish", ["banana"]),  # no colour needed for such a kind
        ("put the red block in the glass bowl", []),  # "glass" says what the bowl is
        ("put the grey can in the bowl", []),  # grey is gray, a can a cylinder
        ("can you put the red cube in the dish", []),  # "can you" names no can
        ("put every block but the purple one in the bowl", []),
        ("put the blocks that are not purple blocks in the bowl", []),
        ("put the red block in the tray", []),  # a tray is a bowl or a zone
        ("put the red block on the spot next to the bowl", []),  # a place, not a zone
        ("put the red block on the green square", ["green square"]),  # a coloured one: a zone
        ("line up the three cylinders", []),
    ],
)
def test_named_objects_the_scene_lacks(instruction: str, missing: list[str]) -> None:
    assert unseen(instruction, SCENE) == missing


def test_the_note_is_a_line_of_what_is_missing_or_nothing() -> None:
    assert note("put the purple block and the white bar in the blue bowl", SCENE) == (
        "Not in the scene: purple block, white bar."
    )
    assert note("put the red block in the blue bowl", SCENE) == ""


@pytest.mark.parametrize(
    ("instruction", "said"),
    [
        (
            "put the grey can in the bowl",
            "Named here: grey can = gray can; bowl = blue bowl.",
        ),
        (
            "drop the red cube into the dish",
            "Named here: red cube = red block; dish = blue bowl.",
        ),
        (
            "put the pink cube in the dish",
            "Not in the scene: pink cube.\nNamed here: dish = blue bowl.",
        ),
    ],
)
def test_the_note_gives_the_scene_name_of_an_object_said_otherwise(
    instruction: str, said: str
) -> None:
    assert note(instruction, SCENE) == said


def test_several_fits_are_left_to_the_model() -> None:
    """Words after the noun may pick one ("the block nearest to me"): no name is given for
    a noun several objects fit, nor for several objects ("the blocks")."""
    two = (*SCENE, ObjectState("green block", "block", "green", (0.4, -0.1, 0.02), BLOCK))
    assert note("put the block nearest to me in the blue bowl", two) == ""
    assert note("put the blocks in the blue bowl", two) == ""
    assert note("put every cube in the blue bowl", SCENE) == ""


def test_an_object_named_as_the_scene_names_it_is_said_when_its_colour_repeats() -> None:
    """ "The red block" beside a red can: a small model takes one for the other."""
    red_can = ObjectState("red can", "cylinder", "red", (0.4, -0.1, 0.045), (0.06, 0.06, 0.09))
    assert note("put the red block in the blue bowl", (*SCENE, red_can)) == (
        "Named here: red block = red block."
    )


RED_CAN = ObjectState("red can", "cylinder", "red", (0.4, -0.1, 0.045), (0.06, 0.06, 0.09))
BLUE_BLOCK = ObjectState("blue block", "block", "blue", (0.4, 0.2, 0.02), BLOCK)


@pytest.mark.parametrize(
    ("instruction", "still"),
    [
        ("swap the red can and the blue block", ["red block", "blue bowl"]),
        ("put the red can in the blue bowl, not the red block", ["red block", "blue block"]),
        ("put the red can next to the red block", ["blue bowl"]),  # no bowl, nothing blue said
        ("put the red can and the other red one in the blue bowl", []),  # "one": any object
        ("put every red thing in the blue bowl", []),
        ("put the red can on a block", ["blue bowl"]),  # any block may be meant
        ("push the can left", ["red block", "blue bowl", "blue block"]),  # nor these kinds
        ("put the red bar in the blue bowl", ["red block", "gray can", "red can", "blue block"]),
        ("clear the table", []),  # the words name no object: none held still
    ],
)
def test_objects_the_words_do_not_name_and_look_like_one_they_name_or_like_none(
    instruction: str, still: list[str]
) -> None:
    assert unnamed_alike(instruction, (*SCENE, RED_CAN, BLUE_BLOCK)) == still


def test_a_bare_name_that_fits_several_is_said_to_say_nothing_of_which() -> None:
    bowls = (
        *SCENE,
        ObjectState("green bowl", "bowl", "green", (0.6, 0.2, 0.025), (0.17,) * 2 + (0.05,)),
    )
    assert note("put the red block in the bowl.", bowls) == (
        "Named here: bowl = blue bowl or green bowl (nothing says which)."
    )
    assert note("put the red block in the bowl nearest to me", bowls) == ""
    assert "which" not in note("put the red block in the green bowl, the can by the bowl", bowls)
    # the one place after a name says where it goes, not which it is
    assert unclear("stick the bowl on the red block", bowls) == OPEN
    assert unclear("move the bowl by the red block to the left", bowls) == ""


def test_a_goal_leaves_out_what_the_words_name_or_guesses_which() -> None:
    bowls = (
        *SCENE,
        ObjectState("green bowl", "bowl", "green", (0.6, 0.2, 0.025), (0.17,) * 2 + (0.05,)),
    )
    assert unsaid("put the red block in the blue bowl", bowls, {"red block", "blue bowl"}) == []
    assert unsaid("put the red block in the blue bowl", bowls, {"blue bowl"}) == [
        "the red block the instruction names"
    ]
    assert unsaid("put the red block in the bowl", bowls, {"red block", "green bowl"}) == [
        "'bowl' fits blue bowl and green bowl; the goal takes the green bowl"
    ]
    assert (
        unsaid("put the red block in the bowl nearest to me", bowls, {"red block", "green bowl"})
        == []
    )


def test_unclear_words_name_what_is_missing_or_leave_open_which() -> None:
    bowls = (
        *SCENE,
        ObjectState("green bowl", "bowl", "green", (0.6, 0.2, 0.025), (0.17,) * 2 + (0.05,)),
    )
    assert unclear("put the purple block in the blue bowl", SCENE) == MISSING
    assert unclear("put the red block in the bowl.", bowls) == OPEN
    assert unclear("put the red block in the blue bowl", bowls) == ""
    assert unclear("if there is a purple block, put it in the blue bowl", SCENE) == ""
