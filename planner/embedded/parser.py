"""Instructions to task frames: split into clauses, recognise each clause's intent and slots.

Structure (prepositions, quantities, places) is read with patterns; the verb's intent is
matched to exemplar sentences with MiniLM embeddings when no pattern names it, so
paraphrases ("could you get the crimson cube into the dish") land on the same frame.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from planner.embedded.grounding import NounPhrase, parse_np
from planner.embedded.lexicon import (
    AMOUNTS_M,
    DIRECTION_VECTORS,
    REGION_WORDS,
    RELATION_WORDS,
    normalize,
)


@dataclass(frozen=True)
class Target:
    """Where something goes: into/onto an object, next to one, a region, or a direction."""

    kind: str  # "in" | "on" | relation name | "between" | "region" | "offset" | "away"
    ref: NounPhrase | None = None
    ref2: NounPhrase | None = None
    region: str | None = None
    distance: float | None = None
    direction: tuple[float, float] | None = None


@dataclass(frozen=True)
class Frame:
    """One thing to do, with its slots."""

    intent: str  # move | stack | push | line | triangle | match | spread | ask | unknown
    objects: NounPhrase | None = None
    target: Target | None = None
    order: tuple[NounPhrase, ...] = ()
    side: str | None = None
    text: str = ""


@dataclass
class ParseResult:
    frames: list[Frame] = field(default_factory=list)
    problem: str | None = None


MOVE_VERBS = (
    "put",
    "place",
    "move",
    "set",
    "drop",
    "transfer",
    "bring",
    "take",
    "get",
    "lay",
    "position",
    "stick",
    "throw",
    "toss",
    "carry",
    "relocate",
    "shift",
    "return",
    "leave",
    "load",
    "pop",
    "rest",
    "pick up",
    "pick",
    "grab",
    "fill",
    "deposit",
    "store",
    "hand",
    "give",
    "plop",
    "park",
    "slot",
    "insert",
)
PUSH_VERBS = ("push", "slide", "nudge", "shove", "poke", "scoot", "drag")
OTHER_VERBS = (
    "stack",
    "pile",
    "line",
    "arrange",
    "sort",
    "group",
    "organize",
    "organise",
    "make",
    "build",
    "form",
    "match",
    "gather",
    "collect",
    "spread",
    "distribute",
    "separate",
    "align",
    "lay out",
    "construct",
    "create",
    "clear",
    "tidy",
)
ALL_VERBS = MOVE_VERBS + PUSH_VERBS + OTHER_VERBS
_VERB_ALT = "|".join(sorted((re.escape(v) for v in ALL_VERBS), key=len, reverse=True))
_SPLIT_RE = re.compile(
    r"\s*(?:;|\.\s|,?\s*\band then\b|,?\s*\bthen\b|,?\s*\bafter that\b|,?\s*\bafterwards\b|"
    r",?\s*\bfinally\b|,?\s*\bnext\b|,?\s*\blastly\b|,\s*and\s+(?=(?:" + _VERB_ALT + r")\b)|"
    r"\s+and\s+(?=(?:" + _VERB_ALT + r")\b)|,\s*(?=(?:" + _VERB_ALT + r")\b))\s*"
)
_LEAD_RE = re.compile(
    r"^(?:first|first of all|now|also|and|ok|okay|then|i want you to|"
    r"i would like you to|go ahead and|try to|you should|let us)\s+"
)

_REGION_ALT = sorted(
    ((w, r) for r, ws in REGION_WORDS.items() for w in ws), key=lambda p: len(p[0]), reverse=True
)
_DISTANCE_RE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<u>cm|mm|m)\b")
_RELATION_ALT = sorted(
    ((w, r) for r, ws in RELATION_WORDS.items() for w in ws), key=lambda p: len(p[0]), reverse=True
)


def split_clauses(text: str) -> list[str]:
    parts = [p.strip(" ,.") for p in _SPLIT_RE.split(normalize(text))]
    return [_LEAD_RE.sub("", p) for p in parts if p and p.strip(" ,.")]


def parse_distance(text: str) -> float | None:
    m = _DISTANCE_RE.search(text)
    if m:
        scale = {"cm": 0.01, "mm": 0.001, "m": 1.0}[m.group("u")]
        return float(m.group("n")) * scale
    for phrase, metres in sorted(AMOUNTS_M.items(), key=lambda p: len(p[0]), reverse=True):
        if re.search(rf"\b{phrase}\b", text):
            return metres
    return None


def find_region(text: str) -> tuple[str, int, int] | None:
    for words, region in _REGION_ALT:
        m = re.search(rf"\b(?:the )?{re.escape(words)}\b", text)
        if m:
            return region, m.start(), m.end()
    return None


def find_direction(text: str) -> tuple[float, float] | None:
    for words in sorted(DIRECTION_VECTORS, key=len, reverse=True):
        if re.search(rf"\b{words}\b", text):
            return DIRECTION_VECTORS[words]
    return None


_PREP_RE = re.compile(
    r"\b(?P<prep>into|inside of|inside|in|onto|on top of|on to|on|atop|to|over|at)\s+"
    r"(?=(?P<ref>(?:the|a|an|it|them|its|their|each)\b.*)$)"
)
_SUPERLATIVE_BEFORE = re.compile(r"\b(?:closest|nearest|furthest|farthest|next|close)\s*$")


def _last_preposition(rest: str) -> re.Match[str] | None:
    """The rightmost "in/on/to <the thing>" whose object names a thing, so that
    "the block on the left in the bowl" splits before "in the bowl"."""
    best = None
    for m in _PREP_RE.finditer(rest):
        if _SUPERLATIVE_BEFORE.search(rest[: m.start()]):
            continue
        ref = parse_np(m.group("ref"))
        if (
            ref.category
            or ref.pronoun
            or re.search(r"\b(?:one|ones|thing|object|item)s?\b", ref.text)
        ):
            best = m
    return best


def _strip_verb(clause: str) -> tuple[str, str]:
    m = re.match(rf"^(?P<verb>{_VERB_ALT})\b\s*(?P<rest>.*)$", clause)
    if m:
        return m.group("verb"), m.group("rest")
    return "", clause


def parse_target(rest: str) -> tuple[str, Target | None]:
    """Split "X <preposition> Y" into the object text and a `Target`."""
    m = re.search(r"\bbetween\b\s+(?P<a>.+?)(?:\s+\band\b\s+(?P<b>.+))?$", rest)
    if m:
        second = parse_np(m.group("b")) if m.group("b") else None
        return rest[: m.start()], Target("between", parse_np(m.group("a")), second)
    distance = parse_distance(rest)
    for words, relation in _RELATION_ALT:
        m = re.search(rf"\b{re.escape(words)}\b\s+(?P<ref>(?:the|a|an|it|them|each)\b.*)$", rest)
        if m:
            head = _DISTANCE_RE.sub("", rest[: m.start()])
            head = re.sub(r"\b(?:away|apart)\b", "", head).strip()
            return head, Target(relation, parse_np(m.group("ref")), distance=distance)
    m = re.search(r"\b(?:away from|from)\s+(?P<ref>the\b.*)$", rest)
    if m and distance is not None:
        head = _DISTANCE_RE.sub("", rest[: m.start()]).replace(" away", "").strip()
        return head, Target("away", parse_np(m.group("ref")), distance=distance)
    region = find_region(rest)
    if region is not None:
        name, start, _ = region
        head = re.sub(
            r"\s*\b(?:in|into|to|at|on|onto|toward|towards|over to|in the direction of)"
            r"(?: the)?\s*$",
            "",
            rest[:start],
        ).strip()
        return head, Target("region", region=name)
    m = re.search(
        r"\b(?:to|towards|toward)(?: the)? (?P<dir>left|right|front|back)(?: side)?$", rest
    )
    if m and region is None:
        head = re.sub(r"\bby\b", "", _DISTANCE_RE.sub("", rest[: m.start()])).strip()
        vector = DIRECTION_VECTORS[m.group("dir")]
        return head, Target("offset", direction=vector, distance=distance)
    m = _last_preposition(rest)
    if m:
        prep = m.group("prep")
        kind = "in" if prep in ("into", "in", "inside", "inside of") else "on"
        if prep in ("to", "over", "at"):
            kind = "to"
        return rest[: m.start()], Target(kind, parse_np(m.group("ref")))
    direction = find_direction(rest)
    if direction is not None:
        head = re.sub(
            r"\b(?:to the|towards the|toward the|to|towards|toward)?\s*\b(?:"
            + "|".join(sorted((re.escape(w) for w in DIRECTION_VECTORS), key=len, reverse=True))
            + r")\b.*$",
            "",
            _DISTANCE_RE.sub("", rest),
        )
        head = re.sub(r"\b(?:by|a bit|a little|slightly|a lot)\b", "", head)
        return head.strip(), Target("offset", direction=direction, distance=distance)
    return rest, None


_STACK_FILLER = re.compile(
    r"\b(?:up|on top of each other|one on top of (?:the )?another|"
    r"(?:in|into) an? (?:tower|stack|pile)|"
    r"an? (?:tower|stack|pile)(?: of| from| with| using| out of)?|"
    r"the (?:tower|stack|pile) (?:of|from|with))\b"
)
_STACK_ORDER = re.compile(
    r"\b(?:in (?:that|this|the given|the same) order|(?:going |ordered )?from (?:the )?bottom to "
    r"(?:the )?top|bottom to top|in order)\b[:,]?"
)
_EXCLUSION = re.compile(r"\b(?:except|but|other than|apart from|excluding)\b")


def _frame_stack(clause: str, rest: str) -> Frame:
    base = top = None
    m = re.search(r"\bwith (?P<np>.+?) (?:at|on) the bottom\b", rest)
    if m:
        base, rest = parse_np(m.group("np")), rest[: m.start()] + rest[m.end() :]
    m = re.search(r"\bwith (?P<np>.+?) (?:at|on) (?:the )?top\b", rest)
    if m:
        top, rest = parse_np(m.group("np")), rest[: m.start()] + rest[m.end() :]
    ordered = bool(_STACK_ORDER.search(rest))
    listed = ""
    m = re.search(r"\bfrom (?:the )?bottom to (?:the )?top\b[:,]?\s*(?P<list>.+)$", rest)
    if m:
        listed, rest = m.group("list"), rest[: m.start()]
    rest = re.sub(r"\s+", " ", _STACK_ORDER.sub(" ", _STACK_FILLER.sub(" ", rest))).strip(" ,")
    head, target = parse_target(rest)
    if target is not None and target.kind in ("on", "to", "in") and target.ref is not None:
        return Frame("stack", objects=parse_np(head), target=target, text=clause)
    head = listed or head
    order: tuple[NounPhrase, ...] = ()
    items = [p for p in re.split(r"\s*(?:,|\band\b|\bthen\b)\s*", head) if p.strip()]
    if len(items) > 1 and not _EXCLUSION.search(head) and all(_names_thing(p) for p in items):
        order = tuple(parse_np(p) for p in items)
    objects = parse_np(head) if head else parse_np("all blocks")
    if not order and ordered and len(objects.colors) > 1:
        order = tuple(
            replace(objects, text=c, colors=(c,), plural=False, every=False) for c in objects.colors
        )
    if base is not None:
        order = (base, *order)
    if top is not None:
        order = (*order, top)
    return Frame("stack", objects=objects, order=order, text=clause)


def _names_thing(text: str) -> bool:
    """Whether a list item names an object by itself ("the red block", "green", "the can")."""
    np_ = parse_np(text)
    return bool(np_.category or np_.colors or np_.pronoun)


def _frame_line(clause: str, rest: str) -> Frame:
    side = None
    region = find_region(rest)
    if region is not None and region[0].endswith("side"):
        side = region[0]
        rest = rest[: region[1]]
    rest = re.sub(
        r"\b(?:up|in a (?:straight )?(?:line|row)|into a (?:straight )?(?:line|row)|"
        r"a (?:straight )?(?:line|row) (?:of|with|from|using)|along|on|at|in)\b",
        " ",
        rest,
    )
    return Frame("line", objects=parse_np(rest.strip() or "all blocks"), side=side, text=clause)


def _frame_shape(clause: str, rest: str) -> Frame:
    rest = re.sub(
        r"\b(?:in|into|a|as|triangle|triangular|shape|formation|(?:make|form) a|"
        r"of|with|from|using)\b",
        " ",
        rest,
    )
    return Frame("triangle", objects=parse_np(rest.strip() or "all blocks"), text=clause)


def _frame_match(clause: str, rest: str) -> Frame:
    m = re.search(
        r"\b(?:in|into|on|onto|to|with)\s+(?:the\s+)?(?P<ref>(?:\w+\s+)?(?:bowls?|zones?|"
        r"dish(?:es)?|mats?|areas?|squares?|containers?))\b",
        rest,
    )
    containers = parse_np("all " + m.group("ref")) if m else parse_np("all bowls and zones")
    head = rest[: m.start()] if m else rest
    head = re.sub(r"\b(?:by colou?r|according to (?:their )?colou?r|by their colou?r)\b", "", head)
    return Frame(
        "match",
        objects=parse_np(head.strip() or "all blocks"),
        target=Target("in", containers),
        text=clause,
    )


def _frame_spread(clause: str, rest: str) -> Frame:
    head = re.split(r"\b(?:in|into|to|across|at|over|one (?:in|per|to|at))\b", rest)[0]
    regions = "corners" if "corner" in rest else "sides"
    return Frame(
        "spread", objects=parse_np(head.strip() or "all blocks"), side=regions, text=clause
    )


def _frame_push(clause: str, rest: str) -> Frame:
    distance = parse_distance(rest)
    direction = find_direction(rest)
    m = re.search(r"\b(?:toward|towards|to|at)\s+(?P<ref>the\b.*)$", rest)
    if direction is None and m and find_region(rest) is None:
        return Frame(
            "push",
            objects=parse_np(rest[: m.start()]),
            target=Target("toward", parse_np(m.group("ref")), distance=distance),
            text=clause,
        )
    head = re.split(
        r"\b(?:to the|towards the|toward the|to|towards|toward|by|a bit|a little|"
        r"slightly|a lot|\d)",
        rest,
    )[0]
    for words in DIRECTION_VECTORS:
        head = re.sub(rf"\b{words}\b\s*$", "", head.strip())
    return Frame(
        "push",
        objects=parse_np(head.strip()),
        target=Target("offset", direction=direction, distance=distance),
        text=clause,
    )


def _frame_move(clause: str, rest: str) -> Frame:
    head, target = parse_target(rest)
    head = re.sub(r"^(?:up\s+)?", "", head.strip())
    head = re.sub(r"\s+\b(?:down|up|back|over|away|off)$", "", head)
    head = re.sub(r"\s+\b(?:and (?:put|place|drop|set) (?:it|them))$", "", head)
    if target is None:
        return Frame("unknown", objects=parse_np(head) if head else None, text=clause)
    return Frame("move", objects=parse_np(head), target=target, text=clause)


FrameBuilder = Callable[[str, str], Frame]
SHAPE_RULES: tuple[tuple[re.Pattern[str], FrameBuilder], ...] = (
    (re.compile(r"\b(?:triangle|triangular)\b"), _frame_shape),
    (
        re.compile(
            r"\b(?:same colou?r|matching|its colou?r|their colou?r|corresponding|"
            r"by colou?r|own colou?r|colou?rs match|match(?:es)? (?:its|their|the))\b"
        ),
        _frame_match,
    ),
    (
        re.compile(
            r"\b(?:each|every|different|separate) (?:corner|side)s?\b|\bone (?:in|per|to|at) "
            r"(?:each|every) (?:corner|side)\b|\bspread\b.*\bcorners?\b|"
            r"\b(?:four|4|all|different) corners\b"
        ),
        _frame_spread,
    ),
    (
        re.compile(r"\b(?:stack|stacking|pile|tower|on top of each other|one on top of another)\b"),
        _frame_stack,
    ),
    (re.compile(r"\b(?:line|row|lined|align)\b"), _frame_line),
)


def parse_clause(clause: str) -> Frame:
    """The frame of one clause; `unknown` when no rule understands it."""
    verb, rest = _strip_verb(clause)
    for pattern, builder in SHAPE_RULES:
        if pattern.search(clause):
            return builder(clause, rest)
    if verb in PUSH_VERBS:
        return _frame_push(clause, rest)
    if verb in MOVE_VERBS or verb == "":
        return _frame_move(clause, rest)
    return _frame_move(clause, rest)


def parse_instruction(text: str) -> ParseResult:
    clauses = split_clauses(text)
    if not clauses:
        return ParseResult(problem="the instruction is empty")
    frames: list[Frame] = []
    for clause in clauses:
        frame = parse_clause(clause)
        previous = frames[-1] if frames else None
        if previous is not None and previous.intent == "stack" and not _strip_verb(clause)[0]:
            # "..., then the pink one, then the cyan one on top": the tower continues
            item = re.sub(r"\b(?:on top|at the top|on the top|above|over it)\b", "", clause)
            frames[-1] = replace(previous, order=(*previous.order, parse_np(item)))
            continue
        if (
            previous is not None
            and previous.intent == "unknown"
            and previous.objects
            and frame.objects is not None
            and frame.objects.pronoun
        ):
            # "pick up the green block and put it in the bowl": one move
            frames[-1] = replace(
                frame, objects=previous.objects, text=f"{previous.text} and {clause}"
            )
            continue
        frames.append(frame)
    return ParseResult(frames=frames)
