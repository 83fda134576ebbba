"""Which scene objects an instruction's words name: "the pink can" is the pink cylinder,
"the mat" one of two zones, "the purple block" nothing where no block is purple.

The reply grammar only lets a model name objects the scene lists, so a small model asked
for a missing object quietly takes another one, and one told of "the pink can" takes the
pink block. The task turn therefore says which named objects are not there and what the
scene calls the others (facts read off the scene, like its order lines); what to do about
them - refuse, ask, or carry on when the words only say what is not wanted - stays the
model's choice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from planner.language.lexicon import (
    CATEGORY_GROUPS,
    COLOR_SYNONYMS,
    COLORS,
    EVERYTHING_WORDS,
    absent_kind,
    categories,
    category_of,
    is_generic,
    singular,
)
from skills.objects import ObjectState

KIND_NOUNS = frozenset(
    {"block", "cube", "brick", "bar", "stick", "rod", "cylinder", "can", "tin", "bowl", "dish"}
    | {"zone", "mat", "pad", "plate", "tray", "container"}
)
"""Nouns that name a kind of object in any sentence."""
COLOURED_KIND_NOUNS = frozenset({"square", "area", "spot", "patch", "tile"})
"""Nouns that name a zone only after a colour ("the grey square"): "the spot next to the
bowl" is a place, left to the model."""
DETERMINERS = frozenset(
    {"the", "a", "an", "any", "each", "every", "all", "both", "some", "other"}
    | {"one", "two", "three", "four", "five"}
)
_CLAUSE_END = re.compile(r"\s*(?:$|[.,;:!?]|and\b|then\b|please\b)")
_TO_PLACE = re.compile(  # "the tin on the mat.": the one place after it says where it goes
    r"\s+(?:into|onto|in|on|to|inside|next to|beside|by|near|behind|under|in front of|"
    rf"on top of)\s+(?:the|a|an)\s+(?:[a-z]+\s+){{0,2}}?[a-z]+(?={_CLAUSE_END.pattern})"
)
EVERY = frozenset({"every", "each", "all", "both"})  # a singular noun that means several
_DENIED = re.compile(
    r"\b(?:not|no|without|never|except|but|apart from|other than)\W+(?:\w+\W+){0,2}$"
)


def _color(word: str) -> str | None:
    """The colour a word names, as the scene names colours ("grey" -> gray), or None."""
    color = COLOR_SYNONYMS.get(word, word)
    return color if color in COLORS else None


def _kind(noun: str, colored: bool) -> tuple[str, ...] | None:
    """The categories a noun names; (noun,) for a coloured kind no scene has ("green
    ball"); else None (not an object word)."""
    if noun in KIND_NOUNS or (colored and noun in COLOURED_KIND_NOUNS):
        category = category_of(noun)
        return CATEGORY_GROUPS.get(category, (category,)) if category else None
    return (noun,) if colored and absent_kind(noun) else None


@dataclass(frozen=True)
class Mention:
    """An object the instruction names by kind ("the pink can", "the mat", "blocks") and
    the scene objects those words fit."""

    words: str
    fits: tuple[str, ...]
    many: bool = False  # several meant: "the blocks", "every block"
    color: str | None = None  # the colour said, as the scene names colours
    bare: bool = False  # "the mat" ending its clause: no words after it say which
    kinds: tuple[str, ...] = ()  # the categories the noun names ("can": cylinder)

    def unsettled(self) -> bool:
        """Whether the words fit several objects and nothing said picks one."""
        return self.bare and not self.many and len(self.fits) > 1

    def one(self) -> str | None:
        """The one scene object a singular mention fits; None when it is not one."""
        return None if self.many or len(self.fits) != 1 else self.fits[0]


def mentioned(instruction: str, scene: Iterable[ObjectState]) -> list[Mention]:
    """The objects `instruction` names by kind, each once, in the order said; a name after
    "not", "no", "except" is left out, and a noun counts only after a determiner or a
    colour ("can you" is no can)."""
    objects = list(scene)
    text = instruction.lower()
    words = list(re.finditer(r"[a-z]+", text))
    found: dict[str, Mention] = {}
    for i, m in enumerate(words):
        noun = singular(m.group())
        before = [w.group() for w in words[max(0, i - 2) : i]]
        color = _color(before[-1]) if before else None
        article = before[-2 if color else -1] if len(before) >= (2 if color else 1) else ""
        kinds = _kind(noun, color is not None)
        after = singular(words[i + 1].group()) if i + 1 < len(words) else ""
        if (
            kinds is None
            and article in DETERMINERS
            and absent_kind(noun)
            and not _kind(after, True)
        ):
            kinds = (noun,)  # "the banana": a kind no scene has ("the glass bowl" is a bowl)
        if kinds is None or not (color or article in DETERMINERS or article.isdigit()):
            continue
        if _DENIED.search(text[: m.start()]):
            continue
        fits = tuple(o.name for o in objects if o.category in kinds and color in (None, o.color))
        said = f"{before[-1]} {m.group()}" if color else m.group()  # the words as written
        many = noun != m.group() or article in EVERY
        ends = _CLAUSE_END.match(text, m.end()) or _TO_PLACE.match(text, m.end())
        bare = article == "the" and ends is not None
        found.setdefault(said, Mention(said, fits, many, color, bare, kinds))
    return list(found.values())


