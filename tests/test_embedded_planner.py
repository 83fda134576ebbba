"""The embedded planner without a simulator: hand-made scenes, many phrasings per family.

Each test builds `ObjectState`s, asks `EmbeddedPlanner.propose` for a program and checks
the moves, pushes, question or refusal it contains. Only a clause no rule understands
reaches the MiniLM fallback; one test does so on purpose.
"""

from __future__ import annotations

import math
import re

import pytest
from tabletop_scenes import moves, obj, propose, scene

from perception import geometry
from planner.context import StepRecord
from planner.embedded.backend import EmbeddedPlanner, held_after
from planner.embedded.parser import parse_instruction, split_clauses
from planner.language.grounding import Ambiguous, Grounder, NotFound, parse_np
from planner.language.lexicon import normalize
from skills.objects import ObjectState


@pytest.fixture(scope="module")
def planner() -> EmbeddedPlanner:
    return EmbeddedPlanner()


def question(code: str) -> str | None:
    m = re.match(r"ask\((['\"])(.*)\1\)$", code)
    return m.group(2) if m else None


def refusal(code: str) -> str | None:
    m = re.match(r"refuse\((['\"])(.*)\1\)$", code)
    return m.group(2) if m else None


# --- place -----------------------------------------------------------------------------------
PLACE_SCENE = scene(
    ("red block", 0.40, 0.15),
    ("blue block", 0.45, -0.05),
    ("green block", 0.60, 0.10),
    ("yellow bowl", 0.55, -0.18),
)


@pytest.mark.parametrize(
    "instruction",
    [
        "put the red block in the bowl",
        "Please put the red cube in the yellow dish.",
        "Could you drop the red block into the bowl?",
        "the red block should end up in the yellow container",
        "The red cube goes in the bowl, thanks.",
        "I'd like the red block in the bowl",
        "can the red block go in the bowl?",
        "Would you mind moving the red cube into the basin?",
        "pick up the red block and put it in the bowl",
        "grab the red block, then drop it in the bowl",
        "take the red block. put it in the bowl.",
        "Red block into the yellow bowl.",
        "pop the red block in the plate",
    ],
)
def test_place_into_a_container(planner: EmbeddedPlanner, instruction: str) -> None:
    assert moves(propose(planner, instruction, PLACE_SCENE)) == [("red block", "yellow bowl")]


@pytest.mark.parametrize(
    "instruction",
    [
        "put the red block on the green block",
        "set the red cube on top of the green one",
        "I want the red block stacked on the green one",
        "stack red on green",
    ],
)
def test_place_onto_an_object(planner: EmbeddedPlanner, instruction: str) -> None:
    assert moves(propose(planner, instruction, PLACE_SCENE)) == [("red block", "green block")]


def test_two_moves_share_one_verb(planner: EmbeddedPlanner) -> None:
    code = propose(
        planner, "put the red block in the bowl and the blue block on the green one", PLACE_SCENE
    )
    assert moves(code) == [("red block", "yellow bowl"), ("blue block", "green block")]


def test_a_bare_noun_phrase_goes_where_the_last_one_went(planner: EmbeddedPlanner) -> None:
    code = propose(planner, "put the red block in the bowl, then the blue one too", PLACE_SCENE)
    assert moves(code) == [("red block", "yellow bowl"), ("blue block", "yellow bowl")]


def test_objects_side_by_side_in_a_bowl(planner: EmbeddedPlanner) -> None:
    code = propose(planner, "put the red and blue blocks in the bowl", PLACE_SCENE)
    assert sorted(moves(code)) == [("blue block", "yellow bowl"), ("red block", "yellow bowl")]
    offsets = re.findall(r"offset=\[([-\d.]+), ([-\d.]+)\]", code)
    assert len(set(offsets)) == 2


# --- stack -----------------------------------------------------------------------------------
STACK_SCENE = scene(
    ("red block", 0.40, 0.15),
    ("blue block", 0.45, -0.05),
    ("green block", 0.60, 0.10),
    ("white can", 0.62, -0.20),
)


