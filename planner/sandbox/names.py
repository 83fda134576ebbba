"""The allow-lists shared by the checker (parent) and the worker: one source of truth.

Kept free of imports so the worker can load it before it is confined.
"""

from __future__ import annotations

# Builtins a program may use. Everything else (open, getattr, type, vars, eval, exec,
# __import__, isinstance, ...) is absent from the worker's builtins dict, and the checker
# reports it as an undefined name before the program runs.
BUILTIN_NAMES: tuple[str, ...] = (
    "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "len", "list", "max",
    "min", "print", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
)  # fmt: skip

# Attribute names a program may use: methods of list, dict, str and set that only return
# plain data. No name starts with "_"; `format` and `format_map` are out because a format
# string can reach attributes ("{0.__class__}"), and so are `mro`, `fromkeys`, `mapping`, ...
ATTRIBUTE_NAMES: frozenset[str] = frozenset({
    # list
    "append", "extend", "insert", "remove", "pop", "clear", "index", "count", "sort",
    "reverse", "copy",
    # dict
    "keys", "values", "items", "get", "update", "setdefault",
    # str
    "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "join",
    "startswith", "endswith", "replace", "find", "rfind", "title", "capitalize", "isdigit",
    "isalpha", "isalnum", "isspace", "zfill", "partition", "rpartition",
    # set
    "add", "discard", "union", "intersection", "difference", "issubset", "issuperset",
})  # fmt: skip

# Exception types a skill stub raises in the program; the parent picks one per reply.
CALL_ERROR_TYPES: tuple[str, ...] = ("SkillError", "ArgumentError", "CallBudgetExceeded")

PROGRAM_FILENAME = "<program>"
PRELUDE_FILENAME = "<prelude>"


def program_rules() -> str:
    """The checker's rules as a prompt can state them (one short paragraph)."""
    return (
        "Write plain Python statements. Not allowed: import, class, lambda, try/except, raise, "
        "with, global, del, yield or generator expressions (use list comprehensions), "
        "names starting with '_', and reassigning API, helper or builtin names. "
        f"Builtins: {', '.join(BUILTIN_NAMES)}. "
        f"Methods: {', '.join(sorted(ATTRIBUTE_NAMES))} (no str.format: use f-strings)."
    )
