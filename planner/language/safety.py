"""Orders no robot arm should carry out, whatever the planner: throwing things at people
or as hard as it can, dropping them off the table. Read from the words alone, before any
plan is made."""

from __future__ import annotations

import re

_THROW = r"(?:throw|throwing|fling|flinging|hurl|hurling|chuck|chucking|toss|tossing|lob|launch)"
_AT_SOMEONE = (
    r"at (?:me|him|her|them|us|you|someone|somebody|anyone|anybody|people|(?:my|the|that|a|"
    r"your|his|her|our) (?:colleague|friend|person|man|woman|kid|child|boss|dog|cat|face|head"
    r"|window|screen|wall))"
)
_UNSAFE = re.compile(
    rf"\b{_THROW}\b.*\b(?:{_AT_SOMEONE}|as (?:hard|fast|far) as (?:you|it) can|"
    r"with (?:all|full) (?:your|its) (?:force|strength))\b"
    rf"|\b(?:hit|smash|strike|whack) (?:me|him|her|them|someone|somebody|(?:my|the|that) "
    r"(?:colleague|friend|person|face|head))\b"
    # things sent off the table: "onto the floor", "knock it off the edge"
    r"|\b(?:on|onto|to|down to|on to) the (?:floor|ground)\b"
    rf"|\b(?:{_THROW}|knock|knocking|push|pushing|shove|sweep|drop|dropping)\b.*"
    r"\boff (?:the (?:edge of the )?table|the edge)\b"
)


def unsafe(text: str) -> str | None:
    """Why the words ask for something unsafe ("throw it at my colleague"), or None."""
    m = _UNSAFE.search(text.lower())
    if m is None:
        return None
    return f"I will not do that: {m.group(0)[:60]!r} could hurt someone or break something."