def unnamed_alike(instruction: str, scene: Iterable[ObjectState]) -> list[str]:
    """The objects no word of `instruction` names that have the colour of one it names by
    colour and kind (the red block beside "the red can"): a small model moves one for the
    other; and those of a kind and a colour the words never say (the cyan can beside "the
    purple stick"), which a small model moves along. None when a word could name any
    object ("the red one", "every red thing"); a kind said without a colour ("a single
    block") names every object of that kind."""
    objects = list(scene)
    text = instruction.lower()
    words = re.findall(r"[a-z]+", text)
    if any(is_generic(w) for w in words) or any(w in text for w in EVERYTHING_WORDS):
        return []
    said = mentioned(instruction, objects)
    if not said:  # "clear the table", "put them away": the words name nothing to hold still
        return []
    named = {name for m in said for name in m.fits}
    uncoloured = {
        kind
        for before, word in zip(["", *words], words, strict=False)
        if (category := category_of(singular(word))) and _color(before) is None
        for kind in categories(category)
    }
    named |= {o.name for o in objects if o.category in uncoloured}
    colors = {m.color for m in said if m.color}
    kinds = {k for m in said for k in m.kinds}
    return [
        o.name
        for o in objects
        if o.name not in named and (o.color in colors or o.category not in kinds | uncoloured)
    ]


def _open(said: Sequence[Mention]) -> list[Mention]:
    """The bare names that fit several objects and that no other name settles ("the bowl"
    after "the green bowl" is that bowl)."""
    picked = {m.one() for m in said}
    return [m for m in said if m.unsettled() and not picked & set(m.fits)]


def unsaid(instruction: str, scene: Iterable[ObjectState], names: Collection[str]) -> list[str]:
    """What a goal speaking of `names` leaves out of `instruction`: an object the words name
    as the only one of its colour and kind, or which of several a bare name means (a guess
    is no goal the words set)."""
    said = mentioned(instruction, scene)
    gaps = [f"the {m.one()} the instruction names" for m in said if m.one() not in {None, *names}]
    for m in _open(said):
        guessed = [n for n in m.fits if n in names]
        if guessed:
            gaps.append(f"'{m.words}' fits {' and '.join(m.fits)}; the goal takes the {guessed[0]}")
    return gaps


MISSING, OPEN = "missing", "open"  # why words call for talk before motion (`unclear`)
_CONDITION = re.compile(r"\b(?:if|unless|whether|in case)\b")


def unclear(instruction: str, scene: Iterable[ObjectState]) -> str:
    """Why a step should talk before anything moves: `MISSING` when the words name an
    object the scene lacks, `OPEN` when a bare name fits several and nothing says which, ""
    when neither - or when the words make the task depend on the scene ("if there is a
    purple block ..."), which is left to the model."""
    if _CONDITION.search(instruction.lower()):
        return ""
    said = mentioned(instruction, scene)
    return MISSING if any(not m.fits for m in said) else OPEN if _open(said) else ""


def unseen(instruction: str, scene: Iterable[ObjectState]) -> list[str]:
    """The objects `instruction` names ("purple block", "bowl") of which the scene holds
    none."""
    return [m.words for m in mentioned(instruction, scene) if not m.fits]


def note(instruction: str, scene: Iterable[ObjectState]) -> str:
    """Lines for the task turn: what the instruction names that the scene lacks, and which
    scene object it names where a model could take another - the scene calls it otherwise
    ("pink can" = pink cylinder), or another object has its colour - or that nothing says
    which of several it means ("the mat." by two mats). Other several fits are left to the
    model: words after the noun may pick one ("the can nearest to me")."""
    objects = list(scene)
    said = mentioned(instruction, objects)
    missing = [m.words for m in said if not m.fits]
    colors = Counter(o.color for o in objects)
    color_of = {o.name: o.color for o in objects}
    named = [
        f"{m.words} = {one}"
        for m in said
        if (one := m.one()) and (one != m.words or colors[color_of[one]] > 1)
    ]
    named += [f"{m.words} = {' or '.join(m.fits)} (nothing says which)" for m in _open(said)]
    lines = [f"Not in the scene: {', '.join(missing)}."] if missing else []
    if named:
        lines.append(f"Named here: {'; '.join(named)}.")
    return "\n".join(lines)
