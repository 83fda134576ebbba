"""Typos read as the word meant, and real words left alone."""

from __future__ import annotations

import pytest

from planner.language.spelling import correct, one_edit
from planner.language.verbs import ALL_VERBS

NAMES = ("red block", "yellow bowl", "green block", "orange can")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("put the red blcok in teh yelow bowl", "put the red block in the yellow bowl"),
        ("move the gren block", "move the green block"),
        ("Stakc teh bloks", "stack the blocks"),
        ("put the ornage can in the bowl", "put the orange can in the bowl"),
    ],
)
def test_typos_become_the_word_one_edit_away(typed, meant):
    fixed, fixes = correct(typed, NAMES, ALL_VERBS)
    assert fixed.lower() == meant and fixes


@pytest.mark.parametrize(
    "text",
    [
        "stick the block in the bowl",  # a verb the parser knows
        "sort the blocks by size",  # "size" is not "side"
        "what is the meaning of life",  # "lime" is a colour, but nothing here is lime
        "put them there then",
        "pick up the bed",  # three letters: only a swap corrects
        "put the cubes in the bowl, none of the red ones though",  # a real word
    ],
)
def test_real_words_are_left_alone(text):
    assert correct(text, NAMES, ALL_VERBS) == (text, [])


def test_one_edit_counts_adds_drops_changes_and_swaps():
    assert one_edit("blok", "block") and one_edit("blcok", "block") and one_edit("gren", "grey")
    assert not one_edit("bloks", "block") and not one_edit("block", "block")