def _tower(code: str) -> list[str]:
    """Bottom to top, from a program that stacks each object on the one before."""
    pairs = moves(code)
    order = [str(pairs[0][1])] if pairs else []
    for upper, lower in pairs:
        assert lower == order[-1], f"{upper} goes on {lower}, not on the top {order[-1]}"
        order.append(upper)
    return order


@pytest.mark.parametrize(
    "instruction",
    [
        "stack the blocks",
        "build a tower out of the three cubes",
        "pile the blocks on top of one another",
        "put the blocks one on top of another",
        "Could you make a stack of all the blocks?",
    ],
)
def test_stack_a_group(planner: EmbeddedPlanner, instruction: str) -> None:
    assert sorted(_tower(propose(planner, instruction, STACK_SCENE))) == [
        "blue block",
        "green block",
        "red block",
    ]


@pytest.mark.parametrize(
    ("instruction", "order"),
    [
        (
            "stack the cubes with the red one at the bottom and the green one on top",
            ["red block", "blue block", "green block"],
        ),
        (
            "build a tower with the blue block at the bottom, then the red one, then the green "
            "one on top",
            ["blue block", "red block", "green block"],
        ),
        (
            "stack the green, red and blue blocks in that order",
            ["green block", "red block", "blue block"],
        ),
        (
            "build a stack: red first, then blue, then green",
            ["red block", "blue block", "green block"],
        ),
        (
            "put the blue block on the red block, then put the green block on the blue block",
            ["red block", "blue block", "green block"],
        ),
    ],
)
def test_stack_in_order(planner: EmbeddedPlanner, instruction: str, order: list[str]) -> None:
    assert _tower(propose(planner, instruction, STACK_SCENE)) == order


def test_one_on_top_of_the_other(planner: EmbeddedPlanner) -> None:
    two = scene(("red block", 0.40, 0.15), ("black block", 0.55, -0.1), ("blue can", 0.6, 0.2))
    code = propose(planner, "Place one block on top of the other.", two)
    assert sorted(moves(code)[0]) == ["black block", "red block"]


def test_stack_into_a_zone_builds_the_tower_there(planner: EmbeddedPlanner) -> None:
    objects = (*STACK_SCENE[:2], obj("gray zone", 0.6, -0.05))
    code = propose(planner, "stack the red and blue blocks on the zone", objects)
    assert _tower(code)[0] == "gray zone" and len(_tower(code)) == 3


# --- spatial ---------------------------------------------------------------------------------
SPATIAL_SCENE = scene(
    ("red block", 0.40, 0.20), ("blue bowl", 0.50, -0.08), ("green block", 0.55, 0.15)
)


def _placed(code: str, name: str = "red block") -> ObjectState:
    ((moved, target),) = moves(code)
    assert moved == name and isinstance(target, tuple)
    return obj(name, *target)


@pytest.mark.parametrize(
    ("instruction", "relation", "ref"),
    [
        ("set the red block down to the right of the blue bowl", geometry.is_right_of, "blue bowl"),
        ("put the red cube just right of the bowl", geometry.is_right_of, "blue bowl"),
        (
            "place the red block on the left side of the green block",
            geometry.is_left_of,
            "green block",
        ),
        (
            "Move the red cube so that it is in front of the bowl.",
            geometry.is_in_front_of,
            "blue bowl",
        ),
        ("could you place the red block behind the bowl", geometry.is_behind, "blue bowl"),
        ("put the red block next to the bowl", geometry.is_near, "blue bowl"),
        ("put the red block beside the green block", geometry.is_near, "green block"),
        ("move the red block closer to the green block", geometry.is_near, "green block"),
    ],
)
def test_place_relative_to_an_object(
    planner: EmbeddedPlanner, instruction: str, relation, ref: str
) -> None:
    reference = next(o for o in SPATIAL_SCENE if o.name == ref)
    placed = _placed(propose(planner, instruction, SPATIAL_SCENE))
    assert relation(placed, reference)
    assert not geometry.is_in(placed, reference)


