"""Strict argument schemas for the functions a program may call across the sandbox.

Every call that leaves the worker is checked here, in the parent, before anything runs.
`validate_call` binds positional and keyword arguments as Python would (no unknown, extra
or duplicate ones), then msgspec checks them against the function's struct in one call:
types (a bool is not a number; an int is fine where a float is asked), finite numbers,
integers within 2**53, vector and string lengths. A refusal is a `CallRejected` whose
one-line message the model reads.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta, Struct

ParamType = Literal[
    "str", "float", "int", "bool", "vec2", "vec3", "vec", "str|vec", "strs", "any_json"
]
PARAM_TYPES: tuple[str, ...] = get_args(ParamType)
MAX_INT = 2**53  # ints beyond this are not exact as floats and never a sane robot argument
JSON_MAX_DEPTH = 8
JSON_MAX_ITEMS = 1000
_BIG = sys.float_info.max
Integer = Annotated[int, Meta(ge=-MAX_INT, le=MAX_INT)]
Number = Integer | Annotated[float, Meta(ge=-_BIG, le=_BIG)]  # finite; made a float once checked


class CallRejected(Exception):
    """A call's arguments broke its schema; the message names the function and argument."""


@dataclass(frozen=True)
class Param:
    """One parameter of an API function.

    Attributes:
        name: the keyword name (an identifier not starting with "_").
        type: "str", "float", "int", "bool", "vec2" ([x, y]), "vec3" ([x, y, z]),
            "vec" (min_len..max_len numbers), "str|vec" (either), "strs" (min_len..max_len
            strings) or "any_json" (None/bool/number/str and lists/dicts of them, bounded).
        optional: whether the argument may be left out; then `default` is passed.
        default: the value passed when the argument is left out (None is also accepted
            explicitly when the default is None).
        min_len: fewest numbers in a "vec", strings in a "strs".
        max_len: most numbers in a "vec", strings in a "strs".
        max_chars: longest string accepted (for "str", "str|vec" and inside "any_json").
        named: written ``name=value`` even where it is required: its name says its role
            (``build_tower(bottom=..., above=[...])``), which a position would not.
    """

    name: str
    type: ParamType
    optional: bool = False
    default: Any = None
    min_len: int = 2
    max_len: int = 3
    max_chars: int = 200
    named: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise ValueError(f"parameter name {self.name!r} must be an identifier without '_'")
        if self.type not in PARAM_TYPES:
            raise ValueError(
                f"parameter {self.name!r}: unknown type {self.type!r}; "
                f"use one of {', '.join(PARAM_TYPES)}"
            )
        if not 0 < self.min_len <= self.max_len:
            raise ValueError(f"parameter {self.name!r}: need 0 < min_len <= max_len")

    @property
    def sizes(self) -> tuple[int, int]:
        """Fewest and most items of a list value (fixed for "vec2" and "vec3")."""
        return {"vec2": (2, 2), "vec3": (3, 3)}.get(self.type, (self.min_len, self.max_len))

    def value_type(self) -> Any:
        """The msgspec type of a value (None too where None is the default)."""
        low, high = self.sizes
        text = Annotated[str, Meta(max_length=self.max_chars)]
        numbers = Annotated[list[Number], Meta(min_length=low, max_length=high)]
        kind = {
            "str": text,
            "float": Number,
            "int": Integer,
            "bool": bool,
            "vec2": numbers,
            "vec3": numbers,
            "vec": numbers,
            "str|vec": text | numbers,
            "strs": Annotated[list[text], Meta(min_length=low, max_length=high)],
            "any_json": Any,  # bounded by `_plain` once checked
        }[self.type]
        return kind | None if self.optional and self.default is None and kind is not Any else kind

    def expected(self, value: Any) -> str:
        """What this parameter takes, as a refusal of `value` says it."""
        low, high = self.sizes
        if isinstance(value, str) and self.type in ("str", "str|vec"):  # (only when too long)
            return f"a string of at most {self.max_chars} characters"
        numbers = f"a list of {low if low == high else f'{low} to {high}'} finite numbers"
        too_large = isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT
        return {
            "str": "a string",
            "float": "a finite number (too large)" if too_large else "a finite number",
            "int": "an integer",
            "bool": "True or False",
            "str|vec": f"a name or {numbers}",
            "strs": f"a list of {low} to {high} strings",
        }.get(self.type, numbers)


