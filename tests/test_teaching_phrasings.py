"""How people phrase what they teach: a rule in one sentence of several, "there" for the
place named just before, and remarks about manner ("and be careful", "go on") that are no
order of their own."""

from __future__ import annotations

import pytest
from tabletop_scenes import scene

from planner.context import PlannerContext, TaskCorrection
from planner.corrections import CorrectionInterpreter
from planner.distill import distill
from planner.embedded.backend import EmbeddedPlanner
from planner.language.forget import parse_forget
from planner.language.lexicon import resolve_there
from planner.language.meanings import PLACE, apply_meanings, parse_meaning
from planner.language.never_rules import parse_never
from planner.language.rules import parse_rule, said_instead
from planner.outcome import CorrectedTask


def _read(rule) -> tuple[str, str, str]:
    return (rule.objects.text, rule.relation, rule.target.text)


def test_a_rule_is_read_from_one_sentence_of_several():
    rule = parse_rule("White things belong in the black bowl. Only the white ones, mind you.")
    assert _read(rule) == ("white things", "in", "the black bowl")


def test_there_is_the_place_named_before_it():
    assert resolve_there("orange bowl. purple things go there now") == (
        "orange bowl. purple things go in the orange bowl now"
    )
    assert resolve_there("put it over there") == "put it over there"  # no place named
    rule = parse_rule("Orange bowl. Purple things go there now, not the green one.")
    assert _read(rule) == ("purple things", "in", "the orange bowl")
    never = parse_never("Not the white bowl! Cans never go in there.")
    assert _read(never) == ("cans", "in", "the white bowl")


def test_remarks_about_manner_and_lead_ins_are_no_order_of_their_own():
    objects = scene(("yellow bar", 0.45, 0.10), ("brown bowl", 0.60, 0.15))
    for said in (
        "put the yellow bar in the brown bowl, and be careful",
        "go on, put the yellow bar in the brown bowl",
    ):
        proposal = EmbeddedPlanner().propose(PlannerContext(said, objects, ""))
        assert 'put_first_on_second("yellow bar", "brown bowl")' in proposal.code, said


def test_a_place_rule_by_region_or_beside_an_object_says_where_a_thing_belongs():
    cans = parse_rule("The cans live in the far left corner, remember?")
    assert (cans.relation, cans.region) == ("at", "top left corner")
    beside = parse_rule("The green block lives right next to the cyan bowl, that's its spot.")
    assert _read(beside) == ("the green block", "near", "the cyan bowl")
    objects = scene(
        ("yellow can", 0.45, 0.1), ("green block", 0.4, -0.1), ("cyan bowl", 0.6, -0.15)
    )
    taught = ("cans go in the top left corner", "green blocks go next to the cyan bowl")
    for said, goal in (
        ("put the yellow can away", {"at": ["yellow can", "top left corner"]}),
        ("return the green block to its usual place", {"near": ["green block", "cyan bowl", 0.12]}),
        (
            "the yellow can is in the way, put it away please",
            {"at": ["yellow can", "top left corner"]},
        ),
        (
            "the green block has wandered off again, could you put it back where it lives?",
            {"near": ["green block", "cyan bowl", 0.12]},
        ),
    ):
        context = PlannerContext(said, objects, "", knowledge=taught)
        assert goal in EmbeddedPlanner().propose(context).goal.predicates, said
    unknown = EmbeddedPlanner().propose(PlannerContext("put the green block away", objects, ""))
    assert unknown.code == "ask('Where does the green block belong?')"


def test_an_answer_says_where_a_thing_belongs_and_a_habit_is_a_preference():
    objects = scene(("green block", 0.4, -0.1), ("cyan bowl", 0.6, -0.15))
    asked = (("Where does the green block belong?", "Right next to the cyan bowl."),)
    context = PlannerContext("put the green block back in its spot", objects, "", answers=asked)
    goal = EmbeddedPlanner().propose(context).goal.predicates
    assert {"near": ["green block", "cyan bowl", 0.12]} in goal
    habit = "By the cyan bowl. The green block always sits beside it."
    assert _read(parse_rule(habit)) == ("the green block", "near", "the cyan bowl")
    reading = CorrectionInterpreter().interpret("The green block lives next to the cyan bowl.")
    assert reading.intent == "preference"
    once = "Oh wait, just this time use the pink bowl, the gray one's about to be washed."
    assert CorrectionInterpreter().interpret(once).intent == "retarget"