@pytest.mark.parametrize(
    ("instruction", "region"),
    [
        ("move the red block to the top right corner", "top right corner"),
        ("put the red cube in the lower right corner of the table", "bottom right corner"),
        ("bring the red block to the centre of the table", "center"),
        ("put the red block in the middle", "center"),
        ("centre the red block", "center"),
        ("put the red block on the far side of the table", "top side"),
        ("move the red block to the right-hand side", "right side"),
    ],
)
def test_place_in_a_region(planner: EmbeddedPlanner, instruction: str, region: str) -> None:
    assert geometry.is_at(_placed(propose(planner, instruction, SPATIAL_SCENE)), region)


@pytest.mark.parametrize(
    ("said", "relation", "centres"),
    [
        ("10 cm to the left", geometry.is_left_of, 0.10),
        ("6 cm to the right", geometry.is_right_of, 0.07),
    ],
)
def test_place_a_distance_from_an_object(planner: EmbeddedPlanner, said, relation, centres) -> None:
    """Centre to centre, as the API's `right_of(obj, distance)`; never touching (a 4 cm block
    6 cm from another stands at least 7 cm away, 3 cm clear)."""
    instruction = f"put the red cube {said} of the green one"
    placed, green = _placed(propose(planner, instruction, SPATIAL_SCENE)), SPATIAL_SCENE[2]
    assert relation(placed, green)
    assert math.dist(placed.position[:2], green.position[:2]) == pytest.approx(centres, abs=0.011)


def test_place_between_two_objects(planner: EmbeddedPlanner) -> None:
    code = propose(
        planner, "put the red block in between the bowl and the green block", SPATIAL_SCENE
    )
    assert geometry.is_between(_placed(code), SPATIAL_SCENE[1], SPATIAL_SCENE[2])


def test_a_nudge_without_distance_stays_on_the_table(planner: EmbeddedPlanner) -> None:
    x, _ = _placed(propose(planner, "move the red block closer to me", SPATIAL_SCENE)).position[:2]
    assert 0.30 < x < 0.40


def test_fingers_turn_away_from_a_bowl_next_to_the_release_point(planner: EmbeddedPlanner) -> None:
    code = propose(planner, "put the red block next to the bowl", SPATIAL_SCENE)
    assert re.search(r'pick\("red block", yaw=-?90\)', code), code


# --- sort ------------------------------------------------------------------------------------
SORT_SCENE = scene(
    ("red block", 0.40, 0.15),
    ("blue block", 0.45, -0.05),
    ("green block", 0.62, 0.0),
    ("red bowl", 0.55, 0.18),
    ("blue bowl", 0.52, -0.18),
)


@pytest.mark.parametrize(
    "instruction",
    [
        "put each block in the bowl of the same colour",
        "sort the cubes into the bowls by color",
        "Put every cube into the bowl that matches its colour.",
        "each block goes into the bowl of its own colour",
        "match the blocks with the bowls",
        "sort the blocks into the bowls according to their colour",
        "tidy up by putting each object in the bowl with the same color as it",
        "put the red block in the red bowl and the blue block in the blue bowl",
    ],
)
def test_sort_by_colour(planner: EmbeddedPlanner, instruction: str) -> None:
    assert sorted(moves(propose(planner, instruction, SORT_SCENE))) == [
        ("blue block", "blue bowl"),
        ("red block", "red bowl"),
    ]


@pytest.mark.parametrize(
    "instruction",
    [
        "drop all the cubes into the blue bowl",
        "gather every block in the blue dish",
        "Put all the blocks in the blue bowl.",
    ],
)
def test_gather_everything_in_one_container(planner: EmbeddedPlanner, instruction: str) -> None:
    code = propose(planner, instruction, SORT_SCENE)
    assert sorted(o for o, _ in moves(code)) == ["blue block", "green block", "red block"]
    assert {t for _, t in moves(code)} == {"blue bowl"}


def test_gather_by_colour_across_kinds(planner: EmbeddedPlanner) -> None:
    objects = (*SORT_SCENE[:3], obj("red can", 0.35, -0.2), obj("white zone", 0.65, -0.2))
    code = propose(planner, "put all of the red things on the white mat", objects)
    assert sorted(moves(code)) == [("red block", "white zone"), ("red can", "white zone")]


