"""The first layer: check a program before it runs.

A program is refused unless every syntax node, name and attribute in it is on an
allow-list: no imports, `class`, `lambda`, `try`, `with`, `global`, generators or `yield`,
no identifier or attribute starting with "_", no rebinding of API, helper or builtin names,
attributes only from `names.ATTRIBUTE_NAMES`. Size, node count and nesting depth are
bounded, and the size and bracket depth are checked before `ast.parse` is called.

The checker is a usability layer as much as a security one: the worker process is the
boundary (see README.md). It reports the first problem as `ProgramRejected(line, message)`
and calls to functions nobody defined as `CheckedProgram.undefined_functions`, so the
planner can generate them (Code as Policies' hierarchical code generation).
"""

from __future__ import annotations

import ast
import builtins
import re
import time
import warnings
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from planner.sandbox.names import ATTRIBUTE_NAMES, BUILTIN_NAMES, PRELUDE_FILENAME, PROGRAM_FILENAME


class ProgramRejected(Exception):
    """A program broke a rule; `str()` reads "line 3: import is not allowed".

    Attributes:
        line: line of the program (0 when the problem has no line).
        message: what is wrong, for the model.
    """

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class CheckLimits:
    """Bounds on a program (and separately on the prelude of earlier definitions)."""

    max_bytes: int = 20_000
    max_prelude_bytes: int = 100_000
    max_nodes: int = 5_000
    max_depth: int = 40
    max_brackets: int = 50
    max_str_chars: int = 2_000
    max_int_bits: int = 128

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_nodes, self.max_depth, self.max_brackets) <= 0:
            raise ValueError("CheckLimits: every limit must be positive")


@dataclass(frozen=True)
class CheckedProgram:
    """A program that passed the checker.

    Attributes:
        source: the program text.
        prelude: earlier function definitions it may call.
        defined_functions: functions the program and prelude define.
        undefined_functions: functions called but defined nowhere, in order of first use.
        nodes: syntax nodes in the program.
        check_s: seconds the check took.
    """

    source: str
    prelude: str
    defined_functions: tuple[str, ...]
    undefined_functions: tuple[str, ...]
    nodes: int
    check_s: float


# Allowed syntax. Anything else is refused with its entry in _FORBIDDEN (or its class name).
_ALLOWED = frozenset({
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.For, ast.While, ast.If, ast.Break,
    ast.Continue, ast.Pass, ast.Return, ast.FunctionDef, ast.arguments, ast.arg, ast.keyword,
    ast.Call, ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
    ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Subscript, ast.Slice, ast.ListComp,
    ast.SetComp, ast.DictComp, ast.comprehension, ast.IfExp, ast.Attribute, ast.JoinedStr,
    ast.FormattedValue, ast.Load, ast.Store, ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult,
    ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift, ast.BitOr, ast.BitXor,
    ast.BitAnd, ast.UAdd, ast.USub, ast.Not, ast.Invert, ast.Eq, ast.NotEq, ast.Lt, ast.LtE,
    ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
})  # fmt: skip
_FORBIDDEN = {
    ast.Import: "import", ast.ImportFrom: "import", ast.ClassDef: "class",
    ast.Lambda: "lambda", ast.Try: "try", ast.TryStar: "try", ast.Raise: "raise",
    ast.Global: "global", ast.Nonlocal: "nonlocal", ast.With: "with", ast.AsyncWith: "with",
    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Await: "await",
    ast.AsyncFunctionDef: "async def", ast.AsyncFor: "async for",
    ast.GeneratorExp: "a generator expression (use a list comprehension)",
    ast.Delete: "del", ast.NamedExpr: ":=", ast.Assert: "assert", ast.Match: "match",
    ast.Starred: "* unpacking", ast.AnnAssign: "an annotated assignment",
    ast.MatMult: "the @ operator", ast.Del: "del",
}  # fmt: skip
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_BRACKETS = re.compile(r"[^()\[\]{}]+")
_OPEN = frozenset("([{")
PROTECTED_BUILTINS = frozenset(BUILTIN_NAMES) | {"True", "False", "None"}
_WITHHELD_BUILTINS = frozenset(dir(builtins)) - PROTECTED_BUILTINS  # open, getattr, type, ...


