"""A re-plan grounds the instruction's phrases where the user saw them: after the plan
moved things, "the bar nearest to me" still names the bar it named when the task began."""

from __future__ import annotations

from tabletop_scenes import moves, scene

from planner.context import PlannerContext, StepRecord
from planner.embedded.backend import EmbeddedPlanner

START = scene(
    ("purple bar", 0.37, 0.03),  # nearest to the robot at the start
    ("orange bar", 0.49, -0.01),
    ("red zone", 0.60, 0.16),
    ("green zone", 0.35, -0.25),
)
NOW = scene(  # the purple bar was put down on the way, further out than the orange one
    ("purple bar", 0.56, -0.12),
    ("orange bar", 0.49, -0.01),
    ("red zone", 0.60, 0.16),
    ("green zone", 0.35, -0.25),
)
FAILED = StepRecord("plan", "go_home()", "go_home: ok - at home", ok=True)


def replan(instruction: str, initial=START):
    context = PlannerContext(instruction, NOW, "", history=(FAILED,), initial_scene=tuple(initial))
    return EmbeddedPlanner().propose(context)


def test_a_superlative_keeps_its_referent_on_a_replan():
    proposal = replan("could u pop the bar thats nearest to me onto the red mat")
    assert moves(proposal.code) == [("purple bar", "red zone")]
    assert {"in": ["purple bar", "red zone"]} in proposal.goal.predicates


def test_places_are_measured_from_where_things_are_now():
    proposal = replan("put the orange bar to the right of the bar nearest to me")
    ((name, target),) = moves(proposal.code)
    assert name == "orange bar"
    assert target[1] < -0.12 - 0.05  # right of the purple bar where it lies now (y -0.12)
    assert {"right_of": ["orange bar", "purple bar"]} in proposal.goal.predicates


def test_without_an_initial_scene_the_scene_now_is_used():
    proposal = replan("put the bar nearest to me on the red mat", initial=())
    assert moves(proposal.code) == [("orange bar", "red zone")]