# --- line and shapes -------------------------------------------------------------------------
LINE_SCENE = scene(
    ("red block", 0.40, 0.15),
    ("blue block", 0.45, -0.05),
    ("green block", 0.62, 0.0),
    ("yellow block", 0.35, -0.2),
)


def _final(code: str, objects: tuple[ObjectState, ...]) -> dict[str, ObjectState]:
    placed = {o.name: o for o in objects}
    for name, target in moves(code):
        assert isinstance(target, tuple)
        placed[name] = obj(name, *target)
    return placed


@pytest.mark.parametrize(
    ("instruction", "names"),
    [
        ("line up the blocks", ["red block", "blue block", "green block", "yellow block"]),
        (
            "arrange the cubes in a straight line",
            ["red block", "blue block", "green block", "yellow block"],
        ),
        (
            "place the blocks side by side",
            ["red block", "blue block", "green block", "yellow block"],
        ),
        (
            "can you form a line with the red, green and blue cubes",
            ["red block", "green block", "blue block"],
        ),
        ("put three of the blocks in a row", None),
    ],
)
def test_line(planner: EmbeddedPlanner, instruction: str, names: list[str] | None) -> None:
    code = propose(planner, instruction, LINE_SCENE)
    final = _final(code, LINE_SCENE)
    chosen = names or [name for name, _ in moves(code)]
    assert len(chosen) >= 3
    assert geometry.is_line([final[n] for n in chosen])


def test_line_along_an_edge(planner: EmbeddedPlanner) -> None:
    final = _final(
        propose(planner, "line the blocks up along the bottom edge", LINE_SCENE), LINE_SCENE
    )
    assert all(geometry.is_at(o, "bottom side") for o in final.values())


@pytest.mark.parametrize(
    "instruction",
    [
        "Put one block in each corner of the table.",
        "put a block in every corner",
        "spread the blocks out to the four corners",
    ],
)
def test_one_per_corner(planner: EmbeddedPlanner, instruction: str) -> None:
    final = _final(propose(planner, instruction, LINE_SCENE), LINE_SCENE)
    corners = [
        next(r for r in geometry.REGIONS if r.endswith("corner") and geometry.is_at(o, r))
        for o in final.values()
    ]
    assert len(set(corners)) == 4


def test_triangle(planner: EmbeddedPlanner) -> None:
    code = propose(planner, "arrange the red, blue and green cubes into a triangle", LINE_SCENE)
    final = _final(code, LINE_SCENE)
    corners = [final[n] for n in ("red block", "blue block", "green block")]
    assert not geometry.is_line(corners)
    assert all(geometry.is_near(a, b, 0.1) for a in corners for b in corners if a is not b)


# --- push ------------------------------------------------------------------------------------
PUSH_SCENE = scene(
    ("red block", 0.50, 0.05),
    ("blue block", 0.40, -0.15),
    ("gray can", 0.60, -0.10),
    ("yellow bowl", 0.58, 0.18),
)


@pytest.mark.parametrize(
    ("instruction", "direction", "distance"),
    [
        ("push the red cube 10 cm to the right", "right", 0.10),
        ("Nudge the red block a little to the left.", "left", 0.03),
        ("slide the red block away from you by 8 centimetres", "away", 0.08),
        ("could you push the red block towards the robot a bit?", "front", 0.04),
        ("Gently shove the red block about 6 centimetres to the right.", "right", 0.06),
        ("give the red block a push to the left", "left", 0.10),
        ("push the red block leftwards by ten centimetres", "left", 0.10),
        ("push the red block forward", "away", 0.10),
        ("push the red block 2 inches left", "left", 0.0508),
    ],
)
def test_push_in_a_direction(
    planner: EmbeddedPlanner, instruction: str, direction: str, distance: float
) -> None:
    code = propose(planner, instruction, PUSH_SCENE)
    m = re.match(r'push\("red block", "(\w+)", ([\d.]+)\)', code)
    assert m, code
    assert m.group(1) == direction and float(m.group(2)) == pytest.approx(distance, abs=1e-3)


