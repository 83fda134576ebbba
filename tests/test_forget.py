"""Forgetting what was taught ("forget what I said about the white bowl"): the knowledge
about it stops applying in the task at once and is revoked from the knowledge base when the
task ends, so later tasks act as if it had never been taught."""

from __future__ import annotations

import pytest
from rounds import corrections_by_round
from tabletop_scenes import scene

from planner.context import PlannerContext, TaskCorrection
from planner.corrections import CorrectionInterpreter
from planner.embedded.backend import EmbeddedPlanner
from planner.language.forget import mentions, parse_forget, remembered

CANS = "never put cans in the white bowl"


@pytest.mark.parametrize(
    ("said", "subject"),
    [
        ("forget what I said about the white bowl", "white bowl"),
        ("Actually, forget what I told you about the blue bowl.", "blue bowl"),
        ("ignore the rule about cans, please", "cans"),
        ("the rule about the white bowl no longer applies", "white bowl"),
        ("put the block in the white bowl", None),
        ("never mind", None),
        ("Forget what I told you about the blue bowl. You can use it again.", "blue bowl"),
        (  # an answer: "it" is the thing named before, the remark after it no part of it
            "Yes, the blue bowl. Forget what I said about it before, it's fine to use again.",
            "blue bowl",
        ),
    ],
)
def test_a_forget_correction_names_what_it_is_about(said, subject):
    assert parse_forget(said) == subject


def test_only_statements_about_it_are_forgotten():
    knowledge = [CANS, "white things go in the black bowl", "cans go in the red bowl"]
    said = ["forget what I said about the white bowl"]
    assert remembered(knowledge, said) == knowledge[1:]
    assert mentions("cans go in the red bowl", "can") and not mentions(CANS, "black bowl")


def test_forgetting_is_a_task_correction_that_lifts_the_rule_at_once():
    said = "forget what I said about the white bowl"
    assert CorrectionInterpreter().interpret(said).intent == "forget"
    objects = scene(("red can", 0.45, 0.0), ("white bowl", 0.6, 0.15), ("gray bowl", 0.6, -0.15))
    instruction = "put the red can in the white bowl"
    asked = EmbeddedPlanner().propose(PlannerContext(instruction, objects, "", knowledge=(CANS,)))
    assert asked.code.startswith("ask(") and CANS in asked.code  # said outright: asked once
    context = PlannerContext(
        instruction,
        objects,
        "",
        knowledge=(CANS,),
        corrections=(TaskCorrection(said, "forget", (), objects),),
    )
    assert 'put_first_on_second("red can", "white bowl")' in EmbeddedPlanner().propose(context).code


MINI_SUITE = """
name: mini-forget
defaults: {max_steps: 8, max_corrections: 3}
episodes:
  - id: forget-r1
    family: forget
    seed: 1
    objects:
      - {name: red can, type: cylinder, color: red}
      - {name: white bowl, type: bowl, color: white, pose: [0.55, 0.15]}
      - {name: gray bowl, type: bowl, color: gray, pose: [0.55, -0.15]}
    instruction: put the red can in a bowl
    success: [{in: [red can, gray bowl]}]
    user:
      - {violated: {not: {in: [red can, white bowl]}}, say: never put cans in the white bowl}
  - id: forget-r2
    family: forget
    round: 2
    seed: 2
    objects:
      - {name: blue can, type: cylinder, color: blue}
      - {name: white bowl, type: bowl, color: white, pose: [0.55, 0.15]}
      - {name: gray bowl, type: bowl, color: gray, pose: [0.55, -0.15]}
    instruction: put the blue can in the white bowl
    success: [{in: [blue can, white bowl]}]
    user:
      - {violated: {in: [blue can, white bowl]}, say: forget what I said about the white bowl}
  - id: forget-r3
    family: forget
    round: 3
    seed: 3
    objects:
      - {name: green can, type: cylinder, color: green}
      - {name: white bowl, type: bowl, color: white, pose: [0.55, 0.15]}
      - {name: pink bowl, type: bowl, color: pink, pose: [0.55, -0.15]}
    instruction: put the green can in the white bowl
    success: [{in: [green can, white bowl]}]
    user:
      - {violated: {in: [green can, white bowl]}, say: forget what I said about the white bowl}
"""


def test_a_forgotten_rule_is_gone_in_later_rounds(tmp_path):
    rounds = corrections_by_round(tmp_path, MINI_SUITE)
    assert rounds["1"]["memory"] == 1.0
    assert rounds["2"] == {"memory": 1.0, "baseline": 0.0}  # the rule refused; forgotten
    assert rounds["3"]["memory"] == 0.0  # without the forget it would refuse again
