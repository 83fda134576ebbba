"""Noun phrases and their grounding in the scene.

"the leftmost red block", "all blocks except the green one", "two cans", "the bowl
closest to the yellow block", "the other bowl", "the red block and the blue can" — each is
parsed into a `NounPhrase` and resolved against the objects the robot sees. Grounding
never guesses: a phrase that fits several objects where one is meant raises `Ambiguous`,
one that fits none `NotFound`, and one whose noun the planner does not know `Unknown`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

from planner.language.lexicon import (
    COLORS,
    CONTAINERS,
    EVERYTHING_WORDS,
    GRASPABLE,
    ORDINALS,
    RELATION_WORDS,
    USUAL_SIZE_M,
    absent_kind,
    categories,
    category_of,
    is_generic,
    kind_words,
    merge_compounds,
    normalize,
    plural,
    singular,
)
from skills.objects import ObjectState


class GroundingError(Exception):
    """A phrase could not be resolved to objects."""


class NotFound(GroundingError):
    """No object in the scene fits the phrase."""

    def __init__(self, phrase: NounPhrase) -> None:
        self.phrase = phrase
        super().__init__(f"I can not see {phrase.describe()} here")


class Unknown(GroundingError):
    """The phrase names a kind of thing the planner has no word for."""

    def __init__(self, phrase: NounPhrase) -> None:
        self.phrase = phrase
        super().__init__(
            f"I do not know what a {phrase.unknown!r} is. Could you say it another way?"
        )


class Ambiguous(GroundingError):
    """Several objects fit a phrase that means one; the user must choose."""

    def __init__(self, phrase: NounPhrase, candidates: list[ObjectState]) -> None:
        self.phrase = phrase
        self.candidates = candidates
        names = [c.name for c in candidates]
        listing = ", ".join(names[:-1]) + f" or the {names[-1]}" if len(names) > 1 else names[0]
        noun = phrase.noun()
        kinds = "/".join(sorted({c.category for c in candidates} - {noun}))
        said = f"{noun} ({kinds})" if kinds and noun != "object" else noun
        super().__init__(f"Which {said} do you mean: the {listing}?")


SUPERLATIVES = {
    "leftmost": ("y", max),
    "left most": ("y", max),
    "furthest left": ("y", max),
    "far left": ("y", max),
    "farthest left": ("y", max),
    "furthest to the left": ("y", max),
    "farthest to the left": ("y", max),
    "most to the left": ("y", max),
    "rightmost": ("y", min),
    "right most": ("y", min),
    "furthest right": ("y", min),
    "far right": ("y", min),
    "farthest right": ("y", min),
    "furthest to the right": ("y", min),
    "farthest to the right": ("y", min),
    "most to the right": ("y", min),
    "frontmost": ("x", min),
    "front most": ("x", min),
    "nearest to me": ("x", min),
    "nearest me": ("x", min),
    "closest to me": ("x", min),
    "closest to you": ("x", min),
    "nearest to you": ("x", min),
    "closest to the robot": ("x", min),
    "nearest to the robot": ("x", min),
    "nearest the robot": ("x", min),
    "closest to the front": ("x", min),
    "nearest the front": ("x", min),
    "nearest to the front": ("x", min),
    "furthest from the robot": ("x", max),
    "farthest from the robot": ("x", max),
    "furthest from me": ("x", max),
    "farthest from me": ("x", max),
    "furthest from you": ("x", max),
    "farthest from you": ("x", max),
    "furthest back": ("x", max),
    "farthest back": ("x", max),
    "furthest away": ("x", max),
    "farthest away": ("x", max),
    "furthest": ("x", max),
    "farthest": ("x", max),
    "backmost": ("x", max),
    "back most": ("x", max),
    "closest": ("x", min),
    "nearest": ("x", min),
    "closer": ("x", min),
    "nearer": ("x", min),
    "further": ("x", max),
    "farther": ("x", max),
    "biggest": ("volume", max),
    "largest": ("volume", max),
    "bigger": ("volume", max),
    "larger": ("volume", max),
    "smallest": ("volume", min),
    "tiniest": ("volume", min),
    "smaller": ("volume", min),
    "tallest": ("z", max),
    "highest": ("z", max),
    "taller": ("z", max),
    "higher": ("z", max),
    "shortest": ("extent", min),
    "lowest": ("z", min),
    "shorter": ("extent", min),
    "longest": ("extent", max),
    "longer": ("extent", max),
}
SUPERLATIVE_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(SUPERLATIVES, key=len, reverse=True)) + r")\b"
)
SIZE_WORDS = {  # "the little blue block, not the big one": the smallest or biggest that fits
    "little": ("volume", min),
    "small": ("volume", min),
    "tiny": ("volume", min),
    "big": ("volume", max),
    "large": ("volume", max),
    "huge": ("volume", max),
    "short": ("extent", min),
    "long": ("extent", max),
    "tall": ("z", max),
}
SIZE_AXES = ("volume", "extent", "length", "z")  # superlative axes that measure a size
_SIZE_WORD_RE = re.compile(  # only before a thing's noun: not "a little shove", "a long way"
    rf"\b({'|'.join(SIZE_WORDS)})\b"
    rf"(?= (?:[a-z]+ )?(?:{kind_words(GRASPABLE + CONTAINERS)}|one)s?\b)"
)
_SELF_REFS = ("me", "you", "the robot", "us", "the front", "the camera", "the base")
_REFSUPERLATIVE_RE = re.compile(
    r"\b(?:the )?(?P<word>closest|nearest|furthest|farthest|closer|nearer|further|farther)\s+"
    r"(?:(?:to|from)\s+(?P<ref>.+)|(?P<bare>(?:the|a|an)\b.+))$"
)
_ORDINAL_RE = re.compile(r"\b(?P<ord>" + "|".join(ORDINALS) + r"|middle|center|centre)\b")
_ORDINAL_SIDE_RE = re.compile(
    r"\s*\b(?:(?:counting |starting |when counting )?from|on|at)\s+(?:the |your |my )?"
    r"(?P<side>left|right|front|back|far|near|top|bottom)\b(?: hand)?(?: side| end| edge)?"
)
_EXCLUDE_RE = re.compile(
    r"\b(?:except(?: for)?|but not|other than|apart from|excluding|aside from|besides|"
    r"with the exception of|save for|but)\b|,\s*not\b"  # "the little one, not the big one"
)
_LOCATION_WORDS = sorted(
    {
        "in",
        "inside",
        "inside of",
        "within",
        "on top of",
        "on",
        "sitting on",
        "sitting in",
        "lying on",
        "resting on",
        "standing on",
    }
    | {w for ws in RELATION_WORDS.values() for w in ws},
    key=len,
    reverse=True,
)
_LOCATION_RE = re.compile(
    r"\b(?:that is |which is |that are |which are |that sits |that sit )?"
    r"(?P<rel>" + "|".join(re.escape(w) for w in _LOCATION_WORDS) + r")\s+"
    r"(?P<ref>(?:the|a|an|that|this|it|them)\b.*)$"
)
_BETWEEN_RE = re.compile(
    r"^(?P<head>.+?) (?:that is |which is |sitting |standing |lying )?(?:in )?between "
    r"(?P<refs>(?:the|a|an|them|those|these|both)\b.+)$"
)
_SIDE_LOCATION_RE = re.compile(
    r"\b(?:on|at|to|in|towards?|over on)\s+(?:the|your|my)\s+(?:far |very |extreme )?"
    r"(?P<side>left|right|front|back|far|near|rear)(?: hand)?(?: side| end| edge)?"
    r"(?: of the table)?$"
)
_SIDE_WORDS = {"far": "back", "near": "front", "rear": "back", "top": "back", "bottom": "front"}
PRONOUNS = {
    "it",
    "them",
    "this",
    "that",
    "these",
    "those",
    "this one",
    "that one",
    "it all",
    "them all",
    "all of them",
    "both of them",
    "each of them",
    "the same one",
    "the same",
    "them both",
    "both",
}
_PLURAL_PRONOUNS = {
    "them",
    "these",
    "those",
    "them all",
    "all of them",
    "both of them",
    "them both",
}
_QUANTIFIER_WORDS = {"all", "every", "each", "both"}
_NOT_NOUNS = set(COLORS) | {
    "the",
    "a",
    "an",
    "all",
    "of",
    "every",
    "each",
    "both",
    "any",
    "whichever",
    "either",
    "other",
    "another",
    "rest",
    "remaining",
    "these",
    "those",
    "this",
    "that",
    "my",
    "your",
    "same",
    "only",
    "exactly",
    "here",
    "there",
    "over",
    "left",
    "right",
    "front",
    "back",
    "far",
    "near",
    "big",
    "small",
    "large",
    "little",
    "tiny",
    "tall",
    "short",
    "long",
    "up",
    "down",
    "too",
    "as",
    "well",
    "also",
    "single",
    "some",
    "colored",
    "coloured",
    "color",
    "colour",
    "ones",
    "table",
    "workspace",
    "surface",
    "away",
    "apart",
    "bit",
    "lot",
    "cm",
    "mm",
    "m",
    "by",
    "touch",
    "me",
    "you",
    "us",
    "robot",
    "itself",
    "top",
    "bottom",
    "middle",
    "not",
    "non",
    "and",
    "or",
}


@dataclass(frozen=True)
class NounPhrase:
    """A parsed description of one or more objects."""

    text: str
    colors: tuple[str, ...] = ()
    category: str | None = None
    plural: bool = False
    every: bool = False
    count: int | None = None
    superlative: tuple[str, str] | None = None  # (axis, "max"/"min")
    reference: NounPhrase | None = None  # for "closest to X"
    ordinal: tuple[int, str] | None = None  # (index, side); index 0 = the middle one
    location: tuple[str, NounPhrase] | None = None  # ("in", bowl phrase)
    side: str | None = None  # "the block on the left"
    exclude: tuple[NounPhrase, ...] = ()
    other: bool = False
    pronoun: bool = False
    negated_colors: tuple[str, ...] = ()
    word: str | None = None  # the head noun as the user said it ("dish")
    any_one: bool = False  # "a block", "one of the cans": whichever fits
    unknown: str | None = None  # a head noun the planner does not know
    conjuncts: tuple[NounPhrase, ...] = ()  # "the red block and the blue can"

    def noun(self) -> str:
        """The noun to ask about: the user's own word for a known kind, else "object"."""
        word = singular(self.word) if self.word else ""
        return word if category_of(word) else "object"

    def describe(self) -> str:
        if self.conjuncts:
            return " and ".join(c.describe() for c in self.conjuncts)
        words = " ".join(self.colors) + " " if self.colors else ""
        noun = singular(self.word) if self.word else self.category or "object"
        if self.wants_many:
            many = plural(noun)
            return f"{self.count} {words}{many}" if self.count else f"{words}{many}"
        return f"an {words}{noun}" if (words or noun)[0] in "aeiou" else f"a {words}{noun}"

    @property
    def wants_many(self) -> bool:
        return (
            self.every
            or self.plural
            or (self.count is not None and self.count > 1)
            or len(self.conjuncts) > 1
        )

    @property
    def size_word(self) -> str | None:
        """ "big" or "small" when the phrase picks its objects by their size ("the big
        ones", "the smallest"), None otherwise (also for "the nearest one")."""
        if self.superlative is None or self.superlative[0] not in SIZE_AXES:
            return None
        return "big" if self.superlative[1] == "max" else "small"

    @property
    def sized(self) -> bool:
        """Whether the phrase picks its objects by their size, not by where they are."""
        return self.size_word is not None

    @property
    def names_thing(self) -> bool:
        """Whether the phrase says which thing it means (a noun, a colour, a pronoun or a
        size: "the little ones")."""
        return bool(
            self.category
            or self.colors
            or self.sized
            or self.pronoun
            or self.conjuncts
            or self.unknown
            or self.word
            or self.every
        )


