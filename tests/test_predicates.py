"""Success predicates: parsing, every kind true and false, negation and errors."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from perception.predicates import (
    PREDICATES,
    Predicate,
    PredicateContext,
    PredicateError,
    evaluate_all,
    known_predicates,
    parse_predicate,
)
from skills.errors import HeedError
from skills.objects import ObjectState

BLOCK = (0.04, 0.04, 0.04)


def block(name: str, x: float, y: float, z: float = 0.02, **kw) -> ObjectState:
    return ObjectState(name, "block", name.split()[0], (x, y, z), BLOCK, **kw)


def container(name: str, category: str, x: float, y: float) -> ObjectState:
    size = (0.15, 0.15, 0.05) if category == "bowl" else (0.12, 0.12, 0.002)
    return ObjectState(name, category, name.split()[0], (x, y, size[2] / 2), size)


# red block in the blue bowl; green block stacked on yellow; white block left of both;
# a gray zone holding nothing; cyan can standing alone.
SCENE = {
    o.name: o
    for o in (
        container("blue bowl", "bowl", 0.5, -0.2),
        block("red block", 0.5, -0.2, 0.028),
        block("yellow block", 0.5, 0.0),
        block("green block", 0.5, 0.0, 0.06),
        block("white block", 0.5, 0.2),
        container("gray zone", "zone", 0.65, 0.2),
        ObjectState("cyan can", "cylinder", "cyan", (0.35, 0.2, 0.045), (0.055, 0.055, 0.09)),
    )
}
TYPES = {name: state.category for name, state in SCENE.items()}
CTX = PredicateContext(SCENE, initial=SCENE)


def moved(name: str, **changes) -> PredicateContext:
    """CTX with one object's state changed (the initial states stay)."""
    objects = dict(SCENE)
    objects[name] = replace(SCENE[name], **changes)
    return replace(CTX, objects=objects)


def check(raw: dict, ctx: PredicateContext = CTX) -> bool:
    result = parse_predicate(raw, TYPES).evaluate(ctx)
    assert result.detail and "nan" not in result.detail
    return result.ok


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"on": ["green block", "yellow block"]}, True),
        ({"on": ["yellow block", "green block"]}, False),
        ({"in": ["red block", "blue bowl"]}, True),
        ({"in": ["white block", "blue bowl"]}, False),
        ({"in": ["white block", "gray zone"]}, False),
        ({"left_of": ["white block", "yellow block"]}, True),
        ({"left_of": ["red block", "yellow block"]}, False),
        ({"right_of": ["red block", "yellow block"]}, True),
        ({"right_of": ["white block", "yellow block"]}, False),
        ({"in_front_of": ["cyan can", "white block"]}, True),
        ({"in_front_of": ["gray zone", "white block"]}, False),
        ({"behind": ["gray zone", "white block"]}, True),
        ({"behind": ["cyan can", "white block"]}, False),
        ({"near": ["white block", "gray zone", 0.1]}, True),
        ({"near": ["white block", "gray zone", 0.05]}, False),
        ({"between": ["yellow block", "red block", "white block"]}, True),
        ({"between": ["cyan can", "red block", "white block"]}, False),
        ({"at": ["yellow block", "center"]}, True),
        ({"at": ["yellow block", "upper-left"]}, False),
        ({"at": ["cyan can", "bottom left corner"]}, True),
        ({"stacked": ["yellow block", "green block"]}, True),
        ({"stacked": ["green block", "yellow block"]}, False),
        ({"tower": ["green block", "yellow block"]}, True),
        ({"tower": ["green block", "white block"]}, False),
        ({"line": ["red block", "yellow block", "white block"]}, True),
        ({"line": ["red block", "yellow block", "cyan can"]}, False),
        ({"upright": ["yellow block", "cyan can"]}, True),
        ({"holding": "nothing"}, True),
        ({"count": {"in": "blue bowl", "among": ["red block", "white block"], "n": 1}}, True),
        ({"count": {"in": "blue bowl", "among": ["red block", "white block"], "n": 2}}, False),
        ({"count": {"in": "gray zone", "among": ["white block"], "n": 0}}, True),
        (
            {
                "spread": {
                    "objects": ["white block", "cyan can"],
                    "regions": ["left side", "bottom left corner"],
                }
            },
            True,
        ),
        (
            {
                "spread": {
                    "objects": ["white block", "cyan can"],
                    "regions": ["bottom left corner", "right side"],
                }
            },
            False,
        ),
        ({"unmoved": ["red block", "cyan can"]}, True),
    ],
)
def test_predicate_on_the_scene(raw, expected):
    assert check(raw) is expected
    assert check({"not": raw}) is not expected


