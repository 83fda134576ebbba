"""Forgetting what was taught: "forget what I said about the white bowl".

A forget correction names what the knowledge to drop is about; every taught statement that
mentions it (the same words, singular or plural) stops applying at once and is revoked from
the knowledge base when the task ends, its history kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from planner.language.lexicon import CATEGORY_WORDS, kind_words, normalize

_FORGET = (
    re.compile(
        r"^(?:please |just |you can |you may )?(?:forget|ignore|disregard|drop|scrap|scratch|"
        r"never mind|cancel|undo) (?:about )?(?:what|everything|anything|all) i (?:said|told you|"
        r"taught you|asked|mentioned)(?: before| earlier)? (?:about|regarding|concerning|on) "
        r"(?P<subject>.+)$"
    ),
    re.compile(
        r"^(?:please |just |you can |you may )?(?:forget|ignore|disregard|drop|scrap|scratch|"
        r"cancel) (?:about )?(?:the|my|that) (?:rule|instruction|preference|thing) "
        r"(?:about|for|regarding|on) (?P<subject>.+)$"
    ),
    re.compile(
        r"^(?:the|my|that|this) (?:rule|instruction|preference) (?:about|for|regarding|on) "
        r"(?P<subject>.+?) (?:no longer applies|does not apply any ?more|is over|is gone|"
        r"is cancell?ed)$"
    ),
)
_LEAD = re.compile(r"^(?:no|ok|okay|actually|also|and|oh|right|listen|so)[,!.]? ")
_PARTS = re.compile(r"\s*(?:[.;!?]|,\s*(?=so\b|and\b|because\b))\s*")
_NAMED = re.compile(  # a thing named in the words before "it": "the white bowl"
    rf"\b(?:the|that|this|my) ((?:[a-z]+ )?(?:{kind_words(CATEGORY_WORDS)}))s?\b"
)
_TAIL = re.compile(r"(?:,? (?:please|now|from now on|any ?more|again|thanks|ok|okay))+$")
_DETERMINERS = {"the", "a", "an", "my", "your", "that", "this", "those", "these", "any", "all"}


def parse_forget(text: str) -> str | None:
    """The words naming what a forget correction is about ("white bowl"), or None; in one
    sentence or clause of several, "it" being the thing named before ("I glued the white
    bowl back together, so that rule about it no longer applies")."""
    whole = normalize(text)
    for part in [*_PARTS.split(whole), whole]:  # a sentence of its own first
        t = part.strip(" ,.!")
        while _LEAD.match(t):
            t = _LEAD.sub("", t, count=1)
        t = _TAIL.sub("", t.strip(" .!"))
        for pattern in _FORGET:
            m = pattern.match(t)
            if m is None:
                continue
            subject = re.sub(
                r"\s+(?:before|earlier|too|as well)$", "", m.group("subject").split(",")[0]
            )
            words = [w for w in subject.split() if w not in _DETERMINERS]
            if words in (["it"], ["them"]):
                named = _NAMED.findall(whole[: whole.find(part)])
                words = named[-1].split() if named else []
            return " ".join(words) or None
    return None


def mentions(statement: str, subject: str) -> bool:
    """Whether a taught statement is about `subject` (its words in order, any of them in
    the plural)."""
    words = [re.escape(w.removesuffix("s")) + r"s?" for w in subject.split()]
    return bool(re.search(r"\b" + r"\s+".join(words) + r"\b", normalize(statement)))


def remembered(knowledge: Sequence[str], forgotten: Sequence[str]) -> list[str]:
    """The statements none of the forget corrections (their texts) is about."""
    subjects = [s for text in forgotten if (s := parse_forget(text)) is not None]
    return [k for k in knowledge if not any(mentions(k, s) for s in subjects)]
