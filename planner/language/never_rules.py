"""Never-rules people teach: "never put cans in the white bowl", "don't stack anything on
the green block", "keep the blocks out of the red bowl".

A never-rule forbids objects of a kind ending up in or on one object. The planner checks it
before acting (an open choice avoids the forbidden place; a plan that would break it is
refused, with the rule quoted) and the goal check enforces it (`not in` / `not on`
predicates for the objects the plan moves). `never_statement` writes a rule in words
`parse_never` reads back, which is how knowledge records carry it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from planner.language.grounding import Grounder, NounPhrase, describes, parse_np
from planner.language.lexicon import (
    CONTAINERS,
    GRASPABLE,
    normalize_rule,
    resolve_there,
    sentences,
)
from skills.objects import ObjectState

_REL = r"(?P<rel>on top of|onto|on|into|inside|in)"
_VERB = r"(?:put|place|set|stack|drop|move|leave|pile|rest)"
_NEVER = r"(?:never|do not ever|do not|never ever|you must never|you should never)"
_BUT = r"(?:but|except|other than|apart from|besides)"
_ANYTHING_BUT = re.compile(rf"^(?:nothing|anything|things|objects) {_BUT} (?P<unless>.+)$")
_PATTERNS = (
    re.compile(rf"^(?:please )?{_NEVER} {_VERB} (?P<objects>.+?) {_REL} (?P<target>.+)$"),
    re.compile(
        rf"^(?P<objects>.+?) (?:(?:must|should|may|can|are to|is to) )?(?:never|do not|does not|"
        rf"must not|should not|may not|cannot|can not) (?:ever )?"
        rf"(?:go|goes|belong|belongs|be put|be placed|be set|end up|be stacked|get put|sit|"
        rf"stand) {_REL} (?P<target>.+)$"
    ),
    re.compile(rf"^no (?P<objects>(?:\w+ )?\w+s) {_REL} (?P<target>.+)$"),  # "no cans in ..."
    re.compile(
        rf"^(?P<objects>nothing(?: {_BUT} .+?)?) (?:ever )?(?:goes|go|should go|may go|is to go|"
        rf"must go|belongs|gets? (?:stacked|put|placed|set)|is (?:stacked|put|placed|set)|"
        rf"(?:may|can|should|is to) be (?:stacked|put|placed|set)) {_REL} (?P<target>.+)$"
    ),
    re.compile(r"^(?:please )?keep (?P<objects>.+?) out of (?P<target>.+)$"),
)
_LEAD = re.compile(
    r"^(?:(?:no|nope|wrong|stop|careful|hey)[,!.]|"
    r"(?:remember|and|also|ok|okay|always|again)[,!.]?) "
)
_TAIL = re.compile(
    r"(?:,? (?:please|ever|always|at all|again|thanks|thank you|ok|okay|remember|mind|"
    r"got it|understood|right|alright))+$"
)


@dataclass(frozen=True)
class NeverRule:
    """Objects fitting `objects` must never end `relation` (``in`` or ``on``) the one object
    `target` names, unless they fit `unless` ("nothing but white things in the black
    bowl"); `source` is the words it was read from."""

    objects: NounPhrase
    target: NounPhrase
    relation: str
    source: str = ""
    unless: NounPhrase | None = None

    def covers(self, obj: ObjectState) -> bool:
        """Whether `obj` is one of the objects the rule is about."""
        return describes(self.objects, obj) and not (
            self.unless is not None and describes(self.unless, obj)
        )

    def forbids(self, obj: ObjectState, place: ObjectState, scene: Sequence[ObjectState]) -> bool:
        """Whether putting `obj` in or on `place` breaks the rule."""
        if obj.name == place.name or not self.covers(obj):
            return False
        return place.name in {o.name for o in self.places(scene)}

    def places(self, scene: Sequence[ObjectState]) -> list[ObjectState]:
        """The objects of `scene` the rule keeps things out of (or off)."""
        return Grounder(list(scene)).candidates(self.target, CONTAINERS + GRASPABLE)

    def statement(self) -> str:
        return never_statement(self)


def parse_never(text: str) -> NeverRule | None:
    """The never-rule a sentence states, or None."""
    t = normalize_rule(text)
    while _LEAD.match(t):
        t = _LEAD.sub("", t, count=1)
    t = resolve_there(t)
    for part in [*_parts(t), t]:
        rule = _rule_in(_TAIL.sub("", part.strip(" .!")), text)
        if rule is not None:
            return rule
    return None


def _parts(t: str) -> list[str]:
    """The sentences of a text, a remark after "so" or "because" dropped, each followed by
    its comma-separated clauses ("keep everything out of the blue bowl, use the other")."""
    said = sentences(re.sub(r",\s*(?:so|because|since|otherwise|as)\b.*?(?=[.!?;]|$)", "", t))
    return [p for s in said for p in [s, *(c for c in s.split(", ") if c != s)]]


def _rule_in(t: str, text: str) -> NeverRule | None:
    for pattern in _PATTERNS:
        m = pattern.match(t)
        if m is None:
            continue
        said = m.group("objects")
        but = _ANYTHING_BUT.match(said)
        unless = parse_np(but.group("unless")) if but else None
        if unless is not None and not (unless.category or unless.colors):
            continue
        if but or said in ("nothing", "anything", "everything", "things"):
            said = "anything"
        objects = parse_np(said)
        target = parse_np(m.group("target"))
        if (
            target.category is None
            or (target.plural and not target.colors)  # "the black blocks": each of them
            or (objects.category is None and not objects.colors and not objects.plural)
        ):
            continue
        rel = m.groupdict().get("rel") or "in"
        relation = "in" if rel in ("in", "into", "inside") else "on"
        if target.category not in CONTAINERS:
            relation = "on"
        return NeverRule(objects, target, relation, text.strip(), unless)
    return None


def never_statement(rule: NeverRule) -> str:
    """The rule in words `parse_never` reads back: "never put cans in the white bowl"."""
    objects = rule.objects.text
    if rule.unless is not None:  # "never put anything but white objects in the black bowl"
        objects = f"anything but {rule.unless.text}"
    return f"never put {objects} {rule.relation} {rule.target.text}"


def never_in(statements: Sequence[str]) -> list[NeverRule]:
    """The never-rules among statements (knowledge, corrections), in order."""
    return [r for s in statements if (r := parse_never(s)) is not None]
