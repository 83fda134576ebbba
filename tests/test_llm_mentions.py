"""The task turn says which objects the instruction names that the scene does not hold."""

from __future__ import annotations

import pytest

from planner.llm.mentions import note, unseen
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
        ("put the grey can in the bowl", []),  # grey is gray, a can a cylinder
        ("can you put the red cube in the dish", []),  # "can you" names no can
        ("put every block but the purple one in the bowl", []),
        ("put the blocks that are not purple blocks in the bowl", []),
        ("put the red block in the tray", []),  # a tray is a bowl or a zone
        ("put the red block on the spot next to the bowl", []),  # a place, not a zone
        ("line up the three cylinders", []),
    ],
)
def test_named_objects_the_scene_lacks(instruction: str, missing: list[str]) -> None:
    assert unseen(instruction, SCENE) == missing


def test_the_note_is_one_line_or_nothing() -> None:
    assert note("put the purple block and the white bar in the bowl", SCENE) == (
        "Not in the scene: purple block, white bar."
    )
    assert note("put the red block in the blue bowl", SCENE) == ""
