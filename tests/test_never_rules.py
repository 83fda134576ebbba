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
from planner.distill import distill, rule_statement
from planner.embedded.backend import EmbeddedPlanner
from planner.language.never_rules import never_statement, parse_never
from planner.language.rules import parse_rule
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


def _plan(instruction: str, *knowledge: str, answers=()):
    context = PlannerContext(instruction, OBJECTS, "", knowledge=knowledge, answers=answers)
    return EmbeddedPlanner().propose(context)


def test_an_open_choice_avoids_the_forbidden_place_and_says_so():
    proposal = _plan("put the red can in a bowl", CANS)
    assert 'put_first_on_second("red can", "gray bowl")' in proposal.code
    assert "You told me 'never put cans in the white bowl'" in proposal.code
    assert {"not": {"in": ["red can", "white bowl"]}} in proposal.goal.predicates
    assert 'put_first_on_second("red can", "white bowl")' in _plan("put the red can in a bowl").code


def test_an_order_that_breaks_a_never_rule_is_asked_about_once_then_refused_or_done():
    for instruction, rule, where in (
        ("put the red can in the white bowl", CANS, "red can in the white bowl"),
        ("put the red block on the green block", GREEN, "red block on the green block"),
        ("stack the red block on the green block", GREEN, "red block on the green block"),
    ):
        question = f"You told me {rule!r}. Put the {where} anyway?"
        assert _plan(instruction, CANS, GREEN).code == f"ask({question!r})"
        refused = _plan(instruction, CANS, GREEN, answers=((question, "I don't know"),)).code
        assert refused.startswith("refuse(") and rule in refused, refused
        done = _plan(instruction, CANS, GREEN, answers=((question, "yes, this time"),)).code
        assert "this time" in done and not done.startswith("refuse("), done
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


def test_a_tower_built_before_a_never_rule_was_said_is_rebuilt_with_that_block_on_top():
    bottom, middle, top = (obj(n, 0.5, 0.1) for n in ("gray block", "yellow block", "black block"))
    middle = replace(middle, position=(0.5, 0.1, 0.06))
    top = replace(top, position=(0.5, 0.1, 0.10))
    objects = (bottom, middle, top)
    said = TaskCorrection("Nothing goes on the gray block, so it has to be the top one.", "never")
    context = PlannerContext(
        "build a tower with the gray, yellow and black blocks", objects, "", corrections=(said,)
    )
    proposal = EmbeddedPlanner().propose(context)
    assert {"stacked": ["yellow block", "black block", "gray block"]} in proposal.goal.predicates
    assert "refuse" not in proposal.code


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


@pytest.mark.parametrize(
    "said",
    [
        "White things belong in the black bowl. Only the white ones, mind you.",
        "The black bowl is reserved for white things, this one goes in the other bowl.",
        "the black bowl is only for white things",
    ],
)
def test_only_makes_a_place_rule_exclusive_and_its_statement_says_so(said):
    rule = parse_rule(said)
    assert (rule.objects.text, rule.target.text, rule.only) == (
        "white things",
        "the black bowl",
        True,
    )
    assert rule_statement(rule) == "only white objects go in the black bowl"
    assert parse_rule(rule_statement(rule)).only
    assert not parse_rule("Just like before, white things go in the black bowl").only


def test_nothing_but_is_a_never_rule_with_an_exception():
    rule = parse_never("Nothing but white things goes in the black bowl")
    assert (rule.objects.text, rule.unless.text) == ("anything", "white things")
    assert never_statement(rule) == "never put anything but white things in the black bowl"
    assert parse_never(never_statement(rule)).unless.text == "white things"


@pytest.mark.parametrize(
    "taught",
    [
        "only white objects go in the black bowl",
        "never put anything but white things in the black bowl",
    ],
)
def test_a_place_kept_for_some_objects_is_left_to_them(taught):
    objects = scene(
        ("pink bar", 0.4, 0.0), ("black bowl", 0.55, 0.15), ("purple bowl", 0.55, -0.15)
    )
    other = _propose("put the pink bar in one of the bowls", objects, taught)
    assert 'put_first_on_second("pink bar", "purple bowl")' in other.code
    assert {"not": {"in": ["pink bar", "black bowl"]}} in other.goal.predicates
    assert other.meta["applied"] == [taught]
    white = scene(("white can", 0.4, 0.0), ("black bowl", 0.55, -0.15), ("purple bowl", 0.55, 0.15))
    assert (
        'put_first_on_second("white can", "purple bowl")'
        in _propose("put the white can in the purple bowl", white, taught).code
    )  # said outright: the rule keeps others out, it does not send white things away


def _propose(instruction: str, objects, *knowledge: str):
    return EmbeddedPlanner().propose(PlannerContext(instruction, objects, "", knowledge=knowledge))


def test_an_exclusive_rule_is_distilled_with_its_scope():
    said = "White things belong in the black bowl. Only the white ones, mind you."
    objects = (obj("white block", 0.55, -0.15), obj("black bowl", 0.55, -0.15), OBJECTS[-1])
    correction = TaskCorrection(said, "preference", (), objects)
    task = CorrectedTask(
        "ep-1", "put the white block in a bowl", "verified", (correction,), (), objects
    )
    (record,) = distill(task)
    assert record.statement == "only white objects go in the black bowl"
    assert record.change["only"] is True and record.change["object"] == {"color": "white"}


def test_a_never_rule_that_also_says_where_to_go_instead_is_both_kept_and_followed():
    said = (
        "Hang on, not the blue bowl. Keep everything out of the blue bowl from now on, "
        "use the other one."
    )
    assert CorrectionInterpreter().interpret(said).intent == "never"
    after = scene(("pink block", 0.55, 0.15), ("blue bowl", 0.55, 0.15), ("cyan bowl", 0.55, -0.15))
    correction = TaskCorrection(said, "never", (("pink block", 0.44, -0.07),), after)
    instruction = "put the pink block in the blue bowl"
    context = PlannerContext(instruction, after, "", corrections=(correction,))
    proposal = EmbeddedPlanner().propose(context)
    assert 'put_first_on_second("pink block", "cyan bowl")' in proposal.code
    task = CorrectedTask("ep-1", instruction, "verified", (correction,), (), after)
    assert [r.statement for r in distill(task)] == ["never put anything in the blue bowl"]
