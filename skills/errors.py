"""Typed errors raised by robots and skills; every failure names its cause."""

from __future__ import annotations

import reprlib

QUOTE_CHARS = 60  # the most characters of an offending value an error message shows


class _ShortRepr(reprlib.Repr):
    """`repr` that stops early on long, large or deeply nested values."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = self.maxother = self.maxlong = QUOTE_CHARS


_SHORT = _ShortRepr()


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """`value` as an error message quotes it: its repr, cut to `limit` characters ("...")."""
    text = _SHORT.repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class HeedError(Exception):
    """Base of every error heedbot raises on purpose (a user mistake or a refused command)."""


class SafetyError(HeedError):
    """A command was refused by the safety envelope before any motion.

    Attributes:
        limit: name of the limit that was violated (e.g. ``workspace.x``).
        value: the offending value, as given.
    """

    def __init__(self, limit: str, value: object, detail: str = "") -> None:
        self.limit = limit
        self.value = value
        msg = f"refused by safety limit {limit}: value {quote(value)}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class RobotError(HeedError):
    """The robot could not carry out a command (hardware fault, lost connection, stop)."""


class StaleStateError(SafetyError):
    """The robot state the command relies on is older than allowed."""


class UnknownObjectError(HeedError):
    """A skill named an object the object source does not know."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        listing = ", ".join(sorted(known)) or "none"
        super().__init__(f"unknown object {quote(name)}; objects in the scene: {listing}")
