"""Reading a correction: what kind it is and what it changes.

A correction is one of
- **task**-level: the wrong object or target ("no, the other bowl"), the wrong plan
  ("first clear the bowl"), a preference ("red things always go in the green bowl"), what
  a word of the user's means ("when I say aside, I mean the left side"), a never-rule
  ("never put cans in the white bowl"), a stacking order ("blue always goes at the bottom,
  then red"), forgetting ("forget what I said about the white bowl"), or undo ("put it
  back");
- **skill**-level: a parameter change for a skill on this object ("grasp it lower",
  "squeeze harder", "slower", "rotate the gripper 90 degrees", "a bit more to the left",
  "lower it before letting go"), with quantities ("3 cm", "a bit", "a lot") as numbers;
- **stop**.
Patterns read the common phrasings; MiniLM embeddings match other phrasings to exemplars.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from memory.embedder import MiniLMEmbedder
from planner.language.exemplars import ExemplarMatcher
from planner.language.forget import parse_forget
from planner.language.lexicon import normalize, normalize_rule, resolve_there, spell_out_it
from planner.language.meanings import parse_meaning
from planner.language.never_rules import parse_never
from planner.language.orders import AS_ARRANGED, parse_order, parse_row_moves
from planner.language.rules import HABIT, is_general, parse_rule

SMALL, LARGE = 0.01, 0.03  # metres for "a bit" / "a lot" when no number is given
MANNER_SLOW = (
    r"\b(slower|slowly|slow down|go slow|careful|carefully|take it easy|too fast|easy does it)\b"
)
MANNER = re.compile(MANNER_SLOW + r"|\b(gentle|gently|softly|smoothly|steady|steadily)\b")
"""Words about how to move, never a request to stop ("move slowly", "gently now")."""
FORCE_FACTOR, SPEED_FACTOR = 3.0, 0.5


@dataclass(frozen=True)
class ParamChange:
    """One parameter change: `op` is ``set``, ``add`` or ``scale``."""

    skill: str
    param: str
    op: str
    value: float | tuple[float, float]

    def apply(self, current: float | tuple[float, float] | None) -> float | tuple[float, float]:
        """The new value given the current one (None: the skill's default applies)."""
        if self.op == "set" or (current is None and self.op != "add"):
            return self.value
        if isinstance(self.value, tuple):
            base = current if isinstance(current, tuple) else (0.0, 0.0)
            return (base[0] + self.value[0], base[1] + self.value[1])
        base = 0.0 if current is None else float(current)
        return base * self.value if self.op == "scale" else base + self.value

    def describe(self) -> str:
        verb = {"set": "=", "add": "+=", "scale": "*="}[self.op]
        return f"{self.skill}.{self.param} {verb} {self.value}"


@dataclass(frozen=True)
class Correction:
    """An interpreted correction.

    Attributes:
        text: what the user said.
        kind: ``task``, ``skill`` or ``stop``.
        intent: for task corrections ``retarget``, ``replan``, ``preference``, ``meaning``
            (`planner.language.meanings`), ``never`` (`planner.language.never_rules`),
            ``order`` (`planner.language.orders`), ``forget`` (`planner.language.forget`),
            ``undo`` or ``unclear`` (the planner asks);
            ``param`` for skill corrections; ``stop``.
        changes: parameter changes (skill corrections).
        rest: the part of the text that names objects or targets (task corrections).
        meta: ``source`` says what read it: ``pattern``, ``embedding`` (MiniLM nearest
            exemplar), ``default`` (nothing matched) or ``llm`` (the planner's model).
    """

    text: str
    kind: str
    intent: str
    changes: tuple[ParamChange, ...] = ()
    rest: str = ""
    meta: dict = field(default_factory=dict)


_A_LOT = re.compile(r"\b(a lot|much|way|far|significantly)\b")
_AMOUNT_RE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<u>cm|mm|m|n|newtons?|deg|degrees?)\b")


def _amount(text: str, default: float) -> float:
    """A quantity in metres (or radians for degrees); "a lot" triples the default."""
    m = _AMOUNT_RE.search(text)
    if m:
        n, u = float(m.group("n")), m.group("u")
        if u in ("cm",):
            return n / 100
        if u == "mm":
            return n / 1000
        if u.startswith("deg"):
            return math.radians(n)
        return n
    if _A_LOT.search(text):
        return default * 3
    return default


def _explicit(text: str, unit: str) -> float | None:
    m = _AMOUNT_RE.search(text)
    return float(m.group("n")) if m and m.group("u").startswith(unit) else None


