"""Typos in instructions ("blcok", "gren", "yelow", "teh") read as the word meant.

A word is corrected only when it is unknown and one edit (a letter added, dropped,
changed, or two neighbours swapped) from exactly one word that instructions use: the
kinds of the lexicon and the words of the scene's names, and the common words of orders.
Real English words (MiniLM's vocabulary) are never changed ("size" stays, not "side"),
and three-letter words only by a swap ("teh").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from memory.embedder import EmbedderUnavailable, vocabulary_words
from planner.language import lexicon
from planner.language.lexicon import (
    CATEGORY_WORDS,
    COLOR_SYNONYMS,
    COLORS,
)

_WORD = re.compile(r"[a-z]+")
ORDER_WORDS = _WORD.findall(
    "the a an and then put place move pick up stack line row tower push slide lift rotate turn "
    "swap sort arrange into onto in on of to from at by with top bottom left right front back "
    "behind between next near corner center centre middle side edge table please each every "
    "all both other one ones it them first last after before bowl block cube except "
    "biggest smallest largest longest shortest tallest nearest closest furthest farthest "
    "leftmost rightmost"
)
"""Words of orders worth correcting towards ("teh" -> "the", "ontop" is left alone)."""
KNOWN_NEAR_MISSES = frozenset(
    _WORD.findall(
        "them they then than there these those this that thing things ten tan red bed read "
        "lock rock bloc glue pine pin bow bowls blow plate late cane cans cap car bar bars ban "
        "box fox lift left lefts lit light sit set get got let lot rod rid row tow two too to ton "
        "one once on no not now tap top tip pot pub put pus but cut out our you your"
    )
)
"""Real words one edit from an order word: never corrected."""


@dataclass(frozen=True)
class Fix:
    """One corrected word: what was written and what it was read as."""

    typo: str
    word: str


def targets(scene_names: Iterable[str] = ()) -> frozenset[str]:
    """The words a typo may be read as by any one edit: kinds, and the scene's own names
    (colours only where something has that colour: "life" is not "lime")."""
    words: set[str] = set()
    words.update(w for phrases in CATEGORY_WORDS.values() for p in phrases for w in p.split())
    words.update(w for name in scene_names for w in _WORD.findall(name.lower()))
    return frozenset(w for w in words if w.isalpha())


def function_targets() -> frozenset[str]:
    """Order words a typo may be read as: by two letters swapped ("teh") or, in words of
    four letters or more that are no English word, by any one edit ("stak", "staack")."""
    return frozenset(ORDER_WORDS)


def _lexicon_words() -> frozenset[str]:
    """Every word in the lexicon's tables: known, so never corrected."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.update(_WORD.findall(value.lower()))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, tuple | list | set | frozenset):
            for v in value:
                walk(v)

    for name, value in vars(lexicon).items():
        if name.isupper():
            walk(value)
    return frozenset(found)


LEXICON_WORDS = _lexicon_words()


def one_edit(a: str, b: str) -> bool:
    """Whether a and b differ by one insertion, deletion, substitution or adjacent swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _swapped(a: str, b: str) -> bool:
    return len(a) == len(b) and sorted(a) == sorted(b) and one_edit(a, b)


def correct(
    text: str, scene_names: Iterable[str] = (), known: Iterable[str] = ()
) -> tuple[str, list[Fix]]:
    """`text` with each typo replaced by the one target word it is an edit away from;
    `known` adds words the caller understands (its verbs), which are never corrected and
    which a typo of four letters or more may be read as."""
    goals = targets(scene_names)
    english = _english()
    seen = targets(()) & {w for n in scene_names for w in _WORD.findall(n.lower())}
    verbs = {w.lower() for w in known if w.isalpha()}
    function = function_targets() | verbs  # the caller's verbs: "swich" is "switch"
    words = goals | function | LEXICON_WORDS | KNOWN_NEAR_MISSES | {w.lower() for w in known}
    fixes: list[Fix] = []

    def replace(m: re.Match[str]) -> str:
        token = m.group(0)
        low = token.lower()
        known = low in words or low in english or _known_plural(low, words)
        if known or len(low) < 3 or "'" in low:
            return token
        word = _nearest(low, goals, function, seen)
        if not word and low.endswith("s") and len(low) > 4:  # "bloks": a kind, plural
            word = _nearest(low[:-1], goals, frozenset(), seen)
            word = word + "s" if word else ""
        if not word:
            return token
        fixes.append(Fix(token, word))
        return word

    return re.sub(r"[A-Za-z]+(?:'[A-Za-z]+)?", replace, text), fixes


def _nearest(
    word: str, goals: frozenset[str], function: frozenset[str], scene: frozenset[str]
) -> str:
    """The one target one edit away ("" when none or several; a word of the scene's names
    wins a tie: "gren" is green, not grey, where a green thing stands)."""
    near = {w for w in goals if (_swapped(word, w) if len(word) < 4 else one_edit(word, w))}
    near |= {w for w in function if _swapped(word, w) or (len(word) >= 4 and one_edit(word, w))}
    if len(near) > 1:
        near &= set(scene) | {w for w in near if w not in COLORS and w not in COLOR_SYNONYMS}
    return next(iter(near)) if len(near) == 1 else ""


def _english() -> frozenset[str]:
    """Real English words, never corrected (empty when the embedder package is missing:
    then only the lexicon and the near misses guard)."""
    try:
        return vocabulary_words()
    except EmbedderUnavailable:
        return frozenset()


def _known_plural(word: str, words: frozenset[str]) -> bool:
    return (word.endswith("s") and word[:-1] in words) or (
        word.endswith("es") and word[:-2] in words
    )
