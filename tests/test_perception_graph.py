"""Scene graphs, relations, text, diff and tracking on hand-built states (no simulator)."""

from __future__ import annotations

import math
import random

import pytest

from perception import geometry
from perception.detector import Detection
from perception.scene_graph import EMPTY_TEXT, SceneGraph, SceneNode, scene_text
from perception.tracking import Tracker
from skills.errors import UnknownObjectError
from skills.objects import ObjectSource, ObjectState
from skills.robot import Pose, RobotState

BLOCK = (0.04, 0.04, 0.04)
BOWL = (0.17, 0.17, 0.05)


def state(name, category="block", color="red", x=0.5, y=0.0, z=0.02, size=BLOCK, yaw=0.0):
    return ObjectState(name, category, color, (x, y, z), size, yaw)


def scene() -> list[ObjectState]:
    return [
        state("red block", x=0.60, y=0.10, z=0.028),
        state("blue bowl", "bowl", "blue", x=0.60, y=0.10, z=0.025, size=BOWL),
        state("green block", color="green", x=0.45, y=-0.15),
        state("yellow block", color="yellow", x=0.45, y=-0.15, z=0.06),
    ]


def test_edges_are_the_shared_geometrys_relations():
    graph = SceneGraph.build(scene())
    assert list(graph.edges) == geometry.relations(scene())
    assert ("in", "red block", "blue bowl") in graph.edges
    assert ("on", "yellow block", "green block") in graph.edges
    assert ("on", "red block", "blue bowl") not in graph.edges


def test_a_graph_is_an_object_source_of_its_nodes():
    graph = SceneGraph.build(scene())
    assert isinstance(graph, ObjectSource)
    assert [o.name for o in graph.objects()] == sorted(o.name for o in scene())
    assert isinstance(graph.node("red block"), SceneNode)
    assert graph.node("red block").footprint.area == pytest.approx(0.04 * 0.04)
    with pytest.raises(UnknownObjectError, match="purple block"):
        graph.node("purple block")


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="unique"):
        SceneGraph.build([state("a"), state("a", x=0.4)])


@pytest.mark.parametrize(
    ("gap", "on"), [(0.0, True), (0.015, True), (0.0151, False), (-0.015, True)]
)
def test_on_holds_up_to_the_gap_tolerance(gap, on):
    lower = state("lower")
    upper = state("upper", color="blue", z=lower.top_z + gap + 0.02)
    assert (("on", "upper", "lower") in SceneGraph.build([lower, upper]).edges) is on


def test_a_block_on_the_rim_is_on_but_not_in_the_bowl():
    bowl = state("bowl", "bowl", "blue", size=BOWL, z=0.025)
    rim = state("rim block", x=0.5 + 0.07, z=0.05 + 0.02)
    edges = SceneGraph.build([bowl, rim]).edges
    assert ("on", "rim block", "bowl") in edges
    assert ("in", "rim block", "bowl") not in edges


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [
        (0.0, 0.10, {"left_of"}),
        (0.0, -0.10, {"right_of"}),
        (0.10, 0.0, {"behind"}),
        (-0.10, 0.0, {"in_front_of"}),
        (0.10, 0.10, {"behind", "left_of"}),  # diagonal: both directions dominate
        (0.03, 0.07, {"left_of"}),  # 0.03 < 0.5 x 0.07: not behind
        (0.0, 0.019, {"near"}),  # under the 2 cm margin: no direction
    ],
)
def test_directions_follow_the_dominant_direction_rule(dx, dy, expected):
    b = state("b")
    a = state("a", color="blue", x=0.5 + dx, y=dy)
    got = {rel for rel, s, o in SceneGraph.build([a, b]).edges if (s, o) == ("a", "b")}
    directional = got - {"near"}
    assert directional == expected - {"near"}
    assert ("near" in got) == (math.hypot(dx, dy) - 0.04 <= 0.05 + 1e-9 or "near" in expected)


def test_text_is_stable_whatever_the_input_order():
    objects = scene()
    texts = set()
    for seed in range(5):
        random.Random(seed).shuffle(objects)
        texts.add(SceneGraph.build(objects).to_text())
    assert len(texts) == 1


def test_text_lists_objects_in_metres_then_relations_by_subject():
    graph = SceneGraph.build(
        [
            state("red bar", "bar", x=0.6, y=0.1, z=0.07, size=(0.12, 0.03, 0.03), yaw=0.52),
            state("green block", color="green", x=0.45, y=0.1),
        ]
    )
    assert graph.to_text() == (
        "objects (x, y and size in metres, yaw in degrees):\n"
        "- green block at (0.45, 0.10), size 0.04\n"
        "- red bar at (0.60, 0.10, z 0.07), size 0.12 x 0.03 x 0.03, yaw 30\n"
        "relations:\n"
        "- green block: in_front_of red bar\n"
        "- red bar: behind green block"
    )


def test_an_empty_table_gives_an_empty_graph_and_says_so():
    graph = SceneGraph.build([])
    assert len(graph) == 0 and graph.edges == ()
    assert graph.to_text() == EMPTY_TEXT
    assert graph.to_json()["objects"] == []