def _skill_changes(t: str) -> tuple[ParamChange, ...]:
    """Parameter changes a skill-level correction asks for, or () when it is not one."""
    changes: list[ParamChange] = []
    if re.search(
        r"\b(grasp|grab|grip|pick|hold|take)\b.*\b(lower|further down|closer to the "
        r"bottom|near the bottom)\b",
        t,
    ):
        changes.append(ParamChange("pick", "grasp_height", "add", -_amount(t, SMALL)))
    elif re.search(
        r"\b(grasp|grab|grip|pick|hold|take)\b.*\b(higher|further up|near the top)\b", t
    ):
        changes.append(ParamChange("pick", "grasp_height", "add", _amount(t, SMALL)))
    newtons = _explicit(t, "n")
    if newtons or re.search(
        r"\b(harder|tighter|tighten|firmer|firmly|firm grip|tight grip|more force|stronger|"
        r"more tightly|squeeze|"
        r"clamp|too loose|more grip|slipping|slips|sliding out|slides out|keeps sliding)\b",
        t,
    ):
        changes.append(
            ParamChange("pick", "force", "set", newtons)
            if newtons
            else ParamChange("pick", "force", "scale", FORCE_FACTOR)
        )
    elif re.search(r"\b(gentler|gently|softer|less force|lighter grip|too hard)\b", t):
        changes.append(ParamChange("pick", "force", "scale", 0.5))
    if re.search(MANNER_SLOW, t):
        factor = SPEED_FACTOR**2 if _A_LOT.search(t) else SPEED_FACTOR
        changes += [ParamChange(s, "speed", "scale", factor) for s in ("pick", "place")]
    elif re.search(r"\b(faster|quicker|speed up|too slow)\b", t):
        changes += [ParamChange(s, "speed", "scale", 1.5) for s in ("pick", "place")]
    if re.search(r"\b(rotate|turn|twist)\b", t):
        angle = _amount(t, math.pi / 2) if re.search(r"\d", t) else math.pi / 2
        changes.append(ParamChange("pick", "yaw", "add", math.remainder(angle, 2 * math.pi)))
    if re.search(
        r"\b(lower it|let go lower|release it lower|closer to the (?:table|surface))\b"
        r"|\bbefore (?:letting go|releasing|dropping)\b",
        t,
    ):
        changes.append(ParamChange("place", "release_height", "set", 0.0))
    elif re.search(r"\b(drop it from higher|release it higher|let go higher)\b", t):
        changes.append(ParamChange("place", "release_height", "add", _amount(t, SMALL)))
    offsets = {
        "left": (0.0, 1.0),
        "right": (0.0, -1.0),
        "further": (1.0, 0.0),
        "back": (1.0, 0.0),
        "closer": (-1.0, 0.0),
        "toward me": (-1.0, 0.0),
        "forward": (1.0, 0.0),
    }
    m = re.search(
        r"\b(?:more )?(?:to the )?(left|right|further|back|closer|toward me|forward)\b", t
    )
    if m and re.search(r"\b(more|bit|little|too far|further|cm|mm)\b", t) and not changes:
        ux, uy = offsets[m.group(1)]
        d = _amount(t, SMALL * 2)
        changes.append(ParamChange("place", "offset", "add", (ux * d, uy * d)))
    return tuple(changes)


_MANNER_WORDS = re.compile(
    MANNER_SLOW + r"|\b(gentle|gently|softly|firmly|tightly|firm grip|tight grip|faster|quickly)\b"
)


def manner_changes(text: str) -> tuple[ParamChange, ...]:
    """The speed and force a task's wording asks for: "carefully" slower, "gently" a softer
    grip, "firmly" a harder one."""
    words = " ".join(m.group(0) for m in _MANNER_WORDS.finditer(text.lower()))
    if not words:
        return ()
    return tuple(c for c in _skill_changes(words) if c.param in ("speed", "force"))


EXEMPLARS: dict[str, tuple[str, ...]] = {
    "stop": ("stop", "stop now", "halt", "freeze", "do not move", "wait, stop that"),
    "undo": ("put it back", "undo that", "return it to where it was", "move it back"),
    "preference": (
        "red things always go in the green bowl",
        "from now on use the big bowl",
        "I prefer blocks in the blue bowl",
        "cans always belong on the mat",
    ),
    "retarget": (
        "no, the other bowl",
        "wrong bowl, the green one",
        "not that block",
        "it should go in the green bowl",
        "no, put it on the mat",
    ),
    "replan": (
        "first clear the bowl",
        "do the red one before the blue one",
        "you need to empty the bowl first",
    ),
    "param": (
        "grasp it lower",
        "squeeze harder",
        "slower please",
        "a bit more to the left",
        "rotate the gripper",
        "hold it tighter",
        "lower it before letting go",
    ),
}
THRESHOLD = 0.5