def check_program(
    source: str,
    known_names: Collection[str],
    limits: CheckLimits | None = None,
    prelude: str = "",
) -> CheckedProgram:
    """Check a program (and the prelude of earlier definitions it may call).

    Args:
        source: the program text.
        known_names: API functions and helpers the worker provides; they may be called
            and read but never rebound.
        limits: size, node and depth bounds.
        prelude: earlier function definitions (only `def`s); checked by the same rules.

    Raises:
        ProgramRejected: the first rule the program (or prelude) breaks.
    """
    t0 = time.perf_counter()
    limits = limits or CheckLimits()
    protected = PROTECTED_BUILTINS | set(known_names)
    pre = _Scan(protected, limits, PRELUDE_FILENAME)
    if prelude.strip():
        pre.scan(prelude, limits.max_prelude_bytes)
        if any(not isinstance(s, ast.FunctionDef) for s in pre.tree.body):
            raise ProgramRejected(0, "the prelude may only define functions")
    prog = _Scan(protected, limits, PROGRAM_FILENAME)
    prog.scan(source, limits.max_bytes)
    defined = pre.functions | prog.functions
    visible = protected | pre.bound | prog.bound
    undefined: dict[str, None] = {}
    for scan in (pre, prog):
        for name, line, called in scan.loads:
            if name in visible:
                continue
            if name in _WITHHELD_BUILTINS:
                raise ProgramRejected(
                    line if scan is prog else 0, f"{name!r} is not available in programs"
                )
            if not called:
                where = " (in the prelude)" if scan is pre else ""
                raise ProgramRejected(
                    line if scan is prog else 0, f"name {name!r} is not defined{where}"
                )
            undefined.setdefault(name)
    return CheckedProgram(
        source=source,
        prelude=prelude,
        defined_functions=tuple(sorted(defined)),
        undefined_functions=tuple(undefined),
        nodes=prog.nodes,
        check_s=time.perf_counter() - t0,
    )


def undefined_calls(source: str, known_names: Collection[str], prelude: str = "") -> list[str]:
    """Functions the program calls that neither the API, helpers nor prelude define."""
    return list(check_program(source, known_names, prelude=prelude).undefined_functions)


@dataclass
class _Frame:
    """Where the walk is: inside a function body, inside a loop (for break/continue)."""

    in_function: bool = False
    in_loop: bool = False


