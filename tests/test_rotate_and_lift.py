"""Turning an object in place and holding one up in the air, read by the offline parser:
the angle or height in the words (digits, number words, "a quarter turn", "45°"), the
object, and the goal the loop checks."""

from __future__ import annotations

import pytest
from tabletop_scenes import proposal_for, scene, stated_goal

from planner.embedded.parser import parse_instruction

SCENE = scene(("red bar", 0.55, -0.15), ("blue block", 0.40, 0.0), ("green can", 0.5, 0.18))


@pytest.mark.parametrize(
    ("said", "obj", "angle"),
    [
        ("Turn the red stick ninety degrees.", "the red stick", 90.0),
        ("rotate the red bar by 45 degrees please", "the red bar", 45.0),
        ("give the red rod a quarter turn", "the red rod", 90.0),
        ("Rotate the red bar by 45° where it stands.", "the red bar", 45.0),
        ("twist the bar about thirty degrees clockwise, keeping it in place", "the bar", -30.0),
        ("spin the red bar a half turn anti-clockwise", "the red bar", 180.0),
        ("turn the red bar", "the red bar", None),  # how far: asked
    ],
)
def test_turns_are_read_with_their_angle(said: str, obj: str, angle: float | None):
    (frame,) = [f for f in parse_instruction(said) if f.intent == "rotate"] or [None]
    assert frame is not None or angle is None
    if frame is not None:
        assert (frame.objects.text, frame.angle) == (obj, angle)


@pytest.mark.parametrize(
    ("said", "obj", "height"),
    [
        ("Lift the blue block 10 cm off the table and hold it there.", "the blue block", 0.1),
        (
            "pick up the green can and keep it in the air, about twenty centimetres up",
            "the green can",
            0.2,
        ),
        ("hold the blue cube fifteen cm above the table, thanks", "the blue cube", 0.15),
        ("raise the blue block by 5 cm", "the blue block", 0.05),
        ("I need the blue cube up in the air, 15 cm high", "the blue cube", 0.15),
        ("lift the blue block up", "the blue block", None),  # how high: a stated default
    ],
)
def test_lifts_are_read_with_their_height(said: str, obj: str, height: float | None):
    frames = parse_instruction(said)
    assert (frames[0].intent, frames[0].objects.text, frames[0].height) == ("lift", obj, height)


@pytest.mark.parametrize(
    "said",
    [
        "lift the blue block into the green can",  # a place: a move, not a lift
        "pick up the blue block and put it on the red bar",
        "turn the blue block over",
        "give the blue block to me",
    ],
)
def test_places_and_other_turns_are_no_lift_or_rotation(said: str):
    assert parse_instruction(said)[0].intent not in ("lift", "rotate")


def test_turns_and_lifts_compile_to_their_skills_and_goals():
    assert proposal_for("rotate the red bar 270 degrees", SCENE).code.startswith(
        'rotate("red bar", -90)'
    )
    assert {"turned": ["red bar", 90.0]} in stated_goal("rotate the red bar 270 degrees", SCENE)
    assert proposal_for("turn the red bar", SCENE).code.startswith("ask(")
    assert proposal_for("rotate the red bar a full 360 degrees", SCENE).code.startswith("refuse(")
    lifted = proposal_for("Lift the blue block 10 cm off the table and hold it there.", SCENE)
    assert lifted.code.count("lift(") == 1 and 'lift("blue block", 0.100)' in lifted.code
    goal = stated_goal("lift the blue block up", SCENE)
    assert {"raised": ["blue block", 0.1]} in goal and {"unmoved": ["red bar", "green can"]} in goal
    assert "10 cm up" in proposal_for("lift the blue block up", SCENE).code  # the default, said
    assert proposal_for("hold the blue block 60 cm above the table", SCENE).code.startswith(
        "refuse("
    )
