"""Noun phrases and their grounding in the scene.

"the leftmost red block", "all blocks except the green one", "two cans", "the bowl
closest to the yellow block", "the other bowl" — each is parsed into a `NounPhrase` and
resolved against the objects the robot sees. Grounding never guesses: a phrase that fits
several objects where one is meant raises `Ambiguous`, one that fits none `NotFound`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from planner.embedded.lexicon import (
    COLORS,
    CONTAINERS,
    GRASPABLE,
    ORDINALS,
    category_of,
    is_generic,
)
from skills.objects import ObjectState


class GroundingError(Exception):
    """A phrase could not be resolved to objects."""


class NotFound(GroundingError):
    """No object in the scene fits the phrase."""

    def __init__(self, phrase: NounPhrase) -> None:
        self.phrase = phrase
        super().__init__(f"I can not see {phrase.describe()} here")


class Ambiguous(GroundingError):
    """Several objects fit a phrase that means one; the user must choose."""

    def __init__(self, phrase: NounPhrase, candidates: list[ObjectState]) -> None:
        self.phrase = phrase
        self.candidates = candidates
        names = [c.name for c in candidates]
        listing = ", ".join(names[:-1]) + f" or the {names[-1]}" if len(names) > 1 else names[0]
        super().__init__(f"Which {phrase.noun()} do you mean: the {listing}?")


SUPERLATIVES = {
    "leftmost": ("y", max),
    "furthest left": ("y", max),
    "farthest left": ("y", max),
    "rightmost": ("y", min),
    "furthest right": ("y", min),
    "farthest right": ("y", min),
    "frontmost": ("x", min),
    "nearest to me": ("x", min),
    "closest to me": ("x", min),
    "closest to the robot": ("x", min),
    "nearest to the robot": ("x", min),
    "furthest from the robot": ("x", max),
    "farthest from the robot": ("x", max),
    "furthest away": ("x", max),
    "farthest away": ("x", max),
    "furthest": ("x", max),
    "farthest": ("x", max),
    "backmost": ("x", max),
    "closest": ("x", min),
    "nearest": ("x", min),
    "biggest": ("volume", max),
    "largest": ("volume", max),
    "smallest": ("volume", min),
    "tiniest": ("volume", min),
    "tallest": ("z", max),
    "highest": ("z", max),
    "shortest": ("z", min),
    "lowest": ("z", min),
    "longest": ("length", max),
}
_SUPER_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(SUPERLATIVES, key=len, reverse=True)) + r")\b"
)
_REF_SUPER_RE = re.compile(r"\b(closest|nearest|furthest|farthest)\s+(?:to|from)\s+(?P<ref>.+)$")
_ORDINAL_RE = re.compile(
    r"\b(?P<ord>" + "|".join(ORDINALS) + r")\b(?:.*?\bfrom the (?P<side>left|right|front|back))?"
)
_EXCLUDE_RE = re.compile(r"\b(?:except(?: for)?|but not|other than|apart from|excluding|but)\b")
_LOCATION_RE = re.compile(
    r"\b(?:that is |which is |that are |which are )?(?P<rel>in|inside|on top of|on|"
    r"to the left of|to the right of|left of|right of|behind|in front of|next to|near)\s+"
    r"(?P<ref>(?:the|a|an)\b.+)$"
)
_SIDE_LOCATION_RE = re.compile(
    r"\b(?:on|at) the (?P<side>left|right|front|back|far|near)(?: side)?$"
)
PRONOUNS = {"it", "them", "this", "that", "these", "those", "this one", "that one", "it all"}
QUANTIFIERS_ALL = {"all", "every", "each", "both", "all the", "all of the", "the rest of the"}


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
    ordinal: tuple[int, str] | None = None  # (index, side)
    location: tuple[str, NounPhrase] | None = None  # ("in", bowl phrase)
    side: str | None = None  # "the block on the left"
    exclude: tuple[NounPhrase, ...] = ()
    other: bool = False
    pronoun: bool = False
    negated_colors: tuple[str, ...] = ()

    def noun(self) -> str:
        return self.category or "object"

    def describe(self) -> str:
        words = " ".join(self.colors) + " " if self.colors else ""
        noun = self.category or "object"
        if self.plural or self.every or (self.count or 1) > 1:
            return f"{self.count or 'any'} {words}{noun}s" if self.count else f"{words}{noun}s"
        return f"a {words}{noun}"

    @property
    def wants_many(self) -> bool:
        return self.every or self.plural or (self.count is not None and self.count > 1)


def parse_np(text: str) -> NounPhrase:
    """Parse a noun phrase (already normalised by `lexicon.normalize`)."""
    text = re.sub(r"\b(?:that|which) (?:is|are)\b", " ", text.strip(" ,."))
    text = re.sub(r"\s+", " ", text).strip()
    parts = _EXCLUDE_RE.split(text, maxsplit=1)
    main = parts[0].strip(" ,")
    exclude = ()
    if len(parts) == 2 and parts[1].strip():
        exclude = tuple(
            parse_np(p) for p in re.split(r"\s*(?:,|\band\b|\bor\b)\s*", parts[1]) if p.strip()
        )
    np_ = _parse_core(main)
    return replace(np_, text=text, exclude=exclude)


def _parse_core(text: str) -> NounPhrase:
    if text in PRONOUNS or text in {"the " + p for p in PRONOUNS}:
        return NounPhrase(text, pronoun=True, plural=text in {"them", "these", "those"})
    reference = location = side = superlative = ordinal = None
    m = _REF_SUPER_RE.search(text)
    if m and not m.group("ref").startswith(("me", "the robot", "you")):
        reference = parse_np(m.group("ref"))
        superlative = ("distance", "max" if m.group(1) in ("furthest", "farthest") else "min")
        text = text[: m.start()].strip()
    m = _LOCATION_RE.search(text)
    if m and _has_noun(text[: m.start()]) and _has_noun(m.group("ref")):
        location = (_canonical_relation(m.group("rel")), parse_np(m.group("ref")))
        text = text[: m.start()].strip()
    m = _SIDE_LOCATION_RE.search(text)
    if m and _has_noun(text[: m.start()]):
        side = {"far": "back", "near": "front"}.get(m.group("side"), m.group("side"))
        text = text[: m.start()].strip()
    if superlative is None:
        m = _SUPER_RE.search(text)
        if m:
            axis, fn = SUPERLATIVES[m.group(1)]
            superlative = (axis, "max" if fn is max else "min")
            text = (text[: m.start()] + text[m.end() :]).strip()
    m = _ORDINAL_RE.search(text)
    if m:
        ordinal = (ORDINALS[m.group("ord")], m.group("side") or "left")
        text = (text[: m.start()] + " " + text[m.end() :]).strip()
    words = text.split()
    every = any(w in ("all", "every", "each", "both") for w in words) or "the rest" in text
    count = next((int(w) for w in words if w.isdigit()), None)
    if count is None and re.search(r"\bone\s+\w", text) and not re.search(r"\bone of\b", text):
        count = 1 if not every else None
    other = "other" in words or "another" in words
    negated = tuple(c for c in COLORS if re.search(rf"\bnon {c}\b|\bnot {c}\b", text))
    mentions = [(m.start(), c) for c in COLORS for m in [re.search(rf"\b{c}\b", text)] if m]
    colors = tuple(c for _, c in sorted(mentions) if c not in negated)  # in the order said
    category, plural = None, False
    for w in reversed(words):
        cat = category_of(w)
        if cat is not None:
            category, plural = cat, w != w.rstrip("s") and category_of(w.rstrip("s")) is not None
            break
        if is_generic(w):
            plural = w.endswith("s")
            break
    if "both" in words:
        count = 2
    return NounPhrase(
        text,
        colors,
        category,
        plural or every,
        every,
        count,
        superlative,
        reference,
        ordinal,
        location,
        side,
        (),
        other,
        False,
        negated,
    )


def _has_noun(text: str) -> bool:
    return any(category_of(w) or is_generic(w) for w in text.split())


def _canonical_relation(word: str) -> str:
    return {
        "inside": "in",
        "on top of": "on",
        "to the left of": "left_of",
        "left of": "left_of",
        "to the right of": "right_of",
        "right of": "right_of",
        "in front of": "in_front_of",
        "next to": "near",
    }.get(word, word)


@dataclass
class Grounder:
    """Resolves noun phrases against a scene, remembering what was last referred to."""

    scene: Sequence[ObjectState]
    mentioned: list[str] = field(default_factory=list)

    def candidates(
        self, np_: NounPhrase, default_categories: Sequence[str] = GRASPABLE
    ) -> list[ObjectState]:
        """Every object that fits the phrase's attributes (before number and superlatives)."""
        if np_.pronoun:
            named = [o for o in self.scene if o.name in self.mentioned]
            return named[-2:] if np_.plural else named[-1:]
        objs = list(self.scene)
        if np_.category:
            objs = [o for o in objs if o.category == np_.category]
        else:
            objs = [o for o in objs if o.category in default_categories]
        if np_.colors:
            objs = [o for o in objs if o.color in np_.colors]
        if np_.negated_colors:
            objs = [o for o in objs if o.color not in np_.negated_colors]
        for ex in np_.exclude:
            drop = {o.name for o in self.candidates(_inherit(ex, np_), default_categories)}
            objs = [o for o in objs if o.name not in drop]
        if np_.location is not None:
            objs = self._filter_location(objs, *np_.location)
        if np_.side is not None:
            objs = _pick_side(objs, np_.side)
        if np_.other and self.mentioned:
            rest = [o for o in objs if o.name not in self.mentioned]
            objs = rest or objs
        return objs

    def resolve(
        self, np_: NounPhrase, default_categories: Sequence[str] = GRASPABLE
    ) -> list[ObjectState]:
        """The objects meant: all of them for plurals, exactly one (or `count`) otherwise."""
        objs = self.candidates(np_, default_categories)
        if not objs:
            raise NotFound(np_)
        objs = self._order(objs, np_)
        if np_.count is not None:
            if len(objs) < np_.count:
                raise NotFound(np_)
            chosen = objs[: np_.count]
        elif np_.wants_many:
            chosen = objs
        elif np_.superlative or np_.ordinal:
            chosen = objs[:1]
        elif len(objs) == 1:
            chosen = objs
        else:
            raise Ambiguous(np_, objs)
        self.remember(chosen)
        return chosen

    def resolve_one(
        self, np_: NounPhrase, default_categories: Sequence[str] = GRASPABLE
    ) -> ObjectState:
        objs = self.resolve(replace(np_, plural=False, every=False, count=None), default_categories)
        return objs[0]

    def remember(self, objs: Sequence[ObjectState]) -> None:
        for o in objs:
            if o.name in self.mentioned:
                self.mentioned.remove(o.name)
            self.mentioned.append(o.name)

    def _order(self, objs: list[ObjectState], np_: NounPhrase) -> list[ObjectState]:
        objs = sorted(objs, key=lambda o: (-o.position[1], o.position[0], o.name))
        if np_.superlative is not None:
            axis, direction = np_.superlative
            key = self._measure(axis, np_)
            objs = sorted(objs, key=key, reverse=direction == "max")
        if np_.ordinal is not None:
            index, side = np_.ordinal
            objs = _pick_side(objs, side, keep_all=True)
            if abs(index) > len(objs):
                raise NotFound(np_)
            objs = [objs[index - 1 if index > 0 else index]]
        return objs

    def _measure(self, axis: str, np_: NounPhrase):
        if axis == "distance" and np_.reference is not None:
            ref = self.resolve_one(np_.reference, GRASPABLE + CONTAINERS)
            return lambda o: math.dist(o.position[:2], ref.position[:2])
        measures = {
            "x": lambda o: o.position[0],
            "y": lambda o: o.position[1],
            "z": lambda o: o.size[2],
            "volume": lambda o: o.size[0] * o.size[1] * o.size[2],
            "length": lambda o: max(o.size[:2]),
        }
        return measures.get(axis, measures["x"])

    def _filter_location(
        self, objs: list[ObjectState], relation: str, ref_np: NounPhrase
    ) -> list[ObjectState]:
        from perception import geometry

        refs = self.candidates(ref_np, GRASPABLE + CONTAINERS)
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
        return [o for o in objs if any(test(o, r) for r in refs if r is not o)]


def _inherit(ex: NounPhrase, base: NounPhrase) -> NounPhrase:
    """ "except the green one" inherits the category of "all blocks"."""
    return ex if ex.category else replace(ex, category=base.category)


def _pick_side(objs: list[ObjectState], side: str, keep_all: bool = False) -> list[ObjectState]:
    keys = {
        "left": lambda o: -o.position[1],
        "right": lambda o: o.position[1],
        "front": lambda o: o.position[0],
        "back": lambda o: -o.position[0],
    }
    ordered = sorted(objs, key=keys[side])
    return ordered if keep_all else ordered[:1]