def test_one_more_thing_to_do_is_done_with_the_task():
    objects = scene(
        ("black block", 0.55, -0.12), ("cyan bar", 0.4, 0.1), ("yellow bowl", 0.55, -0.15)
    )
    said = "The bar as well, into the yellow bowl."
    assert CorrectionInterpreter().interpret(said).intent == "replan"
    correction = TaskCorrection(said, "replan", (("black block", 0.4, -0.1),), objects)
    context = PlannerContext(
        "put the black block in the yellow bowl", objects, "", corrections=(correction,)
    )
    goal = EmbeddedPlanner().propose(context).goal.predicates
    assert {"in": ["cyan bar", "yellow bowl"]} in goal
    assert {"in": ["black block", "yellow bowl"]} in goal


def test_teaching_after_a_lead_in_and_a_place_said_as_put_it_there():
    stash = parse_meaning(
        "Quick heads-up for later: when I tell you to stash something, I mean put it in the "
        "bottom left corner."
    )
    assert (stash.phrase, stash.means, stash.kind) == ("stash", "in the bottom left corner", PLACE)
    pack = parse_meaning(
        "By the way, whenever I ask you to pack up, I mean put all the blocks in the pink bowl."
    )
    assert (pack.phrase, pack.means) == ("pack up", "put all the blocks in the pink bowl")


@pytest.mark.parametrize(
    ("said", "reading"),
    [
        (
            "Just so you know for later: the gray can's home is right next to the brown zone.",
            ("the gray can", "near", "the brown zone"),
        ),
        ("The black bowl, that's where the bars live.", ("the bars", "in", "the black bowl")),
        (
            "Bars go in the black bowl - all of them, not just the orange one.",
            ("bars", "in", "the black bowl"),
        ),
        (  # of a rule about one thing and one about a kind, the kind's is kept
            "No, not there. The green block lives in the top right corner - green things "
            "always go there.",
            ("green things", "at", "the top right corner"),
        ),
    ],
)
def test_more_ways_to_say_where_things_belong(said, reading):
    assert _read(parse_rule(said)) == reading


def test_a_forget_about_it_is_about_the_thing_named_before():
    said = (
        "Good news - I glued the white bowl back together, so that rule about it no longer "
        "applies. You can forget what I said."
    )
    assert parse_forget(said) == "white bowl"
    assert CorrectionInterpreter().teaching(said).intent == "forget"


def test_where_it_belongs_left_to_the_robot_is_a_free_spot_checked_as_a_shift():
    objects = scene(("green block", 0.45, -0.1), ("red bowl", 0.6, 0.1))
    asked = (("Where does the green block belong?", "Oh, somewhere out of the way. You choose."),)
    context = PlannerContext("Put the green block away, please.", objects, "", answers=asked)
    proposal = EmbeddedPlanner().propose(context)
    assert "You left it to me" in proposal.code
    assert any("shifted" in p for p in proposal.goal.predicates)


@pytest.mark.parametrize(
    ("instruction", "intent", "order"),
    [
        (
            "stick the brown block on the pink mat - brown stuff always goes there from now on",
            "preference",
            "stick the brown block on the pink mat",
        ),
        (
            "shove the yellow block over to the left edge - that's where the yellow stuff "
            "lives, for future reference",
            "preference",
            "shove the yellow block over to the left edge",
        ),
        (
            "forget what I said about the grey bowl - so pop the pink block in there, cheers",
            "forget",
            "so pop the pink block in the gray bowl",
        ),
        (
            "from today the brown bowl's just for bars, right? nothing else goes in it",
            "preference",
            "",
        ),
        (
            "oh, one thing - nothing goes on top of the black blocks, ever.",
            "never",
            "oh, one thing",
        ),
        (
            "shift the green bar into the top right corner - I call that corner 'the garage'",
            "meaning",
            "shift the green bar into the top right corner",
        ),
        (  # "put it there" after the lesson: the place the lesson named
            "The pink can belongs on the brown mat. Set it there, please.",
            "preference",
            "set the pink can in the brown mat",
        ),
        (  # but "leave it there" keeps it where it is
            "the cyan bowl is where cans live. leave the red can there",
            "preference",
            "leave the red can there",
        ),
    ],
)
def test_an_instruction_may_teach_and_ask_for_motion_at_once(instruction, intent, order):
    interpreter = CorrectionInterpreter()
    assert interpreter.teaching(instruction).intent == intent
    assert interpreter.orders_beside(instruction) == order


def test_what_a_mixed_instruction_asks_is_done_and_a_bare_lesson_moves_nothing():
    objects = scene(("brown block", 0.4, 0.1), ("pink zone", 0.6, -0.15), ("red block", 0.4, -0.2))
    said = "stick the brown block on the pink mat - brown stuff always goes there from now on"
    taught = TaskCorrection(said, "preference")
    context = PlannerContext(
        said, objects, "", corrections=(taught,), order="stick the brown block on the pink mat"
    )
    proposal = EmbeddedPlanner().propose(context)
    assert {"in": ["brown block", "pink zone"]} in proposal.goal.predicates
    lesson = (
        "new one: when I say 'tidy', I mean every block goes on the pink mat. nothing to do now"
    )
    context = PlannerContext(
        lesson, objects, "", corrections=(TaskCorrection(lesson, "meaning"),), order="nothing to do"
    )
    assert EmbeddedPlanner().propose(context).code.startswith('say("Understood')