_ANY_THAT = re.compile(r"^any [a-z]+ (?:that|which) ")


def parse_np(text: str) -> NounPhrase:
    """Parse a noun phrase (already normalised by `lexicon.normalize`)."""
    text = merge_compounds(re.sub(r"\s+", " ", text).strip(" ,.;:"))
    head, comma, tail = text.rpartition(",")
    if comma and _has_noun(head) and not _has_noun(tail) and not _EXCLUDE_RE.search(tail):
        text = head.strip()  # "a bowl, whichever", "the black blocks, ever": a remark
    parts = _EXCLUDE_RE.split(text, maxsplit=1)
    main = parts[0].strip(" ,")
    exclude: tuple[NounPhrase, ...] = ()
    if len(parts) == 2 and parts[1].strip(" ,"):
        exclude = tuple(  # "but neither the red one nor the black one"
            parse_np(re.sub(r"^(?:neither|either|not)\s+", "", p))
            for p in re.split(r"\s*(?:,|\band\b|\bor\b|\bnor\b)\s*", parts[1])
            if p.strip(" ,")
        )
    between = _BETWEEN_RE.match(main)
    if between is not None and _has_noun(between.group("head")):  # "the block between ..."
        np_ = _parse_core(between.group("head"))
        np_ = replace(np_, location=("between", parse_np(between.group("refs"))))
        return replace(np_, text=text, exclude=exclude)
    conjuncts = _conjuncts(main)
    np_ = NounPhrase(main, conjuncts=conjuncts) if conjuncts else _parse_core(main)
    if _ANY_THAT.match(main):  # "any cube that is not red": every cube that fits
        np_ = replace(np_, every=True, plural=True, any_one=False, count=None)
    return replace(np_, text=text, exclude=exclude)