@pytest.mark.parametrize(
    ("instruction", "sign"),
    [
        ("push the red block towards the yellow bowl", 1),
        ("push the red block away from the bowl", -1),
    ],
)
def test_push_relative_to_an_object(planner: EmbeddedPlanner, instruction: str, sign: int) -> None:
    m = re.match(
        r'push\("red block", \[([-\d.]+), ([-\d.]+)\], ([\d.]+)\)',
        propose(planner, instruction, PUSH_SCENE),
    )
    assert m
    dx, dy = float(m.group(1)), float(m.group(2))
    bowl = (0.58 - 0.50, 0.18 - 0.05)
    assert sign * (dx * bowl[0] + dy * bowl[1]) / math.hypot(*bowl) == pytest.approx(1.0, abs=1e-3)


def test_push_off_the_table_is_refused(planner: EmbeddedPlanner) -> None:
    assert refusal(propose(planner, "push the red block 30 cm to the left", PUSH_SCENE))


# --- superlatives and ordinals ---------------------------------------------------------------
SUP_SCENE = scene(
    ("red block", 0.45, 0.22),
    ("yellow block", 0.55, 0.06),
    ("blue block", 0.66, -0.08),
    ("green block", 0.38, -0.22),
    ("white bowl", 0.62, 0.18),
    ("purple zone", 0.40, 0.00),
)


@pytest.mark.parametrize(
    ("instruction", "chosen"),
    [
        ("put the leftmost block in the bowl", "red block"),
        ("put the left-most cube in the bowl", "red block"),
        ("put the block on the far left in the bowl", "red block"),
        ("put the left one in the bowl", "red block"),
        ("put the rightmost cube in the bowl", "green block"),
        ("the block on the right goes into the bowl", "green block"),
        ("put the block closest to me in the bowl", "green block"),
        ("move the block that is furthest from me into the dish", "blue block"),
        ("put the block farthest from the robot in the bowl", "blue block"),
        ("take the block nearest the mat and put it in the bowl", "yellow block"),
        ("put the second block from the left in the bowl", "yellow block"),
        ("place the third block from the right in the white bowl", "yellow block"),
        ("put the 2nd cube from the right in the bowl", "blue block"),
        ("put the last block on the right in the bowl", "green block"),
        ("put the block next to the mat in the bowl", "yellow block"),
        ("pick up the block that's furthest back and put it in the bowl", "blue block"),
    ],
)
def test_superlatives_and_ordinals(planner: EmbeddedPlanner, instruction: str, chosen: str) -> None:
    assert moves(propose(planner, instruction, SUP_SCENE)) == [(chosen, "white bowl")]


@pytest.mark.parametrize(
    ("instruction", "chosen"),
    [
        ("Put the smallest orange object in the red bowl.", "orange block"),
        ("move the biggest orange thing into the bowl", "orange can"),
        ("Could you move the tallest item into the red bowl?", "orange can"),
        ("put the longest orange object in the bowl", "orange bar"),
    ],
)
def test_size_superlatives(planner: EmbeddedPlanner, instruction: str, chosen: str) -> None:
    objects = scene(
        ("orange block", 0.40, 0.15),
        ("orange bar", 0.62, 0.15),
        ("orange can", 0.40, -0.05),
        ("red bowl", 0.58, -0.15),
    )
    assert moves(propose(planner, instruction, objects)) == [(chosen, "red bowl")]


def test_the_middle_one(planner: EmbeddedPlanner) -> None:
    three = SUP_SCENE[:2] + SUP_SCENE[3:]
    assert moves(propose(planner, "put the middle block in the bowl", three)) == [
        ("yellow block", "white bowl")
    ]


# --- counting --------------------------------------------------------------------------------
COUNT_SCENE = scene(
    ("red block", 0.40, 0.15),
    ("blue block", 0.45, -0.05),
    ("green block", 0.62, 0.0),
    ("yellow block", 0.35, -0.2),
    ("white bowl", 0.58, 0.18),
    ("red can", 0.6, -0.2),
)


