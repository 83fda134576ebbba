"""Questions about the scene ("how many blocks are there?", "where is the red block?",
"is the can in a bowl?") answered in words from the perceived scene, never with motion.

`answer` says what the scene shows to a question `planner.language.questions.read_question`
read, or None when the question is not one it can answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from perception import geometry
from planner.language.grounding import (
    MEASURES,
    SUPERLATIVE_RE,
    SUPERLATIVES,
    Ambiguous,
    Grounder,
    GroundingError,
    parse_np,
)
from planner.language.lexicon import CONTAINERS, GRASPABLE
from planner.language.questions import Question
from skills.objects import ObjectState

_ASKED_AS_STATEMENT = re.compile(  # "tell me ...", "i wonder ...": the question after it
    r"^(?:(?:can|could|would) you (?:please )?(?:tell me|say|check),? |tell me,? |"
    r"i (?:want|would like) to know,? |i (?:wonder|am wondering|was wondering|am curious),? )"
)
_COUNT = re.compile(
    r"\bhow many (?P<np>.+?)(?: (?:are|is) there| there (?:are|is)| do you see| can you see|$)"
)
_WHERE = re.compile(r"\bwhere (?P<np2>.+?) (?:is|are)$|\bwhere (?:(?:is|are) )?(?P<np>.+?)$")
_WHICH = re.compile(r"^which (?P<np>\w+(?: \w+)?) (?:is|are) (?P<rest>.+)$")
_WHICH_NEAREST = re.compile(  # "which bowl is the red block closest to": the bowl closest to it
    r"^which (?P<np>\w+(?: \w+)?) (?:(?:is|are) (?P<subject>.+?)|(?P<subject2>.+?) (?:is|are)) "
    r"(?P<sup>closest|nearest|furthest|farthest|closer|nearer|further|farther) (?:to|from)$"
)
_ANYTHING_IN = re.compile(
    r"\b(?:is there|are there) (?:anything|something|any \w+) (?:in|inside|on) (?P<container>.+)$"
)
_COLOR = re.compile(
    r"\bwhat colou?r (?:is|are) (?P<np>.+?)$|\bwhat (?:is|are) the colou?rs? of (?P<np2>.+?)$"
)
_THERE_IS = re.compile(r"\b(?:is there|are there|do you see|can you see) (?P<np>.+?)$")
_LIST = re.compile(
    r"\bwhat (?:objects |things |items )?(?:(?:do |can |are )?you (?:are )?(?:see|seeing)|"
    r"is there|are there|is on the table|(?:is|are) in (?P<container>.+))$"
)
_WHICH_OF = re.compile(  # "which is further away from me, the pink can or the cyan bar"
    r"^which(?: one)? (?:is|are) (?P<how>[a-z ]+?),? (?P<a>[a-z ]+?) or (?P<b>[a-z ]+)$"
)
_RELATION = re.compile(
    r"^(?:is|are) (?P<a>.+?) (?P<rel>in|inside|on|on top of|left of|to the left "
    r"of|right of|to the right of|behind|in front of|next to|near) (?P<b>.+?)$"
)
_CHOICE = re.compile(
    r"^(?:is|are) (?P<a>.+?) (?:(?:to|on) the )?(?P<one>left|right|in front|behind)(?: of)? or "
    r"(?:(?:to|on) the )?(?P<other>left|right|in front|behind)(?: of)? (?P<b>.+?)$"
)
SIDES = {"left": "to the left of", "right": "to the right of", "in front": "in front of"}
RELATION_TESTS = {
    "in": geometry.is_in,
    "inside": geometry.is_in,
    "on": geometry.is_on,
    "on top of": geometry.is_on,
    "left of": geometry.is_left_of,
    "to the left of": geometry.is_left_of,
    "right of": geometry.is_right_of,
    "to the right of": geometry.is_right_of,
    "behind": geometry.is_behind,
    "in front of": geometry.is_in_front_of,
    "next to": geometry.is_near,
    "near": geometry.is_near,
}
EVERYTHING = GRASPABLE + CONTAINERS


def answer(question: Question, scene: Sequence[ObjectState]) -> str | None:
    """What the scene says to the question, in words (None: not a question this can answer)."""
    q = _ASKED_AS_STATEMENT.sub("", question.text)
    q = re.sub(r"^(?:whether|if) (?P<a>.+?) (?P<verb>is|are) ", r"\g<verb> \g<a> ", q)
    grounder = Grounder(list(scene))
    if m := _COUNT.search(q):
        found = _matching(grounder, m.group("np"))
        names = ", ".join(f"the {o.name}" for o in found)
        word = m.group("np").split()[-1]
        return f"I see {len(found)} {word}" + (f": {names}." if found else ".")
    if m := _WHERE.search(q):
        found = _matching(grounder, m.group("np") or m.group("np2"), one=True)
        return " ".join(_whereabouts(o, scene) for o in found) or None
    if (m := _WHICH_OF.match(q)) and (said := SUPERLATIVE_RE.search(m.group("how"))):
        pair = [o for side in ("a", "b") for o in _matching(grounder, m.group(side), one=True)]
        if len(pair) == 2:
            axis, pick = SUPERLATIVES[said.group(1)]
            return f"The {pick(pair, key=MEASURES[axis]).name}."
    if m := _WHICH_NEAREST.match(q):
        subject = m.group("subject") or m.group("subject2")
        said = f"the {m.group('np')} {m.group('sup')} to {subject}"
        return _which(grounder, said)
    if m := _WHICH.match(q):
        return _which(grounder, f"the {m.group('np')} {m.group('rest')}")
    if m := _ANYTHING_IN.search(q):
        return _contents(grounder, m.group("container"), scene)
    if m := _COLOR.search(q):
        found = _matching(grounder, m.group("np") or m.group("np2"), one=True)
        return " ".join(f"The {o.name} is {o.color}." for o in found) or None
    if m := _LIST.search(q):
        if m.group("container"):
            return _contents(grounder, m.group("container"), scene)
        return "I see " + ", ".join(f"the {o.name}" for o in scene) + "."
    if m := _CHOICE.match(q):
        return _side(grounder, m.group("a"), m.group("b"), (m.group("one"), m.group("other")))
    if m := _RELATION.match(q):
        subjects = _matching(grounder, m.group("a"))
        refs = _matching(grounder, m.group("b"), default=EVERYTHING)
        if not subjects or not refs:
            return None
        test = RELATION_TESTS[m.group("rel")]
        lines = []
        for a in subjects:
            where = [b.name for b in refs if b.name != a.name and test(a, b)]
            verdict = (
                f"yes, the {a.name} is {m.group('rel')} the {where[0]}"
                if where
                else (f"no, the {a.name} is not {m.group('rel')} {m.group('b')}")
            )
            lines.append(verdict)
        return "; ".join(lines).capitalize() + "."
    if m := _THERE_IS.search(q):
        found = _matching(grounder, m.group("np"))
        if not found:
            return f"No, I see no {m.group('np').removeprefix('a ').removeprefix('an ')}."
        return "Yes: " + ", ".join(f"the {o.name}" for o in found) + "."
    return None


def _matching(
    grounder: Grounder,
    phrase: str,
    one: bool = False,
    default: tuple[str, ...] = EVERYTHING,
) -> list[ObjectState]:
    """The objects a phrase fits: every one by attributes, or (`one`) the one it singles
    out with its location or superlative ("the bowl on the left"); all that fit equally
    when it singles out none."""
    np_ = parse_np(phrase)
    try:
        return grounder.resolve(np_, default)[:1] if one else grounder.candidates(np_, default)
    except Ambiguous as amb:
        return list(amb.candidates)
    except GroundingError:
        return []


def _side(grounder: Grounder, a: str, b: str, sides: tuple[str, str]) -> str | None:
    """ "is A to the left or to the right of B?" -> which of the two holds, or neither."""
    (first, *_), (second, *_) = (
        _matching(grounder, a, one=True) or [None],
        _matching(grounder, b, one=True) or [None],
    )
    if first is None or second is None:
        return None
    phrases = [SIDES.get(side, side) for side in sides]  # "behind" says itself
    for words in phrases:
        if RELATION_TESTS[words](first, second):
            return f"The {first.name} is {words} the {second.name}."
    said = " nor ".join(phrases)
    return f"The {first.name} is neither {said} the {second.name}."


def _contents(grounder: Grounder, phrase: str, scene: Sequence[ObjectState]) -> str | None:
    """ "In the blue bowl: the red block." (None: no such container)."""
    found = _matching(grounder, phrase, one=True, default=CONTAINERS)
    if len(found) != 1:
        return None
    box = found[0]
    inside = [f"the {o.name}" for o in scene if o.name != box.name and geometry.is_in(o, box)]
    return f"In the {box.name}: " + (", ".join(inside) or "nothing") + "."


def _which(grounder: Grounder, phrase: str) -> str | None:
    """ "which bowl is closest to the green block" -> "The pink bowl." """
    try:
        (found, *_) = grounder.resolve(parse_np(phrase), EVERYTHING)
    except Ambiguous as amb:
        names = " and the ".join(o.name for o in amb.candidates)
        return f"Both fit equally: the {names}."
    except GroundingError:
        return None
    return f"The {found.name}."


def _whereabouts(obj: ObjectState, scene: Sequence[ObjectState]) -> str:
    """ "the red block is in the blue bowl, at the top left corner"."""
    holders = [
        f"{'in' if o.category in CONTAINERS else 'on'} the {o.name}"
        for o in scene
        if o.name != obj.name
        and (geometry.is_in(obj, o) if o.category in CONTAINERS else geometry.is_on(obj, o))
    ]
    region = next((r for r in geometry.REGIONS if geometry.is_at(obj, r)), None)
    parts = [*holders, f"at the {region}" if region else ""]
    x, y = obj.position[:2]
    where = ", ".join(p for p in parts if p) or "on the table"
    return f"The {obj.name} is {where} (x {x:.2f} m, y {y:.2f} m)."
