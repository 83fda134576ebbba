"""find("leftmost block") and find_all(...): the planner's grounding of a description, the
one a program and a Goal line use for objects picked by position, size or relation."""

from __future__ import annotations

import pytest

from planner.language.grounding import Ambiguous, GroundingError, NotFound, find_described
from planner.llm import goal_line, phrases
from skills.objects import ObjectState

BLOCK = (0.04, 0.04, 0.04)
BAR = (0.12, 0.03, 0.03)


def obj(name: str, x: float, y: float, size=BLOCK) -> ObjectState:
    kind = name.split()[1]
    return ObjectState(name, kind, name.split()[0], (x, y, size[2] / 2), size)


SCENE = (
    obj("red block", 0.45, -0.20),
    obj("green block", 0.60, 0.05),
    obj("blue block", 0.35, 0.22),
    obj("purple block", 0.50, 0.00),
    obj("purple bar", 0.40, -0.05, BAR),
    ObjectState("cyan bowl", "bowl", "cyan", (0.62, -0.15, 0.025), (0.17, 0.17, 0.05)),
)


def names(description: str, many: bool = False, scene=SCENE, current=()) -> list[str]:
    return [o.name for o in find_described(description, scene, current, many)]


@pytest.mark.parametrize(
    ("words", "meant"),
    [
        ("leftmost block", "blue block"),
        ("rightmost block", "red block"),
        ("block closest to me", "blue block"),
        ("block farthest from the robot", "green block"),
        ("block nearest to the cyan bowl", "red block"),
        ("second block from the left", "green block"),
        ("biggest purple object", "purple bar"),
        ("the smallest purple thing", "purple block"),
    ],
)
def test_one_object_by_position_size_or_relation(words: str, meant: str):
    assert names(words) == [meant]


def test_several_objects_by_exclusion_colour_or_count():
    assert set(names("every block except the purple one", many=True)) == {
        "red block",
        "green block",
        "blue block",
    }
    assert set(names("objects that are not purple", many=True)) == {
        "red block",
        "green block",
        "blue block",
    }
    assert len(names("two of the blocks", many=True)) == 2


def test_one_of_several_said_as_any_one_is_one_object():
    """ "Just one of the cubes - I don't mind which": find() gives one, find_all() a list
    of one; "two of the blocks" is still a list."""
    for words in ("one of the blocks", "just one of the cubes", "any one of the blocks"):
        assert len(names(words)) == 1 and names(words)[0].endswith("block")
        assert len(names(words, many=True)) == 1
    with pytest.raises(GroundingError, match="find_all"):
        names("two of the blocks")


def test_words_that_fit_several_or_none_are_errors_never_a_guess():
    with pytest.raises(Ambiguous, match="Which block do you mean"):
        names("block")
    with pytest.raises(NotFound, match="I can not see a yellow block here"):
        names("yellow block")
    with pytest.raises(GroundingError, match="find_all"):
        names("blocks except the red one")  # several where one is asked for
    with pytest.raises(GroundingError, match="not where they should go"):
        names("red blocks in the cyan bowl", many=True)  # where they go, copied in


def test_the_scene_as_the_task_began_decides_and_the_objects_come_as_they_are_now():
    """After the leftmost block moved right, "the leftmost block" still means it."""
    moved = obj("blue block", 0.50, -0.25)
    now = tuple(moved if o.name == "blue block" else o for o in SCENE)
    found = find_described("leftmost block", SCENE, now)
    assert [o.name for o in found] == ["blue block"] and found[0].position == moved.position


def test_a_goal_line_reads_descriptions_as_the_names_they_ground_to():
    def ground(text: str) -> tuple[str, list[str]]:
        return phrases.ground(text, SCENE)

    goal = goal_line.read(
        'Goal: in(find("leftmost block"), "cyan bowl"); '
        'in(find_all("blocks except the blue one and the purple one"), "cyan bowl")',
        ground,
    )
    assert goal.predicates == (
        {"in": ["blue block", "cyan bowl"]},
        {"in": ["green block", "cyan bowl"]},  # from left to right
        {"in": ["red block", "cyan bowl"]},
    )
    unsettled = goal_line.read('Goal: in(find("block"), "cyan bowl")', ground)
    assert not unsettled.predicates and "Which block do you mean" in unsettled.reason
    still = goal_line.read('Goal: unmoved(find_all("blocks except the red one"))', ground)
    assert still.predicates == ({"unmoved": ["blue block", "green block", "purple block"]},)
    unread = goal_line.read("Goal: in(find('leftmost block'), \"cyan bowl\")", ground)
    assert not unread.predicates and "by description only" in unread.reason
