"""Strict argument schemas for the functions a program may call across the sandbox.

Every call that leaves the worker is checked here, in the parent, before anything runs:
types (a bool is not a number; an int is fine where a float is asked), finite numbers only,
vector lengths, string lengths, no unknown, extra or duplicate arguments. A refusal is a
`CallRejected` whose one-line message the model reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ParamType = Literal[
    "str", "float", "int", "bool", "vec2", "vec3", "vec", "str|vec", "strs", "any_json"
]
MAX_INT = 2**53  # ints beyond this are not exact as floats and never a sane robot argument
JSON_MAX_DEPTH = 8
JSON_MAX_ITEMS = 1000


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
        if self.type not in _CHECKERS:
            raise ValueError(
                f"parameter {self.name!r}: unknown type {self.type!r}; "
                f"use one of {', '.join(_CHECKERS)}"
            )
        if not 0 < self.min_len <= self.max_len:
            raise ValueError(f"parameter {self.name!r}: need 0 < min_len <= max_len")


@dataclass(frozen=True)
class FunctionSpec:
    """An API function as the sandbox sees it: a name and its parameters, in order."""

    name: str
    params: tuple[Param, ...] = ()
    doc: str = ""
    returns: str = "None"

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise ValueError(f"function name {self.name!r} must be an identifier without '_'")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}(): duplicate parameter names in {names}")


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
    bound = {}
    for p in params:
        if p.name not in given:
            if not p.optional:
                raise CallRejected(f"{fn}(): missing argument {p.name!r}")
            bound[p.name] = p.default
        elif given[p.name] is None and p.optional and p.default is None:
            bound[p.name] = None
        else:
            bound[p.name] = _check(fn, p, given[p.name])
    return bound


# --- value checkers: each returns the normalised value or raises _Bad(what was expected) ----
class _Bad(Exception):
    pass


def _check(fn: str, p: Param, value: Any) -> Any:
    try:
        return _CHECKERS[p.type](p, value)
    except _Bad as bad:
        message = f"{fn}(): argument {p.name!r} must be {bad}, got {_short(value)}"
        raise CallRejected(message) from None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad("a finite number")
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise _Bad("a finite number (too large)")
    if not math.isfinite(value):
        raise _Bad("a finite number")
    return float(value)


def _float(p: Param, value: Any) -> float:
    return _number(value)


def _int(p: Param, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INT:
        raise _Bad("an integer")
    return value


def _bool(p: Param, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("True or False")
    return value


def _str(p: Param, value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("a string")
    if len(value) > p.max_chars:
        raise _Bad(f"a string of at most {p.max_chars} characters")
    return value


def _vector(fixed: int | None) -> Callable[[Param, Any], list[float]]:
    """A checker for `fixed` numbers, or for the Param's min_len..max_len when None."""

    def check(p: Param, value: Any) -> list[float]:
        low, high = (fixed, fixed) if fixed else (p.min_len, p.max_len)
        size = f"{low}" if low == high else f"{low} to {high}"
        what = f"a list of {size} finite numbers"
        if not isinstance(value, list | tuple) or not low <= len(value) <= high:
            raise _Bad(what)
        try:
            return [_number(v) for v in value]
        except _Bad:
            raise _Bad(what) from None

    return check


_VEC = _vector(None)


def _str_or_vec(p: Param, value: Any) -> str | list[float]:
    if isinstance(value, str):
        return _str(p, value)
    try:
        return _VEC(p, value)
    except _Bad as bad:
        raise _Bad(f"a name or {bad}") from None


def _strs(p: Param, value: Any) -> list[str]:
    what = f"a list of {p.min_len} to {p.max_len} strings"
    if not isinstance(value, list | tuple) or not p.min_len <= len(value) <= p.max_len:
        raise _Bad(what)
    try:
        return [_str(p, v) for v in value]
    except _Bad:
        raise _Bad(what) from None


def _any_json(p: Param, value: Any) -> Any:
    budget = [JSON_MAX_ITEMS]

    def walk(v: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > JSON_MAX_DEPTH:
            raise _Bad(f"plain data (at most {JSON_MAX_ITEMS} items, {JSON_MAX_DEPTH} levels)")
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int | float):
            return _number(v) if isinstance(v, float) else _int(p, v)
        if isinstance(v, str):
            return _str(p, v)
        if isinstance(v, list | tuple):
            return [walk(x, depth + 1) for x in v]
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {_str(p, k): walk(x, depth + 1) for k, x in v.items()}
        raise _Bad("plain data (None, bool, numbers, strings, lists, dicts)")

    return walk(value, 0)


_CHECKERS: dict[str, Callable[[Param, Any], Any]] = {
    "str": _str,
    "float": _float,
    "int": _int,
    "bool": _bool,
    "vec2": _vector(2),
    "vec3": _vector(3),
    "vec": _VEC,
    "str|vec": _str_or_vec,
    "strs": _strs,
    "any_json": _any_json,
}


def _short(value: Any, limit: int = 40) -> str:
    """A repr the model can read, cut to `limit` characters (values are decoded JSON)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