def test_every_kind_is_covered_and_documented():
    assert set(PREDICATES) == {
        "on",
        "in",
        "left_of",
        "right_of",
        "in_front_of",
        "behind",
        "near",
        "between",
        "at",
        "stacked",
        "tower",
        "spread",
        "line",
        "unmoved",
        "upright",
        "holding",
        "count",
        "turned",
        "at_start_of",
        "raised",
        "shifted",
    }
    for name in PREDICATES:
        assert PREDICATES.get(name).doc.startswith(f"`{name}: "), name


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="duplicate predicate 'on'"):
        PREDICATES.add("on", PREDICATES.get("on"))


def test_details_say_why():
    far = moved("red block", position=(0.5, -0.109, 0.028))
    result = parse_predicate({"in": ["red block", "blue bowl"]}, TYPES).evaluate(far)
    assert not result.ok
    assert result.detail == (
        "red block is not in blue bowl (centre 9.1 cm from its centre, bottom 4.2 cm below its top)"
    )
    near = parse_predicate({"near": ["white block", "gray zone", 0.05]}, TYPES).evaluate(CTX)
    assert (
        near.detail == "white block is not near gray zone (footprints 7.0 cm apart, limit 5.0 cm)"
    )


def test_tower_with_an_extra_object_on_top_fails():
    scene = dict(SCENE)
    scene["white block"] = block("white block", 0.5, 0.0, 0.1)
    result = parse_predicate({"tower": ["yellow block", "green block"]}, TYPES).evaluate(
        replace(CTX, objects=scene)
    )
    assert not result.ok
    assert "white block" in result.detail
    assert check(
        {"tower": ["white block", "yellow block", "green block"]}, replace(CTX, objects=scene)
    )


def test_spread_needs_distinct_regions():
    # both in the top left corner, which is also part of the top and left sides
    scene = dict(SCENE)
    scene["red block"] = block("red block", 0.67, 0.27)
    scene["white block"] = block("white block", 0.62, 0.22)
    ctx = replace(CTX, objects=scene)
    both = ["red block", "white block"]
    assert not check({"spread": {"objects": both, "regions": ["top left corner", "center"]}}, ctx)
    assert check({"spread": {"objects": both, "regions": ["top left corner", "top side"]}}, ctx)
    assert check({"spread": {"objects": both, "regions": ["left side", "top left corner"]}}, ctx)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"position": (0.5, -0.19, 0.028)}, True),  # exactly 1 cm
        ({"position": (0.5, -0.1899, 0.028)}, False),
        ({"yaw": math.radians(9)}, True),
        ({"yaw": math.radians(12)}, False),
    ],
)
def test_unmoved_tolerances(changes, expected):
    assert check({"unmoved": ["red block"]}, moved("red block", **changes)) is expected


def test_unmoved_without_initial_state_fails():
    result = parse_predicate({"unmoved": ["red block"]}, TYPES).evaluate(PredicateContext(SCENE))
    assert not result.ok
    assert "no initial state" in result.detail


def test_upright_fails_for_a_toppled_object():
    assert not check({"upright": ["cyan can"]}, moved("cyan can", upright=False))