_ALSO = re.compile(r"\b(?:as well|too|also)\b|^and (?:the|that|this)\b")
_FOR_LATER = re.compile(  # a rule said to be kept: "for later", "its home is", "lives"
    r"\b(?:for later|going forward|from here on|so you know|home is|(?:should|must|will) live)\b"
)
_ORDER = re.compile(
    r"^(?:(?:could|can|would|will) you )?(?:put|place|move|pop|stick|set|drop|stack|take|bring|"
    r"push|slide|line up|line|sort|clear|tidy|arrange|build|swap|stack up|pile)\b"
    r"(?!.*\b(?:always|from now on|from on|every time|lives?)\b)"
)
_PARTS = re.compile(r"\s+[-–—]+\s+|(?<=\w)[.!?;]\s+|(?<=\w)[.!?]$")
_LIVES = re.compile(r"\b(?:lives?|belongs?|(?:its|their) (?:usual |own )?(?:home|spot|place))\b")
_SAID_AGAIN = re.compile(  # a lesson said again after it: "that's where it should live"
    r"^(?:and )?(?:that|this|there) is (?:where|how|the place|its home)\b"
)
_NOTHING_ELSE = re.compile(
    r"^(?:and |so )?nothing else (?:ever )?(?:goes|go|belongs|should go|may go|is to go) "
    r"(?:in|into|on|inside) (?:it|there|that one|them)$"
)
_NOT = re.compile(r"\b(?:no|not|wrong|instead)\b")
_TO_PLACE = re.compile(r"\b(?:in|into|inside|on|onto|on top of) (?:the|a|an) [a-z ]+$")


def _states_rule(part: str) -> bool:
    """Whether a part of an instruction states where a kind of thing goes ("brown things go
    in the pink bowl") rather than ordering a move ("put the brown block in ...")."""
    rule = parse_rule(part)
    return rule is not None and is_general(rule) and not _ORDER.match(normalize_rule(part))


