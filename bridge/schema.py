"""A small declarative schema for bridge messages, checked on both sides of the wire.

Each field type checks one decoded msgpack value and returns it normalised (tuples for
fixed vectors, floats for numbers). A violation raises `ProtocolError` naming the path
of the offending value, e.g. ``args.pose.position[2]: expected a finite number``.
Maps must have exactly their declared keys (optional ones may be left out).

Every message is checked, so maps (`Obj`) are compiled, on first use, into one
straight-line Python function (`compile_check`): no per-field method calls, no path
strings. It accepts only what the field types' own `check` methods accept and returns
the same values; whatever it refuses is checked again by those methods, which name the
problem (or, should the two ever disagree, decide).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
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
        # (A plain sum: it may overflow to inf, which only sends finite values the slow way;
        # math.fsum would raise OverflowError instead.)
        floats = self._floats and all(type(v) is float for v in value)
        if floats and math.isfinite(sum(value)):
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

    @cached_property
    def fast(self) -> Callable[[object], dict[str, Any]]:
        """The compiled check (`compile_check`): the normalised map, or an exception."""
        return compile_check(self)

    def check(self, value: object, path: str) -> dict[str, Any]:
        try:
            return self.fast(value)
        except Exception:  # refused (or not understood): the field types name the problem
            return self.explain(value, path)

    def explain(self, value: object, path: str) -> dict[str, Any]:
        """The reference check, field by field (the compiled one's slow twin)."""
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


# --- compiled checks ------------------------------------------------------------------------
class _Refused(Exception):
    """The compiled check refused a value (the field types' `check` says why)."""


class _Source:
    """Python source of one compiled check, and the constants it refers to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, object] = {"_Refused": _Refused}
        self._count = 0

    def var(self, prefix: str = "x") -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def const(self, value: object) -> str:
        name = self.var("c")
        self.names[name] = value
        return name

    def add(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def refuse_if(self, indent: int, condition: str) -> None:
        self.add(indent, f"if {condition}:")
        self.add(indent + 1, "raise _Refused")


def _plain_num(f: object) -> bool:
    return type(f) is Num and f.lo == -math.inf and f.hi == math.inf


def _emit(src: _Source, f: object, x: str, indent: int) -> str:
    """Lines checking the value in variable `x` against `f`; returns the result variable."""
    kind = type(f)
    if kind is Num:
        src.add(indent, f"if type({x}) is not float:")
        src.refuse_if(indent + 1, f"type({x}) is not int")
        src.add(indent + 1, f"{x} = float({x})")
        src.refuse_if(indent, f"{x} - {x} != 0.0")  # NaN or an infinity
        if not _plain_num(f):
            lo, hi = src.const(f.lo), src.const(f.hi)
            src.refuse_if(indent, f"not {lo} <= {x} <= {hi}")
        return x
    if kind is Int:
        lo, hi = src.const(f.lo), src.const(f.hi)
        src.refuse_if(indent, f"type({x}) is not int or not {lo} <= {x} <= {hi}")
        return x
    if kind is Bool:
        src.refuse_if(indent, f"type({x}) is not bool")
        return x
    if kind is Text:
        src.refuse_if(indent, f"type({x}) is not str or len({x}) > {int(f.max_len)}")
        if f.choices:
            src.refuse_if(indent, f"{x} not in {src.const(frozenset(f.choices))}")
        return x
    if kind is Opt:
        src.add(indent, f"if {x} is not None:")
        inner = _emit(src, f.inner, x, indent + 1)
        if inner != x:
            src.add(indent + 1, f"{x} = {inner}")
        return x
    if kind is ListOf:
        return _emit_list(src, f, x, indent)
    if kind is Obj:
        return _emit_obj(src, f, x, indent)
    if kind is Later:
        return x
    if kind is Tree:
        src.add(indent, f"{src.const(check_tree)}({x}, '')")
        return x
    out = src.var()  # any other field type: its own check
    src.add(indent, f"{out} = {src.const(f.check)}({x}, '')")
    return out


def _emit_list(src: _Source, f: ListOf, x: str, indent: int) -> str:
    lo, hi = int(f.min_len), int(f.max_len)
    if lo == hi:
        src.refuse_if(indent, f"type({x}) is not list or len({x}) != {lo}")
    else:
        src.refuse_if(indent, f"type({x}) is not list or not {lo} <= len({x}) <= {hi}")
    out, item = src.var(), src.var()
    if _plain_num(f.item):  # finite floats (integers take the slow way, which converts them)
        src.add(indent, f"for {item} in {x}:")
        src.refuse_if(indent + 1, f"type({item}) is not float or {item} - {item} != 0.0")
        src.add(indent, f"{out} = tuple({x})")
        return out
    src.add(indent, f"{out} = []")
    src.add(indent, f"for {item} in {x}:")
    result = _emit(src, f.item, item, indent + 1)
    src.add(indent + 1, f"{out}.append({result})")
    src.add(indent, f"{out} = tuple({out})")
    return out


def _emit_obj(src: _Source, f: Obj, x: str, indent: int) -> str:
    names = list(f.fields)
    keys = src.const(frozenset(names))
    src.refuse_if(indent, f"type({x}) is not dict")
    required = [k for k in names if k not in f.optional]
    if len(required) == len(names):
        src.refuse_if(indent, f"len({x}) != {len(names)} or {x}.keys() != {keys}")
    else:
        needed = src.const(frozenset(required))
        src.refuse_if(indent, f"not {x}.keys() <= {keys} or not {needed} <= {x}.keys()")
    results = {}
    for k in names:
        v = src.var()
        if k in f.optional:
            src.add(indent, f"if {k!r} in {x}:")
            src.add(indent + 1, f"{v} = {x}[{k!r}]")
            results[k] = _emit(src, f.fields[k], v, indent + 1)
        else:
            src.add(indent, f"{v} = {x}[{k!r}]")
            results[k] = _emit(src, f.fields[k], v, indent)
    out = src.var()
    if len(required) == len(names):  # the keys in declared order, as `Obj.explain` has them
        src.add(indent, f"{out} = {{{', '.join(f'{k!r}: {results[k]}' for k in names)}}}")
        return out
    src.add(indent, f"{out} = {{}}")
    for k in names:
        if k in f.optional:
            src.add(indent, f"if {k!r} in {x}:")
            src.add(indent + 1, f"{out}[{k!r}] = {results[k]}")
        else:
            src.add(indent, f"{out}[{k!r}] = {results[k]}")
    return out


def compile_check(f: Field) -> Callable[[object], Any]:
    """`f` as one Python function of the value: the normalised value, or `_Refused` (or
    another exception) where `f.check` would raise. Callers fall back to `f.check`."""
    src = _Source()
    result = _emit(src, f, "value", 1)
    code = "\n".join(["def check(value):", *src.lines, f"    return {result}", ""])
    namespace = dict(src.names)
    exec(compile(code, f"<schema check {type(f).__name__}>", "exec"), namespace)
    check = namespace["check"]
    check.source = code  # for the curious
    return check


def obj(optional: Sequence[str] = (), **fields: Field) -> Obj:
    """Shorthand: ``obj(x=Num(), y=Num())``."""
    return Obj(fields, frozenset(optional))