def test_holding_an_object():
    result = parse_predicate({"holding": "nothing"}, TYPES).evaluate(
        replace(CTX, holding="red block")
    )
    assert (result.ok, result.detail) == (False, "the gripper holds red block")


def test_object_missing_at_evaluation_fails_even_negated():
    scene = {k: v for k, v in SCENE.items() if k != "red block"}
    for raw in ({"in": ["red block", "blue bowl"]}, {"not": {"in": ["red block", "blue bowl"]}}):
        result = parse_predicate(raw, TYPES).evaluate(replace(CTX, objects=scene))
        assert (result.ok, result.detail) == (False, "not in the scene: red block")


def test_double_negation_cancels():
    pred = parse_predicate({"not": {"not": {"on": ["green block", "yellow block"]}}}, TYPES)
    assert pred == Predicate("on", ("green block", "yellow block"))


def test_evaluate_all_keeps_order():
    preds = [
        parse_predicate({"holding": "nothing"}, TYPES),
        parse_predicate({"on": ["yellow block", "green block"]}, TYPES),
    ]
    assert [r.ok for r in evaluate_all(preds, CTX)] == [True, False]


def test_tolerances_come_from_the_context():
    raw = {"left_of": ["white block", "cyan can"]}  # 15 cm behind, 0 cm sideways
    assert not check(raw)
    loose = replace(CTX.tolerances, direction_margin=0.0, direction_dominance=0.0)
    assert check(raw, replace(CTX, tolerances=loose))


@pytest.mark.parametrize(
    "raw",
    [
        {"on": ["green block", "yellow block"]},
        {"in": ["red block", "gray zone"]},
        {"near": ["red block", "white block", 0.2]},
        {"at": ["red block", "top left corner"]},
        {"spread": {"objects": ["red block"], "regions": ["center", "top side"]}},
        {"count": {"in": "blue bowl", "among": ["red block"], "n": 1}},
        {"holding": "nothing"},
        {"not": {"line": ["red block", "yellow block", "white block"]}},
    ],
)
def test_to_raw_round_trips(raw):
    assert parse_predicate(raw, TYPES).to_raw() == raw