class CorrectionInterpreter:
    """Interprets corrections with patterns, falling back on MiniLM similarity."""

    def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
        self._exemplars = ExemplarMatcher(EXEMPLARS, THRESHOLD, embedder)

    def interpret(self, text: str) -> Correction:
        """The correction `text` is, with ``meta["source"]`` saying what read it."""
        found = self._interpret(text)
        if "source" not in found.meta:
            found.meta["source"] = "pattern"
        return found

    def teaching(self, text: str) -> Correction | None:
        """The reading of an instruction that teaches, in whole or in part ("from now on,
        cans go in the cyan bowl", "never put cans in the white bowl", "when I say tidy up,
        I mean ...", "forget what I said about ...", "put it on the pink mat - pink things
        always go there"), else None; `orders_beside` gives what it also asks to be done."""
        lessons = self._lessons(self._parts(text))
        if not lessons:
            return None
        found = next(iter(lessons.values()))
        taught = Correction(text, found.kind, found.intent, rest=normalize(text))
        taught.meta["source"] = "pattern"
        return taught

    def orders_beside(self, text: str) -> str:
        """The parts of a teaching instruction that ask for motion now ("stick the brown
        block on the pink mat - brown things always go there from now on" -> "stick the
        brown block on the pink mat"), normalised, with "there" spelt out from the parts
        before, and "it" for the thing a rule before it was about ("the orange tin belongs in
        the white pot. pop it in there"); "" when it only teaches."""
        parts = self._parts(text)
        lessons = self._lessons(parts)
        orders, subject = [], None
        for i, part in enumerate(parts):
            if i in lessons:  # "it" in an order after it is what the lesson was about
                rule = parse_rule(part)
                forgot = parse_forget(part) if lessons[i].intent == "forget" else None
                if rule is not None:
                    subject = rule.objects.text
                elif forgot:  # "forget what I said about the red mat. put the bar on it"
                    subject = f"the {forgot}"
                continue
            before = normalize(" . ".join(parts[:i]))
            said = normalize(part)
            if subject is not None:
                said = spell_out_it(said, subject)
            joined = resolve_there(f"{before} . {said}", strict=True) if before else said
            orders.append(joined.removeprefix(f"{before} . ") if before else said)
        return " . ".join(o for o in orders if o)

    @staticmethod
    def _parts(text: str) -> list[str]:
        return [p for p in _PARTS.split(text.lower()) if p.strip(" ,.")]

    def _lessons(self, parts: list[str]) -> dict[int, Correction]:
        """The parts that teach, by index, with their reading; a part that names its place
        by what came before ("- that's where yellow things live", "- I call that corner the
        garage") is read together with the parts before it."""
        lessons = {}
        for i, part in enumerate(parts):
            found = self._lesson(part)
            before = " - ".join(parts[:i])
            if found is not None and before and parse_rule(part) is None:
                found = self._lesson(f"{before} - {part}") or found  # "- that's where ... live"
            if found is None and before and self._lesson(before) is None:
                found = self._lesson(f"{before} - {part}")
                if found is not None:  # "brown things go in the pink bowl - only ..., mind"
                    lessons |= {j: found for j in range(i) if _states_rule(parts[j])}
            elif found is None and lessons and _SAID_AGAIN.search(normalize_rule(part)):
                found = lessons[max(lessons)]  # "... home is next to X. that's where it lives"
            joined = " - ".join(parts[: i + 1])
            if (  # "- that's how I always want them": the order said before
                found is not None
                and found.intent == "preference"
                and parse_rule(part) is None
                and (parse_order(joined) is not None or AS_ARRANGED.search(normalize(part)))
            ):
                found = Correction(joined, "task", "order", rest=normalize(joined))
            if found is not None:
                lessons[i] = found
        return lessons

    def _lesson(self, part: str) -> Correction | None:
        """What a part of an instruction teaches (a rule, a word, a never, a forget, an
        order of things), or None when it asks for motion or teaches nothing."""
        t = normalize_rule(part)
        if _NOTHING_ELSE.match(t):  # "nothing else goes in it": the rule before, said again
            return Correction(part, "task", "preference", rest=t)
        found = self._by_pattern(part)
        if found is None and (HABIT.search(t) or _FOR_LATER.search(t)) and parse_rule(part):
            return Correction(part, "task", "preference", rest=t)  # "for later: X's home is ..."
        if found is None or found.kind != "task":
            return None
        if found.intent in ("forget", "meaning", "never"):
            return found
        if _ORDER.match(t) or found.intent not in ("preference", "order"):
            return None
        if found.intent == "order":
            return found if parse_order(part) is not None else None
        rule = parse_rule(part)
        scoped = rule is not None and rule.only and is_general(rule)  # "only the white ones"
        habitual = HABIT.search(t) or _FOR_LATER.search(t) or _LIVES.search(t) or scoped
        return found if habitual else None

    def _interpret(self, text: str) -> Correction:
        found = self._by_pattern(text)
        if found is not None:
            return found
        t = normalize(text)
        intent = self._exemplars.nearest(t)
        if intent == "stop" and MANNER.search(text.lower()):  # manner words are not a stop
            intent = "param"
        embedded = {"source": "embedding"}
        if intent == "param":  # sounds like a skill correction, but no parameter was named
            return Correction(text, "task", "unclear", rest=t, meta=embedded)
        if intent is not None:
            kind = "stop" if intent == "stop" else "task"
            return Correction(text, kind, intent, rest=t, meta=embedded)
        return Correction(text, "task", "retarget", rest=t, meta={"source": "default"})

    @staticmethod
    def _by_pattern(text: str) -> Correction | None:
        """The reading the patterns give, or None where only similarity could read it."""
        t = normalize(text)
        stop_words = r"(?:no,? )?(?:stop|halt|freeze|wait)(?: (?:now|it|that|please|moving))*"
        if re.fullmatch(stop_words, t):
            return Correction(text, "stop", "stop")
        if parse_forget(text) is not None:
            return Correction(text, "task", "forget", rest=t)
        if parse_meaning(text) is not None:
            return Correction(text, "task", "meaning", rest=t)
        if parse_never(text) is not None:
            return Correction(text, "task", "never", rest=t)
        if parse_order(text) is not None or parse_row_moves(text):
            return Correction(text, "task", "order", rest=t)
        if re.search(r"\b(put|move|place) (it|them|that) back\b|\bundo\b", t):
            return Correction(text, "task", "undo")
        if re.search(r"^(?:no,? )?(?:first|before that|you need to first|start by)\b", t):
            return Correction(text, "task", "replan", rest=re.sub(r"^(?:no,? )?", "", t))
        changes = _skill_changes(t) or _skill_changes(" ".join(text.lower().split()))
        if changes:  # the raw text too: normalising drops manner words ("slowly", "gently")
            return Correction(text, "skill", "param", changes=changes)
        if re.search(
            r"\b(always|from now on|in future|in the future|every time|each time|whenever|"
            r"any ?time|i prefer|should always|belong)\b",
            t,
        ):
            return Correction(text, "task", "preference", rest=t)
        rule = parse_rule(text)
        habitual = re.search(r"\b(?:lives?|belongs?|its (?:usual |own )?(?:spot|place|home))\b", t)
        if rule is not None and (is_general(rule) or habitual):
            return Correction(text, "task", "preference", rest=t)  # "cans go in ...", "it lives"
        if _ALSO.search(t) and _TO_PLACE.search(t) and not _NOT.search(t):
            # "the bar as well, into the yellow bowl": one more thing to do
            return Correction(text, "task", "replan", rest=t)
        if re.search(
            r"\b(no|not|wrong|other|instead|should (?:go|be))\b|\b(?:use|try) the\b|"
            r"\b(?:put|place|move|set|stick|drop) (?:it|that|them) (?:in|into|on|onto|inside)\b",
            t,
        ):
            return Correction(text, "task", "retarget", rest=t)
        return None