def _conjuncts(text: str) -> tuple[NounPhrase, ...]:
    """ "the red block and the blue can" -> both phrases; () for a single phrase.

    A list whose first item has no noun of its own ("the red and blue blocks") is one
    phrase with several colours.
    """
    if not re.search(r"\band\b|,", text):
        return ()
    if _LOCATION_RE.search(_SIDE_LOCATION_RE.sub("", text)):  # "the block by the bowl and ..."
        items = text.split(" and ")
        located = [bool(_LOCATION_RE.search(i)) for i in items]
        # "the block by the bowl and the one by the can"; "the green block and the block
        # on its left" (a location after the "and" is no place the first shares)
        placed = len(items) == 2 and all(_has_head(i) for i in items) and located[1]
        if not placed or re.search(r"\bbetween\b", text):
            return ()
        return share_kind([_parse_core(i.strip()) for i in items])
    items = [p for p in re.split(r"\s*(?:,\s*(?:and\s+)?|\band\b)\s*", text) if p.strip()]
    head = _head(items[-1].split()) if len(items) > 1 else (None, None, None)
    if head[2] and all(SUPERLATIVE_RE.search(i) and not _has_head(i) for i in items[:-1]):
        noun = singular(head[2])  # "the leftmost and the rightmost blocks": one of each
        items = [f"{i} {noun}" for i in items[:-1]] + [items[-1].replace(head[2], noun)]
    if len(items) < 2 or not _has_head(items[0]):
        return ()
    parsed = [_parse_core(p) for p in items]
    return share_kind(parsed)