def test_parse_normalises_region_and_distance():
    pred = parse_predicate({"at": ["red block", "Upper-Left"]}, TYPES)
    assert pred.args == ("red block", "top left corner")
    assert parse_predicate({"near": ["red block", "white block", 1]}, TYPES).args[2] == 1.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("on", "a predicate is a mapping with one key"),
        ({"on": ["a", "b"], "in": ["a", "b"]}, "a mapping with one key"),
        ({"inside": ["red block", "blue bowl"]}, "unknown predicate 'inside'; known: at, at_start"),
        ({"on": ["red block"]}, r"predicate 'on' takes \[a, b\], got \['red block'\]"),
        ({"on": "red block"}, r"predicate 'on' takes \[a, b\]"),
        ({"between": ["red block", "yellow block"]}, r"'between' takes \[a, b, c\]"),
        ({"line": ["red block", "yellow block"]}, r"'line' takes \[a, b, c, \.\.\.\]"),
        ({"stacked": ["red block"]}, r"'stacked' takes \[bottom, \.\.\., top\]"),
        ({"upright": []}, "'upright' takes"),
        (
            {"in": ["red block", "green bowl"]},
            r"object 'green bowl' in predicate 'in' is not in the scene \(objects: blue bowl, ",
        ),
        ({"in": ["red block", "white block"]}, "needs a bowl or zone as container; 'white block'"),
        ({"on": ["red block", "red block"]}, "names object 'red block' twice"),
        ({"on": ["red block", 3]}, "object names are text, got 3"),
        ({"at": ["red block", "moon"]}, "predicate 'at': unknown region 'moon'; known: center"),
        ({"at": ["red block", 4]}, "a region is text"),
        ({"near": ["red block", "blue bowl", "close"]}, "distance must be a number"),
        ({"near": ["red block", "blue bowl", 0]}, "distance must be a number"),
        ({"near": ["red block", "blue bowl", True]}, "distance must be a number"),
        ({"near": ["red block", "blue bowl", float("nan")]}, "distance must be a number"),
        ({"near": ["red block", "blue bowl"]}, r"'near' takes \[a, b, metres\]"),
        ({"holding": "red block"}, "'holding' takes nothing"),
        ({"count": {"in": "blue bowl", "among": ["red block"]}}, "'count' takes"),
        ({"count": {"in": "blue bowl", "among": ["red block"], "n": 2}}, "from 0 to 1, got 2"),
        ({"count": {"in": "blue bowl", "among": ["red block"], "n": 0.5}}, "whole number"),
        ({"count": {"in": "blue bowl", "among": [], "n": 0}}, "'count' takes"),
        ({"count": {"in": "red block", "among": ["white block"], "n": 0}}, "bowl or zone"),
        ({"spread": {"objects": ["red block"]}}, "'spread' takes"),
        ({"spread": {"objects": [], "regions": ["center"]}}, "'spread' takes"),
        (
            {"spread": {"objects": ["red block", "white block"], "regions": ["center"]}},
            "at least as many regions as objects",
        ),
        ({"spread": {"objects": ["red block"], "regions": ["center", "centre"]}}, "twice"),
        ({"not": {"inside": ["red block", "blue bowl"]}}, "unknown predicate 'inside'"),
        ({"not": "on"}, "a mapping with one key"),
        ({"turned": ["red block", 0]}, "an angle is a number of degrees in"),
        ({"turned": ["red block", 270]}, "an angle is a number of degrees in"),
        ({"raised": ["red block", "high"]}, "distance must be a number"),
        ({"at_start_of": ["red block"]}, r"'at_start_of' takes \[a, b\]"),
    ],
)
def test_parse_errors_name_the_problem(raw, message):
    with pytest.raises(PredicateError, match=message) as info:
        parse_predicate(raw, TYPES)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, HeedError)


def test_known_predicates_include_not():
    assert "not" in known_predicates()
    assert known_predicates() == sorted(known_predicates())


def test_turned_measures_the_yaw_change_either_way_in_place():
    assert not check({"turned": ["yellow block", 45]})
    assert check({"turned": ["yellow block", 45]}, moved("yellow block", yaw=math.radians(-50)))
    assert not check({"turned": ["yellow block", 90]}, moved("yellow block", yaw=math.radians(45)))
    carried = moved("yellow block", yaw=math.radians(45), position=(0.6, 0.0, 0.02))
    assert not check({"turned": ["yellow block", 45]}, carried)


def test_at_start_of_compares_with_where_the_other_object_began():
    assert not check({"at_start_of": ["white block", "yellow block"]})
    there = moved("white block", position=(0.51, 0.01, 0.02))
    assert check({"at_start_of": ["white block", "yellow block"]}, there)


def test_shifted_compares_with_the_start_plus_the_shift():
    start = SCENE["white block"].position
    assert not check({"shifted": ["white block", [0.0, 0.1]]})
    there = moved("white block", position=(start[0] + 0.01, start[1] + 0.1, start[2]))
    assert check({"shifted": ["white block", [0.0, 0.1]]}, there)
    assert not check({"shifted": ["white block", [0.0, -0.1]]}, there)
    with pytest.raises(PredicateError, match=r"a shift is \[dx, dy\]"):
        parse_predicate({"shifted": ["white block", 0.1]}, TYPES)


def test_raised_needs_the_bottom_above_the_height():
    assert not check({"raised": ["white block", 0.1]})
    for z, expected in ((0.11, True), (0.08, False)):
        lifted = moved("white block", position=(0.5, 0.2, z))
        assert check({"raised": ["white block", 0.1]}, lifted) is expected