@dataclass(frozen=True)
class FunctionSpec:
    """An API function as the sandbox sees it: a name and its parameters, in order.

    `arguments` is the msgspec struct its given arguments are checked with (built here;
    a left-out optional argument is not checked: `validate_call` passes its default).
    """

    name: str
    params: tuple[Param, ...] = ()
    doc: str = ""
    returns: str = "None"
    arguments: type[Struct] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise ValueError(f"function name {self.name!r} must be an identifier without '_'")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}(): duplicate parameter names in {names}")
        fields = [
            (p.name, p.value_type(), None) if p.optional else (p.name, p.value_type())
            for p in self.params
        ]
        arguments = msgspec.defstruct(
            f"{self.name}_arguments", fields, kw_only=True, forbid_unknown_fields=True
        )
        object.__setattr__(self, "arguments", arguments)


def validate_call(spec: FunctionSpec, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict:
    """Bind and check a call's arguments; return every parameter's value by name.

    Raises:
        CallRejected: wrong count, unknown/duplicate/missing argument or a bad value.
    """
    fn, params = spec.name, spec.params
    if len(args) > len(params):
        raise CallRejected(f"{fn}() takes at most {len(params)} arguments ({len(args)} given)")
    given = {p.name: value for p, value in zip(params, args, strict=False)}
    names = {p.name for p in params}
    for key, value in kwargs.items():
        if key not in names:
            raise CallRejected(f"{fn}(): unexpected argument {_short(key)}")
        if key in given:
            raise CallRejected(f"{fn}(): got multiple values for argument {key!r}")
        given[key] = value
    for p in params:
        if p.name not in given and not p.optional:
            raise CallRejected(f"{fn}(): missing argument {p.name!r}")
        if isinstance(given.get(p.name), set | frozenset):  # (msgspec takes it for a list)
            raise _rejected(fn, p, p.expected(given[p.name]), given[p.name])
    try:
        checked = msgspec.convert(given, spec.arguments)
    except msgspec.ValidationError as error:
        raise _refusal(spec, given, str(error)) from None
    return {
        p.name: _finish(fn, p, getattr(checked, p.name)) if p.name in given else p.default
        for p in params
    }


_AT = re.compile(r" - at `\$\.(\w+)")


def _refusal(spec: FunctionSpec, given: dict[str, Any], error: str) -> CallRejected:
    """msgspec's refusal said with the argument's name, what it takes and what it got."""
    at = _AT.search(error)
    if at is None:  # (binding leaves no other kind: kept one line all the same)
        return CallRejected(f"{spec.name}(): {error.splitlines()[0][:200]}")
    p = next(p for p in spec.params if p.name == at.group(1))
    return _rejected(spec.name, p, p.expected(given[p.name]), given[p.name])


def _rejected(fn: str, p: Param, expected: str, value: Any) -> CallRejected:
    return CallRejected(f"{fn}(): argument {p.name!r} must be {expected}, got {_short(value)}")


def _finish(fn: str, p: Param, value: Any) -> Any:
    """A checked value as the handler gets it: numbers as floats, plain data bounded."""
    if value is None or p.type in ("str", "int", "bool", "strs"):
        return value
    if p.type == "float":
        return float(value)
    if p.type == "any_json":
        return _plain(fn, p, value)
    return value if isinstance(value, str) else [float(v) for v in value]


class _Bad(Exception):
    """What a free-form value should have been."""


def _plain(fn: str, p: Param, value: Any) -> Any:
    """An "any_json" value, bounded: None/bool/number/str and lists/dicts of them."""
    budget = [JSON_MAX_ITEMS]

    def text(v: str) -> str:
        if len(v) > p.max_chars:
            raise _Bad(f"a string of at most {p.max_chars} characters")
        return v

    def walk(v: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > JSON_MAX_DEPTH:
            raise _Bad(f"plain data (at most {JSON_MAX_ITEMS} items, {JSON_MAX_DEPTH} levels)")
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int):
            if abs(v) > MAX_INT:
                raise _Bad("an integer")
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                raise _Bad("a finite number")
            return v
        if isinstance(v, str):
            return text(v)
        if isinstance(v, list | tuple):
            return [walk(x, depth + 1) for x in v]
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {text(k): walk(x, depth + 1) for k, x in v.items()}
        raise _Bad("plain data (None, bool, numbers, strings, lists, dicts)")

    try:
        return walk(value, 0)
    except _Bad as bad:
        raise _rejected(fn, p, str(bad), value) from None


def _short(value: Any, limit: int = 40) -> str:
    """A repr the model can read, cut to `limit` characters (values are decoded msgpack)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