def test_json_round_trips():
    graph = SceneGraph.build(scene(), stamp=1.5, source="rgbd")
    data = graph.to_json()
    assert data["relations"][0] == list(graph.edges[0])
    assert len(data["objects"][0]["footprint"]) >= 4
    again = SceneGraph.from_json(data)
    assert again.edges == graph.edges and again.source == "rgbd"


def test_diff_lists_moved_appeared_disappeared_and_relation_changes():
    before = SceneGraph.build(scene())
    objects = {o.name: o for o in scene()}
    objects["red block"] = state("red block", x=0.40, y=0.20)  # out of the bowl
    objects["green block"] = state("green block", color="green", x=0.453, y=-0.15)  # 3 mm
    del objects["yellow block"]
    objects["white cylinder"] = state("white cylinder", "cylinder", "white", x=0.65, y=-0.2)
    diff = SceneGraph.build(objects.values()).diff(before)
    assert [m.name for m in diff.moved] == ["red block"]
    assert diff.appeared == ("white cylinder",) and diff.disappeared == ("yellow block",)
    assert ("in", "red block", "blue bowl") in diff.lost
    text = diff.to_text()
    assert text.startswith("moved: red block by 0.224 m")
    assert "appeared: white cylinder" in text and "disappeared: yellow block" in text
    assert "no longer: " in text and "red block in blue bowl" in text
    assert not before.diff(before) and before.diff(before).to_text() == "nothing changed"


# --- tracking ------------------------------------------------------------------------------
def det(color="red", category="block", x=0.5, y=0.0, z=0.02, size=BLOCK, label=None):
    return Detection(category, color, (x, y, z), size, 0.0, 1.0, ("top",), label)


def robot(x=0.4, y=0.0, z=0.3, holding=None):
    return RobotState((0.0,) * 7, Pose.top_down(x, y, z), 0.08, holding, 0.0)


def test_names_are_colour_and_category_numbered_by_x_then_y():
    nodes = Tracker().update([det(x=0.6), det(x=0.4), det("blue", "bowl", x=0.5, size=BOWL)])
    assert {n.name: n.position[0] for n in nodes} == {
        "blue bowl": 0.5,
        "red block": 0.4,
        "red block 2": 0.6,
    }


def test_names_stay_with_objects_that_move_a_little_and_swap_order():
    tracker = Tracker()
    tracker.update([det(x=0.40), det(x=0.46)])
    nodes = tracker.update([det(x=0.47), det(x=0.42)])  # each moved 1-2 cm
    assert {n.name: round(n.position[0], 2) for n in nodes} == {
        "red block": 0.42,
        "red block 2": 0.47,
    }


def test_a_carried_object_keeps_its_name_while_hidden_and_after_release():
    tracker = Tracker()
    tracker.update([det(x=0.40), det(x=0.60, y=0.2)])
    tracker.update([det(x=0.60, y=0.2)], robot(0.40, 0.0, 0.04, holding="x"))  # grasped
    nodes = tracker.update([det(x=0.60, y=0.2)], robot(0.55, -0.2, 0.2, holding="x"))
    carried = {n.name: n for n in nodes}["red block"]
    assert carried.position[:2] == pytest.approx((0.55, -0.2)) and carried.hidden
    nodes = tracker.update([det(x=0.60, y=0.2), det(x=0.55, y=-0.2)], robot(0.55, -0.2, 0.2))
    assert {n.name: n.position[:2] for n in nodes} == {
        "red block": pytest.approx((0.55, -0.2)),
        "red block 2": pytest.approx((0.60, 0.2)),
    }


def test_unseen_objects_are_kept_a_few_updates_then_dropped():
    tracker = Tracker()
    tracker.update([det(), det("green", x=0.4)])
    for _ in range(tracker.config.max_missing):
        nodes = tracker.update([det()])
        assert {n.name: n.hidden for n in nodes} == {"green block": True, "red block": False}
    assert [n.name for n in tracker.update([det()])] == ["red block"]


def test_source_labels_name_detections_and_decide_matches():
    tracker = Tracker()
    tracker.update([det(label="heavy can", category="cylinder", x=0.4)])
    nodes = tracker.update([det(label="heavy can", category="cylinder", x=0.7)])
    assert [(n.name, n.position[0]) for n in nodes] == [("heavy can", 0.7)]


def test_the_planners_scene_text_orders_objects_left_to_right_and_near_to_far():
    text = scene_text(
        [
            state("red block", x=0.60, y=-0.10),
            state("green block", color="green", x=0.40, y=0.20),
            state("blue block", color="blue", x=0.50, y=0.05),
        ]
    )
    assert "blocks from left to right: green block, blue block, red block" in text
    assert "blocks from nearest the robot to farthest: green block, blue block, red block" in text
    assert "order from" not in text  # one kind: its own lines say it all
    assert "in metres" in text and "cm" not in text


def test_the_scene_text_orders_all_objects_and_each_kind_of_two_or_more():
    text = scene_text(
        [
            state("red block", x=0.60, y=-0.10),
            state("green block", color="green", x=0.40, y=0.20),
            state("blue bowl", category="bowl", color="blue", x=0.35, y=0.0),
        ]
    )
    assert "order from left to right: green block, blue bowl, red block" in text
    assert "order from nearest the robot to farthest: blue bowl, green block, red block" in text
    assert "blocks from left to right: green block, red block" in text
    assert "bowls from" not in text
