"""Words people teach: "when I say tidy up, I mean put everything in the gray bowl".

A taught meaning maps a user's own word or phrase to what it stands for, in words the
planner already reads:
- a **place**: "when I say put a block aside, I mean the left side of the table" makes
  "aside" read as "on the left side of the table";
- an **action**: "tidy up means put all the blocks in the gray bowl" makes "tidy up (the
  table)" read as that order;
- a **manner**: "careful means slow and a firm grip" makes a task said "carefully" move
  slower with a firmer grip (skill parameters, `manner_text`).
Meanings are substituted into an instruction before it is parsed, so every backend reads
the user's words the way they were taught. A statement in the form `meaning_statement`
writes reads back through `parse_meaning`, which is how knowledge records carry them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from planner.language.lexicon import (
    CATEGORY_WORDS,
    COLORS,
    EVERYTHING_WORDS,
    GENERIC_WORDS,
    REGION_WORDS,
    region_named,
)

PLACE, ACTION, MANNER = "place", "action", "manner"
MAX_PHRASE_WORDS = 5  # longer "phrases" are sentences, not words being defined

_NAMED_PLACE = re.compile(  # "the cubby's the bottom left corner": a new word for a place
    r"^(?P<phrase>(?:the |my )?[a-z]+)(?:'s| is) (?P<means>(?:the|my) .+)$"
)
_QUOTES = re.compile(r"[\"“”‘’`]|(?<!\w)'|'(?!\w)")
_TEACH = (
    re.compile(
        r"^(?:and |also |ok,? |okay,? )?(?:when(?:ever)?|if) i (?:say|ask (?:you )?to|tell you to)"
        r" (?P<phrase>.+?),? i (?:mean|want)(?: you to)? (?P<means>.+)$"
    ),
    re.compile(r"^by (?P<phrase>.+?),? i mean (?P<means>.+)$"),
    re.compile(  # "i call that corner the garage": the name last, a known place first
        r"^i (?:call|name|have named|like to call|have called) (?P<means>(?:that|this|the) "
        r"(?:[a-z]+ ){0,2}?(?:corner|side|edge|end|bowl|dish|mat|zone|pad|spot|place)) "
        r"(?P<phrase>(?:the |my )?[a-z]+(?: [a-z]+)?)(?:\s*,.*)?$"
    ),
    re.compile(
        r"^(?P<phrase>(?:the |my )?[a-z]+(?: [a-z]+)?)(?:'s| is) what i call (?P<means>.+)$"
    ),
    _NAMED_PLACE,
    re.compile(r"^(?P<means>.+?)[!.,]? (?:that's|that is|thats) what (?P<phrase>.+?) means$"),
    re.compile(r"^(?P<means>.+?)[!.,]? (?:that's|that is|thats) what i mean by (?P<phrase>.+)$"),
    re.compile(
        r"^(?:the word )?(?P<phrase>[a-z][a-z ]*?),? (?:means|is short for|stands for):?"
        r" (?P<means>.+)$"
    ),
)
_THAT_PLACE = re.compile(r"^(?:that|this|the same) (corner|side|edge|end|spot|place)$")
_REGION_HEADS = ("corner", "side", "edge", "end")
_PUT_IT = re.compile(
    r"^(?:put|place|set|move|leave|keep|stick|drop) (?:it|them|that|this|things|something) "
    r"(?P<place>.+)$"
)
_MEANS_LEAD = re.compile(r"^(?:that )?(?:you should |i want you to |you to |to )?")
_MEANS_TAIL = re.compile(
    r"[,.;!]*\s*(?:\b(?:always|every time|from now on|please|ok|okay|thanks|all of it|"
    r"remember|you know|as i said|"
    r"all of them|everything)\b[,.;!]*\s*)*$"
)
_PLACE_PREPOSITION = re.compile(r"^(?P<prep>on|onto|to|at|in|into|inside|over|towards?) ")
_FRAME_VERBS = ("put", "set", "move", "place", "leave", "keep", "lay", "stick", "pop", "drop")
_FRAME_VERBS += ("take", "bring", "get", "shove", "push")
_GERUNDS = ("putting", "setting", "moving", "placing", "leaving", "keeping", "laying")
_GERUNDS += ("sticking", "popping", "dropping", "taking", "bringing", "getting", "pushing")
_FRAME_WORDS = {  # the template around a defined word: "(put) (a block) aside"
    *_FRAME_VERBS,
    *_GERUNDS,
    *("a", "an", "the", "some", "it", "them", "this", "that", "something", "things"),
    *("my", "your", "one", "ones"),
    *COLORS,
    *GENERIC_WORDS,
    *(w for words in CATEGORY_WORDS.values() for w in words),
    *(w + "s" for words in CATEGORY_WORDS.values() for w in words),
}
_PLACE_WORDS = re.compile(
    r"\b(?:"
    + "|".join(
        sorted({re.escape(w) for words in REGION_WORDS.values() for w in words}, key=len)[::-1]
    )
    + r"|side|corner|edge|middle|centre|center|"
    + "|".join(re.escape(w) for c in ("bowl", "zone") for w in CATEGORY_WORDS[c])
    + r")\b"
)
_OBJECT_WORDS = re.compile(  # an order acts on something: "put everything in ...", "stack them"
    r"\b(?:"
    + "|".join(
        re.escape(w)
        for w in (
            *EVERYTHING_WORDS,
            *(w for c in ("block", "bar", "cylinder") for w in CATEGORY_WORDS[c]),
            *GENERIC_WORDS,
        )
    )
    + r")s?\b|\b(?:all|it|them|each|every)\b"
)
_VERB_OBJECT = (  # "park the red block": a place word used as a verb takes its object
    r"(?P<obj>(?:the|a|an|this|that|it|them|my|your|all|every|each)\b[^,;.?!]*?)"
    r"(?=\s*(?:$|[,;.?!]|\band\b|\bthen\b))"
)
_SPLIT_OBJECT = r"(?P<obj>(?:the|a|an|this|that|it|them|my|your)\b[^,;.?!]*?)"  # V <obj> PART
_MANNER_MEANS = re.compile(
    r"\b(slowly|slow|carefully|careful|gently|gentle|softly|firmly|firm grip|tightly|"
    r"tight grip|quickly|fast)\b"
)
_CLAUSE_START = r"(?:^|(?<=[,;.!?] )|(?<=\bplease )|(?<=\band )|(?<=\bthen ))"
_TABLE_TAIL = r"(?: (?:up )?(?:the |my |this )?(?:table|desk|workspace|bench|area|mess|place))?"


@dataclass(frozen=True)
class Meaning:
    """What a user's word stands for: `phrase` (the word, lower case) read as `means`,
    a place or an action (`kind`)."""

    phrase: str
    means: str
    kind: str

    def statement(self) -> str:
        return meaning_statement(self)


def _clean(text: str) -> str:
    t = _QUOTES.sub(" ", text.lower().replace("’", "'"))
    t = re.sub(r"\s+", " ", t).strip(" .!?")
    return re.sub(r"^(?:no|nope|wrong|not like that|listen|look)[,.!]? ", "", t)


def parse_meaning(text: str) -> Meaning | None:
    """The meaning a teaching sentence states, or None when it states none."""
    t = _clean(text)
    starts = [0, *(m.end() for m in re.finditer(r"[:;.!?,]\s+|\s+-\s+", t))]  # "by the way,"
    for pattern, start in ((p, i) for i in starts for p in _TEACH):
        m = pattern.match(t[start:])
        if m is None:
            continue
        phrase = m.group("phrase").strip(" ,")
        means = re.split(r"(?<=\w)[.!?;] |\s+-\s+", m.group("means"))[0]  # this sentence
        means = _MEANS_TAIL.sub("", _MEANS_LEAD.sub("", means.strip(" ,"))).strip()
        that = _THAT_PLACE.match(m.group("means"))  # "i call that corner ...": the one named before
        if that is not None and that.group(1) in _REGION_HEADS and region_named(t[:start]):
            means = f"the {region_named(t[:start])}"
        if not means or not phrase or len(phrase.split()) > MAX_PHRASE_WORDS:
            continue  # "by the way, whenever i ask you to ...": read on
        placed = _PUT_IT.match(means)  # "stash something" is "put it in the bottom left corner"
        if placed and _is_place(placed.group("place")):
            means = placed.group("place")
        if pattern is _NAMED_PLACE and (not _is_place(means) or _known(phrase)):
            continue  # "the red block is the one on the left" describes, it names nothing
        if _is_place(means):
            key = [w for w in phrase.split() if w not in _FRAME_WORDS]
            return Meaning(" ".join(key) or phrase, _with_preposition(means), PLACE)
        if _OBJECT_WORDS.search(means):
            if re.match(r"(?:everything|all|every|each|anything|the)\b", means) and not re.search(
                r"\b(?:goes|go|belongs?|should go|end up|ends up)\b", means
            ):
                means = f"put {means}"  # "everything in the yellow bowl": an order to put
            return Meaning(phrase, means, ACTION)
        manner = _MANNER_MEANS.findall(means)
        if manner:  # "careful means slow and a firm grip": how to move
            return Meaning(phrase, " and ".join(dict.fromkeys(manner)), MANNER)
        return None  # neither a place, an order nor a manner
    return None


def _known(phrase: str) -> bool:
    """Whether a phrase is made of words the planner reads already (a colour, a kind, a
    place): then it is not a name being taught."""
    words = [w for w in phrase.split() if w not in ("the", "my")]
    return any(w in _FRAME_WORDS or _PLACE_WORDS.search(w) for w in words)


def _is_place(means: str) -> bool:
    """A place, not an order: "the left side of the table", "in the gray bowl"."""
    bare = _PLACE_PREPOSITION.sub("", means)
    return bool(re.match(r"(?:the|a|an|my|your) ", bare)) and bool(_PLACE_WORDS.search(bare))


def _with_preposition(place: str) -> str:
    return place if _PLACE_PREPOSITION.match(place) else f"on {place}"


def meaning_statement(meaning: Meaning) -> str:
    """The meaning in the words `parse_meaning` reads back."""
    means = meaning.means
    if meaning.kind == PLACE:
        means = _PLACE_PREPOSITION.sub("", means)
    return f'when I say "{meaning.phrase}", I mean {means}'


def apply_meanings(text: str, meanings: Iterable[Meaning]) -> tuple[str, list[Meaning]]:
    """The text with each taught phrase it holds replaced by its meaning, and the meanings
    applied; longer phrases first, so "tidy up" wins over "tidy"."""
    applied = []
    for meaning in sorted(meanings, key=lambda m: -len(m.phrase)):
        if meaning.kind == MANNER:
            continue  # how to move sets skill parameters (`manner_text`), not words to parse
        words = _phrase_pattern(meaning.phrase)
        if meaning.kind == ACTION:
            new, count = re.subn(rf"\b{words}\b{_TABLE_TAIL}", meaning.means, text, flags=re.I)
        else:
            new, count = re.subn(  # "clean up, please": a verb with nothing after it
                rf"{_CLAUSE_START}{words}\b{_TABLE_TAIL}(?=\s*(?:$|[,;.!?]|\bplease\b))",
                f"put everything {meaning.means}",
                text,
                flags=re.I,
            )
            if not count:  # "park the green block": a verb and its object
                new, count = re.subn(
                    rf"\b{words}\s+{_VERB_OBJECT}",
                    lambda m, place=meaning.means: f"put {m.group('obj')} {place}",
                    text,
                    flags=re.I,
                )
            if not count and len(meaning.phrase.split()) == 2:  # "squirrel the block away"
                verb, particle = meaning.phrase.split()
                new, count = re.subn(
                    rf"\b{_phrase_pattern(verb)}\s+{_SPLIT_OBJECT}\s+{re.escape(particle)}\b",
                    lambda m, place=meaning.means: f"put {m.group('obj')} {place}",
                    text,
                    flags=re.I,
                )
            if not count:  # "set it aside": where
                where = rf"(?:\b(?:to|onto|on|over|at|into|in) )?(?:the )?\b{words}\b"
                new, count = re.subn(where, meaning.means, text, flags=re.I)
        if count:
            text = new
            applied.append(meaning)
    return text, applied


def manner_text(text: str, meanings: Iterable[Meaning]) -> str:
    """The text with what each taught manner word it holds means added ("carefully" taught
    as "slowly": "... slowly"), for reading how to move."""
    said = _word_string(text)
    extra = [m.means for m in meanings if m.kind == MANNER and _word_string(m.phrase) in said]
    return " ".join([text, *extra])


def _word_string(text: str) -> str:
    return f" {' '.join(re.findall(r'[a-z]+', text.lower()))} "


def _phrase_pattern(phrase: str) -> str:
    """A regex for a taught phrase in any form of its first word ("cleaning up", "clean
    up", "cleans up")."""
    first, *rest = phrase.split()
    stem = re.sub(r"(?:ing|ed|es|s)$", "", first) if len(first) > 4 else first
    stem = re.sub(r"([^aeiou])\1$", r"\1", stem)  # "setting": set
    return r"\s+".join([rf"{re.escape(stem)}[a-z]*", *(re.escape(w) for w in rest)])


def meanings_in(statements: Sequence[str]) -> list[Meaning]:
    """The meanings among statements (knowledge, corrections); later ones win a phrase."""
    found: dict[str, Meaning] = {}
    for statement in statements:
        meaning = parse_meaning(statement)
        if meaning is not None:
            found[meaning.phrase] = meaning
    return list(found.values())
