"""Placement rules: where kinds of objects go, read from words the planner was given.

A preference ("red things always go in the green bowl"), a retarget ("no, the other
bowl", resolved against what the last program moved) and a retrieved statement ("red
objects go in the green bowl") all become a `PlacementRule`: which objects go where.
The compiler uses a rule when the instruction leaves the destination open ("in a bowl",
"in the bowl" with two bowls); a rule the user gave during this task (`override`) wins
even over the destination the instruction named. Undo corrections become put-backs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from perception import geometry
from planner.context import TaskCorrection
from planner.language.grounding import Grounder, GroundingError, NounPhrase, describes, parse_np
from planner.language.lexicon import (
    COLORS,
    CONTAINERS,
    GRASPABLE,
    normalize,
    plural,
    region_named,
    resolve_there,
    sentences,
)
from planner.language.never_rules import NeverRule
from skills.objects import ObjectState

# `normalize` drops "now" and "please", so "from now on" arrives as "from on"
_LEAD = re.compile(
    r"^(?:(?:no|nope|wrong|remember|remember that|keep in mind(?: that)?|note that|please|and|"
    r"also|oh|hmm|note|from (?:now )?on|in (?:the )?future|always|next time|as a rule|by the way|"
    r"for future reference|(?:just )?so you know|for later|(?:quick )?heads up|from today|"
    r"starting today|from here on)[,;:]?\s+)+"
)
_TAIL = re.compile(
    r"\s*,?\s*(?:from (?:now )?on|in (?:the )?future|please|always|next time|as a rule|"
    r"every time|each time|and nowhere else|and not anywhere else|only|please remember that|"
    r"remember that|all of them|every one of them|each of them|both of them|"
    r"for future reference|from today)$"
)
_STAY = (
    r"(?:go|goes|belong|belongs|live|lives|end up|ends up|sit|sits|stay|stays|"
    r"(?:be|are|is|get|gets) (?:put|kept|placed|stored|dropped)(?: away)?)"
)
_REL = r"(?P<rel>on top of|next to|close to|beside|near|into|inside|onto|in|on)"
_NEAR = ("next to", "close to", "beside", "near")
_RULE_PATTERNS = (
    re.compile(  # "whenever you handle a cylinder, it should end up on the orange mat"
        rf"^(?:whenever|when|if) you (?:handle|move|pick up|get|see|have|find) (?P<objects>.+?),? "
        rf"(?:it|they) (?:should |must |always |needs? to |has to |have to )*{_STAY} {_REL} "
        rf"(?P<target>.+)$"
    ),
    re.compile(  # "whenever something is blue, the yellow bowl is its home"
        rf"^(?:whenever|when|if) (?:something|anything|an object|a thing|it) is "
        rf"(?P<objects>[a-z]+),? (?:(?:it {_STAY}|put it) {_REL} |use )?"
        rf"(?P<target>the .+?)(?: is (?:its|their) (?:home|place|spot|bowl))?$"
    ),
    re.compile(  # "i prefer blocks in the blue bowl", "i keep all my cans in the cyan bowl"
        rf"^(?:i (?:always )?(?:prefer|want|like|keep|put|store)(?: to (?:have|put|keep|see))?|"
        rf"put|place|keep|store|always put|always place) (?:all )?(?:my )?(?P<objects>.+?)"
        rf"(?: to {_STAY})? {_REL} (?P<target>.+)$"
    ),
    re.compile(  # "red things (should) always go in the green bowl"
        rf"^(?P<objects>.+?) (?:(?:should|must|always|all|will|do|does|need to|needs to|"
        rf"have to|has to) )*{_STAY}(?: always)? {_REL}(?: of)? (?P<target>.+)$"
    ),
    re.compile(  # "the blue ones always get the yellow bowl"
        r"^(?P<objects>.+?) (?:should |always |all )*(?:get|gets|use|uses|take|takes|"
        r"belong to|belongs to) (?P<target>(?:the|their|its) .+)$"
    ),
    re.compile(  # "the cyan bowl is where every can goes"
        rf"^(?P<target>the .+?) is (?:where|(?:only |just |reserved )?for) (?P<objects>.+?)"
        rf"(?: {_STAY})?(?: only)?$"
    ),
    re.compile(  # "the gray can's home is right next to the brown zone"
        rf"^(?P<objects>.+?) (?:home|usual (?:place|spot)|place|spot|own place) is "
        rf"(?:right |just |directly )?{_REL} (?P<target>.+)$"
    ),
    re.compile(  # "always use the cyan bowl for cans"
        r"^(?:always )?use (?P<target>the .+?) for (?P<objects>.+)$"
    ),
)
_THAT_IS_WHERE = re.compile(  # the last place named before it: "..., that is where ..."
    r"(?P<place>\bthe (?:(?!the\b)[a-z]+ )*?(?:(?!the\b)[a-z]+)"
    r"(?: of the (?:table|desk|workspace|bench))?)[,.\s]*(?:that|this|it) is where\b"
)
_ONLY = re.compile(  # "only the white ones", "the bowl is just for cans", "reserved for"
    r"\bonly (?:for )?(?!this\b|that\b|once\b|go\b|goes\b|belongs?\b)[a-z]+|"
    r"\b(?:just|reserved) for\b"
)
ONCE = re.compile(r"\b(?:just|only) (?:for )?this (?:time|once)\b|\bjust this once\b|\bfor now\b")
"""Words that keep a correction to the task at hand: it is followed, never stored."""
_REPLAN_LEAD = re.compile(
    r"^(?:no,? )?(?:first|before that|you need to first|you need to|you have to first|"
    r"start by|begin by)(?: of all)?,? "
)
_USE = re.compile(  # "just this time use the pink bowl, the gray one is dirty"
    r"\b(?:use|try|take|choose|go with)\s+(?P<np>(?:the|a|an) [^,;.]+)"
)
_DESTINATION = re.compile(r"\b(?:in|into|inside|on|onto|on top of|to)\s+(?P<np>(?:the|a|an) .+)$")
_CONTAINER_RELATIONS = {"in": "in", "into": "in", "inside": "in"}
MOVED_M = 0.01


@dataclass(frozen=True)
class PlacementRule:
    """Objects fitting `objects` go `relation` ("in", "on", "near") the one object `target`
    names, or to a table region (`relation` "at", `region` its name).

    Attributes:
        objects: which objects ("red things", "blocks", "the green bar").
        target: where they go ("the green bowl").
        relation: ``in`` or ``on``.
        override: given by the user in this task: it beats the instruction's destination.
        source: the words the rule was read from.
        subject: the exact object a retarget was about (its name), if it was about one.
        place: the exact destination a retarget resolved to (its name), if any.
        region: the table region they go to ("top left corner"), for an "at" rule.
        only: the target is theirs alone ("only white things go in the black bowl").
    """

    objects: NounPhrase
    target: NounPhrase
    relation: str = "in"
    override: bool = False
    source: str = ""
    subject: str | None = None
    place: str | None = None
    region: str | None = None
    only: bool = False

    def exclusive(self) -> NeverRule | None:
        """The never-rule an "only" rule implies: nothing else goes to its target."""
        if not self.only or self.region is not None or self.relation == "near":
            return None
        anything = parse_np("anything")
        return NeverRule(anything, self.target, self.relation, self.source, self.objects)

    def applies(self, obj: ObjectState) -> bool:
        """Whether `obj` is one of the objects the rule is about."""
        if self.subject is not None:
            return obj.name == self.subject
        return describes(self.objects, obj)

    def destination(self, scene: Sequence[ObjectState]) -> ObjectState | None:
        """The one object of `scene` the rule's target names, or None (none or several, or
        a region or "next to" rule, which name no object to put things in or on)."""
        if self.region is not None or self.relation == "near":
            return None
        if self.place is not None:
            return next((o for o in scene if o.name == self.place), None)
        try:
            found = Grounder(scene).resolve(self.target, CONTAINERS + GRASPABLE)
        except GroundingError:
            return None
        return found[0] if len(found) == 1 else None


def parse_rule(text: str, override: bool = False) -> PlacementRule | None:
    """The placement rule a preference or a knowledge statement states, if it states one
    (in the whole text, or in one of its parts: "as a rule, cans go in the cyan bowl")."""
    t = resolve_there(normalize(text))
    t = _THAT_IS_WHERE.sub(r"\g<place>. \g<place> is where", t)  # "the bowl, that is where"
    parts = [p for p in re.split(r"\s*[,;:?]\s*|\s+-\s+|(?<=\w)[.!] ", t) if p != t]
    for candidates in (parts, [t]):  # the parts first, the whole only when no part says one
        found = []
        for part in candidates:
            said = _TAIL.sub("", _LEAD.sub("", part.strip()))
            rule = _rule_in(re.sub(r"^only ", "", said), text, override)
            if rule is not None:
                only = _ONLY.search(t) or _ONLY.search(text.lower())  # "just" is filler
                found.append(replace(rule, only=bool(only) and not ONCE.search(t)))
        if found:  # "the green block lives in the corner, green things always go there"
            return next((r for r in found if is_general(r)), found[0])
    return None


def _rule_in(t: str, text: str, override: bool) -> PlacementRule | None:
    for pattern in _RULE_PATTERNS:
        m = pattern.match(t)
        if m is None:
            continue
        said = m.group("objects")
        if said in COLORS:
            said = f"{said} things"  # "whenever something is blue": blue things
        objects = parse_np(said)
        target = parse_np(m.group("target"))
        rel = m.groupdict().get("rel")
        region = region_named(m.group("target")) if rel not in _NEAR else None
        if region is not None and _grounded(objects):  # "cans go in the far left corner"
            return PlacementRule(objects, target, "at", override, text, region=region)
        if not _grounded(objects) or not _grounded(target) or target.wants_many:
            continue
        if target.category is None:
            continue
        if rel in _NEAR:  # "the green block lives next to the cyan bowl"
            return PlacementRule(objects, target, "near", override, text)
        relation = "in" if target.category in CONTAINERS and rel != "on" else "on"
        if rel in _CONTAINER_RELATIONS:
            relation = "in"
        return PlacementRule(objects, target, relation, override, text)
    return None


def is_general(rule: PlacementRule) -> bool:
    """Whether a rule is about a kind of object ("cans", "anything blue", "the blue ones")
    rather than one object ("the red block")."""
    np_ = rule.objects
    if np_.plural or np_.every:
        return True
    return not np_.any_one and not re.match(r"^(?:the|this|that|a|an|one) ", np_.text)


def strip_replan_lead(text: str) -> str:
    """What a plan fix asks to do: "no, first clear the bowl" -> "clear the bowl"."""
    return _REPLAN_LEAD.sub("", normalize(text))


def _grounded(np_: NounPhrase) -> bool:
    return np_.names_thing and np_.unknown is None and not np_.pronoun


def resolve_retarget(correction: TaskCorrection) -> PlacementRule | None:
    """What "no, the other bowl" / "it should go in the green bowl" asks for, resolved
    against the object the last program moved and where it was then; None when the
    correction does not say which destination, or nothing had moved."""
    subject = moved_object(correction)
    if subject is None:
        return None
    phrase = _destination_phrase(correction.text)
    if phrase is None or phrase.category not in CONTAINERS + GRASPABLE:
        return None
    if _names_other_object(correction.text, phrase, subject):
        return None  # "no, the other block": the wrong object moved, see `resolve_swap`
    current = _support(subject, correction.scene)
    grounder = Grounder(
        [o for o in correction.scene if o.name != subject.name],
        [current.name] if current is not None else [],
    )
    try:
        found = grounder.resolve(replace(phrase, any_one=False), CONTAINERS + GRASPABLE)
    except GroundingError:
        return None
    if len(found) != 1:
        return None
    dest = found[0]
    relation = "in" if dest.category in CONTAINERS else "on"
    return PlacementRule(
        general_objects(subject),
        parse_np(f"the {dest.color} {dest.category}".replace("  ", " ")),
        relation,
        override=True,
        source=correction.text,
        subject=subject.name,
        place=dest.name,
    )


def said_instead(correction: TaskCorrection) -> PlacementRule | None:
    """The destination a correction names with "use the ..." besides what else it says
    ("keep everything out of the blue bowl, use the other one"), resolved as a retarget."""
    return resolve_retarget(correction) if _USE.search(normalize(correction.text)) else None


def resolve_swap(correction: TaskCorrection) -> tuple[ObjectState, ObjectState] | None:
    """What "no, the other block" / "not that block, the blue one" asks for: (the object
    the last program moved by mistake, the one the user meant); None when the correction
    is not about which object moved, or the one meant is unclear."""
    subject = moved_object(correction)
    phrase = _destination_phrase(correction.text)
    if subject is None or phrase is None:
        return None
    if not _names_other_object(correction.text, phrase, subject):
        return None
    others = [o for o in correction.scene if o.name != subject.name]
    try:
        found = Grounder(others, [subject.name]).resolve(
            replace(phrase, any_one=False, other=False), GRASPABLE
        )
    except GroundingError:
        return None
    return (subject, found[0]) if len(found) == 1 else None


def _names_other_object(text: str, phrase: NounPhrase, subject: ObjectState) -> bool:
    """Whether a retarget names another object of the moved one's kind rather than a place
    for it: "no, the other block" after moving a block, with no "in"/"on" before it."""
    return phrase.category == subject.category and not _DESTINATION.search(
        _LEAD.sub("", normalize(text))
    )


def _destination_phrase(text: str) -> NounPhrase | None:
    """The destination a retarget names: "in the green bowl", "the other bowl", or
    "wrong bowl, the green one" (the noun comes from another part of the sentence)."""
    t = _LEAD.sub("", normalize(text))
    said = [  # where to, not where not: "no cans in the white bowl, ever. use the other one"
        _LEAD.sub("", s)
        for s in sentences(normalize(text))
        if not re.search(r"\b(?:no(?!,)|not|never|nothing)\b", s)  # "no, ..." is no negation
    ]
    m = next(filter(None, map(_DESTINATION.search, said)), None)
    parts = [m.group("np")] if m else [p.strip() for p in re.split(r"[,;]", t) if p.strip()]
    phrases = [
        parse_np(re.sub(r"^(?:not (?:that|this)|wrong|it is|use|try)\s+", "", p)) for p in parts
    ]
    named = [p for p in phrases if p.category is not None]
    used = _USE.search(t) if m is None else None  # "use the pink bowl, the gray one is dirty"
    best = (
        (parse_np(used.group("np")) if used else None)
        or next((p for p in reversed(phrases) if p.other or p.colors), None)
        or (named[-1] if named else None)
    )
    if best is None:
        return None
    if best.category is None and named:
        best = replace(best, category=named[0].category, word=named[0].word)
    return best


def moved_object(correction: TaskCorrection) -> ObjectState | None:
    """The graspable object the program before the correction moved (the first one)."""
    by_name = {o.name: o for o in correction.scene}
    for name, _, _ in correction.moved:
        obj = by_name.get(name)
        if obj is not None and obj.category in GRASPABLE:
            return obj
    return None


def _support(obj: ObjectState, scene: Sequence[ObjectState]) -> ObjectState | None:
    """The container `obj` is in, or the object it stands on, if any."""
    for other in scene:
        if other.name == obj.name:
            continue
        if other.category in CONTAINERS and geometry.is_in(obj, other):
            return other
        if geometry.is_on(obj, other):
            return other
    return None


def put_backs(
    correction: TaskCorrection, scene: Sequence[ObjectState]
) -> list[tuple[ObjectState, tuple[float, float]]]:
    """For "put it back": each object the program before the correction moved that is not
    back yet, with the (x, y) it came from."""
    now = {o.name: o for o in scene}
    out = []
    for name, x, y in correction.moved:
        obj = now.get(name)
        if obj is None or obj.category not in GRASPABLE:
            continue
        lifted = obj.bottom_z > MOVED_M and _support(obj, scene) is None  # still held
        if lifted or math.dist(obj.position[:2], (x, y)) > MOVED_M:
            out.append((obj, (x, y)))
    return out


def general_objects(obj: ObjectState) -> NounPhrase:
    """The kind of object a retarget was about, as a phrase: "green bars"."""
    return parse_np(f"{obj.color} {plural(obj.category)}".strip())


def plain(np_: NounPhrase) -> bool:
    """Whether a phrase says no more than colours and a kind, so a statement made of those
    keeps its whole meaning ("blocks that are not red", "the bowl closest to the mat" do
    not)."""
    return not (
        np_.negated_colors
        or np_.exclude
        or (np_.superlative and not np_.sized)  # "big blocks" is a kind of size
        or np_.ordinal
        or np_.location
        or np_.side
        or np_.conjuncts
        or np_.other
        or (np_.count is not None and not np_.any_one)
    )


HABIT = re.compile(  # words that make a correction a rule for later tasks
    r"\b(?:always|from (?:now )?on|every time|each time|in (?:the )?future|next time|"
    r"as a rule|remember|from today|starting today|for future reference)\b"
)
SCOPE_QUESTION = "Do you mean every "
_THIS_ONE = re.compile(r"\b(?:this|that|just this|only this|only that)(?: one| block| thing)?\b")


def scope_question(correction: TaskCorrection) -> str | None:
    """The question to ask once when a correction teaches a habit about the object just
    moved without saying which objects it is about ("no, it always goes in the green
    bowl", "the red ones go there from now on"): every red object, or only red blocks?"""
    if correction.intent not in ("preference", "retarget"):
        return None
    if not HABIT.search(normalize(correction.text)):
        return None
    said = parse_rule(correction.text)
    if said is not None and not _vague(said.objects):
        return None
    subject = moved_object(correction)
    if subject is None or not subject.color:
        return None
    kinds = plural(subject.category)
    return f"{SCOPE_QUESTION}{subject.color} object, or only {subject.color} {kinds}?"


def habit_rule(correction: TaskCorrection, answer: str | None) -> PlacementRule | None:
    """What a habit taught about the object just moved holds for, once the scope question
    is answered: the objects the answer names ("every red object", "only red blocks"),
    none beyond this task for "just this one", else the moved object's colour and kind."""
    rule = resolve_retarget(correction)
    if rule is None:
        return None
    general = replace(rule, override=False, subject=None, place=None)
    if answer is None:
        return general
    subject = moved_object(correction)
    widened = _widened(answer, subject) if subject is not None else None
    if widened is not None:
        return replace(general, objects=widened)
    named = parse_np(normalize(answer.split(".")[0]))
    if (named.colors or named.category) and plain(named):
        return replace(general, objects=replace(named, plural=True, any_one=False))
    return None if _THIS_ONE.search(normalize(answer)) else general


_ANY_KIND = re.compile(
    r"\b(?:any|every|all|whatever|no matter (?:the|what)) (?:kinds?|types?|sorts?|shapes?)\b"
    r"|\bnot (?:just|only) (?:the )?\w+s?\b|\b(?:anything|everything|all things)\b"
    r"|\b(?:whatever|no matter what) (?:it is|they are)\b|\bof any kind\b"
)
_ANY_COLOUR = re.compile(
    r"\b(?:any|every|all|whatever|no matter (?:the|what)|regardless of(?: the)?) colou?rs?\b"
)


def _widened(answer: str, subject: ObjectState) -> NounPhrase | None:
    """The objects a scope answer widens a habit to: "anything blue, whatever kind" is every
    blue object, "every bar, whatever colour" every bar; None when it says neither."""
    said = answer.lower()
    any_kind, any_colour = bool(_ANY_KIND.search(said)), bool(_ANY_COLOUR.search(said))
    if any_kind == any_colour:
        return None
    if any_kind:
        return parse_np(f"{subject.color} objects")
    return parse_np(plural(subject.category))


def _vague(np_: NounPhrase) -> bool:
    """Whether a rule's subject leaves its scope open: "it", "this one", "the red ones"."""
    return np_.pronoun or (np_.category is None and bool(re.search(r"\bones?\b", np_.text)))