def test_words_taught_by_naming_a_place_and_rules_said_as_just_for():
    named = parse_meaning("shift the bar to the top right corner - I call that corner 'the garage'")
    assert (named.phrase, named.means, named.kind) == ("garage", "on the top right corner", PLACE)
    only = parse_rule("from today the brown bowl's just for bars")
    assert _read(only) == ("bars", "in", "the brown bowl") and only.only
    never = parse_never("nothing goes on top of the black blocks, ever")
    assert _read(never) == ("anything", "on", "the black blocks")


def test_a_lesson_said_twice_or_beside_a_remark_moves_nothing_and_a_never_names_no_destination():
    interpreter = CorrectionInterpreter()
    twice = (
        "Just so you know for later: the gray can's home is right next to the brown zone. "
        "That's where it should live."
    )
    assert interpreter.teaching(twice).intent == "preference"
    assert interpreter.orders_beside(twice) == ""
    objects = scene(
        ("green can", 0.55, 0.14), ("white bowl", 0.55, 0.15), ("brown bowl", 0.55, -0.15)
    )
    never = TaskCorrection(
        "No cans in the white bowl, ever. Use the other one.",
        "never",
        (("green can", 0.33, 0.23),),
        objects,
    )
    rule = said_instead(never)
    assert rule is None or rule.target.text != "the white bowl"


def test_there_keeps_the_relation_the_place_was_named_with():
    rule = parse_rule(
        "Put the orange block next to the cyan bowl - orange things always live there."
    )
    assert _read(rule) == ("orange things", "near", "the cyan bowl")


@pytest.mark.parametrize(
    ("said", "phrase", "means"),
    [
        ("The cubby is the bottom left corner.", "cubby", "on the bottom left corner"),
        ("The cubby's the bottom left corner, remember?", "cubby", "on the bottom left corner"),
        (
            "Pop the yellow block into the cubby - the cubby's what I call the bottom left "
            "corner - cheers.",
            "cubby",
            "on the bottom left corner",
        ),
    ],
)
def test_a_new_word_said_to_be_a_place_names_it(said, phrase, means):
    meaning = parse_meaning(said)
    assert (meaning.phrase, meaning.means, meaning.kind) == (phrase, means, PLACE)


@pytest.mark.parametrize(
    "said",
    ["the red block is the one on the left", "the bowl is the green one", "that is the corner"],
)
def test_a_known_thing_said_to_be_something_names_nothing(said):
    assert parse_meaning(said) is None


def test_a_taught_phrasal_verb_takes_its_object_between_its_words():
    meaning = parse_meaning("when I say squirrel something away, I mean put it on the brown mat")
    for said, meant in (
        ("Squirrel the cyan block away, please.", "put the cyan block on the brown mat, please."),
        ("could you squirrel that pink bar away?", "could you put that pink bar on the brown mat?"),
    ):
        assert apply_meanings(said, [meaning])[0] == meant


def test_a_rule_with_its_scope_is_taught_beside_an_order():
    said = (
        "Brown things go in the pink bowl - only the brown ones, mind. Pop the brown block in "
        "there."
    )
    interpreter = CorrectionInterpreter()
    assert interpreter.teaching(said).intent == "preference"
    assert interpreter.orders_beside(said) == "pop the brown block in the pink bowl"
    assert parse_rule(said).only


def test_a_never_said_in_the_passive_is_a_never_rule():
    never = parse_never("Right, house rule: nothing ever gets stacked on top of a green block.")
    assert _read(never) == ("anything", "on", "a green block")


def test_it_after_a_forget_is_the_thing_forgotten_about_and_a_remark_is_no_order():
    said = "Forget what I said about the red mat - it's been cleaned. Put the cyan bar on it."
    orders = CorrectionInterpreter().orders_beside(said)
    assert orders.endswith("put the cyan bar on the red mat")
    assert "red mat is" not in orders


def test_a_place_said_before_that_is_where_is_the_rule_s_place():
    said = (
        "Shove the purple block over to the right edge of the table - that's where purple "
        "things always live from now on."
    )
    interpreter = CorrectionInterpreter()
    taught = interpreter.teaching(said)
    assert interpreter.orders_beside(said) == (
        "shove the purple block over to the right edge of the table"
    )
    task = CorrectedTask("ep-1", said, "verified", (TaskCorrection(said, taught.intent),))
    assert [r.statement for r in distill(task)] == ["purple objects go in the right side"]