class _Scan:
    """One pass over one piece of source: rules, bound names and name uses."""

    def __init__(self, protected: frozenset[str] | set[str], limits: CheckLimits, name: str):
        self.protected = protected
        self.limits = limits
        self.filename = name
        self.tree = ast.Module(body=[], type_ignores=[])
        self.nodes = 0
        self.bound: set[str] = set()
        self.functions: set[str] = set()
        self.loads: list[tuple[str, int, bool]] = []  # (name, line, used as a call target)
        self._call_targets: set[int] = set()  # ids of Name nodes that are called

    def scan(self, source: str, max_bytes: int) -> None:
        if not isinstance(source, str):
            raise ProgramRejected(0, "the program must be text")
        if len(source) > max_bytes or len(source.encode("utf-8", "replace")) > max_bytes:
            raise ProgramRejected(0, f"program is too long (limit {max_bytes} bytes)")
        if "\x00" in source:
            raise ProgramRejected(0, "program contains a null byte")
        try:
            source.encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate: not text Python can read
            raise ProgramRejected(
                source.count("\n", 0, error.start) + 1,
                f"program contains a character that is not valid Unicode "
                f"({source[error.start]!a}); write plain text",
            ) from None
        self._check_brackets(source)
        try:
            with warnings.catch_warnings():  # the model's style warnings are not the host's
                warnings.simplefilter("ignore")
                self.tree = ast.parse(source, filename=self.filename)
        except SyntaxError as error:
            raise ProgramRejected(error.lineno or 0, f"syntax error: {error.msg}") from None
        except (RecursionError, MemoryError, ValueError):
            raise ProgramRejected(0, "program is nested too deeply") from None
        for node, line, frame in self._walk(self.tree):
            self._visit(node, line, frame)

    def _check_brackets(self, source: str) -> None:
        depth = deepest = 0
        for char in _BRACKETS.sub("", source):
            depth = depth + 1 if char in _OPEN else max(0, depth - 1)
            deepest = max(deepest, depth)
        if deepest > self.limits.max_brackets:
            raise ProgramRejected(
                0, f"brackets are nested too deeply (limit {self.limits.max_brackets})"
            )

    def _walk(self, root: ast.AST) -> Iterator[tuple[ast.AST, int, _Frame]]:
        """Depth-first, without recursion; yields (node, line, frame) and bounds the tree."""
        stack: list[tuple[ast.AST, int, int, _Frame]] = [(root, 0, 0, _Frame())]
        while stack:
            node, depth, line, frame = stack.pop()
            line = getattr(node, "lineno", line) or line
            self.nodes += 1
            if self.nodes > self.limits.max_nodes:
                raise ProgramRejected(
                    line, f"program is too large (limit {self.limits.max_nodes} syntax nodes)"
                )
            if depth > self.limits.max_depth:
                raise ProgramRejected(line, "expression is nested too deeply")
            if type(node) not in _ALLOWED:
                what = _FORBIDDEN.get(type(node), type(node).__name__)
                raise ProgramRejected(line, f"{what} is not allowed")
            yield node, line, frame
            inner = frame
            if isinstance(node, ast.FunctionDef):
                inner = _Frame(in_function=True)
            elif isinstance(node, ast.For | ast.While):
                inner = _Frame(frame.in_function, in_loop=True)
            elif_ = node.orelse[0] if isinstance(node, ast.If) and len(node.orelse) == 1 else None
            for child in reversed(list(ast.iter_child_nodes(node))):
                # a loop's else-branch and iterable are outside the loop, but allowing
                # break there only produces a SyntaxError in the worker: harmless.
                same = child is elif_ and isinstance(child, ast.If)  # an elif: a sibling
                stack.append((child, depth if same else depth + 1, line, inner))

    def _visit(self, node: ast.AST, line: int, frame: _Frame) -> None:
        visit = _VISITORS.get(type(node))
        if visit is not None:
            visit(self, node, line, frame)

    # --- per-node rules ----------------------------------------------------------------------
    def _identifier(self, name: str, line: int, what: str = "name") -> None:
        if name.startswith("_"):
            raise ProgramRejected(
                line, f"{what} {name!r} is not allowed (names may not start with '_')"
            )

    def _bind(self, name: str, line: int) -> None:
        self._identifier(name, line)
        if name in self.protected:
            raise ProgramRejected(
                line, f"cannot assign to {name!r}: it is a built-in, helper or API name"
            )
        self.bound.add(name)

    def _name(self, node: ast.Name, line: int, frame: _Frame) -> None:
        if isinstance(node.ctx, ast.Store):
            self._bind(node.id, line)
        else:
            self._identifier(node.id, line)
            self.loads.append((node.id, line, id(node) in self._call_targets))

    def _call(self, node: ast.Call, line: int, frame: _Frame) -> None:
        if isinstance(node.func, ast.Name):
            self._call_targets.add(id(node.func))
        for kw in node.keywords:
            if kw.arg is None:
                raise ProgramRejected(line, "** unpacking is not allowed")
            self._identifier(kw.arg, line, "keyword argument")

    def _attribute(self, node: ast.Attribute, line: int, frame: _Frame) -> None:
        self._identifier(node.attr, line, "attribute")
        if not isinstance(node.ctx, ast.Load):
            raise ProgramRejected(line, "assigning to attributes is not allowed")
        if node.attr not in ATTRIBUTE_NAMES:
            raise ProgramRejected(line, f"attribute {node.attr!r} is not allowed")

    def _function(self, node: ast.FunctionDef, line: int, frame: _Frame) -> None:
        if node.decorator_list:
            raise ProgramRejected(line, "decorators are not allowed")
        self._bind(node.name, line)
        self.functions.add(node.name)
        a = node.args
        for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
            if arg is not None:
                self._bind(arg.arg, getattr(arg, "lineno", line))

    def _constant(self, node: ast.Constant, line: int, frame: _Frame) -> None:
        value = node.value
        if not isinstance(value, _CONSTANT_TYPES):
            raise ProgramRejected(line, f"{type(value).__name__} literals are not allowed")
        if isinstance(value, str) and len(value) > self.limits.max_str_chars:
            raise ProgramRejected(
                line, f"string literal is too long (limit {self.limits.max_str_chars} characters)"
            )
        if isinstance(value, int) and value.bit_length() > self.limits.max_int_bits:
            raise ProgramRejected(line, "integer literal is too large")

    def _dict(self, node: ast.Dict, line: int, frame: _Frame) -> None:
        if any(key is None for key in node.keys):
            raise ProgramRejected(line, "** unpacking is not allowed")

    def _return(self, node: ast.Return, line: int, frame: _Frame) -> None:
        if not frame.in_function:
            raise ProgramRejected(line, "'return' outside a function")

    def _loop_jump(self, node: ast.Break | ast.Continue, line: int, frame: _Frame) -> None:
        if not frame.in_loop:
            word = "break" if isinstance(node, ast.Break) else "continue"
            raise ProgramRejected(line, f"'{word}' outside a loop")

    def _comprehension(self, node: ast.comprehension, line: int, frame: _Frame) -> None:
        if node.is_async:
            raise ProgramRejected(line, "async comprehensions are not allowed")


_VISITORS = {
    ast.Name: _Scan._name,
    ast.Call: _Scan._call,
    ast.Attribute: _Scan._attribute,
    ast.FunctionDef: _Scan._function,
    ast.Constant: _Scan._constant,
    ast.Dict: _Scan._dict,
    ast.Return: _Scan._return,
    ast.Break: _Scan._loop_jump,
    ast.Continue: _Scan._loop_jump,
    ast.comprehension: _Scan._comprehension,
}
