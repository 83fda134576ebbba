"""A small declarative schema for bridge messages, checked on both sides of the wire.

Each field type checks one decoded msgpack value and returns it normalised (tuples for
fixed vectors, floats for numbers). A violation raises `ProtocolError` naming the path
of the offending value, e.g. ``args.pose.position[2]: expected a finite number``.
Maps must have exactly their declared keys (optional ones may be left out).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.errors import ProtocolError

MAX_INT = 2**53  # integers beyond this are refused (they stop being exact as floats)
MAX_DEPTH = 12  # nesting of free-form values (episodes, predicates)
MAX_ITEMS = 20_000  # values in one free-form tree


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def fail(path: str, expected: str, value: object) -> ProtocolError:
    """The error for `value` at `path` not being `expected`."""
    return ProtocolError(f"{path}: expected {expected}, got {_show(value)}")


class Field(Protocol):
    """A field type: `check` returns the normalised value or raises `ProtocolError`."""

    def check(self, value: object, path: str) -> Any: ...


@dataclass(frozen=True)
class Num:
    """A finite real number in [lo, hi]; integers are accepted and returned as floats."""

    lo: float = -math.inf
    hi: float = math.inf

    def check(self, value: object, path: str) -> float:
        kind = type(value)
        if kind is float:
            x = value
        elif kind is int:
            x = float(value)
        else:
            raise fail(path, "a finite number", value)
        if x - x != 0.0:  # NaN or an infinity
            raise fail(path, "a finite number", value)
        if not self.lo <= x <= self.hi:
            raise fail(path, f"a number in [{self.lo:g}, {self.hi:g}]", value)
        return x


@dataclass(frozen=True)
class Int:
    """An integer in [lo, hi] (booleans refused)."""

    lo: int = -MAX_INT
    hi: int = MAX_INT

    def check(self, value: object, path: str) -> int:
        if type(value) is not int:
            raise fail(path, "an integer", value)
        if not self.lo <= value <= self.hi:
            raise fail(path, f"an integer in [{self.lo}, {self.hi}]", value)
        return value


@dataclass(frozen=True)
class Bool:
    """True or false."""

    def check(self, value: object, path: str) -> bool:
        if type(value) is not bool:
            raise fail(path, "true or false", value)
        return value


@dataclass(frozen=True)
class Text:
    """A string of at most `max_len` characters, one of `choices` when given."""

    max_len: int = 256
    choices: tuple[str, ...] = ()

    def check(self, value: object, path: str) -> str:
        if type(value) is not str or len(value) > self.max_len:
            raise fail(path, f"text of at most {self.max_len} characters", value)
        if self.choices and value not in self.choices:
            raise fail(path, f"one of {', '.join(self.choices)}", value)
        return value


@dataclass(frozen=True)
class Opt:
    """`inner`, or None (nil)."""

    inner: Field

    def check(self, value: object, path: str) -> Any:
        return None if value is None else self.inner.check(value, path)


@dataclass(frozen=True)
class ListOf:
    """A list of `min_len`..`max_len` items of one field type, returned as a tuple."""

    item: Field
    max_len: int = 1024
    min_len: int = 0

    def __post_init__(self) -> None:
        plain = isinstance(self.item, Num) and self.item == Num()
        object.__setattr__(self, "_floats", plain)

    def check(self, value: object, path: str) -> tuple:
        if type(value) is not list or not self.min_len <= len(value) <= self.max_len:
            size = (
                f"exactly {self.min_len}"
                if self.min_len == self.max_len
                else f"{self.min_len} to {self.max_len}"
            )
            raise fail(path, f"a list of {size} items", value)
        # Fast path for vectors of plain floats; anything else is checked item by item.
        floats = self._floats and all(type(v) is float for v in value)
        if floats and math.isfinite(math.fsum(value)):
            return tuple(value)
        check = self.item.check
        try:
            return tuple([check(v, path) for v in value])
        except ProtocolError:  # again, naming the item (paths are built only on failure)
            for i, v in enumerate(value):
                check(v, f"{path}[{i}]")
            raise


def Vec(n: int) -> ListOf:
    """Exactly `n` finite numbers."""
    return ListOf(Num(), n, n)


@dataclass(frozen=True)
class Obj:
    """A map with exactly the keys of `fields`; keys in `optional` may be left out."""

    fields: Mapping[str, Field]
    optional: frozenset[str] = field(default_factory=frozenset)

    def check(self, value: object, path: str) -> dict[str, Any]:
        if type(value) is not dict:
            raise fail(path, "a map", value)
        fields = self.fields
        complete = len(value) == len(fields) and value.keys() == fields.keys()
        if not complete:
            extra = [k for k in value if k not in fields]
            if extra:
                known = ", ".join(fields) or "none"
                raise ProtocolError(f"{path}: unexpected key {_show(extra[0])} (allowed: {known})")
            missing = [k for k in fields if k not in value and k not in self.optional]
            if missing:
                raise ProtocolError(f"{path}: missing key {missing[0]!r}")
        try:
            if complete:
                return {k: f.check(value[k], path) for k, f in fields.items()}
            return {k: f.check(value[k], path) for k, f in fields.items() if k in value}
        except ProtocolError:  # again, naming the key (paths are built only on failure)
            for k, f in fields.items():
                if k in value:
                    f.check(value[k], f"{path}.{k}" if path else k)
            raise


@dataclass(frozen=True)
class MapOf:
    """A map from text keys to values of one field type (at most `max_len` entries)."""

    value: Field
    max_len: int = 256

    def check(self, value: object, path: str) -> dict[str, Any]:
        if type(value) is not dict or len(value) > self.max_len:
            raise fail(path, f"a map of at most {self.max_len} entries", value)
        return {k: self.value.check(v, f"{path}.{k}") for k, v in value.items()}


@dataclass(frozen=True)
class Tree:
    """Any msgpack value within the decoder's bounds (`check_tree`); its meaning is checked
    by whoever reads it."""

    def check(self, value: object, path: str) -> Any:
        check_tree(value, path)
        return value


@dataclass(frozen=True)
class Later:
    """A value another schema checks once the message kind is known (``args``, ``body``)."""

    def check(self, value: object, path: str) -> Any:
        return value


def check_tree(value: object, path: str = "") -> None:
    """Bound depth and size; refuse binary strings, huge integers and non-finite floats."""
    stack: list[tuple[object, int]] = [(value, 1)]
    count = 0
    where = f"{path}: " if path else ""
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_ITEMS:
            raise ProtocolError(f"{where}more than {MAX_ITEMS} values")
        kind = type(item)
        if kind is bool or kind is str or item is None:
            continue
        if kind is int:
            if not -MAX_INT <= item <= MAX_INT:
                raise ProtocolError(f"{where}integer {item} is beyond the bound of 2**53")
        elif kind is float:
            if item - item != 0.0:
                raise ProtocolError(f"{where}non-finite number {item!r} where numbers are expected")
        elif kind is list or kind is dict:
            if depth >= MAX_DEPTH:
                raise ProtocolError(f"{where}nests deeper than {MAX_DEPTH} levels")
            children = item.values() if kind is dict else item
            stack.extend((child, depth + 1) for child in children)
        else:
            raise ProtocolError(f"{where}value of type {kind.__name__} is not allowed")


def obj(optional: Sequence[str] = (), **fields: Field) -> Obj:
    """Shorthand: ``obj(x=Num(), y=Num())``."""
    return Obj(fields, frozenset(optional))
