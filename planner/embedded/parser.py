"""Instructions to task frames: split into clauses, recognise each clause's intent and slots.

Structure (prepositions, quantities, places) is read with patterns. Clauses that do not
start with a verb are restated first ("the red cube should end up in the dish" -> "put
the red cube in the dish"); the verb's intent is matched to exemplar sentences with
MiniLM embeddings (in the backend) when no pattern names it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from planner.language.grounding import (
    SIZE_WORDS,
    SUPERLATIVES,
    NounPhrase,
    parse_np,
    share_kind,
)
from planner.language.lexicon import (
    AMOUNTS_M,
    CATEGORY_WORDS,
    COLORS,
    CONTAINERS,
    DIRECTION_VECTORS,
    GRASPABLE,
    REGION_WORDS,
    RELATION_WORDS,
    base_verb,
    categories,
    kind_words,
    normalize,
    resolve_there,
    singular,
    strip_lead_in,
)
from planner.language.verbs import ALL_VERBS, LIFT_VERBS, PUSH_VERBS, TURN_VERBS


@dataclass(frozen=True)
class Target:
    """Where something goes: into/onto an object, next to one, a region, or a direction."""

    kind: str  # "in" | "on" | "to" | relation | "between" | "region" | "offset" | "away" |
    # "toward" | "home" (where a taught rule says it belongs)
    ref: NounPhrase | None = None
    ref2: NounPhrase | None = None
    region: str | None = None
    distance: float | None = None
    direction: tuple[float, float] | None = None


@dataclass(frozen=True)
class Frame:
    """One thing to do, with its slots."""

    intent: str  # move|stack|push|line|triangle|match|distribute|swap|spread|clear|rotate|lift|
    # exclude|unknown
    objects: NounPhrase | None = None
    target: Target | None = None
    order: tuple[NounPhrase, ...] = ()  # stack: the middle of the tower, bottom to top
    side: str | None = None
    text: str = ""
    base: NounPhrase | None = None  # stack: what goes at the bottom
    top: NounPhrase | None = None  # stack: what goes on top
    only: tuple[str, ...] | None = None  # clear: just these objects (those in it when asked)
    guess: str = ""  # the clause as read by similarity alone: confirm it before acting
    arrange: str = ""  # line: "left to right", "right to left", "front to back", "back to front"
    loose: bool = False  # stack: `order` is only how the objects were listed, not an order
    angle: float | None = None  # rotate: degrees, counter-clockwise seen from above
    height: float | None = None  # lift: metres up from where it stands


_VERB_ALT = "|".join(sorted((re.escape(v) for v in ALL_VERBS), key=len, reverse=True))
_GERUND_ALT = "|".join(  # "..., popping it into the bowl": an order said as a gerund
    sorted(
        {
            form
            for v in ALL_VERBS
            if " " not in v
            for form in (f"{v}ing", f"{v[:-1]}ing" if v.endswith("e") else "", f"{v}{v[-1]}ing")
            if form
        },
        key=len,
        reverse=True,
    )
)
_NEGATIVE = r"(?:do not|never|please do not|but do not|and do not)"
_SPLIT_RE = re.compile(
    r"\s*(?:;|\.\s|[?!]\s|,?\s*\band then\b|,?\s*\bthen\b|,?\s*\bafter that\b|"
    r",?\s*\bafterwards\b|,?\s*\b(?:and )?finally\b|,?\s*\bnext\b(?!\s+to\b)|"
    r",?\s*\b(?:and )?(?:lastly|last of all|last but not least|to finish)\b|"
    r",?\s*\b(?:and )?(?=(?:finish|end)(?: off| up)? with\b)|"
    r",?\s*\bonce (?:that is|you are) done\b|,?\s*\band also\b|"
    r",?\s*\b(?:and|but|so)\s+(?=(?:" + _VERB_ALT + r"|do not|never)\b)|"
    r",\s*(?=(?:" + _VERB_ALT + r"|" + _GERUND_ALT + r"|do not|never)\b)|"
    r",\s*(?=(?:i|we) (?:had|have|was|were|am|just)\b)|"  # "..., i had them the wrong way round"
    r",?\s*\b(?:and |so )?(?=use (?:the|a|an) [a-z ]+ for\b)|"  # "..., so use the other one for"
    r",?\s*\band\s+(?=(?:the|a|an|both|all|each|every)\b[^,;.]*?\b(?:goes|go|belongs?|"
    r"(?:should|needs to|has to|must) go)\b))\s*"
)

_COLOR_ALT = "|".join(COLORS)
_REGION_ALT = sorted(
    ((w, r) for r, ws in REGION_WORDS.items() for w in ws), key=lambda p: len(p[0]), reverse=True
)
_DISTANCE_RE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<u>cm|mm|m)\b")
_RELATION_ALT = sorted(
    ((w, r) for r, ws in RELATION_WORDS.items() for w in ws), key=lambda p: len(p[0]), reverse=True
)
_COMPARATIVES = ("closer", "nearer", "further", "farther")
_SUPERLATIVE_ONLY_RE = re.compile(  # "furthest back" names an object; "closer" is a way to go
    r"\b(?:"
    + "|".join(
        re.escape(k)
        for k in sorted(SUPERLATIVES, key=len, reverse=True)
        if k.split()[0] not in _COMPARATIVES
    )
    + r")\b"
)
_DIRECTION_ALT = "|".join(sorted((re.escape(w) for w in DIRECTION_VECTORS), key=len, reverse=True))


_REPAIR = re.compile(  # "put the red, sorry, i mean the white block ...": said again, better
    r",?\s*\b(?:sorry|oops|no wait|wait(?=,)|no(?=,)|i mean|i meant|or rather|correction)"
    r"(?:,?\s*(?:i mean|i meant|no|other way round|the other way round|the other way around))*"
    r"[,:]?\s+(?=\S)"
)
_REPAIRED_AFTER = re.compile(
    r"(?<=[,.;])\s*(?P<repair>[^,.;]+?),?\s*(?:that is|i mean)(?=\s*(?:[,.;]|$))"
)
_PREPOSITION = (
    r"(?:in front of|on top of|to the (?:left|right) of|next to|(?:left|right) of|into|inside|"
    r"onto|in|on|to|beside|behind|under|near|by|along|at|over|across)"
)
_STARTS_PLACE = re.compile(rf"^{_PREPOSITION}\b")
_HAS_RELATION = re.compile(rf"^[a-z ]+? {_PREPOSITION} [a-z ]+$")


def _repaired(text: str) -> str:
    """A speaker's self-correction applied: the phrase said after "sorry, i mean", "no wait"
    (or before ", that is", ", i mean") replaces the last phrase of its kind before it - a
    place for a place, a thing for a thing, the whole "X on Y" for "X on Y"."""
    for _ in range(3):
        m = _REPAIRED_AFTER.search(text)
        if m is not None:  # "behind it, behind the bowl, that is"
            before, after = text[: m.start()], m.group("repair") + text[m.end() :]
        elif (m := _REPAIR.search(text)) is not None and m.start() > 0:
            before, after = text[: m.start()], text[m.end() :]
        else:
            return text
        text = _replace_last(before, after)
    return text


def _replace_last(before: str, after: str) -> str:
    """`before` with its last phrase of the kind `after` begins with replaced by `after`."""
    first = re.split(r"\s*[,;]\s*", after, maxsplit=1)[0]
    end = len(before)
    if _STARTS_PLACE.match(first):  # a place for a place
        places = list(re.finditer(rf"\b{_PREPOSITION}\b", before))
        cut = places[-1].start() if places else len(before)
    elif _HAS_RELATION.match(first) and (verb := _last_verb(before)) is not None:
        cut = verb  # "blue on orange" for "the orange block on the blue one": blocks both
        said = parse_np(re.split(rf"\s\b{_PREPOSITION}\b", before[cut:])[0])
        if said.category in CATEGORY_WORDS and said.word:
            nouns = kind_words([said.category])
            bare = rf"\b({'|'.join(COLORS)})\b(?! (?:[a-z]+ )?(?:{nouns}|one)s?\b)"
            after = after.replace(first, re.sub(bare, rf"the \1 {said.word}", first), 1)
    else:  # a thing for a thing (of its kind, if it names one), up to where its place begins
        things = [m.start() for m in re.finditer(r"\b(?:the|a|an)\b", before)]
        said = parse_np(first)
        earlier = {i: _phrase_at(before[i:]) for i in things} if said.word else {}
        fits = [i for i, np_ in earlier.items() if _may_be(said, np_)]
        kind = [i for i, np_ in earlier.items() if np_.category == said.category]
        cut = (fits or kind or things or [before.rfind(" ") + 1])[-1]
        place = re.compile(rf"\s\b{_PREPOSITION}\b").search(before, cut)
        end = place.start() if place else end
    return f"{before[:cut].rstrip()} {after}{before[end:]}".strip()


def _phrase_at(text: str) -> NounPhrase:
    """The phrase `text` begins with, up to its place or the next comma."""
    return parse_np(re.split(rf"\s\b{_PREPOSITION}\b|,", text, maxsplit=1)[0])


def _may_be(said: NounPhrase, earlier: NounPhrase) -> bool:
    """Whether the phrase `earlier` may be the thing `said` names again: of its kind or of
    none, in no other colour, and named by one of the two ("the red one" for "the red
    block I mean"); else a repair replaces the last phrase of its kind ("the red block" for
    "sorry, the green block")."""
    if said.category and earlier.category not in (None, said.category):
        return False
    if said.colors and earlier.colors and not set(said.colors) & set(earlier.colors):
        return False
    return bool(earlier.category or earlier.colors)


def _last_verb(text: str) -> int | None:
    """Where the words after the last order verb of `text` begin."""
    found = list(re.finditer(rf"\b(?:{_VERB_ALT})\b\s*", text))
    return found[-1].end() if found else None


_ARRANGED = re.compile(r"\b(?:stack|stacks|stacked|pile|piled|tower|row|line|column)\b")


def split_clauses(text: str) -> list[str]:
    """The clauses of an instruction, each normalised and starting with its verb if any."""
    text = _repaired(normalize(text))
    summary, colon, details = text.partition(":")
    if colon and not _ARRANGED.search(summary) and _all_moves(details):
        # "sort the blocks by size: big ones into ..., ...", not "a tower: red on top, ..."
        return split_clauses(details)  # the details say all the summary did, and where
    parts = [  # "..., and after that ...": the "and" joins, it belongs to neither clause
        re.sub(r"(?:,\s*|\s+)(?:and|but|so)$", "", p.strip(" ,.")).strip(" ,.")
        for p in _SPLIT_RE.split(text)
    ]
    clauses = [base_verb(strip_lead_in(p), ALL_VERBS) for p in parts if p and p.strip(" ,.")]
    return _in_sequence([part for c in clauses if c for part in _ungap(_by_means(c))])


_START_WITH = re.compile(r"^(?:start|begin)(?: off)? with (?P<np>.+)$")
_FINISH_WITH = re.compile(
    r"^(?:finish|end)(?: off| up)? with (?P<np>.+?)(?: (?:on top|at the top|on the top|last))?$"
)


def _in_sequence(clauses: list[str]) -> list[str]:
    """Steps said as a sequence: "start with the yellow block, put the red one on it, and
    finish with the blue one on top" - the first names what "it" is next, the last goes on
    what was placed before it."""
    clauses, out = list(clauses), []
    for i, clause in enumerate(clauses):
        start, finish = _START_WITH.match(clause), _FINISH_WITH.match(clause)
        after = clauses[i + 1] if i + 1 < len(clauses) else ""
        if start and re.search(r"\bit\b", after):
            clauses[i + 1] = re.sub(r"\bit\b", start.group("np"), after, count=1)
        elif finish and out:
            out.append(f"put {finish.group('np')} on it")
        else:
            out.append(clause)
    return out


def _all_moves(text: str) -> bool:
    """Whether every clause of `text` moves things it names itself (not "that one" of the
    words before) into or onto a stated place ("the block by the bowl" only says which)."""
    frames = [parse_clause(c) for c in split_clauses(text)]
    return bool(frames) and all(
        f.intent == "move"
        and f.target is not None
        and f.target.kind in ("in", "on", "to", "region")
        and f.objects is not None
        and f.objects.names_thing
        and not f.objects.pronoun
        for f in frames
    )


def _by_means(clause: str) -> str:
    """ "tidy up by putting each block in its bowl" -> "put each block in its bowl"."""
    m = re.search(r"\bby (?P<rest>\w+ing\b.*)$", clause)
    if m is None:
        return clause
    restated = base_verb(m.group("rest"), ALL_VERBS)
    return restated if restated != m.group("rest") else clause


def parse_distance(text: str) -> float | None:
    """Metres said as a number with a unit, or as an amount ("a bit")."""
    m = _DISTANCE_RE.search(text)
    if m:
        scale = {"cm": 0.01, "mm": 0.001, "m": 1.0}[m.group("u")]
        return float(m.group("n")) * scale
    for phrase, metres in sorted(AMOUNTS_M.items(), key=lambda p: len(p[0]), reverse=True):
        if re.search(rf"\b{phrase}\b", text):
            return metres
    return None


def find_region(text: str) -> tuple[str, int, int] | None:
    """The first region named as a place (not as part of a phrase: "the left block", "the
    left side of the bowl")."""
    for words, region in _REGION_ALT:
        for m in re.finditer(rf"\b(?:the )?{re.escape(words)}\b", text):
            if _names_place_alone(text[m.end() :].strip()):
                return region, m.start(), m.end()
    return None


def _names_place_alone(after: str) -> bool:
    """Whether the words after a region's name leave it naming a place by itself."""
    if not after or re.match(r"^(?:,|and\b|then\b|\d|by\b)", after):
        return True
    m = re.match(r"^of\s+(?P<ref>.+)$", after)
    return not parse_np(m.group("ref") if m else after).names_thing


def find_direction(text: str) -> tuple[float, float] | None:
    """The last direction said ("the block on the left forward" -> forward), leaving out
    the words of superlatives ("the block furthest back") and adjectives ("the left one")."""
    text = _SUPERLATIVE_ONLY_RE.sub(" ", text)
    text = re.sub(
        r"\b(?:the|a|an|that|this)\s+(?:left|right|front|back|far|near)\s+(?P<noun>\w+)",
        lambda m: " " if parse_np(m.group("noun")).names_thing else m.group(0),
        text,
    )
    matches = list(re.finditer(rf"\b(?:{_DIRECTION_ALT})\b", text))
    return DIRECTION_VECTORS[matches[-1].group(0)] if matches else None


_PREP_RE = re.compile(
    r"\b(?P<prep>into|inside of|inside|in|onto|on top of|on to|on|atop|to|over|at|within)\s+"
    r"(?=(?P<ref>\S.*)$)"
)
_SAYS_WHERE_IT_IS = re.compile(
    r"\b(?:sitting|lying|resting|standing|placed|located|kept|that is|which is|that are|"
    r"which are|is|are)\s*$"
)
_SUPERLATIVE_BEFORE = re.compile(
    r"\b(?:closest|nearest|furthest|farthest|closer|nearer|next|close)\s*$"
)


def _names_place(ref: NounPhrase) -> bool:
    """Whether the words after a preposition name a thing to put something in, on or at."""
    if ref.category or ref.pronoun or ref.other or ref.conjuncts or ref.unknown:
        return True
    described = ref.colors or ref.word or ref.superlative or ref.ordinal
    return bool(
        described and re.search(r"\b(?:ones?|things?|objects?|items?)\b|^(?:the )?\w+$", ref.text)
    )


def _strip_verb(clause: str) -> tuple[str, str]:
    """(verb, the rest) of a clause that starts with a known verb, else ("", clause)."""
    m = re.match(rf"^(?P<verb>{_VERB_ALT})\b\s*(?P<rest>.*)$", clause)
    if m:
        return m.group("verb"), m.group("rest")
    return "", clause


Candidate = tuple[int, str, Target]  # where the target phrase starts, the object text, target


_WHERE_WAS = re.compile(
    r"\b(?:(?:in|into|to|onto|on|at)\s+)?(?:the\s+)?(?:(?:spot|place|position|space)\s+)?"
    r"(?:where|that)\s+(?P<ref>.+?)\s+(?:was|were|used to be|stood|sat|had been|was before)"
    r"(?:\s+(?:before|at first|at the start|originally))?$"
)


def parse_target(rest: str) -> tuple[str, Target | None]:
    """Split "X <preposition> Y" into the object text and a `Target`.

    Of the phrases that could name the target ("next to the can", "in the bowl", "to the
    top left corner"), the last one wins: what comes before it describes the object
    ("the block next to the can | in the bowl").
    """
    m = _WHERE_WAS.search(rest)
    if m:  # "to the spot where the yellow block was"
        return rest[: m.start()], Target("start_of", parse_np(m.group("ref")))
    m = re.search(r"\b(?:in )?between\b\s+(?P<a>.+?)(?:\s+\band\b\s+(?P<b>.+))?$", rest)
    if m and (find_region(m.group(0)) or _PREP_RE.search(m.group(0), m.start("a") - m.start())):
        m = None  # "the block between the bowls to the corner": it says which block
    if m:
        second = parse_np(m.group("b")) if m.group("b") else None
        return rest[: m.start()], Target("between", parse_np(m.group("a")), second)
    rest, distance = _take_distance(rest)
    m = re.search(r"\b(?:away from|from)\s+(?P<ref>the\b.*)$", rest)
    if m and distance is not None:
        head = re.sub(r"\baway\b", "", rest[: m.start()]).strip()
        return head, Target("away", parse_np(m.group("ref")), distance=distance)
    candidates = [
        *_relation_targets(rest, distance),
        *_region_targets(rest),
        *_preposition_targets(rest),
    ]
    if not candidates:
        return _offset_target(rest, distance)
    described = [  # "in the bowl next to it": the rest of the clause says which bowl
        start
        for start, _, target in candidates
        if target.kind in ("in", "on")
        and target.ref is not None
        and (target.ref.location or target.ref.reference)  # "... that is closer to it"
    ]
    if described:
        candidates = [c for c in candidates if c[0] <= min(described)]
    _, head, target = max(candidates, key=lambda c: c[0])
    return head, target


def _take_distance(rest: str) -> tuple[str, float | None]:
    """The distance said ("10 cm", "a bit"), with a trailing ", 5 cm away" taken out."""
    m = re.search(rf",?\s*{_DISTANCE_RE.pattern}\s*(?:away|apart|off|from it|from them)?$", rest)
    if m and re.search(r"\b(?:of|to|behind|next to|beside|from)\b", rest[: m.start()]):
        return rest[: m.start()].strip(), parse_distance(m.group(0))
    return rest, parse_distance(rest)


def _relation_targets(rest: str, distance: float | None) -> list[Candidate]:
    """ "X to the left of Y", "X 5 cm behind Y", "X next to Y"."""
    found: list[Candidate] = []
    taken: list[tuple[int, int]] = []
    for words, relation in _RELATION_ALT:
        pattern = rf"\b{re.escape(words)}\b\s+(?P<ref>(?:the|a|an|it|them|each|that|this)\b.*)$"
        for m in re.finditer(pattern, rest):
            if any(a <= m.start() < b for a, b in taken) or _after_superlative(rest, m.start()):
                continue
            if _SAYS_WHERE_IT_IS.search(rest[: m.start()]):  # "whichever block is closer to"
                continue
            if not parse_np(m.group("ref")).names_thing:
                continue
            taken.append((m.start(), m.start("ref")))
            head = _DISTANCE_RE.sub("", rest[: m.start()]).strip()
            head = re.sub(  # "just to the left of", "right next to"
                r"(?:\s*\b(?:away|apart|just|directly|right|immediately|exactly|somewhere))+$",
                "",
                head,
            )
            target = Target(relation, parse_np(m.group("ref")), distance=distance)
            found.append((m.start(), head, target))
    return found


def _region_targets(rest: str) -> list[Candidate]:
    """ "X to the top left corner", "X in the middle of the table"."""
    region = find_region(rest)
    if region is None:
        return []
    name, start, _ = region
    head = re.sub(
        r"\s*\b(?:in|into|to|at|on|onto|toward|towards|over to|over|in the direction of|"
        r"along|across)(?: the)?\s*$",
        "",
        rest[:start],
    ).strip()
    return [(start, head, Target("region", region=name))]


def _preposition_targets(rest: str) -> list[Candidate]:
    """ "X in/on/to <a thing>", skipping prepositions inside "closest to", "next to"."""
    found: list[Candidate] = []
    inside = [
        (m.start(), m.end())
        for words, _ in _RELATION_ALT
        for m in re.finditer(rf"\b{re.escape(words)}\b", rest)
    ]
    for m in _PREP_RE.finditer(rest):
        if _after_superlative(rest, m.start()) or any(a <= m.start() < b for a, b in inside):
            continue
        if _SAYS_WHERE_IT_IS.search(rest[: m.start()]):  # "whatever is sitting on the mat"
            continue
        ref = parse_np(m.group("ref"))
        if not _names_place(ref):
            continue
        prep = m.group("prep")
        kind = "in" if prep in ("into", "in", "inside", "inside of", "within") else "on"
        if prep in ("to", "over", "at"):
            kind = "to"
        found.append((m.start(), rest[: m.start()], Target(kind, ref)))
    return found


def _after_superlative(rest: str, start: int) -> bool:
    """Whether the words before `start` are "closest", "nearest", ... (of a superlative)."""
    return bool(_SUPERLATIVE_BEFORE.search(rest[:start]))


_COUNTED_FROM = re.compile(r"\bfrom the (?:left|right|front|back|far|near)(?: side| end| edge)?$")


def _offset_target(rest: str, distance: float | None) -> tuple[str, Target | None]:
    """ "X 10 cm to the left", "X a bit forward", "X toward me"; not "the block that is
    closer to the bowl", which says which block."""
    if re.search(r"\b(?:is|are) (?:closer|nearer|further|farther)\b", rest):
        return rest, None
    if _COUNTED_FROM.search(rest) and parse_np(rest).ordinal is not None:
        return rest, None  # "the second block from the left" says which block
    m = re.search(
        r"\b(?:to|towards|toward)(?: the)? (?P<dir>left|right|front|back)(?: side)?$", rest
    )
    if m:
        head = re.sub(r"\bby\b", "", _DISTANCE_RE.sub("", rest[: m.start()])).strip()
        return head, Target(
            "offset", direction=DIRECTION_VECTORS[m.group("dir")], distance=distance
        )
    direction = find_direction(rest)
    if direction is None:
        return rest, None
    said = list(re.finditer(rf"\b(?:{_DIRECTION_ALT})\b", rest))[-1]
    head = re.sub(
        r"\b(?:to the|towards the|toward the|to|towards|toward|in the direction of)\s*$",
        "",
        _DISTANCE_RE.sub("", rest[: said.start()]),
    )
    head = re.sub(r"\b(?:by|a bit|a little|slightly|a lot|over)\b", "", head)
    return head.strip(), Target("offset", direction=direction, distance=distance)


_TOWER = (
    r"(?:single |tall |neat |little |small |short |nice |big |quick |"
    r"\d+ (?:block|cube|piece|level|layer|storey|story)s? )*"
    r"(?:tower|stack|pile)"
)
_STACK_FILLER = re.compile(
    rf"\b(?:up|on top of (?:each other|one another|another)|one (?:on top of|on|onto|atop) "
    rf"(?:the )?(?:another|other)|(?:in|into) (?:an?|one|a single) {_TOWER}|"
    rf"an? {_TOWER}(?: of| from| with| using| out of)?|"
    rf"the {_TOWER} (?:of|from|with)|together|(?:right |over )?(?:there|here)$)\b"
)
_STACK_ORDER = re.compile(
    r"\b(?:in (?:that|this|the given|the same) order|(?:going |ordered )?from (?:the )?bottom to "
    r"(?:the )?top|bottom to top|in order|in this sequence)\b[:,]?"
)
_STACK_BASE = re.compile(
    r"\s+(?:at|on|as|for|in)\s+(?:the\s+)?(?:very\s+)?(?:bottom|base|foundation)\b|"
    r"^(?:at|on)\s+the\s+bottom\s+|\s+(?:(?:goes|go|comes|come)\s+)?first$|"
    r"\s+(?:(?:underneath|beneath|below|under)(?: (?:everything|it all|them all|all the others|"
    r"the others|the rest|all of them))?|at the base|lowest)$"
)
_STACK_TOP = re.compile(
    r"\s+(?:at|on|as|in)\s+(?:the\s+)?(?:very\s+)?top\b(?:\s+of\s+(?:it|them|the\s+\w+))?|"
    r"^on\s+top\s+|\s+(?:goes|go)\s+(?:last|on top)$|"
    r"\s+(?:(?:on top of|above|over) (?:everything|it all|them all|all the others|the others|"
    r"the rest|all of them))$"
)
_STACK_MIDDLE = re.compile(r"\s+(?:in the middle|in between|in the centre|in the center)$")
_SO_THAT = re.compile(r"\b(?:so that|so|such that|where|making sure)\b")
_SAYS_WHERE = re.compile(r"\s(?:ends(?: up)?|end(?: up)?|lands|land|goes|go|sits|sit|comes|come)\s")
_ON_THAT = re.compile(r"\s+(?:on|onto|on top of|above|over) (?:that|it|that one)$")
_BESIDE_END = re.compile(  # "the black one just under it", "red right on it"
    r"^(?P<item>.+?) (?:just |right |directly |immediately )?(?:under|below|beneath|underneath|"
    r"on|above|over|on top of) (?:it|that|that one)$"
)
_EXCLUSION = re.compile(r"\b(?:except|but|other than|apart from|excluding)\b")


def _frame_stack(clause: str, rest: str) -> Frame:
    """A tower: of a group, in a listed order, with a given bottom or top, or onto a thing."""
    said = _SO_THAT.search(rest)  # "stack the blocks so that yellow ends up on top": the group
    if said and ":" not in rest and _POSITIONS.search(rest[said.end() :]):
        rest = f"{rest[: said.start()]}:{rest[said.end() :]}"
    rest = _SO_THAT.sub(",", rest)
    ordered = bool(_STACK_ORDER.search(rest))
    listed = ""
    group: NounPhrase | None = None  # "all four blocks" before a colon and the order
    onto: Target | None = None  # "the cubes on the bar: ...": the tower stands on the bar
    m = re.search(r"\bfrom (?:the )?bottom to (?:the )?top\b[:,]?\s*(?P<list>.+)$", rest)
    before, way, said = _arrangement(rest)
    top_down = way == "top to bottom"
    if m:
        listed, rest = m.group("list"), rest[: m.start()]
    elif top_down:  # "from the top down it goes blue, then red": listed top first
        listed, rest = _SHOULD_GO.sub("", said).strip(" ,:"), before
    elif ":" in rest:  # "all four blocks into one tower: orange on the bottom, then ..."
        before, _, rest = rest.partition(":")
        head_, onto = parse_target(before)  # "the cubes on the bar: green first, then black"
        if onto is not None and onto.kind in ("on", "in") and onto.ref is not None:
            before = head_
        else:
            onto = None
        group = parse_np(re.sub(r"\s+", " ", _STACK_FILLER.sub(" ", before)).strip(" ,"))
    rest = re.sub(r"\s+", " ", _STACK_ORDER.sub(" ", _STACK_FILLER.sub(" ", rest))).strip(" ,")
    base = top = None
    kept: list[str] = []
    next_to_end: list[str] = []  # "..., the black one just under it": beside the end said last
    segments = re.split(r"\s*(?:,|\bwith\b|\band\b)\s*", rest)
    positions = any(
        _STACK_MIDDLE.search(seg) or _STACK_BASE.search(seg) or _BESIDE_END.match(seg)
        for seg in segments
    )
    first = parse_np(segments[0]) if segments else None
    if positions and group is None and first is not None and first.plural and not first.colors:
        group, segments = first, segments[1:]  # "the blocks with the gray one at the bottom, ..."
    last = ""
    for segment in segments:
        segment = _STACK_MIDDLE.sub(" ", _SAYS_WHERE.sub(" ", f" {segment} ")).strip()
        beside = _BESIDE_END.match(segment)
        if beside and last in ("base", "top"):
            next_to_end.append(beside.group("item"))
        elif _STACK_BASE.search(segment):
            base, last = parse_np(_STACK_BASE.sub(" ", segment)), "base"
        elif _STACK_TOP.search(segment) and (kept or positions):
            top, last = parse_np(_STACK_TOP.sub(" ", segment)), "top"
        elif segment.strip():
            kept.append(_ON_THAT.sub("", segment).strip())
            last = "item"
    if next_to_end:  # the others first, then those just under the top (or on the base)
        said = {parse_np(x).colors for x in next_to_end} | ({top.colors} if top else set())
        others = [k for k in kept if parse_np(k).colors not in said]
        chain = next_to_end if last == "base" else next_to_end[::-1]  # each under the last
        kept = [*chain, *others] if last == "base" else [*others, *chain]
        listed = ", then ".join(kept)
    rest = ", ".join(kept)
    head, target = parse_target(rest)
    if target is not None and target.kind in ("on", "to", "in") and target.ref is not None:
        return Frame("stack", objects=parse_np(head), target=target, text=clause)
    head = listed or head
    order: tuple[NounPhrase, ...] = ()
    items = [p for p in re.split(r"\s*(?:,|\band\b|\bthen\b)\s*", head) if p.strip()]
    least = 1 if top_down else 2  # "from the top down it goes blue, then ...": the first of many
    if len(items) >= least and not _EXCLUSION.search(head) and all(_names_thing(p) for p in items):
        order = tuple(parse_np(p) for p in items)
    objects = parse_np(head) if head.strip() else group
    if group is not None and group.names_thing and head.strip() and all(map(_names_thing, items)):
        objects, order = group, tuple(parse_np(p) for p in items)  # "the blocks: pink between"
    if not order and ordered and objects is not None and len(objects.colors) > 1:
        order = _by_colour(objects)
    said_order = bool(listed) or ordered or group is not None or bool(re.search(r"\bthen\b", head))
    if onto is not None:  # "the cubes on the bar: green first": the bar, then green
        order, base = ((base, *order) if base is not None else order), onto.ref
    return Frame(
        "stack",
        objects=objects,
        order=order,
        base=base,
        top=top,
        text=clause,
        arrange="top to bottom" if top_down else "",
        loose=bool(order) and not said_order,
    )


def _names_thing(text: str) -> bool:
    """Whether a list item names an object by itself ("the red block", "green", "the can",
    "the smallest one")."""
    np_ = parse_np(text)
    return bool(np_.category or np_.colors or np_.pronoun or np_.conjuncts or np_.sized)


_ARRANGE = re.compile(
    r"(?:\b(?:going|running|reading|ordered|arranged)\s+)?\b(?:from\s+)?(?:the\s+)?"
    r"(?P<way>left to (?:the )?right|right to (?:the )?left|front to (?:the )?back|"
    r"back to (?:the )?front|top (?:down|to (?:the )?bottom)|bottom (?:up|to (?:the )?top)|"
    r"away from (?:me|you|us|the robot)|towards? (?:me|you|us|the robot))\b"
)
_IN_ORDER = re.compile(r"\b(?:in (?:that|this|the given|the same|the listed) order|in order)\b")
_RAINBOW = re.compile(
    r"\b(?:in )?(?:(?:the )?rainbow order|(?:the )?order of (?:the )?rainbow|"
    r"like (?:a|the) rainbow)\b"
)
WAYS = {
    "left": "left to right",
    "right": "right to left",
    "front": "front to back",
    "back": "back to front",
    "top": "top to bottom",
    "bottom": "bottom to top",
    "away": "front to back",  # "a row going away from me"
    "toward": "back to front",
    "towards": "back to front",
}
RAINBOW = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
_PLACE_IN_ROW = re.compile(
    r"\b(?:at|on|in) the (?:very |far )?(?:front|back|left|right|start|end|beginning|middle)"
    r"(?: end| side)?\b|\b(?:first|last|next)\b|"
    r"\b(?:nearest|closest|furthest|farthest)(?: (?:to|from) (?:me|you|us|the robot)| away)?$"
)
_STARTING = re.compile(
    r"\b(?:starting|beginning|start) (?:on|at|from) the (?:far )?(?P<side>left|right)"
    r"(?: end| side)?(?:(?:,? with|,|:) (?P<first>.+))?$"
)


def _arrangement(text: str) -> tuple[str, str, str]:
    """ "the blocks from left to right: red, green" -> ("the blocks", "left to right",
    "red, green"): what is arranged, which way, and the listed order after the way."""
    m = _ARRANGE.search(text)
    if m is None:
        return text, "", ""
    way = WAYS[m.group("way").split()[0]]
    return text[: m.start()].strip(" ,:"), way, text[m.end() :].strip(" ,:")


_ROW_PLACE = re.compile(
    r"\b(?:(?:at|on|to|in) (?:the )?(?:very )?"
    r"(?P<where>front|back|far end|near end|left|right|middle|centre|center)|"
    r"(?P<near>(?:nearest|closest) (?:to )?(?:me|you|us|the robot))|"
    r"(?P<far>(?:furthest|farthest) (?:away|back|out|from (?:me|you|us|the robot)))|"
    r"(?:in )?between (?:them|the two|both|those)|in between)\b(?! of\b)"
)
_ROW_RANK = {"front": 0, "near end": 0, "left": 0, "middle": 1, "back": 2, "far end": 2, "right": 2}
_ROW_RANK |= {"centre": 1, "center": 1}


def _row_place(m: re.Match[str]) -> str:
    """Where in a row a `_ROW_PLACE` match puts its thing ("nearest me" is the front end;
    "between them" is the middle too)."""
    if m.group("where"):
        return m.group("where")
    return "front" if m.group("near") else "back" if m.group("far") else "middle"


def _placed_in_row(text: str) -> tuple[str, str, str] | None:
    """A row said by where each thing goes: ("the blocks", "front to back", "white, grey,
    black") from "the blocks, black at the back, grey in the middle and white at the front"."""
    parts = [p.strip() for p in re.split(r"\s*(?:,|\band\b)\s*", text) if p.strip()]
    placed = [(p, _row_place(m)) for p in parts if (m := _ROW_PLACE.search(p))]
    if len(placed) < 2:
        return None
    sides = {where for _, where in placed} - {"middle", "centre", "center"}
    way = "left to right" if sides <= {"left", "right"} else "front to back"
    ordered = sorted(placed, key=lambda item: _ROW_RANK[item[1]])
    items = [_ROW_PLACE.sub(" ", p).strip() for p, _ in ordered]
    head = ", ".join(p for p in parts if p not in {q for q, _ in placed})
    return head, way, ", ".join(items)


_ROW_NEIGHBOUR = re.compile(r"^(?P<a>.+?) (?:on|to|at) the (?P<side>left|right) of (?P<b>.+)$")


def _neighbours_in_row(text: str) -> tuple[str, str, str] | None:
    """A row said by neighbours: ("all 3", "left to right", "pink block, gray block, black
    block") from "the pink block to the left of the gray block and the black block to the
    right of it, all 3 in a line"; "it" is the object the part before placed by."""
    parts = [p.strip() for p in re.split(r"\s*(?:[,:]|\band\b)\s*", text) if p.strip()]
    pairs: list[tuple[str, str]] = []
    others, last = [], ""
    for part in parts:
        m = _ROW_NEIGHBOUR.match(part)
        if m is None or not _names_thing(m.group("a")):
            others.append(part)
            continue
        a, b = m.group("a"), m.group("b")
        b = last if parse_np(b).pronoun and last else b
        last = b
        pairs.append((a, b) if m.group("side") == "left" else (b, a))
    names = {re.sub(r"^the ", "", n) for pair in pairs for n in pair}
    after = {re.sub(r"^the ", "", a): re.sub(r"^the ", "", b) for a, b in pairs}
    if len(pairs) < 2 or len(after) != len(pairs) or len(names) != len(pairs) + 1:
        return None
    (first,) = names - set(after.values()) or ("",)
    order = [first]
    while order[-1] in after:
        order.append(after[order[-1]])
    if len(order) != len(names):
        return None
    return ", ".join(others), "left to right", ", ".join(order)


def _listed(text: str, like: NounPhrase | None, least: int = 2) -> tuple[NounPhrase, ...]:
    """An order given as a list ("yellow, white and black", "the blue block at the front,
    then the gray one"); each item a thing, of the kind `like` names when it names none."""
    items = [p for p in re.split(r"\s*(?:,|\band\b|\bthen\b|\bfollowed by\b)\s*", text) if p]
    items = [_PLACE_IN_ROW.sub(" ", p).strip() for p in items]
    items = [p for p in items if p]
    if len(items) < least or not all(_names_thing(p) for p in items):
        return ()
    phrases = tuple(parse_np(p) for p in items)
    if like is not None and like.category:
        phrases = tuple(replace(np_, category=np_.category or like.category) for np_ in phrases)
    return phrases


def _frame_line(clause: str, rest: str) -> Frame:
    """A row of objects, in the middle of the table or along one of its sides, in a
    given order when one is said ("from left to right: red, green, blue")."""
    rest, way, listed = _arrangement(rest)
    start = _STARTING.search(rest)
    if not way and start is not None:  # "a row starting on the right with the pink block"
        way = "left to right" if start.group("side") == "left" else "right to left"
        rest, listed = rest[: start.start()], start.group("first") or ""
    if not way and (placed := _placed_in_row(rest) or _neighbours_in_row(rest)) is not None:
        rest, way, listed = placed  # "black at the back, grey in the middle, white at the front"
    if listed and (by_size := _BY_SIZE.search(listed)) is not None:
        _, way, listed = _by_size(listed, by_size, way)  # "right to left, smallest to biggest"
    elif not listed and (by_size := _BY_SIZE.search(rest)) is not None:
        rest, way, listed = _by_size(rest, by_size, way)
    rainbow = bool(_RAINBOW.search(listed) or _RAINBOW.search(rest))
    in_order = bool(_IN_ORDER.search(listed) or _IN_ORDER.search(rest))
    rest, listed = _RAINBOW.sub(" ", _IN_ORDER.sub(" ", rest)), _IN_ORDER.sub(" ", listed)
    listed = _RAINBOW.sub(" ", listed).strip(" ,:")
    side = None
    region = find_region(rest)
    if region is not None and region[0].endswith("side"):
        side = region[0]
        rest = rest[: region[1]]
    rest = re.sub(
        r"\b(?:up|in a (?:straight )?(?:line|row|column)|into a (?:straight )?(?:line|row|column)|"
        r"an? (?:straight )?(?:line|row|column)(?: of| with| from| using| out of)?|"
        r"side by side|next to each other|next to one another|along|on|at|in|neatly|evenly)\b",
        " ",
        rest,
    )
    head = rest.strip(" ,:")
    head, _, said = head.partition(":")  # "in a row: yellow, white, black"
    listed = f"{said} {listed}".strip()
    objects = parse_np(head.strip()) if head.strip() else None
    order = _listed(listed, objects, least=1 if way else 2)  # "... left to right red, then"
    if not order and (in_order or way) and objects is not None and len(objects.colors) > 1:
        order = _by_colour(objects)
    elif order and objects is not None and _PLACE_IN_ROW.search(listed):
        order = _between_ends(order, objects)  # "yellow closest and orange farthest"
    if objects is None:
        objects = parse_np(" and ".join(np_.text for np_ in order)) if order else None
    way = way or ("left to right" if order or rainbow else "")
    return Frame(
        "line",
        objects=objects or parse_np("all blocks"),
        side=side,
        text=clause,
        order=order,
        arrange=f"rainbow {way}" if rainbow else way,
    )


_BY_SIZE = re.compile(
    r"\b(?:by|in order of|according to|sorted by|ordered by) (?:their |its )?size\b"
    r"|\b(?:from )?(?:the )?(?P<first>smallest|biggest|largest|small|big|large|little|tiniest) "
    r"to (?:the )?(?:smallest|biggest|largest|small|big|large|little|tiniest)(?: ones?)?\b"
)
_BIG_FIRST = re.compile(
    r"\b(?:biggest|largest)\b[^,;]*?\b(?:first|front|left|start|nearest|closest)\b"
    r"|\b(?:first|front|left|start|nearest|closest)\b[^,;]*?\b(?:biggest|largest)\b"
)


def _by_size(rest: str, said: re.Match[str], way: str) -> tuple[str, str, str]:
    """A row "by size" ("from smallest to biggest", "by size, biggest at the front"): the
    smallest first unless the biggest is said to start it, left to right unless the row is
    said to run from the front."""
    big_first = said.group("first") in ("biggest", "largest", "big", "large")
    big_first = big_first or bool(_BIG_FIRST.search(rest))
    ends = "the biggest, the smallest" if big_first else "the smallest, the biggest"
    if not way:
        way = "front to back" if re.search(r"\b(?:front|back|away|nearest|closest)\b", rest) else ""
    head = rest[: said.start()].strip(" ,")
    return head, way or "left to right", ends


def _between_ends(ends: tuple[NounPhrase, ...], objects: NounPhrase) -> tuple[NounPhrase, ...]:
    """A row whose ends are said ("red closest and blue farthest") of more colours than
    that ("the red, green and blue blocks"): the others stand between them, as listed."""
    said = {c for np_ in ends for c in np_.colors}
    if len(ends) < 2 or not said < set(objects.colors) or any(len(e.colors) != 1 for e in ends):
        return ends
    middle = tuple(np_ for np_ in _by_colour(objects) if np_.colors[0] not in said)
    return (*ends[:-1], *middle, ends[-1])


def _by_colour(objects: NounPhrase) -> tuple[NounPhrase, ...]:
    """ "the red, green and blue blocks" in that order: one phrase per colour, as said."""
    return tuple(
        replace(objects, text=c, colors=(c,), plural=False, every=False) for c in objects.colors
    )


def _frame_shape(clause: str, rest: str) -> Frame:
    """A triangle of three objects."""
    rest = re.sub(
        r"\b(?:in|into|a|as|triangle|triangular|shape|formation|pattern|(?:make|form) a|"
        r"of|with|from|using|out)\b",
        " ",
        rest,
    )
    return Frame("triangle", objects=parse_np(rest.strip() or "all blocks"), text=clause)


def _frame_match(clause: str, rest: str) -> Frame:
    """Each object into the container of its own colour."""
    m = re.search(
        r"\b(?:in|into|on|onto|to|with|and)\s+(?:the\s+)?(?:\w+\s+)?(?P<ref>(?:bowls?|zones?|"
        r"dish(?:es)?|mats?|areas?|squares?|containers?|plates?|pads?|basins?|cups?|trays?))\b",
        rest,
    )
    containers = parse_np("all " + m.group("ref")) if m else parse_np("all containers")
    head = rest[: m.start()] if m else rest
    head = re.sub(
        r"\b(?:by (?:their )?colou?rs?|(?:according to|based on) (?:their )?colou?rs?|"
        r"colou?r match)\b",
        "",
        head,
    )
    return Frame(
        "match",
        objects=parse_np(head.strip() or "all blocks"),
        target=Target("in", containers),
        text=clause,
    )


_CONTAINER_WORD = r"(?:bowls?|zones?|mats?|dish(?:es)?|containers?|plates?|trays?|pads?|areas?)"
_DISTRIBUTE_RE = re.compile(
    rf"\b(?:(?:a )?(?:separate|different|individual|distinct) {_CONTAINER_WORD}|"
    rf"(?:a|one) {_CONTAINER_WORD} of (?:its|their) own|"
    rf"one (?:\w+ )?(?:per|in each|into each|for each|to each) {_CONTAINER_WORD}|"
    rf"(?:a|one) \w+ (?:in|into|to) (?:each|every) {_CONTAINER_WORD}|"
    rf"(?:in|into) (?:each|every) {_CONTAINER_WORD} (?:put |place )?(?:a|one) \w+)\b|"
    rf"\b{_CONTAINER_WORD},? one (?:in|into|to|for|per) each(?: one)?$|\bone each$"
)


def _frame_distribute(clause: str, rest: str) -> Frame:
    """One object per container: "put each block in a separate bowl"."""
    m = re.search(_CONTAINER_WORD, rest)
    word = m.group(0) if m else "containers"
    head = re.split(r"\b(?:in|into|to|one per|per|across|between|among)\b", rest)[0]
    objects = parse_np(head.strip() or "all blocks")
    if not objects.conjuncts and (objects.any_one or not objects.plural):  # "each block"
        objects = replace(objects, count=None, any_one=False, every=True, plural=True)
    each = re.search(r"\b(?:one|a) (?:\w+ )?(?:in|into|to|per|for) (?:each|every)\b", rest)
    return Frame(
        "distribute",
        objects=objects,
        target=Target("in", parse_np(f"all {word}")),
        text=clause,
        arrange="one each" if each else "",
    )


def _frame_swap(clause: str, rest: str) -> Frame:
    """Two objects trade places: "swap where the red can and the green block are"."""
    rest = re.sub(
        r"\b(?:where|the (?:positions?|places?|spots?) of|places|positions|spots|round|around|"
        r"over|trade|swap|switch|exchange|with each other|so .*|are|is)\b",
        " ",
        rest,
    )
    rest = re.sub(r"\s+\bwith\b\s+", " and ", rest)
    rest = re.sub(r"^\s*(?:have|get|let|make)\s+", "", rest)  # "have the two trade places"
    return Frame("swap", objects=parse_np(re.sub(r"\s+", " ", rest).strip(" ,")), text=clause)


def _frame_spread(clause: str, rest: str) -> Frame:
    """One object per corner (or per side) of the table."""
    head = re.split(r"\b(?:in|into|to|across|at|over|on|one (?:in|per|to|at|on))\b", rest)[0]
    regions = "corners" if "corner" in rest else "sides"
    objects = parse_np(head.strip() or "all blocks")
    if objects.any_one:  # "one block in each corner": every block, one per corner
        objects = replace(objects, count=None, any_one=False, every=True, plural=True)
    return Frame("spread", objects=objects, side=regions, text=clause)


def _frame_push(clause: str, rest: str) -> Frame:
    """A push: in a direction, toward, onto or away from a thing, or to a region."""
    distance = parse_distance(rest)
    m = re.search(r"\baway from\s+(?P<ref>(?:the|a|an)\b.*)$", rest)
    if m and parse_np(m.group("ref")).names_thing:
        head = _push_head(rest[: m.start()])
        return Frame(
            "push",
            objects=parse_np(head),
            target=Target("away", parse_np(m.group("ref")), distance=distance),
            text=clause,
        )
    region = find_region(rest)
    if region is not None:
        return Frame(
            "push",
            objects=parse_np(_push_head(rest[: region[1]])),
            target=Target("region", region=region[0]),
            text=clause,
        )
    pointed = [
        m
        for m in re.finditer(
            r"(?=\b(?P<prep>toward|towards|to|at|into|onto|in|on|against|up to|closer to|"
            r"nearer to|nearer)\s+(?P<ref>(?:the|a|an)\b.*)$)",
            rest,
        )
        if (find_direction(m.group("ref")) is None or m.group("prep").startswith(("clos", "near")))
        and parse_np(m.group("ref")).names_thing
    ]
    if pointed:  # the last one: "push the block on the left toward the bowl"
        m = pointed[-1]
        kind = "onto" if m.group("prep") in ("to", "into", "onto", "in", "on") else "toward"
        return Frame(
            "push",
            objects=parse_np(_push_head(rest[: m.start()])),
            target=Target(kind, parse_np(m.group("ref")), distance=distance),
            text=clause,
        )
    head, target = _offset_target(rest, distance)
    return Frame(
        "push",
        objects=parse_np(_push_head(head)),
        target=target or Target("offset", distance=distance),
        text=clause,
    )


def _push_head(text: str) -> str:
    """The object words of a push, without distances and manner words."""
    text = _DISTANCE_RE.sub("", text)
    return re.sub(r"\b(?:over|along|across the table|forward|back|a bit|slightly|by)\b", "", text)


_HOME = re.compile(
    r"\s(?:back\s+)?(?:in|into|to|on)\s+(?:its|their)\s+(?:usual\s+|own\s+|proper\s+|"
    r"normal\s+|regular\s+)?(?:spot|place|home|position)s?(?=\s)|\swhere (?:it|they) "
    r"(?:belongs?|goes|go|lives?|should be)(?=\s)|\saway(?=\s)"
)
"""Where an object belongs, said without naming it: a place a taught rule gives."""


def _frame_move(clause: str, rest: str) -> Frame:
    """A pick-and-place to a target; `unknown` when no target is named."""
    if _HOME.search(f" {rest} ") and not re.search(r"\baway from\b", rest):
        head = _HOME.sub(" ", f" {rest} ").strip()  # "put the can away": where it belongs
        return Frame("move", objects=parse_np(head), target=Target("home"), text=clause)
    head, target = parse_target(rest)
    head = re.sub(r"^(?:up\s+)?", "", head.strip())
    head = re.sub(
        r"\s+\b(?:down|up|back|over|away|off|together|there|here|too|as well|also)$", "", head
    )
    head = re.sub(r"\s+\b(?:and (?:put|place|drop|set) (?:it|them))$", "", head)
    if target is None and clause.startswith(("center ", "centre ")):
        target = Target("region", region="center")
    if target is None:
        return Frame("unknown", objects=parse_np(head) if head else None, text=clause)
    return Frame("move", objects=parse_np(head), target=target, text=clause)


_TURNS = {"quarter": 90.0, "half": 180.0}
_ANGLE_RE = re.compile(
    r"\b(?:by |through |about |around )?(?:(?P<n>\d+(?:\.\d+)?) ?(?:degrees?|deg)\b|"
    r"(?:an? |one )?(?P<part>quarter|half)(?: of a)? (?:turn|rotation|spin)\b|"
    r"(?:a |one )?right angle\b)"
)
_TURN_TAIL = re.compile(r",|\b(?:by|through|around|round|in place|where|so|until|while|keeping)\b")
_SENSE_RE = re.compile(r"\b(?P<ccw>counter ?clockwise|anti ?clockwise)\b|\bclockwise\b")
_SPINS = "|".join(v for v in TURN_VERBS if v != "turn")  # "turn" only with how far
_ROTATE_RE = re.compile(  # "spin the bar", or "turn"/"give" with how far ("a quarter turn")
    rf"^(?:{_SPINS})\b|"
    r"^(?:turn|give|angle)\b(?=.*(?:\d (?:degrees?|deg)\b|(?:quarter|half)(?: of a)? "
    r"(?:turn|rotation|spin)\b|right angle\b))"
)


def _frame_rotate(clause: str, rest: str) -> Frame:
    """An object turned in place: "rotate the red bar by 45 degrees", "give the rod a quarter
    turn clockwise"; the angle is None when the words do not say how far."""
    m = _ANGLE_RE.search(rest)
    angle = None
    if m is not None:
        angle = float(m.group("n")) if m.group("n") else _TURNS.get(m.group("part") or "", 90.0)
    sense = _SENSE_RE.search(rest)
    if angle is not None and sense is not None and not sense.group("ccw"):
        angle = -angle  # clockwise seen from above
    head = _SENSE_RE.sub(" ", _ANGLE_RE.sub(" ", rest))
    head = _TURN_TAIL.split(head)[0]
    head = re.sub(rf"^(?:{'|'.join(TURN_VERBS)}|give|angle)\s+", "", head.strip())
    return Frame("rotate", objects=parse_np(head.strip(" ,")), text=clause, angle=angle)


_ALOFT = (  # words that say an object is to stay up, not go somewhere
    r"(?:up )?in(?:to)? the air|off the (?:table|ground|surface)|above the (?:table|ground)|"
    r"up high|aloft|high up|clear of the table"
)
_AIRBORNE = rf"{_ALOFT}|up|high|higher"  # after a height: "10 cm up"
_PUTS = "put|place|set|move|get|bring|have"  # "put the block 10 cm above the table"
_HELD_ON = "there|steady|still|in place|like that|aloft"  # "hold it there"
_HEIGHT_RE = re.compile(rf"(?P<n>\d+(?:\.\d+)?) ?(?P<u>cm|mm|m)\b(?: (?:{_AIRBORNE}))?")
_GOES_TO = (  # a place named after the verb: "lift the block into the bowl" is a move
    r"(?!.*\b(?:in|into|onto|on|to|inside|next to|beside|toward|towards)\b (?!the air\b)"
    r"(?:the|a|an)\b)"
)
_RAISES = "|".join(v for v in LIFT_VERBS if v != "hold")  # "hold" only with how high
_LIFT_RE = re.compile(  # "lift the block 10 cm", "hold the cube 15 cm above the table"
    rf"^(?:{_RAISES})\b{_GOES_TO}(?=.*(?:\d (?:cm|mm|m)\b|\b(?:{_ALOFT}|up)\b))|"
    rf"^(?:{_PUTS})\b{_GOES_TO}(?=.*\b(?:{_ALOFT})\b)|"
    rf"^(?:hold|pick up|pick|grab|take|keep)\b{_GOES_TO}"
    rf"(?=.*(?:\d (?:cm|mm|m) (?:{_AIRBORNE})\b|\b(?:{_ALOFT})\b))|"
    rf"^hold (?:it|them|that)(?: (?:{_HELD_ON}|up))*$"  # held on
)


def _frame_lift(clause: str, rest: str) -> Frame:
    """An object picked up and held in the air: "lift the green block 10 cm off the table",
    "pick up the can and keep it in the air, 20 cm up"; height None when not said."""
    m = _HEIGHT_RE.search(rest)
    height = parse_distance(m.group(0)) if m is not None else None
    head = re.split(rf",|\band\b|\bby\b|\b\d|\b(?:{_AIRBORNE})\b", rest)[0]
    head = re.sub(r"^(?:up|about|around)\s+|\s+(?:up|about|around)$", "", head.strip())
    head = re.sub(rf"^(?:{'|'.join(LIFT_VERBS)}|{_PUTS})\s+", "", head)
    head = re.sub(rf"(?:\s+(?:{_HELD_ON}))+$", "", head)
    return Frame("lift", objects=parse_np(head.strip(" ,")), text=clause, height=height)


_CLEAR_RE = re.compile(
    r"^(?:clear|empty)(?: out)? (?P<c>.+)$|^(?:take|get|remove|move) (?:everything|all|"
    r"all the (?:things|objects|stuff)) (?:out of|from) (?P<from>.+)$"
)


def _frame_clear(clause: str, rest: str) -> Frame:
    """Take everything out of a container ("clear the bowl", "empty the blue bowl")."""
    m = _CLEAR_RE.match(clause)
    assert m is not None
    return Frame("clear", objects=parse_np(m.group("c") or m.group("from")), text=clause)


FrameBuilder = Callable[[str, str], Frame]
SHAPE_RULES: tuple[tuple[re.Pattern[str], FrameBuilder], ...] = (
    (_ROTATE_RE, _frame_rotate),
    (_LIFT_RE, _frame_lift),
    (_CLEAR_RE, _frame_clear),
    (_DISTRIBUTE_RE, _frame_distribute),
    (
        re.compile(
            r"^(?:swap|switch|exchange)\b|\b(?:trade|swap|switch|exchange) (?:places|spots)\b"
        ),
        _frame_swap,
    ),
    (re.compile(r"\b(?:triangle|triangular)\b"), _frame_shape),
    (
        re.compile(
            r"\b(?:same colou?r|matching|its colou?r|their colou?rs?|corresponding|"
            r"by colou?rs?|own colou?r|colou?rs? match(?:es|ing)?|"
            r"match(?:es)? (?:its|their|the|it|them)|(?P<colour>"
            + "|".join(COLORS)
            + r") (?:with|to|in) (?P=colour)|"
            r"(?:its|their) (?:own )?(?:bowls?|zones?|dish(?:es)?|mats?|containers?)|"
            r"colou?r coded|colou?r match|according to (?:their )?colou?rs?|"
            r"based on (?:their )?colou?rs?)\b"
        ),
        _frame_match,
    ),
    (
        re.compile(
            r"\b(?:each|every|different|separate|its own|a different) (?:corner|side)s?\b|"
            r"\b(?:a|one) (?:corner|side) (?:of (?:its|their) own|each)\b|"
            r"\bone (?:in|per|to|at|on) (?:each|every) (?:corner|side)\b|"
            r"\bspread\b.*\bcorners?\b|\b(?:4|all|different|the 4) corners\b"
        ),
        _frame_spread,
    ),
    (
        re.compile(
            r"\b(?:stack|stacks|stacked|stacking|pile|piled|tower|on top of (?:each other|one "
            r"another)|one on top of another)\b"
        ),
        _frame_stack,
    ),
    (
        re.compile(
            r"\b(?:line|lines|row|column|lined|align|aligned|side by side|next to (?:each other|"
            r"one another)|(?:from )?(?:left to right|right to left|front to back|back to front))\b"
        ),
        _frame_line,
    ),
)


def parse_clause(clause: str) -> Frame:
    """The frame of one clause; `unknown` when no rule understands it."""
    exclusion = _negative_clause(clause)
    if exclusion is not None:
        return Frame("exclude", objects=exclusion, text=clause)
    clause = _restate(clause)
    clause, trailing = _trailing_exclusion(clause)
    any_n = _ANY_N.search(clause)  # "the cubes in the green bowl, any 3": 3 of them
    clause = clause[: any_n.start()] if any_n else clause
    frame = _parse_intent(clause)
    if any_n and frame.objects is not None and frame.objects.wants_many:
        frame = replace(frame, objects=replace(frame.objects, count=int(any_n.group("n"))))
    ref = frame.target.ref if frame.target is not None else None
    if trailing and ref is not None and frame.target is not None:
        # "put the red block in a bowl, just not the white one": the bowl; "put all the
        # blocks in the bowl, except the red one": a block
        many = frame.objects is not None and (frame.objects.wants_many or frame.objects.every)
        places = tuple(
            x for x in trailing if x.category == ref.category or (x.category is None and not many)
        )
        frame = replace(frame, target=replace(frame.target, ref=_without(ref, places)))
        trailing = tuple(x for x in trailing if x not in places)
    if trailing and frame.objects is not None:
        frame = _excluding(frame, trailing)
    return frame


_ANY_N = re.compile(r",?\s*\b(?:any|whichever|just)\s+(?P<n>\d+)(?: of (?:them|those))?$")


def _without(np_: NounPhrase, excluded: tuple[NounPhrase, ...]) -> NounPhrase:
    """The phrase with more things it leaves out, each of its kind when it names none."""
    kinds = tuple(x if x.category else replace(x, category=np_.category) for x in excluded)
    return replace(np_, exclude=(*np_.exclude, *kinds))


def _parse_intent(clause: str) -> Frame:
    verb, rest = _strip_verb(clause)
    for pattern, builder in SHAPE_RULES:
        if pattern.search(clause):
            return builder(clause, rest)
    if verb in PUSH_VERBS:
        return _frame_push(clause, rest)
    return _frame_move(clause, rest)


_KEEP_WORDS = (
    r"(?:\s+(?:where (?:it is|they are)|alone|out|in place|there|where it was|where they were|"
    r"as (?:it is|they are)|untouched|on the table|behind|as well|too|for now|be|though))*"
)
_NEGATIVE_RE = re.compile(
    rf"^(?:but\s+)?(?:(?:{_NEGATIVE})\s+(?:move|touch|include|put|take|use|pick up|pick|grab|"
    rf"stack|push|disturb|bother with)|(?:leave|keep)|(?:but\s+)?not|except(?: for)?|"
    rf"apart from|other than|excluding|without|leaving(?: out)?|skip|ignore)\s+"
    rf"(?:any of\s+|none of\s+)?(?P<ex>.+?){_KEEP_WORDS}$"
)


_STAYS = re.compile(  # "the middle one stays put", "the cans should stay where they are"
    r"^(?P<ex>.+?) (?:stays|stay|remains|remain|(?:should|must|has to|have to|needs to) stay)"
    r"(?: put| where (?:it is|they are)| in place| still| as (?:it is|they are))?$"
)


def _negative_clause(clause: str) -> NounPhrase | None:
    """ "do not move the red one", "leave the blue block where it is", "the middle one stays
    put": things to keep still."""
    stays = _STAYS.match(clause)
    if stays is not None:
        np_ = parse_np(stays.group("ex"))
        return np_ if np_.names_thing or np_.ordinal or np_.superlative else None
    m = _NEGATIVE_RE.match(clause)
    if m is None:
        return None
    bare = parse_target(m.group("ex"))[1] is None  # "leave the can": no place said, keep it
    if (
        clause.startswith(("leave", "keep"))
        and not bare
        and not re.search(
            r"\b(?:alone|where (?:it|they) (?:is|are|was|were)|in place|untouched|out|"
            r"as (?:it|they) (?:is|are)|be)\b",
            clause,
        )
    ):
        return None
    np_ = parse_np(m.group("ex"))
    return np_ if np_.names_thing or np_.ordinal or np_.superlative else None


_TRAILING_EXCLUSION = re.compile(
    rf"(?:,?\s*\b(?:but|except|apart from|other than|excluding|save|besides|aside from|"
    rf"without|leaving(?: out)?|not including)\b(?:\s+(?:for|not|leave|keep|leaving|"
    rf"(?:{_NEGATIVE})\s+(?:move|touch|include|put)))?|,\s*(?:but\s+)?(?:not|none of)\b)"
    rf"\s+(?:any of\s+|none of\s+|neither\s+)?"
    rf"(?P<ex>(?:the|any|all|that|those|this|these|it|them)\b.*?){_KEEP_WORDS}$"
)


def _trailing_exclusion(clause: str) -> tuple[str, tuple[NounPhrase, ...]]:
    """ "put the blocks in the bowl, but not the red one": the exclusion after the target."""
    m = _TRAILING_EXCLUSION.search(clause)
    if m is None:
        return clause, ()
    before = clause[: m.start()].strip(" ,")
    _, rest = _strip_verb(before)
    head, target = parse_target(rest)
    objects = parse_np(head) if head.strip() else None
    many = objects is not None and (objects.wants_many or objects.every)
    ref = target.ref if target is not None else None
    open_place = ref is not None and (ref.any_one or ref.wants_many or ref.every)
    if target is None or objects is None or not (many or open_place):
        return clause, ()
    items = re.split(r"\s*(?:,|\band\b|\bor\b|\bnor\b)\s*", m.group("ex"))
    return before, tuple(parse_np(p) for p in items if p.strip())


_EACH_OTHERS = re.compile(
    r"^(?P<pair>.+?) (?:are|were|got|have been|ended up) (?:put )?in each other(?:'s|s)? "
    r"(?:spots|places|positions|homes)(?:,? (?:fix|sort|correct|swap) (?:that|it|this|them)"
    r"(?: out| back)?)?$"
)
_WHEN_DONE = re.compile(
    r",?\s*\b(?:when|once|by the time) (?:you are|you have) (?:done|finished)$|,?\s*\bat the end$"
)
_WISH = re.compile(
    r"^(?:(?:the|this) (?:table|desk) (?:should|must|needs to) (?:have|end up with)|"
    r"i (?:would like|want|need|would love|wish|would prefer|prefer)(?: to (?:have|see|get))?|"
    r"make sure|ensure|see to it|have|get|let|can i have|could i have|i would like to have)"
    r"\s+(?:that\s+)?"
)
_MODAL_START = re.compile(
    r"^(?:can|could|will|would|should|shall|must)\s+(?=(?:the|a|an|all|every|each|both|it|them"
    r"|this|that|these|those)\b)"
)
_COPULA = re.compile(
    r"\s+(?:(?P<modal>should|must|shall|needs? to|has to|have to|is to|are to|ought to|will|can|"
    r"could|has got to|is going to|are going to|to)\s+)?"
    r"(?:(?:be|go|goes|get|gets|end up|ends up|belong|belongs|sit|sits|stand|stands|rest|rests|"
    r"stay|stays|live|lives|ended up|is|are|now)\s+)*"
    r"(?P<part>placed|put|moved|set|dropped|positioned|stacked|piled|lined up|arranged|pushed|"
    r"slid|nudged|sorted|grouped|located|sitting|standing|resting|lying|kept|transferred|"
    r"relocated|shifted|brought|taken|carried)?\s*"
    r"(?=(?:in|into|inside|on|onto|on top of|at|to|next to|beside|near|by|behind|in front of|"
    r"between|left of|right of|to the|over|under|atop|up|together|in a|into a)\b)"
)
_PARTICIPLE_VERBS = {
    "stacked": "stack",
    "piled": "stack",
    "lined up": "line up",
    "arranged": "arrange",
    "pushed": "push",
    "slid": "slide",
    "nudged": "nudge",
    "sorted": "sort",
    "grouped": "group",
}
_GIVE_A_PUSH = re.compile(
    r"^give (?P<np>.+?) an? (?:little |small |gentle |slight |light |quick |tiny )?"
    r"(?P<verb>push|nudge|shove|tap|poke|bump)\b"
)


_RELEASE_TAIL = re.compile(  # "..., and let it go inside": the move already says so
    r",?\s+(?:and|then)\s+(?:let (?:it|them) go|let go(?: of (?:it|them))?|release (?:it|them)|"
    r"drop (?:it|them)|set (?:it|them) down|leave (?:it|them))(?:\s+(?:inside|there|in it|"
    r"in there|on it))?$"
)
_CHOICE_TAIL = re.compile(  # "..., any one is fine": the indefinite target already says so
    r",?\s+(?:(?:any|either|whichever)(?: one| order)? (?:is|will be|would be) (?:fine|ok|okay)|"
    r"(?:in )?any order(?: you like)?|the order does not matter|"
    r"any (?:one )?will do|(?:it )?does not matter which(?: one)?|i do not mind which(?: one)?|"
    r"(?:whichever|either|any) way(?: round| around| up)?|(?:\d+|the one),? mind(?: you)?|"
    r"(?:any|either|whichever)(?: one)? (?:will|would) do)$"
)
_FIND_PLACE = re.compile(
    r"^find (?:a |an |some )?(?:spot |place |room |somewhere |space )?(?:(?P<rel>in|on) )?"
    r"(?P<container>(?:a|an|some|one of the|the) .+?) (?:for|to hold|to take) (?P<things>.+)$"
)
_AWAY_INTO = re.compile(
    r"^(put|tuck|store|stow|place|pack|clear) (?:away (?=.+ (?:in|into|on|onto) )|"
    r"(.+?) away (?=(?:in|into|on|onto|inside)\b))"
)
_TOPIC = re.compile(
    r"^(?P<np>(?:the|this|that) .+?),? (?P<verb>put|place|move|drop|set|stick|pop) "
    r"(?:it|them) (?P<rest>.+)$"
)


_PLACE_FIRST = re.compile(
    r"^(?P<np>(?:the|this|that) [^,]+?),? (?P<where>(?:to|in|into|on|onto|at|next to|beside|"
    r"behind|in front of) .+?),? (?:you |please )?(?P<verb>" + _VERB_ALT + r") (?:it|them)$"
)
_PLACE_THEN_THING = re.compile(  # "onto the green mat they go, all 3 blocks", "in front of the
    # purple bowl, on the side closest to me, goes the gray block": the place said first
    r"^(?P<where>(?:to|in|into|on|onto|on top of|next to|beside|behind|in front of) [^,]+?),? "
    r"(?:(?:on|at) [^,]+, )?(?:(?:they|it|these|those) )?(?:goes|go|belongs?)(?:,| )\s*(?P<np>.+)$"
)
_BESIDE_ON_SIDE = re.compile(  # "next to the brown block, on its left side": left of it
    r"\b(?:next to|beside|by|alongside)\s+(?P<ref>[^,]+?),?\s+(?:on|at|to)\s+(?:its|their|the)\s+"
    r"(?P<side>left|right)(?:\s+side)?(?:\s+of (?:it|them))?$"
)


_IN_ONE_TOWER = re.compile(
    rf"^(?P<objs>(?:the|all|both|my) .+?) (?:in|into) (?:one|a|a single) {_TOWER}\b(?P<rest>.*)$"
)
_A_TOWER = re.compile(
    rf"^(?:a|an|one|another) {_TOWER}(?: again)?,?(?: this time)?"
    rf"(?: (?:with|of|from|using|out of) (?P<objs>.+))?$"
)
_UNDER = re.compile(
    r"^(?:(?:put|place|set|have|want|need|i want|i need|i would like)\s+)?(?P<a>[^,:;]+?)\s+"
    r"(?:under|underneath|beneath|below)\s+(?!(?:everything|it all|them all|all|the rest|the "
    r"others|all the others|all of them)$)(?P<b>[^,:;]+)$"
)


def _restate(clause: str) -> str:
    """Put the verb first: "the red cube should go in the dish" -> "put the red cube in the
    dish"; "i want the yellow cube stacked on the green one" -> "stack the yellow ...";
    "give the block a push to the left" -> "push the block to the left"; "fill the bowl
    with the blocks" -> "put the blocks in the bowl"."""
    clause = _BESIDE_ON_SIDE.sub(r"to the \g<side> of \g<ref>", clause)
    m = _IN_ONE_TOWER.match(_WISH.sub("", clause))
    if m and parse_np(m.group("objs")).names_thing:  # "the red and blue blocks in one stack"
        return f"stack {m.group('objs')}{m.group('rest')}"
    m = _A_TOWER.match(_WISH.sub("", clause))
    if m:  # "i need a tower again, this time with the white block, ..."
        return f"stack {m.group('objs') or 'the blocks'}"
    m = _UNDER.match(clause)
    b = parse_np(m.group("b")) if m else None
    if m and parse_np(m.group("a")).names_thing and b and b.names_thing and not b.pronoun:
        above, kind = m.group("b"), parse_np(m.group("a")).category
        if kind and b.category is None:  # "the green block under the red one": a block
            above = re.sub(r"\bone\b", kind, above)
        return f"stack {above} on {m.group('a')}"  # "the white block under the black"
    m = _GIVE_A_PUSH.match(clause)
    if m:
        return f"{m.group('verb')} {m.group('np')}{clause[m.end() :]}"
    clause = _RELEASE_TAIL.sub("", _CHOICE_TAIL.sub("", clause))
    m = _FIND_PLACE.match(clause)
    if m:  # "find a bowl for the blue bar"
        return f"put {m.group('things')} {m.group('rel') or 'in'} {m.group('container')}"
    m = _TOPIC.match(clause)
    if m:  # "the black can, put it in a bowl"
        return f"{m.group('verb')} {m.group('np')} {m.group('rest')}"
    m = _PLACE_THEN_THING.match(clause)
    if m and parse_np(m.group("np")).names_thing:
        return f"put {m.group('np')} {m.group('where')}"
    m = _PLACE_FIRST.match(clause)
    if m:  # "the cyan cube, to the upper right corner you move it"
        return f"{m.group('verb')} {m.group('np')} {m.group('where')}"
    m = _SHORTHAND.match(clause)
    if (
        m
        and not _strip_verb(clause)[0]
        and _names_one_place(m.group("place"))
        and parse_np(m.group("np")).names_thing
    ):
        return f"put {m.group('np')} in {m.group('place')}"  # "red block, white tray, go"
    clause = _AWAY_INTO.sub(
        lambda m: f"{m.group(1)} {m.group(2) or ''} ".replace("  ", " "), clause
    )  # "put away the block in the bowl", "put the block away in the bowl"
    m = re.match(r"^fill (?:up )?(?P<container>.+?) (?:up )?with (?P<things>.+)$", clause)
    if m:  # "fill the bowl with the blocks"
        return f"put {m.group('things')} in {m.group('container')}"
    m = re.match(
        r"^(?:so )?use (?P<place>(?:the|a|an) .+?) for (?P<things>(?:the|a|an|this|that) .+)$",
        clause,
    )
    if m:  # "use the other bowl for the yellow cube"
        return f"put {m.group('things')} in {m.group('place')}"
    clause = _WHEN_DONE.sub("", clause)  # "... when you're done": the state to leave
    m = _EACH_OTHERS.match(clause)
    if m:  # "the red and blue blocks are in each other's spots": they trade places
        return f"swap {m.group('pair')}"
    if _strip_verb(clause)[0]:
        return clause
    body = _MODAL_START.sub("", _WISH.sub("", clause))
    body = base_verb(body, ALL_VERBS)
    if _strip_verb(body)[0]:
        return body
    parts = re.split(r"\s*(?:,|\band\b)\s*", body)
    if any(_BESIDE_END.match(p) for p in parts) and any(
        _STACK_TOP.search(f" {p}") or _STACK_BASE.search(f" {p}") for p in parts
    ):  # "the white block at the top, the black one under it, ...": a tower, said piece by piece
        return f"stack {body}"
    for m in _COPULA.finditer(body):
        head = body[: m.start()]
        if m.group("modal") == "can" and parse_np(f"{head} can").category == "cylinder":
            head += " can"  # "the white can goes in the bowl": the can is the thing
        if m.group(0).strip() and m.start() > 0 and parse_np(head).names_thing:
            verb = _PARTICIPLE_VERBS.get(m.group("part") or "", "put")
            return f"{verb} {head} {body[m.end() :]}".strip()
    head, target = parse_target(body)
    if target is not None and parse_np(head).names_thing:
        return f"put {body}"
    return clause


def _names_one_place(text: str) -> bool:
    """Whether a phrase is just a place: a bowl, a zone, either ("the white tray"), or a
    table region ("the top right corner"), and nothing more."""
    np_ = parse_np(text)
    if np_.category and set(categories(np_.category)) <= set(CONTAINERS):
        return not (np_.location or np_.unknown or np_.conjuncts)
    region = find_region(text)
    return region is not None and not text[region[2] :].strip()


_SHORTHAND = re.compile(  # a teleoperator's "red block, white tray, go": the thing, the place
    r"^(?P<np>[a-z ]+?), (?P<place>[a-z ]+?)(?:,? (?:go|now|do it|thanks|ok|okay))?$"
)
_COMMENTARY = re.compile(
    r"\b(?:is|are|would be|will be|should be) (?:fine|ok|okay|good|great|perfect|enough)\b|"
    r"^(?:my|i am|i feel)\b(?!.*\b(?:" + _VERB_ALT + r")\b)|"
    # "it keeps getting knocked over at the edge": a reason, not an order
    r"^(?:it|they|this|that|these|those) (?:keeps|keep|is|are|was|were|gets|get|got|has|have|"
    r"had|looks|look|seems|seem|tends|tend|always|never|might|may|would)\b|"
    # "we are done for the day", "i glued the bowl back together": news, not an order
    r"^(?:(?:ok|okay|alright|right|good news|so),? )?(?:i|we) (?:am|are|was|were|have|had|just|"
    r"finally|(?!need\b|feed\b)[a-z]+ed)\b(?!.*\b(?:" + _VERB_ALT + r")\b)|"
    # "can you do that?", "both of them": the order said again
    r"^(?:do|manage) (?:that|it|this)$|^(?:is that|would that be) (?:ok|okay|alright|possible)$|"
    r"^(?:both|all|each|every one) of them$|"
    # "either will do", "only one, mind": which or how many, said again as a remark
    r"\b(?:any|either|whichever)(?: one| of (?:them|those))? (?:will|would|should) do\b|"
    r"^(?:(?:only|just) )?(?:\d+|the one)(?:,? mind(?: you)?)?$"
)
_RESTATES = re.compile(  # "next to it, not inside": the place said before, said again
    r"^(?:(?:just |right )?(?:next to|beside|by|near|behind|in front of|on top of|on|in|inside|"
    r"under|to the (?:left|right) of|left of|right of) (?:it|that|them)|"
    r"not (?:in|inside|into|on|on top of)(?: (?:it|that|them))?)"
    r"(?:,? (?:and |but )?not (?:in|inside|into|on|on top of)(?: (?:it|that|them))?)?$"
)


_REMARK = re.compile(
    r"^(?P<np>(?:(?:the|this|that|these|those|my|our|your) )?[^,;]+?)(?<! that)(?<! which) "
    r"(?:is|are|was|were|has|have|had|keeps|keep|looks|look|seems|seem|fell|got|"
    r"(?!(?:need|red)\b)[a-z]+ed)\b(?! to\b)"
)
_OBJECT_PRONOUN = re.compile(r"\b(?:(?:the )?(?:\d+|both|all|each) of )?(?:it|them)\b")
_HAS_VERB = re.compile(rf"\b(?:{_VERB_ALT})\b").search
_NO_LIFT = re.compile(r"^(?:and )?do not (?:pick|lift|raise) (?:it|them)(?: up)?$")
_SAYS_WHERE_IT_GOES = re.compile(r"\b(?:belongs?|goes|go|lives?|stays?|should|must|needs?)\b")
_THERE_ARE = re.compile(  # "there are 3 red cubes", "you can see 2 bowls": what is here
    r"^(?:there (?:is|are)|(?:(?:i|you|we) )?(?:can )?see|we have) "
    r"(?P<np>(?:an?|one|some|\d+) [a-z0-9 ]+)$"
)
_ONE_OF_TOPIC = re.compile(r"\bthe (?!other\b)[a-z]+ (?P<one>one)\b")  # "the middle one"
_BARE_NP = re.compile(r"^(?:the|these|those|all the|both) [a-z0-9 ]+$")
_PERSON_REMARK = re.compile(  # "somebody left the green can lying around", "i keep knocking"
    r"^(?:somebody|someone|i|we|they|he|she|the kids?)\b(?! (?:want|need|would|wish|prefer)\b)"
)
_THING_NP = re.compile(
    rf"\b(?:the|this|that|my|our|your) (?:[a-z]+ ){{0,2}}?(?:{kind_words(GRASPABLE)})s?\b"
)


def _with_topics(clauses: list[str]) -> list[str]:
    """ "the orange can is in the way, put it away", "now the cans - line them up": a remark
    about a thing (or the thing alone) is no order of its own when the order after it says
    "it" or "them"; that pronoun is the thing."""
    clauses = list(clauses)
    out: list[str] = []
    for i, clause in enumerate(clauses):
        after = clauses[i + 1] if i + 1 < len(clauses) else ""
        topic = _topic(clause)
        if topic and _strip_verb(after)[0] and _OBJECT_PRONOUN.search(after):
            clauses[i + 1] = _OBJECT_PRONOUN.sub(topic, after, count=1)
            continue
        here = topic and _THERE_ARE.match(clause) and _strip_verb(after)[0]
        one = _ONE_OF_TOPIC.search(after) if here else None
        if one is not None:  # "there are 3 red cubes, take the middle one" (not "the red
            # block is wet, take the dry one": another one)
            said = parse_np(topic)
            kind = " ".join((*said.colors, singular(said.word or "one")))
            clauses[i + 1] = f"{after[: one.start('one')]}{kind}{after[one.end('one') :]}"
            continue
        if topic and re.search(r"\bthe other one\b", after):  # "the blue bowl is dirty, so
            noun = parse_np(topic).word or "one"  # use the other one": not the blue bowl
            clauses[i + 1] = after.replace("the other one", f"the {noun} other than {topic}", 1)
            continue
        out.append(clause)
    return out


def _topic(clause: str) -> str | None:
    """The thing a clause that gives no order is about, if it is about one."""
    if _strip_verb(clause)[0]:
        return None
    there = _THERE_ARE.match(clause)
    if there is not None and parse_np(there.group("np")).names_thing:
        return there.group("np")
    m = _REMARK.match(clause)
    said = parse_np(m.group("np")) if m else None
    if said and (said.category or said.colors) and not said.unknown and not _HAS_VERB(said.text):
        return m.group("np")  # "the orange can is in the way"
    things = _THING_NP.findall(clause) if _PERSON_REMARK.match(clause) else []
    if things:
        return things[-1]  # "somebody left the green can lying around"
    np_ = parse_np(clause)
    where = np_.location and not _SAYS_WHERE_IT_GOES.search(clause)  # not "... belongs in"
    described = (  # "the third block from the right", "the block between the two bowls"
        np_.ordinal or np_.side or where or np_.superlative
    )
    if _BARE_NP.match(clause) and np_.names_thing and (described or not parse_target(clause)[1]):
        return clause  # "now the cans"
    return None


def parse_instruction(text: str) -> list[Frame]:
    """The frames of an instruction, one per thing to do, in order."""
    clauses = _order_said_first(_with_topics(split_clauses(resolve_there(text, strict=True))))
    frames: list[Frame] = []
    pending: tuple[NounPhrase, ...] = ()  # "do not touch the green block, put the others..."
    for clause in clauses:
        if _COMMENTARY.search(clause) and not _HAS_VERB(clause):
            continue  # "right beside it is fine", "my wrist is sore": a remark, not an order
        if frames and frames[-1].intent == "push" and _NO_LIFT.match(clause):
            continue  # "slide the bar 8 cm towards me, don't pick it up": how to push
        previous = frames[-1] if frames else None
        if previous is not None and previous.target is not None and _RESTATES.match(clause):
            continue
        if previous is not None and _continues_tower(previous, clause):
            frames[-1] = _continue_tower(previous, clause)
            continue
        if previous is not None and (ordered := _ordering(previous, clause)) is not None:
            frames[-1] = ordered  # "reading from the top down it should go green, blue, orange"
            continue
        if previous is not None and previous.target is not None:
            clause = _one_is(previous.target, clause)  # "..., then the cyan block in the right one"
        frame = parse_clause(clause)
        if frame.intent == "exclude" and frame.objects is not None:
            if previous is not None and previous.objects is not None:
                frames[-1] = _excluding(previous, (frame.objects,))
            else:
                pending = (*pending, frame.objects)
            continue
        if pending and frame.objects is not None:
            frame, pending = _excluding(frame, pending), ()
        if _names_group_of(previous, frame):  # "red, orange, yellow. the four blocks, in a line"
            assert previous is not None and frame.objects is not None
            kind = frame.objects.category
            order = tuple(replace(np_, category=np_.category or kind) for np_ in previous.order)
            frames[-1] = replace(previous, objects=frame.objects, order=order)
            continue
        if _same_target_as(previous, frame):
            # "put the red block in the bowl, then the blue one (too)": the same target
            assert previous is not None
            frames.append(replace(previous, objects=frame.objects, text=clause))
            continue
        if _takes_object_of(previous, frame):
            # "pick up the green block and put it in the bowl": one move
            assert previous is not None
            frames[-1] = replace(
                frame, objects=previous.objects, text=f"{previous.text} and {clause}"
            )
            continue
        frames.append(_parallel_ref(previous, _kind_from(previous, frame)))
    return frames


_SIDES = ("left_of", "right_of", "behind", "in_front_of")


_THAT_ARRANGEMENT = re.compile(r"^(?:that|the|this|such an?|an?) (?:tower|stack|pile|row|line)$")
_ARRANGEMENT_NOUN = re.compile(r"\b(?:tower|stack|pile|row|line)\b")


def _order_said_first(clauses: list[str]) -> list[str]:
    """ "bottom to top it should read blue, yellow, red. build that tower": the order said
    before the tower it is about goes after it, where `_ordering` reads it."""
    out: list[str] = []
    i = 0
    while i < len(clauses):
        if i + 1 < len(clauses) and _ARRANGEMENT_NOUN.search(clauses[i + 1]):  # parse only then
            after = parse_clause(clauses[i + 1])
            said = after.objects.text if after.objects is not None else ""
            if (
                after.intent in ("stack", "line")
                and _THAT_ARRANGEMENT.match(said)
                and _ordering(after, clauses[i]) is not None
            ):
                out += [clauses[i + 1], clauses[i]]
                i += 2
                continue
        out.append(clauses[i])
        i += 1
    return out


def _names_group_of(previous: Frame | None, frame: Frame) -> bool:
    """Whether a row or tower said as bare colours is followed by the same arrangement of a
    named group, which gives the colours their kind."""
    return (
        previous is not None
        and previous.intent == frame.intent
        and frame.intent in ("line", "stack")
        and bool(previous.order)
        and not frame.order
        and not any(np_.category for np_ in previous.order)
        and frame.objects is not None
        and frame.objects.category is not None
        and frame.objects.wants_many
    )


def _parallel_ref(previous: Frame | None, frame: Frame) -> Frame:
    """ "the pink block on the gray block's left and the black block on its right": a
    pronoun placing by another side means the object the clause before placed by."""
    before, now = previous.target if previous else None, frame.target
    if before is None or now is None or now.ref is None or not now.ref.pronoun:
        return frame
    if before.kind in _SIDES and now.kind in _SIDES and now.kind != before.kind and before.ref:
        return replace(frame, target=replace(now, ref=before.ref))
    return frame


def _kind_from(previous: Frame | None, frame: Frame) -> Frame:
    """ "..., then the red one on top of that": "one" is the kind the clause before named."""
    np_, before = frame.objects, previous.objects if previous is not None else None
    if np_ is None or np_.category or before is None or not before.category:
        return frame
    if not re.search(r"\bones?\b", np_.text) or np_.pronoun:
        return frame
    return replace(frame, objects=replace(np_, category=before.category))


def _excluding(frame: Frame, excluded: tuple[NounPhrase, ...]) -> Frame:
    """The frame with more things its objects leave out."""
    assert frame.objects is not None
    return replace(
        frame, objects=replace(frame.objects, exclude=(*frame.objects.exclude, *excluded))
    )


def _ordering(previous: Frame, clause: str) -> Frame | None:
    """The stack or line before, with the order a clause of its own gives it ("reading
    from the top down: green, blue, red"; "yellow goes on top, purple at the bottom")."""
    if previous.intent not in ("stack", "line") or _strip_verb(clause)[0]:
        return None
    if previous.intent == "stack" and _POSITIONS.search(clause):
        said = _frame_stack(clause, _GOES.sub(" ", clause))
        middle = tuple(np_ for np_ in (said.objects,) if np_ is not None and np_.names_thing)
        if said.base is not None or said.top is not None:
            return replace(
                previous,
                base=said.base or previous.base,
                top=said.top or previous.top,
                order=said.order or middle or previous.order,
            )
    if previous.intent == "line" and not previous.order and _ROW_PLACE.search(clause):
        placed = parse_clause(f"{previous.text}, {_GOES.sub(' ', clause)}")  # "purple on the left"
        if placed.intent == "line":
            return placed
    _, way, listed = _arrangement(clause)
    listed = _SHOULD_GO.sub("", listed).strip(" ,:")
    items = _listed(listed, previous.objects)
    if not way or not items:
        return None
    if previous.intent == "line":
        return replace(previous, order=items, arrange=way)
    bottom_up = tuple(reversed(items)) if way == "top to bottom" else items
    return replace(previous, order=bottom_up, base=None, top=None)


_POSITIONS = re.compile(
    r"\b(?:on top|at the top|at the bottom|on the bottom|underneath|in the middle)\b"
)
_GOES = re.compile(r"\b(?:goes|go|sits|comes|is|should be|should go)\b")
_SHOULD_GO = re.compile(
    r"^(?:it|they|the order|the tower|the row) (?:should|must|will|has to|have to|needs to)? ?"
    r"(?:go|goes|be|is|read|reads|run|runs)\b"
)


def _continues_tower(previous: Frame, clause: str) -> bool:
    """ "..., then the pink one, then the cyan one on top": the tower (or the ordered
    row) goes on."""
    item = _STACK_BASE.sub(" ", f" {_tower_item(clause)}").strip()
    return (
        (previous.intent == "stack" or (previous.intent == "line" and bool(previous.order)))
        and (previous.target is None or previous.target.kind == "on")
        and (previous.objects is None or not previous.objects.plural or previous.target is None)
        and not _strip_verb(clause)[0]
        and _names_thing(item)
        and parse_target(item)[1] is None
    )


def _continue_tower(previous: Frame, clause: str) -> Frame:
    """The tower or row with the items of a "then ..." clause added ("green, and the red
    one goes on the very top": green next, red at the top)."""
    if previous.target is not None and previous.target.ref is not None:  # "X on Y, then Z on top"
        previous = replace(
            previous, target=None, base=previous.target.ref, order=(previous.objects,)
        )
    first = previous.objects  # "build a tower: pink, then white, ...": pink is the first item
    if previous.intent == "stack" and not previous.order and first and _one_thing(first):
        previous = replace(previous, objects=None, order=(first,))
    order, top, base = list(previous.order), previous.top, previous.base
    for part in re.split(r"\s*(?:,\s*and\b|,|\band\b)\s*", clause):
        part = _STACK_MIDDLE.sub(" ", " " + _GOES.sub(" ", part)).strip()
        if not part:
            continue
        if previous.intent == "stack" and _STACK_BASE.search(f" {part}"):
            base = parse_np(_STACK_BASE.sub(" ", f" {part}").strip())
        elif previous.intent == "stack" and _TOP_ITEM.search(part):
            top = parse_np(_tower_item(_TOP_ITEM.sub(" ", part)))
        else:
            order.append(parse_np(_tower_item(part)))
    if previous.intent == "line":  # the row is the things listed
        shared = share_kind(order)
        objects = parse_np(" and ".join(np_.text for np_ in shared))
        return replace(previous, order=shared, objects=objects)
    return replace(previous, order=tuple(order), top=top, base=base)


def _one_thing(np_: NounPhrase) -> bool:
    """Whether a phrase names one object by its words ("pink", "the pink block")."""
    return not (np_.plural or np_.every or np_.pronoun) and bool(np_.colors or np_.category)


_TOP_ITEM = re.compile(
    r"\b(?:goes |go |sits |comes )?(?:on|at) (?:the )?(?:very )?top\b|\b(?:goes|go|comes) last\b"
)


def _tower_item(clause: str) -> str:
    item = re.sub(r"\b(?:on top|at the top|on the top|above|over it|last)\b", "", clause)
    return _PLACE_IN_ROW.sub(" ", item).strip()


def _same_target_as(previous: Frame | None, frame: Frame) -> bool:
    return (
        previous is not None
        and previous.intent in ("move", "push")
        and previous.target is not None
        and frame.intent == "unknown"
        and frame.objects is not None
        and bool(frame.objects.category or frame.objects.colors)
    )


def _takes_object_of(previous: Frame | None, frame: Frame) -> bool:
    return (
        previous is not None
        and previous.intent == "unknown"
        and previous.objects is not None
        and frame.objects is not None
        and (frame.objects.pronoun or not frame.objects.text.strip())  # "... and put inside X"
    )


_NEXT_ITEM = re.compile(  # where the next "X in Y" of a list begins: "..., blocks in the ..."
    rf"(?:,\s*(?:and\s+)?|\s+and\s+)"
    rf"(?=(?:the|a|an|{_COLOR_ALT}|{'|'.join(SIZE_WORDS)}|(?:{kind_words(GRASPABLE)})s?)\b)"
)


def _ungap(clause: str) -> list[str]:
    """ "put the red block in the red bowl and the blue block in the blue bowl": two clauses,
    the second borrowing the first one's verb."""
    verb = _strip_verb(clause)[0]
    if not verb:  # "green stuff on the green mat and yellow stuff on the yellow mat"
        parts = _ungap(f"put {clause}") if parse_target(clause)[1] is not None else []
        return parts if len(parts) > 1 else [clause]
    for m in _NEXT_ITEM.finditer(clause):
        first = _parse_intent(clause[: m.start()])
        if first.intent not in ("move", "stack") or first.target is None:
            continue
        rest = _one_is(first.target, clause[m.end() :])
        second = _parse_intent(f"{verb} {rest}")
        if second.target is not None and second.objects is not None and second.objects.names_thing:
            return [clause[: m.start()], *_ungap(f"{verb} {rest}")]
    return [clause]


def _one_is(target: Target, text: str) -> str:
    """ "..., little ones into the one on the right": a place said as "one" by where it is
    is named by the noun of the place before it (the bowl); "the green one" is left to mean
    a thing of the moved object's kind."""
    word = target.ref.word if target.ref is not None else None
    if target.region is not None:  # "in the far left corner, ... in the far right one"
        word = target.region.split()[-1]
    if not word:
        return text
    return re.sub(
        rf"\b(into|in|onto|on|to) the ((?:(?!(?:{_COLOR_ALT})\b)\w+ ){{0,2}})one\b",
        rf"\1 the \2{word}",
        text,
    )