@pytest.mark.parametrize(
    ("instruction", "n"),
    [
        ("put two blocks in the bowl", 2),
        ("put a couple of blocks in the white bowl", 2),
        ("place a pair of cubes into the bowl", 2),
        ("Could you put 2 of the blocks into the bowl?", 2),
        ("move any three cubes into the bowl", 3),
        ("put one block in the bowl", 1),
        ("put a single block in the bowl", 1),
        ("move one of the blocks into the bowl", 1),
        ("put a block in the bowl", 1),
        ("put exactly three of the cubes in the bowl", 3),
    ],
)
def test_counts(planner: EmbeddedPlanner, instruction: str, n: int) -> None:
    chosen = moves(propose(planner, instruction, COUNT_SCENE))
    assert len(chosen) == n and all(o.endswith("block") and t == "white bowl" for o, t in chosen)


@pytest.mark.parametrize(
    "instruction",
    ["put five blocks in the bowl", "put both cans in the bowl", "stack the three cans"],
)
def test_impossible_counts_are_refused(planner: EmbeddedPlanner, instruction: str) -> None:
    assert refusal(propose(planner, instruction, COUNT_SCENE))


# --- negation --------------------------------------------------------------------------------
NEG_SCENE = scene(
    ("red block", 0.40, 0.15),
    ("blue block", 0.45, -0.05),
    ("green block", 0.62, 0.0),
    ("red can", 0.35, -0.2),
    ("white bowl", 0.58, 0.18),
)


@pytest.mark.parametrize(
    ("instruction", "moved"),
    [
        ("put all the blocks except the red one in the bowl", {"blue block", "green block"}),
        ("move every block but the green one into the bowl", {"red block", "blue block"}),
        ("Put all the cubes into the dish, but not the blue one.", {"red block", "green block"}),
        (
            "put the blocks in the bowl but leave the green one where it is",
            {"red block", "blue block"},
        ),
        ("put the blocks in the bowl; don't move the red one", {"blue block", "green block"}),
        ("put the cubes in the bowl, none of the red ones though", {"blue block", "green block"}),
        (
            "don't touch the green block, put the other blocks in the bowl",
            {"red block", "blue block"},
        ),
        (
            "put everything except the red block in the bowl",
            {"blue block", "green block", "red can"},
        ),
        (
            "put all of the objects in the bowl apart from the red ones",
            {"blue block", "green block"},
        ),
        ("put the things that aren't red in the bowl", {"blue block", "green block"}),
        ("put all non red objects in the bowl", {"blue block", "green block"}),
        ("put all blocks other than the red and green ones in the bowl", {"blue block"}),
        ("put all but the blue block in the bowl", {"red block", "green block", "red can"}),
    ],
)
def test_exclusions(planner: EmbeddedPlanner, instruction: str, moved: set[str]) -> None:
    chosen = moves(propose(planner, instruction, NEG_SCENE))
    assert {o for o, _ in chosen} == moved and {t for _, t in chosen} == {"white bowl"}


def test_stack_with_an_exclusion(planner: EmbeddedPlanner) -> None:
    tower = _tower(propose(planner, "stack every block except for the blue one", NEG_SCENE))
    assert sorted(tower) == ["green block", "red block"]


# --- ambiguity -------------------------------------------------------------------------------
ASK_SCENE = scene(
    ("red block", 0.40, 0.15),
    ("blue block", 0.45, -0.15),
    ("green bowl", 0.60, 0.15),
    ("white bowl", 0.60, -0.15),
)
WHICH_BOWL = "Which bowl do you mean: the green bowl or the white bowl?"


@pytest.mark.parametrize(
    ("instruction", "words"),
    [
        ("put the block in the green bowl", ["block", "red block", "blue block"]),
        ("put the red block in the bowl", ["bowl", "green bowl", "white bowl"]),
        ("put the red cube in the dish", ["dish", "bowl"]),
        ("put the cube in the bowl", ["cube", "block"]),
    ],
)
def test_ambiguity_asks(planner: EmbeddedPlanner, instruction: str, words: list[str]) -> None:
    asked = question(propose(planner, instruction, ASK_SCENE))
    assert asked and all(w in asked for w in words), asked


