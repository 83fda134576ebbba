"""Program memory and the cascade: verified programs replayed with their names rebound,
only where the words differ in colours and kinds, and each level named in the trace."""

from __future__ import annotations

import pytest
from fakes import ScriptedBackend
from tabletop_scenes import scene

from planner.cascade import CascadePlanner
from planner.context import PlannerContext, RememberedProgram, StepRecord
from planner.outcome import TaskOutcome
from planner.programs import program_record, remembered, replay

SCENE = scene(
    ("red block", 0.45, 0.10),
    ("green block", 0.55, -0.15),
    ("red can", 0.40, -0.10),
    ("blue bowl", 0.60, 0.15),
    ("yellow bowl", 0.62, -0.05),
)
SAID = "put the red block in the blue bowl"
CODE = 'put_first_on_second("red block", "blue bowl")\ndone()'
GOAL = [{"in": ["red block", "blue bowl"]}, {"unmoved": ["green block"]}]
CHANGE = remembered(SAID, CODE, GOAL, SCENE)


def test_a_program_is_kept_with_its_objects_lifted_to_roles():
    assert CHANGE is not None and CHANGE["program"] == 'put_first_on_second("r0", "r1")\ndone()'
    assert CHANGE["goal"] == [{"in": ["r0", "r1"]}, {"unmoved": ["r2"]}]
    assert CHANGE["roles"]["r0"] == {"category": "block", "color": "red", "acts": True}
    assert not CHANGE["roles"]["r2"]["acts"]


@pytest.mark.parametrize(
    ("now", "code"),
    [
        ("put the green block in the yellow bowl", '("green block", "yellow bowl")'),
        ("please put the red can in the blue bowl", '("red can", "blue bowl")'),
        (SAID, '("red block", "blue bowl")'),
    ],
)
def test_other_colours_and_kinds_rebind_the_names(now, code):
    found = replay(SAID, CHANGE, now, SCENE)
    assert found is not None and code in found.code
    assert found.goal.predicates[0]["in"][0] in found.code


@pytest.mark.parametrize(
    "now",
    [
        "put the red block left of the blue bowl",  # another relation: never replayed
        "put the red block in the blue bowl and then stack the rest",  # more to do
        "put the purple block in the blue bowl",  # nothing purple here
        "put the red bowl in the blue bowl",  # a kind that does not fit
    ],
)
def test_anything_but_colours_and_kinds_changed_is_not_replayed(now):
    assert replay(SAID, CHANGE, now, SCENE) is None


@pytest.mark.parametrize(
    "code",
    [
        'put_first_on_second("red block", [0.40, 0.10])\ndone()',  # table coordinates
        'say("there are 2 blocks")\ndone()',  # talk about one scene
        'put_first_on_second(find("leftmost block"), "blue bowl")\ndone()',  # chosen anew
    ],
)
def test_programs_bound_to_one_scene_are_not_kept(code):
    assert remembered(SAID, code, GOAL, SCENE) is None


def test_an_offset_from_an_object_moves_with_it():
    code = 'pick("red block")\nplace("blue bowl", offset=[0.0, 0.03])\ndone()'
    assert remembered(SAID, code, GOAL, SCENE) is not None


def _outcome(status: str, steps: list[str], served: str = "parser") -> TaskOutcome:
    history = [StepRecord("t", c, f"scene changes: {o}", True) for c, o in steps]
    return TaskOutcome(status, history=history, goal=GOAL, served_by=[served] * len(steps))


def test_only_a_verified_program_that_did_everything_is_recorded():
    record = program_record("ep", SAID, _outcome("verified", [(CODE, "red block moved")]), SCENE)
    assert record is not None and record.kind == "program" and record.statement == SAID
    assert program_record("ep", SAID, _outcome("unverified", [(CODE, "x")]), SCENE) is None
    moved_first = _outcome("verified", [("pick('red block')", "red block moved"), (CODE, "x")])
    assert program_record("ep", SAID, moved_first, SCENE) is None
    replayed = _outcome("verified", [(CODE, "x")], served="memory")
    assert program_record("ep", SAID, replayed, SCENE) is None


def _context(text: str, **kw) -> PlannerContext:
    return PlannerContext(text, SCENE, "", **kw)


def test_the_cascade_replays_memory_first_and_says_so():
    cascade = CascadePlanner()
    remembered_ = (RememberedProgram(SAID, CHANGE, 0.9, 7),)
    proposal = cascade.propose(
        _context("put the green block in the yellow bowl", programs=remembered_)
    )
    assert proposal.served_by == "memory" and "green block" in proposal.code
    assert "red block -> green block" in proposal.thought and proposal.meta["program"] == 7
    again = cascade.propose(
        _context(
            "put the green block in the yellow bowl",
            programs=remembered_,
            history=(StepRecord("t", proposal.code, "failed", False),),
        )
    )
    assert again.served_by == "parser"  # a replay is tried once, on the first step


def test_a_rule_taught_since_the_program_ran_outranks_its_replay():
    remembered_ = (RememberedProgram(SAID, CHANGE, 0.9, 7),)
    said = "put the green block in the yellow bowl"
    ruled = _context(
        said, programs=remembered_, knowledge=("never put anything in the yellow bowl",)
    )
    proposal = CascadePlanner().propose(ruled)
    assert proposal.served_by == "parser" and proposal.code.startswith("ask(")  # the rule: asked
    unrelated = _context(said, programs=remembered_, knowledge=("cans go in the blue bowl",))
    assert CascadePlanner().propose(unrelated).served_by == "memory"


def test_the_cascade_hands_words_the_parser_did_not_read_to_the_model():
    llm = ScriptedBackend(['say("hello")\ndone()'], name="stub")
    made: list[int] = []
    cascade = CascadePlanner(llm=lambda: made.append(1) or llm)
    plain = cascade.propose(_context("put the red block in the blue bowl"))
    assert plain.served_by == "parser" and not made  # no model loaded when not needed
    odd = cascade.propose(_context("frobnicate the zorble"))
    assert odd.code.startswith("say(") and odd.served_by == "llm" and made == [1]


def test_without_a_model_the_parser_question_stands():
    proposal = CascadePlanner(llm=lambda: None).propose(_context("frobnicate the zorble"))
    assert proposal.served_by == "parser" and proposal.code.startswith(("ask(", "refuse("))