def share_kind(phrases: Sequence[NounPhrase]) -> tuple[NounPhrase, ...]:
    """Items of a list that name no kind take the first kind another item names ("the red,
    the blue and the green blocks", "yellow, cyan, orange cans"); pronouns stay as they are."""
    kind = next((p.category for p in phrases if p.category), None)
    return tuple(
        p if p.category or p.pronoun or kind is None else replace(p, category=kind) for p in phrases
    )


def _has_head(text: str) -> bool:
    return text in PRONOUNS or _head(text.split())[0] is not None


def _parse_core(text: str) -> NounPhrase:
    text = re.sub(r"\b(?:that|which) (?:is|are)\b", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    if text in PRONOUNS or text in {"the " + p for p in PRONOUNS}:
        return NounPhrase(text, pronoun=True, plural=text.removeprefix("the ") in _PLURAL_PRONOUNS)
    np_ = NounPhrase(text)
    text, np_ = _take_reference_superlative(text, np_)
    text, np_ = _take_location(text, np_)
    text, np_ = _take_ordinal(text, np_)
    text, np_ = _take_side(text, np_)
    text, np_ = _take_superlative(text, np_)
    return _read_words(text, np_)


def _take_reference_superlative(text: str, np_: NounPhrase) -> tuple[str, NounPhrase]:
    """ "closest to the bowl", "nearest the yellow block", "furthest from me"."""
    m = _REFSUPERLATIVE_RE.search(text)
    if m is None:
        return text, np_
    ref = (m.group("ref") or m.group("bare")).strip()
    farthest = m.group("word") in ("furthest", "farthest", "further", "farther")
    if ref.startswith(_SELF_REFS):
        return text[: m.start()].strip(), replace(
            np_, superlative=("x", "max" if farthest else "min")
        )
    if not _has_noun(ref):
        return text, np_
    superlative = ("distance", "max" if farthest else "min")
    return text[: m.start()].strip(), replace(np_, superlative=superlative, reference=parse_np(ref))


def _take_location(text: str, np_: NounPhrase) -> tuple[str, NounPhrase]:
    """ "in the bowl", "next to the can": where the object is now."""
    m = _LOCATION_RE.search(text)
    if m is None or not _has_noun(text[: m.start()]) or not _has_noun(m.group("ref")):
        return text, np_
    location = (_canonical_relation(m.group("rel")), parse_np(m.group("ref")))
    return text[: m.start()].strip(), replace(np_, location=location)


def _take_side(text: str, np_: NounPhrase) -> tuple[str, NounPhrase]:
    """ "the block on the left", "the left one", "the far block"."""
    m = _SIDE_LOCATION_RE.search(text)
    if m and _has_noun(text[: m.start()]):
        side = _SIDE_WORDS.get(m.group("side"), m.group("side"))
        return text[: m.start()].strip(), replace(np_, side=side)
    m = re.search(
        r"\b(?:the|a|an|that|this)\s+(?P<side>left|right|front|back|far|near|rear)\b"
        r"(?!\s+(?:of|side|edge|corner|half|end|hand|left|right)\b)(?=\s+\w)",
        text,
    )
    if m and _has_noun(text[m.end() :]):
        side = _SIDE_WORDS.get(m.group("side"), m.group("side"))
        return (text[: m.start("side")] + text[m.end() :]).strip(), replace(np_, side=side)
    return text, np_


def _take_superlative(text: str, np_: NounPhrase) -> tuple[str, NounPhrase]:
    if np_.superlative is not None:
        return text, np_
    m = SUPERLATIVE_RE.search(text) or _SIZE_WORD_RE.search(text)
    if m is None:
        return text, np_
    axis, fn = SUPERLATIVES.get(m.group(1)) or SIZE_WORDS[m.group(1)]
    rest = (text[: m.start()] + " " + text[m.end() :]).strip()
    return rest, replace(np_, superlative=(axis, "max" if fn is max else "min"))


def _take_ordinal(text: str, np_: NounPhrase) -> tuple[str, NounPhrase]:
    """ "the third block from the right", "the second one", "the middle block"."""
    m = re.search(r"\b(?:in|at) the (?:middle|center|centre)$", text)
    if m and _has_noun(text[: m.start()]):
        return text[: m.start()].strip(), replace(np_, ordinal=(0, "left"))
    m = _ORDINAL_RE.search(text)
    if m is None:
        return text, np_
    word = m.group("ord")
    if word in ("middle", "center", "centre") and not _has_noun(text[m.end() :]):
        return text, np_
    index = 0 if word in ("middle", "center", "centre") else ORDINALS[word]
    rest = (text[: m.start()] + " " + text[m.end() :]).strip()
    side = "left"
    s = _ORDINAL_SIDE_RE.search(rest)
    if s is not None:
        side = _SIDE_WORDS.get(s.group("side"), s.group("side"))
        rest = (rest[: s.start()] + " " + rest[s.end() :]).strip()
        index = 1 if index == -1 else index  # "the last block on the right": the end one
    return rest, replace(np_, ordinal=(index, side))


def _read_words(text: str, np_: NounPhrase) -> NounPhrase:
    """Quantifiers, colours, the head noun and its number from the remaining words."""
    words = text.split()
    every = (
        any(w in _QUANTIFIER_WORDS for w in words)
        or "the rest" in text
        or any(re.search(rf"\b{e}\b", text) for e in EVERYTHING_WORDS)
    )
    head_index, category, word = _head(words)
    if head_index is None and any(re.search(rf"\b{e}\b", text) for e in EVERYTHING_WORDS):
        word = None
    count = next((int(w) for w in words if w.isdigit()), None)
    any_one = count == 1 or bool(
        re.match(r"^(?:a|an|any|some|whichever|either)\s+(?!\d|few\b|lot\b|bit\b)\w", text)
        and (head_index is None or not words[head_index].endswith("s"))
    )
    if re.search(r"\b(?:one|1|any) of\b", text) or re.match(r"^one\s+\w", text):
        count, any_one = 1, True
    plural = head_index is not None and _is_plural(words[head_index])
    if np_.superlative is not None and re.match(r"^(?:the\s+)?of\s", text):
        plural, count = False, None  # "the smallest of the cans", "the bigger of the 2": one
    if "both" in words:
        count = 2
    if every and count == 1:
        count, any_one = None, False
    negated = tuple(c for c in COLORS if re.search(rf"\b(?:non|not|no|never) (?:\w+ )?{c}\b", text))
    mentions = sorted((m.start(), c) for c in COLORS for m in [re.search(rf"\b{c}\b", text)] if m)
    colors = tuple(c for _, c in mentions if c not in negated)
    if len(colors) > 1 and re.search(r"\band\b|,", text):  # "the red and blue blocks"
        plural = True
    unknown = None
    if head_index is None and words and not every:
        last = words[-1]
        if last not in _NOT_NOUNS and not last.isdigit() and not is_generic(last):
            unknown = last
    return replace(
        np_,
        text=np_.text,
        colors=colors,
        category=category,
        word=word,
        plural=plural or every,
        every=every,
        count=count,
        any_one=any_one and not every,
        other=bool({"other", "another"} & set(words)),
        negated_colors=negated,
        unknown=unknown,
    )


def _head(words: list[str]) -> tuple[int | None, str | None, str | None]:
    """Index, category and spelling of the head noun: the first word naming a kind of thing."""
    for i, w in enumerate(words):
        cat = category_of(w)
        if cat is not None:
            return i, cat, w
        kind = absent_kind(w)
        if kind is not None:
            return i, kind, w
        if w == "one" and _head(words[i + 1 :])[0] is not None:
            continue  # "one block", "one of the cans": a number, not the noun
        if is_generic(w):
            return i, None, None if w in ("one", "ones") else w
    return None, None, None


def _is_plural(word: str) -> bool:
    if word in ("ones", "stuff"):  # "green stuff": every green thing
        return True
    return word.endswith("s") and (
        category_of(word[:-1]) is not None
        or category_of(word[:-2]) is not None
        or absent_kind(word[:-1]) is not None
        or is_generic(word[:-1])
    )


def _has_noun(text: str) -> bool:
    return any(
        category_of(w) or is_generic(w) or absent_kind(w) or w in COLORS or w in PRONOUNS
        for w in merge_compounds(text).split()
    ) or any(re.search(rf"\b{e}\b", text) for e in EVERYTHING_WORDS)


def _canonical_relation(word: str) -> str:
    if word in ("in", "inside", "inside of", "within", "sitting in"):
        return "in"
    if word in ("on", "on top of", "sitting on", "lying on", "resting on", "standing on"):
        return "on"
    return next((rel for rel, ws in RELATION_WORDS.items() if word in ws), "near")


def _kinds(np_: NounPhrase, default: Sequence[str]) -> tuple[str, ...]:
    return categories(np_.category) if np_.category else tuple(default)


@dataclass
class Grounder:
    """Resolves noun phrases against a scene, remembering what was last referred to.

    `scene` is where phrases are grounded: the scene as the user saw it when they spoke, so
    "the bar nearest to me" keeps meaning the same bar after the plan moved things. The
    objects are returned as `current` has them (when given), where the plan acts on them.
    """

    scene: Sequence[ObjectState]
    mentioned: list[str] = field(default_factory=list)
    current: Sequence[ObjectState] = ()

    def __post_init__(self) -> None:
        self._current_by_name = {o.name: o for o in self.current}

    def _now(self, objs: Sequence[ObjectState]) -> list[ObjectState]:
        """The objects as they are now (the same names)."""
        return [self._current_by_name.get(o.name, o) for o in objs]

    def candidates(
        self, np_: NounPhrase, default_categories: Sequence[str] = GRASPABLE
    ) -> list[ObjectState]:
        """Every object that fits the phrase's attributes (before number and superlatives)."""
        return self._now(self._candidates(np_, default_categories))

    def resolve(
        self, np_: NounPhrase, default_categories: Sequence[str] = GRASPABLE
    ) -> list[ObjectState]:
        """The objects meant: all of them for plurals, exactly one (or `count`) otherwise."""
        return self._now(self._resolve(np_, default_categories))

    def _candidates(
        self, np_: NounPhrase, default_categories: Sequence[str] = GRASPABLE
    ) -> list[ObjectState]:
        if np_.pronoun:
            named = [o for o in self.scene if o.name in self.mentioned]
            named.sort(key=lambda o: self.mentioned.index(o.name))
            return named[-2:] if np_.plural else named[-1:]
        if np_.conjuncts:
            found = [o for c in np_.conjuncts for o in self._candidates(c, default_categories)]
            return list({o.name: o for o in found}.values())
        kinds = _kinds(np_, default_categories)
        objs = [o for o in self.scene if o.category in kinds]
        if np_.colors:
            objs = [o for o in objs if o.color in np_.colors]
        if np_.negated_colors:
            objs = [o for o in objs if o.color not in np_.negated_colors]
        for ex in np_.exclude:
            drop = {o.name for o in self._excluded(_inherit(ex, np_), default_categories)}
            objs = [o for o in objs if o.name not in drop]
        if np_.location is not None:
            objs = self._filter_location(objs, *np_.location)
        if np_.side is not None:
            objs = _pick_side(objs, np_.side)
        if np_.other and self.mentioned:
            rest = [o for o in objs if o.name not in self.mentioned]
            objs = rest or objs
        return objs

    def _resolve(
        self, np_: NounPhrase, default_categories: Sequence[str] = GRASPABLE
    ) -> list[ObjectState]:
        if np_.unknown:
            raise Unknown(np_)
        if np_.conjuncts:
            chosen: list[ObjectState] = []
            for c in np_.conjuncts:  # "the red block and the one on the left": another one
                got = self._resolve(c, default_categories)
                taken = {o.name for o in chosen}
                if taken & {o.name for o in got} and not (c.colors or c.pronoun):
                    others = [o for o in self.scene if o.name not in taken]
                    got = Grounder(others, self.mentioned)._resolve(c, default_categories)
                chosen += got
            chosen = list({o.name: o for o in chosen}.values())
            self.remember(chosen)
            return chosen
        objs = self._candidates(np_, default_categories)
        if not objs:
            raise NotFound(np_)
        objs = self._order(objs, np_)
        if np_.count is not None:
            if len(objs) < np_.count:
                raise NotFound(np_)
            chosen = objs[: np_.count]
        elif np_.wants_many:
            chosen = objs
        elif np_.superlative or np_.ordinal or np_.any_one or len(objs) == 1:
            chosen = objs[:1]
        elif len(named := self._named_before(np_, objs)) == 1:
            chosen = named  # "move the gray can ..., then put ... where the can was"
        else:
            raise Ambiguous(np_, objs)
        self.remember(chosen)
        return chosen

    def _named_before(self, np_: NounPhrase, objs: list[ObjectState]) -> list[ObjectState]:
        """The fitting objects named earlier in the instruction, when the phrase is a bare
        definite one ("the can"), which refers back to one of them."""
        if not re.match(r"^(?:the|that|this) (?:\w+ )?(?:\w+)$", np_.text) or np_.colors:
            return []
        return [o for o in objs if o.name in self.mentioned]

    def remember(self, objs: Sequence[ObjectState]) -> None:
        for o in objs:
            if o.name in self.mentioned:
                self.mentioned.remove(o.name)
            self.mentioned.append(o.name)

    def excluded(
        self, np_: NounPhrase, default_categories: Sequence[str] = GRASPABLE
    ) -> list[ObjectState]:
        """The objects the phrase's exclusions name ("all blocks but the red one")."""
        found = [
            o for ex in np_.exclude for o in self._excluded(_inherit(ex, np_), default_categories)
        ]
        return self._now(list({o.name: o for o in found}.values()))

    def _excluded(self, ex: NounPhrase, default_categories: Sequence[str]) -> list[ObjectState]:
        """What an exclusion names; a pronoun in it means what was named before; "but leave
        everything else alone" names only what the phrase did not choose: nothing of it."""
        if re.search(r"\b(?:else|the rest|others)\b", ex.text) and not (ex.colors or ex.category):
            return []
        grounder = Grounder(self.scene, list(self.mentioned))
        try:
            return grounder.resolve(replace(ex, any_one=False), default_categories)
        except Ambiguous as amb:  # "except the red one" with two red ones: leave both
            return amb.candidates
        except GroundingError:
            return []

    def _order(self, objs: list[ObjectState], np_: NounPhrase) -> list[ObjectState]:
        objs = sorted(objs, key=lambda o: (-o.position[1], o.position[0], o.name))
        if np_.superlative is not None:
            axis, direction = np_.superlative
            key = self._measure(axis, np_)
            objs = sorted(objs, key=key, reverse=direction == "max")
            if np_.wants_many and np_.count is None:  # "the big ones", "the smallest blocks"
                return _end_group(objs, key, axis, np_)
            if len(objs) > 1 and _tied(key(objs[0]), key(objs[1]), axis):
                raise Ambiguous(np_, objs[:2])
        if np_.ordinal is not None:
            objs = self._nth(objs, np_)
        return objs

    def _nth(self, objs: list[ObjectState], np_: NounPhrase) -> list[ObjectState]:
        index, side = np_.ordinal or (1, "left")
        objs = _pick_side(objs, side, keep_all=True)
        if index == 0:
            if len(objs) % 2 == 0:
                raise Ambiguous(np_, objs[len(objs) // 2 - 1 : len(objs) // 2 + 1])
            return [objs[len(objs) // 2]]
        if abs(index) > len(objs):
            raise NotFound(np_)
        return [objs[index - 1 if index > 0 else index]]

    def _measure(self, axis: str, np_: NounPhrase) -> Callable[[ObjectState], float]:
        if axis == "distance" and np_.reference is not None:
            ref = self._resolve(replace(np_.reference, count=None), GRASPABLE + CONTAINERS)[0]
            return lambda o: math.dist(o.position[:2], ref.position[:2])
        return MEASURES.get(axis, MEASURES["x"])

    def _filter_location(
        self, objs: list[ObjectState], relation: str, ref_np: NounPhrase
    ) -> list[ObjectState]:
        from perception import geometry

        refs = self._candidates(ref_np, GRASPABLE + CONTAINERS)
        if relation == "between":  # "the block between the two bowls": two ends, or no say
            if len(refs) != 2:
                return objs
            return [o for o in objs if o not in refs and geometry.is_between(o, *refs)]
        if len(refs) == 1:  # "the block next to the bowl ... into it": the bowl was named
            self.remember(refs)
        tests = {
            "in": geometry.is_in,
            "on": geometry.is_on,
            "left_of": geometry.is_left_of,
            "right_of": geometry.is_right_of,
            "behind": geometry.is_behind,
            "in_front_of": geometry.is_in_front_of,
            "near": geometry.is_near,
        }
        test = tests.get(relation, geometry.is_near)
        if relation == "on":
            return [
                o
                for o in objs
                if any(test(o, r) or geometry.is_in(o, r) for r in refs if r is not o)
            ]
        if relation == "near" and len(refs) == 1:  # "the block next to the bowl": the nearest
            near = [o for o in objs if o is not refs[0] and test(o, refs[0])]
            return near or sorted(objs, key=lambda o: geometry.footprint_distance(o, refs[0]))[:1]
        return [o for o in objs if any(test(o, r) for r in refs if r is not o)]


def _extent(obj: ObjectState) -> float:
    """How long or short a thing is: a bar by its length, anything else by its height."""
    long_side, short_side = max(obj.size[:2]), min(obj.size[:2])
    return long_side if long_side > 1.5 * short_side else obj.size[2]


MEASURES: dict[str, Callable[[ObjectState], float]] = {
    "x": lambda o: o.position[0],
    "y": lambda o: o.position[1],
    "z": lambda o: o.size[2],
    "volume": lambda o: o.size[0] * o.size[1] * o.size[2],
    "length": lambda o: max(o.size[:2]),
    "extent": _extent,
}
"""What a superlative's axis measures on an object (distance to a reference aside)."""


def _tied(a: float, b: float, axis: str) -> bool:
    """Two measures too close to tell apart: 5 mm for places, 2 % for sizes."""
    if axis in ("x", "y", "distance"):
        return abs(a - b) < 0.005
    return math.isclose(a, b, rel_tol=0.02)


def _end_group(
    objs: list[ObjectState], key: Callable[[ObjectState], float], axis: str, np_: NounPhrase
) -> list[ObjectState]:
    """The objects at the measured end of `objs` (sorted that end first), cut off where the
    measures jump most: "the big blocks" of two big and two small ones are the two big ones."""
    values = [key(o) for o in objs]
    gaps = [abs(a - b) for a, b in pairwise(values)]
    if not gaps or _tied(values[0], values[-1], axis):
        raise Ambiguous(np_, objs)  # one object, or all of one size: no group stands out
    cut = gaps.index(max(gaps)) + 1
    return objs[:cut]


SIZE_MARGIN = 0.15  # a thing 15 % longer than usual is big, 15 % shorter small


def size_class(obj: ObjectState) -> str | None:
    """ "big" or "small" against the usual size of the object's kind; None when usual."""
    usual = USUAL_SIZE_M.get(obj.category)
    if usual is None:
        return None
    ratio = max(obj.size) / usual
    return "big" if ratio > 1 + SIZE_MARGIN else "small" if ratio < 1 - SIZE_MARGIN else None


def describes(np_: NounPhrase, obj: ObjectState, kinds: Sequence[str] = GRASPABLE) -> bool:
    """Whether a phrase of a rule fits one object by itself: its colours and kind, and a
    size it says ("big blocks") against the usual size of the kind, not the scene's."""
    if not Grounder([obj]).candidates(np_, kinds):
        return False
    return not np_.sized or size_class(obj) == np_.size_word


def find_described(
    description: str,
    scene: Sequence[ObjectState],
    current: Sequence[ObjectState] = (),
    many: bool = False,
) -> list[ObjectState]:
    """The objects a description ("leftmost block", "blocks except the red one") names in
    `scene`, as `current` has them: one unless `many`; else a `GroundingError` saying why."""
    np_ = parse_np(normalize(description))
    if np_.wants_many and not many and np_.count != 1:  # "one of the blocks" is one
        said = description[:60]
        raise GroundingError(f"{said!r} describes several objects: find_all() gives a list")
    try:
        return Grounder(scene, current=current).resolve(np_, GRASPABLE)
    except NotFound as missing:
        if np_.location is None:
            raise
        relation, where = np_.location  # "the red things on the zone": where they go, maybe
        raise GroundingError(
            f"{description[:60]!r} names nothing: no such thing is {relation} "
            f"{where.text[:40]} (describe the objects alone, not where they should go)"
        ) from missing


def _inherit(ex: NounPhrase, base: NounPhrase) -> NounPhrase:
    """ "except the green one" inherits the category of "all blocks"."""
    return ex if ex.category or ex.pronoun else replace(ex, category=base.category)


def _pick_side(objs: list[ObjectState], side: str, keep_all: bool = False) -> list[ObjectState]:
    keys = {
        "left": lambda o: -o.position[1],
        "right": lambda o: o.position[1],
        "front": lambda o: o.position[0],
        "back": lambda o: -o.position[0],
    }
    ordered = sorted(objs, key=keys[side])
    return ordered if keep_all else ordered[:1]
