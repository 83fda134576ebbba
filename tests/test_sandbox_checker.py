"""The checker: allow-listed syntax, names and attributes; bounds; undefined functions."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.sandbox.checker import CheckLimits, ProgramRejected, check_program, undefined_calls

KNOWN = {"pick", "place", "get_pos", "objects", "say", "dist", "pi"}


def rejected(source: str, prelude: str = "") -> ProgramRejected:
    with pytest.raises(ProgramRejected) as info:
        check_program(source, KNOWN, prelude=prelude)
    return info.value


@pytest.mark.parametrize(
    ("source", "line", "needle"),
    [
        ("x = 1\ny = 2\nimport os", 3, "import is not allowed"),
        ("from os import path", 1, "import is not allowed"),
        ("class A:\n    pass", 1, "class is not allowed"),
        ("f = lambda: 1", 1, "lambda is not allowed"),
        ("try:\n    pass\nexcept Exception:\n    pass", 1, "try is not allowed"),
        ("def f():\n    global x\n    x = 1", 2, "global is not allowed"),
        ("def f():\n    yield 1", 2, "yield is not allowed"),
        ("g = (i for i in [1])", 1, "generator expression"),
        ("with x:\n    pass", 1, "with is not allowed"),
        ("x = 1\ndel x", 2, "del is not allowed"),
        ("raise ValueError('x')", 1, "raise is not allowed"),
        ("assert 1", 1, "assert is not allowed"),
        ("x: int = 1", 1, "annotated assignment is not allowed"),
        ("print(*[1, 2])", 1, "* unpacking is not allowed"),
        ("d = {**{}}", 1, "** unpacking is not allowed"),
        ("print(**{})", 1, "** unpacking is not allowed"),
        ("if (n := 3):\n    pass", 1, ":= is not allowed"),
        ("x = b'raw'", 1, "bytes literals are not allowed"),
        ("x = 1j", 1, "complex literals are not allowed"),
        ("x = ...", 1, "ellipsis literals are not allowed"),
        ("_x = 1", 1, "name '_x' is not allowed"),
        ("for _ in range(3):\n    pass", 1, "name '_' is not allowed"),
        ("print(__builtins__)", 1, "name '__builtins__' is not allowed"),
        ("x = [].__class__", 1, "attribute '__class__' is not allowed"),
        ("x = 'a'.format", 1, "attribute 'format' is not allowed"),
        ("x = 'a'.format_map", 1, "attribute 'format_map' is not allowed"),
        ("x = str.mro()", 1, "attribute 'mro' is not allowed"),
        ("x = {}.keys().mapping", 1, "attribute 'mapping' is not allowed"),
        ("x = [1]\nx.append = 3", 2, "attribute"),
        ("pick = 3", 1, "cannot assign to 'pick'"),
        ("len = 3", 1, "cannot assign to 'len'"),
        ("x, dist = 1, 2", 1, "cannot assign to 'dist'"),
        ("for say in []:\n    pass", 1, "cannot assign to 'say'"),
        ("x = [pick for pick in []]", 1, "cannot assign to 'pick'"),
        ("def pick():\n    pass", 1, "cannot assign to 'pick'"),
        ("def f(print):\n    pass", 1, "cannot assign to 'print'"),
        ("def f(_a):\n    pass", 1, "name '_a' is not allowed"),
        ("@decorate\ndef f():\n    pass", 2, "decorators are not allowed"),
        ("x = open('/etc/passwd')", 1, "'open' is not available"),
        ("getattr(pick, 'x')", 1, "'getattr' is not available"),
        ("x = type(1)", 1, "'type' is not available"),
        ("eval('1')", 1, "'eval' is not available"),
        ("x = y + 1", 1, "name 'y' is not defined"),
        ("return 1", 1, "'return' outside a function"),
        ("break", 1, "'break' outside a loop"),
        ("x = 'a' * \n", 1, "syntax error"),
        ("print(x=1, _y=2)", 1, "keyword argument '_y' is not allowed"),
        ("x = 1" + "0" * 40, 1, "integer literal is too large"),
    ],
)
def test_refusals_name_the_line(source: str, line: int, needle: str) -> None:
    error = rejected(source)
    assert error.line == line, str(error)
    assert needle in error.message, str(error)
    assert str(error).startswith(f"line {line}: ")


def test_a_normal_program_passes() -> None:
    source = (
        "def near(a, b, limit=0.1):\n"
        "    return dist(get_pos(a), get_pos(b)) < limit\n"
        "names = [n for n in objects() if n.startswith('red')]\n"
        "pairs = {n: i for i, n in enumerate(names)}\n"
        "for name in sorted(names):\n"
        "    if near(name, 'bowl') or name in pairs:\n"
        "        continue\n"
        "    pick(name, force=5.0)\n"
        "    place('bowl', offset=[0.0, 0.01])\n"
        "    say(f'moved {name:>8} ({pi:.2f})')\n"
        "x = -3 if len(names) > 2 else abs(-2) // 1 % 5\n"
        "print('%s items' % len(names), ', '.join(names).upper())\n"
    )
    checked = check_program(source, KNOWN)
    assert checked.undefined_functions == ()
    assert checked.defined_functions == ("near",)
    assert checked.nodes > 50


def test_undefined_functions_are_reported_not_refused() -> None:
    source = "grab('cube')\nx = stack_all(objects())\ngrab('ball')"
    assert check_program(source, KNOWN).undefined_functions == ("grab", "stack_all")
    assert undefined_calls(source, KNOWN) == ["grab", "stack_all"]
    prelude = "def grab(obj):\n    pick(obj)\n    lift(obj)"
    assert undefined_calls(source, KNOWN, prelude=prelude) == ["lift", "stack_all"]


def test_prelude_is_checked_and_only_defines_functions() -> None:
    assert "only define functions" in rejected("pass", prelude="x = 1").message
    assert "import is not allowed" in rejected("pass", prelude="def f():\n    import os").message
    checked = check_program("y = f(2)", KNOWN, prelude="def f(a):\n    return a * 2")
    assert checked.defined_functions == ("f",)


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("x = 1\n" * 200_000, "too long"),  # a ~1 MB program
        ("x = " + "(" * 100_000 + "1" + ")" * 100_000, "too long"),
        ("x = " + "(" * 60 + "1" + ")" * 60, "brackets are nested too deeply"),
        ("x = " + "[" * 60 + "]" * 60, "brackets are nested too deeply"),
        ("x = " + "-" * 15_000 + "1", "nested too deeply"),
        ("x = " + "not " * 3_000 + "1", "nested too deeply"),
        ("x = " + "+".join(["1"] * 4_000), "nested too deeply"),
        ("x = a" + ".b" * 5_000, "nested too deeply"),
        ("x = " + "+".join(["1"] * 100), "nested too deeply"),
        ("print(1)\n" * 2_000, "too large"),
        ("x = 'aaa\x00'", "null byte"),
        ("s = '" + "a" * 3_000 + "'", "string literal is too long"),
    ],
)
def test_bounds_are_checked_quickly(source: str, needle: str) -> None:
    t0 = time.perf_counter()
    error = rejected(source)
    assert needle in error.message, str(error)
    assert time.perf_counter() - t0 < 0.5


def test_a_lone_surrogate_is_refused_for_what_it_is() -> None:
    error = rejected("say('ok')\nsay('\udc80')")
    assert error.line == 2
    assert "not valid Unicode" in error.message and "nested" not in error.message


def test_a_long_elif_chain_is_an_ordinary_program() -> None:
    branches = "".join(
        f"{'if' if i == 0 else 'elif'} holding() == 'block {i}':\n    say('{i}')\n"
        for i in range(38)
    )
    check_program(branches + "else:\n    say('none')\n", KNOWN)


def test_limits_are_configurable() -> None:
    tight = CheckLimits(max_bytes=10)
    with pytest.raises(ProgramRejected, match="too long"):
        check_program("print('hello world')", KNOWN, tight)
    with pytest.raises(ValueError):
        CheckLimits(max_nodes=0)


def test_checking_a_typical_program_is_fast() -> None:
    from planner.sandbox.timing import TYPICAL_PROGRAM

    known = {"objects", "get_pos", "get_color", "say", "put_first_on_second", "dist"}
    check_program(TYPICAL_PROGRAM, known)
    best = min(check_program(TYPICAL_PROGRAM, known).check_s for _ in range(20))
    assert best < 0.005


TOKENS = ["(", ")", "[", "]", "{", "}", "x", "pick", "open", ".", "__class__", "_", "import ",
          "def ", "lambda", "yield", "try:", ":", "\n", "    ", " ", "=", "1", "'a'", "f'{x}'",
          "*", "**", "not ", "-", ",", "for ", " in ", "if ", "print", "format", "\\"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.text(max_size=200), st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
)
def test_any_text_is_accepted_or_refused_cleanly(source: str) -> None:
    try:
        checked = check_program(source, KNOWN)
    except ProgramRejected as error:
        assert error.line >= 0 and error.message
    else:
        assert checked.nodes >= 1
