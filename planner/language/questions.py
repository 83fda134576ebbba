"""Telling a question about the scene ("how many blocks are there?", "is the can in a
bowl?") from an order put as a question ("can you put the block in the bowl?"): every
planner answers the first in words, never with motion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from planner.language.lexicon import normalize
from planner.language.verbs import ALL_VERBS

_ASKING = re.compile(
    r"^(?:please\s+)?(?:(?:can|could|would|will) you (?:please )?(?:tell me|see|count|check|"
    r"say|find out)|do you (?:see|know|notice)|tell me|"
    r"i(?: want| would like|'d like| d like) to know|"
    r"i (?:wonder|am wondering|was wondering|am curious)|"
    r"how many|how much|what|which|where|who|whose|is|are|does|do(?! not)|did|has|have|was|"
    r"were)\b"
)
_WH = re.compile(r"^(?:please\s+)?(?:how many|how much|what|which|where|who|whose)\b")
_INTERJECTION = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|so|um+|uh+|well|say|excuse me|quick question|one question|"
    r"before you do anything|before anything else|first)\b\s*[,!:-]*\s*)+"
)
_TAIL = re.compile(r"(?:\s+(?:or not|anywhere|on (?:the )?table|right now|now|at))+$")
_VERBS = frozenset(v.split()[0] for v in ALL_VERBS)
_CAUSATIVE = re.compile(  # an order to make things do something, said without a "?"
    r"^\W*(?:please\s+)?(?:have|has|get|let)\s+(?:the|a|an|all|both|each|every|my|your)\b"
)


@dataclass(frozen=True)
class Question:
    """A question about the scene: its normalised text, and whether it asks for facts
    ("how many", "what", "where": never an order) rather than yes or no."""

    text: str
    wh: bool = False

    def may_be_order(self) -> bool:
        """A yes/no question naming an action ("is it ok to stack the blocks?") may be an
        order put politely; one without an action verb never moves anything."""
        return not self.wh and bool(set(re.findall(r"[a-z]+", self.text)) & _VERBS)


def read_question(text: str) -> Question | None:
    """The question `text` asks, or None when it is an order. A lead-in set off by a comma
    or a colon ("out of curiosity, is ...?", "sorry, quick question: what ...?") is passed
    over when it holds no order of its own."""
    if "?" not in text and _CAUSATIVE.match(text.lower()):
        return None  # "have the two blocks trade places."
    first = text.split("?", 1)[0] + ("?" if "?" in text else "")  # the question, not what follows
    first = _INTERJECTION.sub("", " ".join(first.lower().split()))
    parts = re.split(r"(?<=[,:;])\s+|\s+-+\s+", first)
    for i in range(len(parts)):
        lead, rest = " ".join(parts[:i]), " ".join(parts[i:])
        if i and (not rest.endswith("?") or set(re.findall(r"[a-z]+", lead)) & _VERBS):
            break  # a clause with a verb of its own is an order, not a lead-in
        if (question := _question(rest)) is not None:
            return question
    return None


def _question(first: str) -> Question | None:
    raw = re.sub(r"\bwhats\b", "what is", _INTERJECTION.sub("", first).strip(" .!,:"))
    t = _TAIL.sub("", normalize(raw)).strip(" .!?,")
    if _ASKING.match(raw) is None or _is_request(raw) or t.split(" ", 1)[0] in _VERBS:
        return None  # "can the red block go in the bowl?" is an order
    return Question(t, wh=_WH.match(raw) is not None)


def _is_request(raw: str) -> bool:
    """ "can you put the block in the bowl?" is an order put politely."""
    m = re.match(r"^(?:please\s+)?(?:can|could|would|will) you (?:please )?(?P<verb>\w+)", raw)
    return m is not None and m.group("verb") not in ("tell", "see", "count", "check", "say")


def only_asks(text: str) -> bool:
    """Whether `text` is a question about the scene and nothing more: no action verb in the
    question ("is it ok to stack them?" may be an order) nor after it ("is the can in the
    bowl? if not, put it there")."""
    question = read_question(text)
    if question is None or question.may_be_order():
        return False
    after = text.lower().split("?", 1)[1] if "?" in text else ""
    return not set(re.findall(r"[a-z]+", after)) & _VERBS
