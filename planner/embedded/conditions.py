"""Orders on a condition ("if the green bowl is empty, put the orange block in it"): the
condition is checked against the perceived scene before anything moves.

`read_condition` takes the condition out of an instruction; `holds` says whether the scene
meets it (None: it is not a condition the scene can settle), reading it as the yes/no
question it is ("is the green bowl empty?").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from perception import geometry
from planner.embedded.parser import find_region, split_clauses
from planner.embedded.questions import Question, answer
from planner.language.grounding import Grounder, GroundingError, parse_np
from planner.language.lexicon import CONTAINERS, normalize, spell_out_it
from skills.objects import ObjectState

_LEADING = re.compile(r"^(?:only )?if (?P<cond>[^,;]+?)(?:,|\s+then\b)\s*(?:then\s+)?(?P<cmd>.+)$")
_TRAILING = re.compile(
    r"^(?P<cmd>[^,;]+?),?\s+(?:but )?only if (?P<cond>[^,;]+)$|"
    r"^(?P<cmd2>[^,;]+?),?\s+if (?P<cond2>[^,;]+)$"
)
_EMPTY = re.compile(
    r"^(?:there is |there are )?(?:nothing|no \w+(?: \w+)?|not anything) (?:is |are )?"
    r"(?:in|on|at|inside|sitting in|sitting on) (?P<place>.+)$|"
    r"^(?P<place2>.+?) (?:is|are) (?:still )?(?:empty|free|clear|unoccupied|available)$"
)
_FULL = re.compile(
    r"^(?P<place>.+?) (?:has|holds|contains|has got) (?:something|anything|stuff|an? \w+(?: \w+)?)"
    r"(?: (?:in|on|inside) it)?$|^(?:there is |there are )?(?:something|anything) (?:is |are )?"
    r"(?:in|on|at|inside) (?P<place2>.+)$"
)
_COPULA = re.compile(r"^(?P<a>.+?) (?P<verb>is|are) (?P<rest>.+)$")
_OTHERWISE = re.compile(r"^(?:otherwise|else|if not|or else|failing that),? (?P<cmd>.+)$")
_THERE_IS = re.compile(r"^there (?:is|are) (?P<a>.+?)(?: (?:on|in) the table)?$")
_ON_TABLE = re.compile(r"^(?:still )?(?:on|sitting on|lying on|standing on) the (?:table|desk)$")
_POINTING = re.compile(r"\b(?P<prep>in|into|inside|on|onto|on top of) (?:it|that)\b")


@dataclass(frozen=True)
class Conditional:
    """An order said on a condition.

    Attributes:
        condition: the condition, normalised ("the green bowl is empty").
        command: what to do when it holds, with "it" and "there" spelt out when they
            stand for the place the condition names.
        rest: what the instruction says after the conditional order (done either way).
        otherwise: what to do when the condition does not hold ("...; otherwise put the
            white block in it"), "" when nothing is said.
    """

    condition: str
    command: str
    rest: str = ""
    otherwise: str = ""


def read_condition(text: str) -> Conditional | None:
    """The conditional order `text` gives, or None when it gives none."""
    t = normalize(text)
    m = _LEADING.match(t)
    if m is not None:
        condition, command = m.group("cond"), m.group("cmd")
    elif (m := _TRAILING.match(t)) is not None:
        condition = m.group("cond") or m.group("cond2")
        command = m.group("cmd") or m.group("cmd2")
    else:
        return None
    first, *rest = split_clauses(command) or [command]
    place = _place(condition)
    first = _spelt_out(first, place) if place else _subject_spelt_out(first, condition)
    otherwise = ""
    if rest and (m := _OTHERWISE.match(rest[0])):  # "...; otherwise put the white block in it"
        otherwise = _same_place(m.group("cmd"), first)
        rest = rest[1:]
    return Conditional(condition, first, "; ".join(rest), otherwise)


def _same_place(command: str, before: str) -> str:
    """ "otherwise put the white block in it": "it" is the place the order before named."""
    m = re.search(r"\b(?:in|into|on|onto) (?P<place>(?:the|a|an) [a-z ]+?)$", before)
    if m is None:
        return command
    return re.sub(r"\b(in|into|on|onto) (?:it|there)\b", rf"\1 {m.group('place')}", command)


def _subject_spelt_out(command: str, condition: str) -> str:
    """ "if there is a yellow block, put it on the mat": "it" is the thing the condition is
    about (the yellow block), when the condition names one."""
    m = _THERE_IS.match(condition) or _COPULA.match(condition)
    if m is None or not parse_np(m.group("a")).names_thing or parse_np(m.group("a")).pronoun:
        return command
    subject = re.sub(r"^(?:a|an|any|some)\b", "the", m.group("a"))
    return spell_out_it(command, subject)


def _place(condition: str) -> str | None:
    """The place a condition is about ("the green bowl" of "the green bowl is empty")."""
    m = _EMPTY.match(condition) or _FULL.match(condition)
    if m is not None:
        return m.group("place") or m.group("place2")
    return None


def _spelt_out(command: str, place: str | None) -> str:
    """ "put the orange block in it" -> "... in the green bowl"; "take it there" -> "to ..."."""
    if place is None:
        return command
    command = _POINTING.sub(lambda m: f"{m.group('prep')} {place}", command)
    return re.sub(r"\bthere\b", f"to {place}" if find_region(place) else f"in {place}", command)


def holds(condition: str, scene: Sequence[ObjectState]) -> tuple[bool, str] | None:
    """Whether the scene meets the condition, and what shows it; None when it can not tell."""
    m = _EMPTY.match(condition)
    if m is not None:
        return _empty(m.group("place") or m.group("place2"), scene)
    m = _FULL.match(condition)
    if m is not None and (empty := _empty(m.group("place") or m.group("place2"), scene)):
        return not empty[0], empty[1]
    m = _COPULA.match(condition)
    if m is not None and m.group("rest").startswith("not "):  # "the block is not in the bowl"
        said = holds(f"{m.group('a')} {m.group('verb')} {m.group('rest')[4:]}", scene)
        if said is None:
            return None
        return not said[0], re.sub(r"^(?:yes|no),?\s*", "", said[1], flags=re.I).capitalize()
    if m is not None and _ON_TABLE.match(m.group("rest")):
        return _on_table(m.group("a"), scene)
    question = f"{m.group('verb')} {m.group('a')} {m.group('rest')}" if m else condition
    if condition.startswith(("there is ", "there are ")):
        question = f"is there {condition.split(' ', 2)[2]}"
    said = answer(Question(question), scene)
    if said is None or not re.match(r"^(?:yes|no)\b", said, re.I):
        return None
    return said.lower().startswith("yes"), said


def _on_table(thing: str, scene: Sequence[ObjectState]) -> tuple[bool, str] | None:
    """Whether a thing stands on the table itself: not in a container, not on another thing."""
    try:
        (obj,) = Grounder(list(scene)).resolve(parse_np(thing))
    except (GroundingError, ValueError):
        return None
    under = [
        o
        for o in scene
        if o.name != obj.name and (geometry.is_in(obj, o) or geometry.is_on(obj, o))
    ]
    if under:
        return False, f"No, the {obj.name} is on the {under[0].name}."
    return True, f"Yes, the {obj.name} is on the table."


def _empty(place: str, scene: Sequence[ObjectState]) -> tuple[bool, str] | None:
    """Whether nothing is in (or on, or at) a container or a table region."""
    region = find_region(place)
    if region is not None and not parse_np(place).category:
        found = [o for o in scene if o.category not in CONTAINERS and geometry.is_at(o, region[0])]
        where = f"the {region[0]}"
    else:
        try:
            (box,) = Grounder(list(scene)).resolve(parse_np(place), CONTAINERS)
        except (GroundingError, ValueError):
            return None
        found = [
            o
            for o in scene
            if o.name != box.name and (geometry.is_in(o, box) or geometry.is_on(o, box))
        ]
        where = f"the {box.name}"
    if not found:
        return True, f"Nothing is in {where}."
    return False, f"{where.capitalize()} holds " + ", ".join(f"the {o.name}" for o in found) + "."