def test_ambiguous_kind_asks_about_the_object(planner: EmbeddedPlanner) -> None:
    objects = scene(("blue block", 0.4, 0.1), ("blue can", 0.45, -0.15), ("orange bowl", 0.6, 0.1))
    asked = question(propose(planner, "put the blue thing in the bowl", objects))
    assert asked and "mean" in asked
    answered = propose(planner, "put the blue thing in the bowl", objects, ((asked, "the can"),))
    assert moves(answered) == [("blue can", "orange bowl")]


@pytest.mark.parametrize(
    ("answer", "bowl"),
    [
        ("the white one", "white bowl"),
        ("white", "white bowl"),
        ("I meant the white bowl", "white bowl"),
        ("the green dish please", "green bowl"),
        ("the one on the right", "white bowl"),
        ("the left one", "green bowl"),
        ("either is fine", "green bowl"),
    ],
)
def test_answers_resolve_ambiguity(planner: EmbeddedPlanner, answer: str, bowl: str) -> None:
    code = propose(planner, "put the red block in the bowl", ASK_SCENE, ((WHICH_BOWL, answer),))
    assert moves(code) == [("red block", bowl)]


def test_an_unhelpful_answer_is_never_asked_again_a_default_is_said(
    planner: EmbeddedPlanner,
) -> None:
    code = propose(
        planner, "put the red block in the bowl", ASK_SCENE, ((WHICH_BOWL, "I don't know"),)
    )
    assert question(code) is None and "ask(" not in code
    assert code.startswith("say('You did not say which, so I take the ")
    assert len(moves(code)) == 1


def test_two_questions_two_answers(planner: EmbeddedPlanner) -> None:
    answers = (
        ("Which block do you mean: the red block or the blue block?", "the blue one"),
        (WHICH_BOWL, "the green one"),
    )
    code = propose(planner, "put the block in the bowl", ASK_SCENE, answers)
    assert moves(code) == [("blue block", "green bowl")]


def test_a_pronoun_with_nothing_named_asks(planner: EmbeddedPlanner) -> None:
    asked = question(propose(planner, "put it in the green bowl", ASK_SCENE))
    assert asked and "'it'" in asked
    code = propose(planner, "put it in the green bowl", ASK_SCENE, ((asked, "the blue block"),))
    assert moves(code) == [("blue block", "green bowl")]


def test_the_other_one(planner: EmbeddedPlanner) -> None:
    objects = scene(
        ("red block", 0.4, 0.1), ("green block", 0.45, -0.15), ("white block", 0.6, 0.15)
    )
    asked = question(propose(planner, "stack the red block on the other one", objects))
    assert asked and "green block" in asked and "white block" in asked and "red block" not in asked
    code = propose(planner, "stack the red block on the other one", objects, ((asked, "white"),))
    assert moves(code) == [("red block", "white block")]


def test_an_unknown_word_asks_instead_of_guessing(planner: EmbeddedPlanner) -> None:
    asked = question(propose(planner, "put the red widget in the green bowl", ASK_SCENE))
    assert asked and "widget" in asked and "another way" in asked


def test_nonsense_asks_to_rephrase(planner: EmbeddedPlanner) -> None:
    """This clause reaches the MiniLM fallback, which finds no intent close enough."""
    asked = question(propose(planner, "sing me a song", ASK_SCENE))
    assert asked and "another way" in asked


# --- refusal ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "instruction",
    [
        "put the purple block in the green bowl",
        "Please put the red ball in the green bowl.",
        "move the red block into the yellow bowl",
        "put the red block on the zone",
        "stack the cans",
        "line up the three cylinders",
        "place the white cube to the left of the blue cube",
        "push the pink block to the left",
        "put the green bowl on the red block",
        "put three blocks in the white bowl",
    ],
)
def test_refusals(planner: EmbeddedPlanner, instruction: str) -> None:
    code = propose(planner, instruction, ASK_SCENE)
    assert refusal(code), code


def test_missing_object_is_refused_before_asking(planner: EmbeddedPlanner) -> None:
    """Two blocks fit "the block", but there is no zone: refuse rather than ask which block."""
    assert refusal(propose(planner, "put the block on the zone", ASK_SCENE))


