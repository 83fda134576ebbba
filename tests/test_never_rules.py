"""Never-rules ("never put cans in the white bowl"): read from a correction, checked before
acting (an open choice avoids the place, a plan that breaks the rule is refused), enforced
by the goal check, distilled into a record and applied in a later round."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rounds import corrections_by_round
from tabletop_scenes import obj, scene

from memory.records import TASK, KnowledgeRecord
from planner.context import PlannerContext, TaskCorrection
from planner.corrections import CorrectionInterpreter
from planner.distill import distill
from planner.embedded.backend import EmbeddedPlanner
from planner.language.never_rules import parse_never
from planner.outcome import CorrectedTask

CANS = "never put cans in the white bowl"
GREEN = "never put anything on the green block"
OBJECTS = scene(
    ("red block", 0.45, 0.10),
    ("red can", 0.50, 0.25),
    ("green block", 0.35, -0.10),
    ("white bowl", 0.60, 0.15),
    ("gray bowl", 0.62, -0.15),
)


@pytest.mark.parametrize(
    ("said", "reading"),
    [
        ("No! Don't ever put cans in the white bowl.", ("cans", "in", "the white bowl")),
        ("Keep the cans out of the white bowl, please", ("the cans", "in", "the white bowl")),
        ("cylinders should never go in the white bowl", ("cylinders", "in", "the white bowl")),
        ("don't stack anything on the green block", ("anything", "on", "the green block")),
        ("nothing goes on the green block", ("anything", "on", "the green block")),
        ("no, the other bowl", None),
        ("put the red block in the bowl", None),
    ],
)
def test_a_never_rule_is_read_from_how_people_say_it(said, reading):
    rule = parse_never(said)
    found = None if rule is None else (rule.objects.text, rule.relation, rule.target.text)
    assert found == reading


def test_a_never_rule_reads_back_from_its_statement():
    rule = parse_never("Keep the cans out of the white bowl!")
    again = parse_never(rule.statement())
    assert (again.objects, again.target, again.relation) == (
        rule.objects,
        rule.target,
        rule.relation,
    )


def test_a_never_rule_is_a_task_correction():
    reading = CorrectionInterpreter().interpret("no, never put cans in the white bowl")
    assert (reading.kind, reading.intent) == ("task", "never")


def _plan(instruction: str, *knowledge: str):
    context = PlannerContext(instruction, OBJECTS, "", knowledge=knowledge)
    return EmbeddedPlanner().propose(context)


def test_an_open_choice_avoids_the_forbidden_place_and_says_so():
    proposal = _plan("put the red can in a bowl", CANS)
    assert 'put_first_on_second("red can", "gray bowl")' in proposal.code
    assert "You told me 'never put cans in the white bowl'" in proposal.code
    assert {"not": {"in": ["red can", "white bowl"]}} in proposal.goal.predicates
    assert 'put_first_on_second("red can", "white bowl")' in _plan("put the red can in a bowl").code


def test_a_plan_that_breaks_a_never_rule_is_refused_with_the_rule():
    for instruction, rule in (
        ("put the red can in the white bowl", CANS),
        ("put the red block on the green block", GREEN),
        ("stack the red block on the green block", GREEN),
    ):
        code = _plan(instruction, CANS, GREEN).code
        assert code.startswith("refuse(") and rule in code, code
    allowed = _plan("put the red block in the white bowl", CANS, GREEN)
    assert 'put_first_on_second("red block", "white bowl")' in allowed.code


def test_a_stack_in_no_said_order_puts_what_must_stay_clear_on_top():
    blocks = scene(
        ("green block", 0.45, 0.10), ("yellow block", 0.5, 0.25), ("white block", 0.35, -0.1)
    )
    plain = EmbeddedPlanner().propose(PlannerContext("stack the blocks", blocks, ""))
    assert {"stacked": ["yellow block", "green block", "white block"]} in plain.goal.predicates
    context = PlannerContext("stack the blocks", blocks, "", knowledge=(GREEN,))
    kept = EmbeddedPlanner().propose(context)
    assert {"stacked": ["yellow block", "white block", "green block"]} in kept.goal.predicates


def test_a_tower_is_taken_apart_from_the_top_before_a_lower_block_moves():
    bottom, middle, top = (obj(n, 0.5, 0.1) for n in ("white block", "green block", "yellow block"))
    middle = replace(middle, position=(0.5, 0.1, 0.06))
    top = replace(top, position=(0.5, 0.1, 0.10))
    objects = (bottom, middle, top, OBJECTS[-1])
    context = PlannerContext("put the white block in the gray bowl", objects, "")
    lines = EmbeddedPlanner().propose(context).code.splitlines()
    assert [line.split('"')[1] for line in lines[:3]] == [
        "yellow block",
        "green block",
        "white block",
    ]
    assert "off the green block first" in lines[0] and "off the white block first" in lines[1]
    assert lines[0].split(", ", 1)[1] != lines[1].split(", ", 1)[1]  # a spot for each


def _task(said: str) -> CorrectedTask:
    correction = TaskCorrection(said, "never", (), OBJECTS)
    instruction = "put the red can in a bowl"
    return CorrectedTask("ep-1", instruction, "verified", (correction,), (), OBJECTS)


def test_a_never_rule_is_distilled_and_one_for_now_is_not():
    (record,) = distill(_task("no, never put cans in the white bowl"))
    assert record.statement == CANS
    assert record.change == {
        "rule": "never",
        "object": {"category": "cylinder"},
        "target": {"category": "bowl", "color": "white"},
        "relation": "in",
    }
    assert distill(_task("don't put the red can in the white bowl")) == []


def test_never_rules_about_two_places_do_not_replace_each_other():
    records = [
        KnowledgeRecord(TASK, s, {"rule": "never", "object": {"category": "cylinder"},
                                  "target": {"category": "bowl", "color": c}, "relation": "in"})
        for s, c in ((CANS, "white"), ("never put cans in the pink bowl", "pink"))
    ]  # fmt: skip
    assert records[0].slot != records[1].slot


MINI_SUITE = """
name: mini-never
defaults: {max_steps: 8, max_corrections: 3}
episodes:
  - id: cans-r1
    family: never
    seed: 1
    objects:
      - {name: red can, type: cylinder, color: red}
      - {name: white bowl, type: bowl, color: white, pose: [0.55, 0.15]}
      - {name: gray bowl, type: bowl, color: gray, pose: [0.55, -0.15]}
    instruction: put the red can in a bowl
    success: [{in: [red can, gray bowl]}]
    user:
      - violated: {not: {in: [red can, white bowl]}}
        say: no! never put cans in the white bowl
  - id: cans-r2
    family: never
    round: 2
    seed: 2
    objects:
      - {name: blue can, type: cylinder, color: blue}
      - {name: white bowl, type: bowl, color: white, pose: [0.55, 0.15]}
      - {name: pink bowl, type: bowl, color: pink, pose: [0.55, -0.15]}
    instruction: drop the blue can into one of the bowls
    success: [{in: [blue can, pink bowl]}]
    user:
      - violated: {not: {in: [blue can, white bowl]}}
        say: cans should never go in the white bowl
"""


def test_a_never_rule_taught_in_round_one_needs_no_correction_in_round_two(tmp_path):
    rounds = corrections_by_round(tmp_path, MINI_SUITE)
    assert rounds["1"]["memory"] == 1.0
    assert rounds["2"] == {"memory": 0.0, "baseline": 1.0}
