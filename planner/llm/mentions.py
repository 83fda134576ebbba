"""What an instruction names that the scene does not hold: "the purple block" where no
block is purple, "the bowl" on a table without bowls, "the ball" anywhere.

The reply grammar only lets a model name objects the scene lists, so a small model asked
for a missing object quietly takes another one. The task turn therefore says which named
objects are not there (a fact read off the scene, like its order lines); what to do about
it - refuse, or carry on when the words only say what is not wanted - stays the model's
choice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from planner.language.lexicon import (
    CATEGORY_GROUPS,
    COLOR_SYNONYMS,
    COLORS,
    absent_kind,
    category_of,
    singular,
)
from skills.objects import ObjectState

KIND_NOUNS = frozenset(
    {"block", "cube", "brick", "bar", "stick", "rod", "cylinder", "can", "tin", "bowl", "dish"}
    | {"zone", "mat", "pad", "plate", "tray", "container"}
)
"""Nouns that name a kind of object in any sentence ("spot", "area", "square" often
name places instead, and are left to the model)."""
DETERMINERS = frozenset(
    {"the", "a", "an", "any", "each", "every", "all", "both", "some", "other"}
    | {"one", "two", "three", "four", "five"}
)
_DENIED = re.compile(
    r"\b(?:not|no|without|never|except|but|apart from|other than)\W+(?:\w+\W+){0,2}$"
)


def _kind(noun: str, colored: bool) -> tuple[str, ...] | None:
    """The categories a noun names; (noun,) for a coloured kind no scene has ("green
    ball"); else None (not an object word)."""
    if noun in KIND_NOUNS:
        category = category_of(noun)
        return CATEGORY_GROUPS.get(category, (category,)) if category else None
    return (noun,) if colored and absent_kind(noun) else None


def unseen(instruction: str, scene: Iterable[ObjectState]) -> list[str]:
    """The objects `instruction` names ("purple block", "bowl") of which the scene holds
    none, each once, in the order said; a name after "not", "no", "except" is left out,
    and a noun counts only after a determiner or a colour ("can you" is no can)."""
    objects = list(scene)
    text = instruction.lower()
    words = list(re.finditer(r"[a-z]+", text))
    missing: list[str] = []
    for i, m in enumerate(words):
        noun = singular(m.group())
        before = [w.group() for w in words[max(0, i - 2) : i]]
        color = COLOR_SYNONYMS.get(before[-1], before[-1]) if before else None
        color = color if color in COLORS else None
        article = before[-2 if color else -1] if len(before) >= (2 if color else 1) else ""
        kinds = _kind(noun, color is not None)
        if kinds is None or not (color or article in DETERMINERS or article.isdigit()):
            continue
        if _DENIED.search(text[: m.start()]):
            continue
        fits = [o for o in objects if o.category in kinds and color in (None, o.color)]
        name = " ".join(w for w in (color, noun) if w)
        if not fits and name not in missing:
            missing.append(name)
    return missing


def note(instruction: str, scene: Iterable[ObjectState]) -> str:
    """One line for the task turn ("" when everything named is there)."""
    missing = unseen(instruction, scene)
    return f"Not in the scene: {', '.join(missing)}." if missing else ""
