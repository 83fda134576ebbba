"""Words people teach ("when I say aside, I mean the right side of the table"): read from a
correction, stored as a record that a later contradicting one replaces, found again by the
word itself and substituted before the parser reads an instruction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rounds import rounds_report
from tabletop_scenes import scene
from test_memory_fakes import HashingEmbedder

from memory.records import TASK, KnowledgeRecord
from memory.retrieval import task_records, taught_words
from memory.store import KnowledgeBase
from planner.context import PlannerContext, TaskCorrection
from planner.corrections import CorrectionInterpreter, manner_changes
from planner.distill import distill
from planner.embedded.backend import EmbeddedPlanner
from planner.language.meanings import (
    ACTION,
    MANNER,
    PLACE,
    Meaning,
    apply_meanings,
    manner_text,
    meanings_in,
    parse_meaning,
)
from planner.outcome import CorrectedTask

ASIDE = Meaning("aside", "on the right side of the table", PLACE)
TIDY = Meaning("tidy up", "put all the blocks in the gray bowl", ACTION)
PARK = Meaning("park", "on the top left corner", PLACE)


@pytest.mark.parametrize(
    ("said", "meaning"),
    [
        ("When I say put a block aside, I mean the right side of the table. Always.", ASIDE),
        ("setting something aside means the right side of the table", ASIDE),
        ("no, when I say tidy up I mean put all the blocks in the gray bowl", TIDY),
        ("Tidy up means: put all the blocks in the gray bowl, please.", TIDY),
        ("By 'park' I mean the top left corner", PARK),
        ("careful means slow and a firm grip", Meaning("careful", "slow and firm grip", MANNER)),
        ("Slowly! That's what careful means.", Meaning("careful", "slowly", MANNER)),
        ("no, red things always go in the green bowl", None),
        ("the red block means nothing to me", None),
    ],
)
def test_a_teaching_sentence_says_what_a_word_means(said: str, meaning: Meaning | None):
    assert parse_meaning(said) == meaning


def test_a_meaning_reads_back_from_its_statement():
    for meaning in (ASIDE, TIDY, PARK):
        assert parse_meaning(meaning.statement()) == meaning


def test_taught_words_are_replaced_by_what_they_mean():
    taught = [ASIDE, TIDY, PARK]
    assert apply_meanings("Could you set the red block aside?", taught) == (
        "Could you set the red block on the right side of the table?",
        [ASIDE],
    )
    assert apply_meanings("please tidy up the table", taught)[0] == (
        "please put all the blocks in the gray bowl"
    )
    assert apply_meanings("park the green block, then set the can aside", taught)[0] == (
        "put the green block on the top left corner, then set the can on the right side of "
        "the table"
    )
    assert apply_meanings("put the red block in the bowl", taught) == (
        "put the red block in the bowl",
        [],
    )


def test_a_place_word_said_as_a_verb_alone_puts_everything_there():
    clean = parse_meaning("Clean up means into the yellow bowl, all of it.")
    assert apply_meanings("go on, clean up the workspace", [clean])[0] == (
        "go on, put everything into the yellow bowl"
    )
    cleaning = parse_meaning("Everything in the yellow bowl, that's what cleaning up means.")
    assert cleaning == Meaning("cleaning up", "put everything in the yellow bowl", ACTION)
    assert apply_meanings("clean up, please", [cleaning])[0] == (
        "put everything in the yellow bowl, please"
    )


def test_a_taught_manner_word_sets_how_to_move_not_what_to_do():
    careful = parse_meaning("When I say carefully, I mean slowly. Really slowly.")
    assert careful == Meaning("carefully", "slowly", MANNER)
    said = "carefully put the bar in the bowl"
    assert apply_meanings(said, [careful]) == (said, [])
    assert manner_text("be careful with the bar", [parse_meaning("careful means gently")]) == (
        "be careful with the bar gently"
    )
    speeds = {(c.skill, c.param, c.value) for c in manner_changes(manner_text(said, [careful]))}
    assert speeds == {("pick", "speed", 0.5), ("place", "speed", 0.5)}


def test_a_later_meaning_of_a_word_wins():
    said = ['when I say "aside", I mean the left side', ASIDE.statement()]
    assert meanings_in(said) == [ASIDE]


def test_a_teaching_sentence_is_a_task_correction_about_meaning():
    reading = CorrectionInterpreter().interpret("When I say aside, I mean the right side.")
    assert (reading.kind, reading.intent) == ("task", "meaning")


def _task(*said: str) -> CorrectedTask:
    corrections = tuple(TaskCorrection(text, "meaning", (), ()) for text in said)
    return CorrectedTask("ep-1", "set the red block aside", "verified", corrections)


def test_a_taught_word_is_distilled_unless_it_was_for_this_time_only():
    (record,) = distill(_task("When I say aside, I mean the right side of the table."))
    assert record.statement == 'when I say "aside", I mean the right side of the table'
    assert record.change == {"rule": "meaning", "phrase": "aside", "means": ASIDE.means}
    assert distill(_task("Just this time, aside means the right side of the table.")) == []


def _meaning_record(meaning: Meaning) -> KnowledgeRecord:
    change = {"rule": "meaning", "phrase": meaning.phrase, "means": meaning.means}
    return KnowledgeRecord(TASK, meaning.statement(), change)


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    with KnowledgeBase.open(tmp_path / "memory", HashingEmbedder()) as opened:
        yield opened


def test_a_taught_word_is_found_by_the_word_and_a_new_meaning_replaces_it(kb):
    kb.learn(_meaning_record(Meaning("aside", "on the left side", PLACE)))
    kb.learn(_meaning_record(ASIDE))
    kb.learn(_meaning_record(TIDY))
    found = [r.record.statement for r in taught_words(kb, "Could you put the can ASIDE, please?")]
    assert found == [ASIDE.statement()]
    assert taught_words(kb, "put the blocks beside the bowl") == []
    statements = [r.record.statement for r in task_records(kb, "tidy up a bit")]
    assert statements[0] == TIDY.statement()


def test_the_parser_plans_with_what_a_word_was_taught_to_mean():
    objects = scene(("red block", 0.45, 0.10), ("blue block", 0.40, -0.05))
    context = PlannerContext(
        "could you set the red block aside?", objects, "", knowledge=(ASIDE.statement(),)
    )
    proposal = EmbeddedPlanner().propose(context)
    assert "'aside' means 'on the right side of the table'" in proposal.thought
    assert {"at": ["red block", "right side"]} in proposal.goal.predicates


MINI_SUITE = """
name: mini-words
defaults: {max_steps: 8, max_corrections: 3}
episodes:
  - id: aside-r1
    family: words
    seed: 1
    objects:
      - {name: red block, type: block, color: red, pose: [0.45, 0.05]}
      - {name: blue block, type: block, color: blue, pose: [0.60, 0.20]}
    instruction: could you set the red block aside?
    success: [{at: [red block, right side]}, {unmoved: [blue block]}]
    user:
      - violated: {at: [red block, right side]}
        say: When I say put a block aside, I mean the right side of the table. Always.
  - id: aside-r2
    family: words
    round: 2
    seed: 2
    objects:
      - {name: green can, type: cylinder, color: green, pose: [0.50, 0.10]}
      - {name: yellow block, type: block, color: yellow, pose: [0.40, -0.10]}
    instruction: put the green can aside, please
    success: [{at: [green can, right side]}, {unmoved: [yellow block]}]
    user:
      - violated: {at: [green can, right side]}
        say: When I say aside, I mean the right side of the table.
"""


def test_a_word_taught_in_round_one_needs_no_correction_in_round_two(tmp_path):
    report = rounds_report(tmp_path, MINI_SUITE)
    assert report["1"]["memory"]["corrections_per_episode"] == 1.0
    assert report["2"]["memory"]["corrections_per_episode"] == 0.0
    assert report["2"]["baseline"]["corrections_per_episode"] == 1.0
    assert report["1"]["memory"]["knowledge_applied_share"] == 0.0  # nothing taught yet
    assert report["2"]["memory"]["knowledge_applied_share"] == 1.0
    assert report["2"]["baseline"]["knowledge_applied_share"] == 0.0
