"""Knowledge records: validation, JSON round trip, content keys and conflict slots."""

from __future__ import annotations

import pytest
from test_memory_fakes import skill_record, task_record

from memory.records import KnowledgeRecord, ObjectContext, size_class
from skills.objects import ObjectState


def test_json_round_trip_keeps_every_field() -> None:
    record = skill_record(
        "for heavy cylinders, grip with 60 N", applies_to={"category": "cylinder"}
    )
    record = record.with_id(7)
    again = KnowledgeRecord.from_json(record.to_json())
    assert again == record
    assert again.to_dict()["content_key"] == record.content_key


def test_content_key_ignores_case_spacing_final_punctuation_and_number_spelling() -> None:
    a = skill_record("For heavy cylinders,  grip with 60 N.", force=60.0)
    b = skill_record("for heavy cylinders, grip with 60 N", force=60)
    c = skill_record("for heavy cylinders, grip with 60 N", force=61)
    assert a.content_key == b.content_key
    assert a.content_key != c.content_key
    assert task_record("x").content_key != skill_record("x").content_key


def test_slot_is_shared_by_contradicting_records_only() -> None:
    soft = skill_record("grip cylinders with 60 N", applies_to={"category": "cylinder"})
    hard = skill_record("grip cylinders with 80 N", applies_to={"category": "cylinder"}, force=80)
    blocks = skill_record("grip blocks with 30 N", applies_to={"category": "block"}, force=30)
    assert soft.slot == hard.slot != blocks.slot
    rule = {"rule": "place", "object": {"color": "red"}}
    green = task_record("red goes in green", **rule, target={"color": "green"})
    blue = task_record("red goes in blue", **rule, target={"color": "blue"})
    assert green.slot == blue.slot is not None
    assert task_record("be gentle").slot is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "plan", "statement": "x", "change": {}}, "one of task, skill, program"),
        ({"kind": "task", "statement": " ", "change": {}}, "non-empty statement"),
        ({"kind": "task", "statement": "x", "change": []}, "JSON object"),
        ({"kind": "task", "statement": "x", "change": {"v": float("nan")}}, "plain JSON"),
        ({"kind": "skill", "statement": "x", "change": {"params": {"f": 1}}}, '"skill"'),
        ({"kind": "skill", "statement": "x", "change": {"skill": "pick"}}, '"params"'),
        (
            {
                "kind": "skill",
                "statement": "x",
                "change": {"skill": "pick", "params": {"f": 1}, "applies_to": {"mass": "heavy"}},
            },
            "not object attributes",
        ),
        ({"statement": "x"}, "lacks kind, change"),
    ],
)
def test_malformed_records_are_refused_in_one_line(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        KnowledgeRecord.from_dict(data)
    assert "\n" not in str(caught.value)


def test_object_context_from_state_and_size_classes() -> None:
    state = ObjectState("gray cylinder", "cylinder", "gray", (0.5, 0, 0.05), (0.055, 0.055, 0.09))
    context = ObjectContext.from_state(state)
    assert (context.category, context.color, context.name) == ("cylinder", "gray", "gray cylinder")
    assert ObjectContext.from_dict(context.to_dict()) == context
    assert [size_class(s) for s in [(0.04,) * 3, (0.12, 0.03, 0.03), (0.17, 0.17, 0.05)]] == [
        "small",
        "medium",
        "large",
    ]


@pytest.mark.parametrize("levels", [40, 900, 100_000])
def test_deeply_nested_json_is_refused_in_one_line(levels: int) -> None:
    text = '{"kind": "task", "statement": "x", "change": {"a": %s}}' % ("[" * levels + "]" * levels)
    with pytest.raises(ValueError, match="nests deeper than 32 levels"):
        KnowledgeRecord.from_json(text)