# --- re-planning -----------------------------------------------------------------------------
FAILED_PLACE = StepRecord(
    "Plan: move.",
    'put_first_on_second("red block", "green bowl")',
    "pick: ok - picked red block\n"
    "place: FAILED - could not reach the release pose at green bowl: stopped 2 cm short",
    ok=False,
)


def test_after_a_failure_the_arm_backs_off_to_look_again(planner: EmbeddedPlanner) -> None:
    code = propose(
        planner, "put the red block in the green bowl", ASK_SCENE, history=(FAILED_PLACE,)
    )
    assert code == "go_home()"


def test_what_is_still_held_is_set_down_first(planner: EmbeddedPlanner) -> None:
    history = (FAILED_PLACE, StepRecord("look", "go_home()", "go_home: ok - at home", ok=True))
    assert held_after(history) == "red block"
    code = propose(planner, "put the red block in the green bowl", ASK_SCENE, history=history)
    assert code.splitlines()[0] == "if holding():"
    assert moves(code)[-1] == ("red block", "green bowl")


def test_a_failed_grasp_is_retried_the_other_way_round(planner: EmbeddedPlanner) -> None:
    objects = scene(("red block", 0.40, 0.15), ("blue bowl", 0.55, -0.05))
    first = propose(planner, "put the red block next to the bowl", objects)
    failed = StepRecord(
        "", first, "pick: FAILED - the fingers hit red block on the way down", ok=False
    )
    looked = StepRecord("", "go_home()", "go_home: ok - at home", ok=True)
    again = propose(
        planner, "put the red block next to the bowl", objects, history=(failed, looked)
    )
    assert ("yaw=" in first) != ("yaw=" in again)


# --- parsing pieces --------------------------------------------------------------------------
def test_normalize_drops_politeness_and_unifies_words() -> None:
    assert normalize("Could you please put the grey cube in the bowl, thanks!") == (
        "put the gray cube in the bowl"
    )
    assert (
        normalize("I'd like two blocks moved 3 centimetres") == "i would like 2 blocks moved 3 cm"
    )


def test_clauses_split_on_sequencers_but_not_on_next_to() -> None:
    assert split_clauses("Pick up the red block, then put it next to the bowl.") == [
        "pick up the red block",
        "put it next to the bowl",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the third block from the right", {"category": "block", "ordinal": (3, "right")}),
        ("one of the cans", {"category": "cylinder", "count": 1, "any_one": True}),
        ("a couple of cubes", {"category": "block", "count": 2}),
        ("the orange plate", {"category": "container", "colors": ("orange",)}),
        ("everything except the red block", {"every": True, "category": None}),
        (
            "the block nearest the green bowl",
            {"category": "block", "superlative": ("distance", "min")},
        ),
        ("the can on your right", {"category": "cylinder", "side": "right"}),
        ("the red and blue blocks", {"colors": ("red", "blue"), "plural": True}),
        ("the orange ball", {"category": "ball"}),
        ("the red widget", {"unknown": "widget"}),
    ],
)
def test_noun_phrases(text: str, expected: dict) -> None:
    np_ = parse_np(normalize(text))
    assert {k: getattr(np_, k) for k in expected} == expected


def test_conjunctions_name_several_objects() -> None:
    np_ = parse_np("the red block and the green one")
    assert [(c.colors, c.category) for c in np_.conjuncts] == [
        (("red",), "block"),
        (("green",), "block"),
    ]


def test_grounding_never_guesses() -> None:
    grounder = Grounder(ASK_SCENE)
    with pytest.raises(Ambiguous):
        grounder.resolve(parse_np("the block"))
    with pytest.raises(NotFound):
        grounder.resolve(parse_np("the purple block"))
    assert [o.name for o in grounder.resolve(parse_np("a block"))] == ["red block"]
    assert [o.name for o in grounder.resolve(parse_np("it"))] == ["red block"]


def test_passive_and_wishes_restate_as_commands() -> None:
    (frame,) = parse_instruction("the blue can should end up in the yellow container")
    assert frame.intent == "move" and frame.objects and frame.objects.category == "cylinder"
    assert frame.target and frame.target.ref and frame.target.ref.category == "container"
