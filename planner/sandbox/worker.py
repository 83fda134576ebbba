"""The worker process: runs one checked program, confined, and reports on a pipe.

Started by `process.WorkerProcess` as `python -I -B -c BOOTSTRAP <root> <in-fd> <out-fd>
<config-json>` (a `frames.WorkerConfig`). It limits its resources, imports the helpers
(numpy, shapely), locks itself down (`confine.lock_down`), says "ready", then waits for
one "run" frame (each frame a struct of `frames`). The program sees a minimal builtins
dict, the helpers and one stub per API function: a stub sends the call to the parent and
blocks for the reply. Errors come back as (type, message, line of the program), never as
host paths or frames. One program per process: the worker exits after its "done" frame.
"""

from __future__ import annotations

import builtins
import os
import re
import time
from collections.abc import Callable
from typing import Any

from planner.sandbox import confine, protocol
from planner.sandbox.frames import (
    Call,
    Done,
    ErrorReport,
    Failed,
    Fatal,
    Out,
    Ready,
    Run,
    WorkerConfig,
)
from planner.sandbox.names import BUILTIN_NAMES, PRELUDE_FILENAME, PROGRAM_FILENAME

BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from planner.sandbox.worker import main; main(sys.argv[2:])"
)
MAX_ARG_DEPTH = 16
MAX_MESSAGE_CHARS = 500
TRUNCATED = "\n[output truncated]\n"
_PATH = re.compile(r"(?<![\w.])/(?:[\w.+-]+/)+[\w.+-]*")


class SkillError(Exception):
    """An API call failed in the parent (the skill, the safety envelope, the handler)."""


class ArgumentError(Exception):
    """An API call's arguments broke its schema."""


class CallBudgetExceeded(Exception):
    """The program made more API calls than one program may."""


CALL_ERRORS = {cls.__name__: cls for cls in (SkillError, ArgumentError, CallBudgetExceeded)}


def scrub(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message safe to show the model: host paths removed, length bounded."""
    text = _PATH.sub("<path>", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Session:
    """One program's run: its namespace, stubs, print capture and call accounting."""

    def __init__(self, run: Run, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.max_calls = run.max_calls
        self.max_frame = run.max_frame_bytes
        self.output_left = run.max_output_chars
        self.calls = 0
        self.wait_s = 0.0

    def namespace(self, functions: list[str], helper_names: list[str]) -> dict[str, Any]:
        """Globals for the program: minimal builtins, chosen helpers, one stub per function."""
        from planner.sandbox.helpers import HELPERS

        safe = {name: getattr(builtins, name) for name in BUILTIN_NAMES}
        safe["print"] = self.print
        names: dict[str, Any] = {"__builtins__": safe, "__name__": "program"}
        names.update({name: HELPERS[name] for name in helper_names})
        names.update({name: self._stub(name) for name in functions})
        return names

    def _stub(self, name: str) -> Callable[..., Any]:
        def stub(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, args, kwargs)

        stub.__name__ = stub.__qualname__ = name
        return stub

    def call(self, name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        """Send one API call to the parent and return its result (or raise its error)."""
        self.calls += 1
        if self.calls > self.max_calls:
            raise CallBudgetExceeded(
                f"a program may make at most {self.max_calls} calls; "
                f"split the work into several steps"
            )
        problem = _unsendable([*args, *kwargs.values()], self.max_frame // 2)
        if problem:
            raise ArgumentError(f"{name}(): arguments {problem}")
        try:
            frame = protocol.encode(Call(name, list(args), kwargs))
        except (TypeError, OverflowError) as error:
            raise ArgumentError(f"{name}(): arguments must be plain data ({error})") from None
        if len(frame) > self.max_frame:
            raise ArgumentError(f"{name}(): arguments are too large")
        t0 = time.perf_counter()
        protocol.write_all(self.write_fd, frame)
        reply = protocol.receive(self.read_fd)
        self.wait_s += time.perf_counter() - t0
        if isinstance(reply, Failed):
            raise CALL_ERRORS.get(reply.type, SkillError)(reply.message)
        return reply.value

    def print(self, *values: Any, sep: str | None = " ", end: str | None = "\n") -> None:
        """`print` into the parent's bounded output buffer."""
        if self.output_left <= 0:
            return
        if not isinstance(sep, str | None) or not isinstance(end, str | None):
            raise TypeError("sep and end must be strings")
        text = (" " if sep is None else sep).join(map(str, values)) + ("\n" if end is None else end)
        chunk = text[: self.output_left]
        self.output_left -= len(chunk)
        if len(chunk) < len(text):
            chunk, self.output_left = chunk + TRUNCATED, 0
        protocol.send(self.write_fd, Out(chunk))

    def run(self, source: str, prelude: str, names: dict[str, Any]) -> Done:
        """Compile and run prelude and program; the "done" frame."""
        error = None
        t0 = time.perf_counter()
        try:
            codes = [compile(prelude, PRELUDE_FILENAME, "exec")] if prelude else []
            codes.append(compile(source, PROGRAM_FILENAME, "exec"))
            for code in codes:
                exec(code, names)
        except BaseException as exc:
            error = describe(exc)
        run_s = time.perf_counter() - t0 - self.wait_s
        return Done(error, max(0.0, run_s), self.wait_s)


def _unsendable(values: list[Any], max_items: int) -> str | None:
    """Why arguments cannot be sent, checked before encoding them: too many items, nested
    too deeply, or not plain data (None, bool, numbers, strings, lists, dicts by string)."""
    stack, items = [(value, 0) for value in values], 0
    while stack:
        value, depth = stack.pop()
        items += 1
        if items > max_items:
            return "are too large"
        if value is None or isinstance(value, str | int | float):
            continue
        if not isinstance(value, list | tuple | dict):
            return f"must be plain data (not {type(value).__name__})"
        if depth >= MAX_ARG_DEPTH:
            return "are nested too deeply"
        if isinstance(value, dict):
            if not all(isinstance(key, str) for key in value):
                return "must be plain data (dict keys must be strings)"
            value = value.values()
        stack.extend((item, depth + 1) for item in value)
    return None


def describe(exc: BaseException) -> ErrorReport:
    """(type, message, line) of an exception, the line in the program's own text."""
    line, inner = None, None
    if isinstance(exc, SyntaxError) and exc.filename in (PROGRAM_FILENAME, PRELUDE_FILENAME):
        line = exc.lineno if exc.filename == PROGRAM_FILENAME else None
        message = exc.msg
    else:
        message = str(exc) or _DEFAULT_MESSAGES.get(type(exc).__name__, "")
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == PROGRAM_FILENAME:
            line, inner = tb.tb_lineno, None
        elif code.co_filename == PRELUDE_FILENAME:
            inner = f"in {code.co_name}(), line {tb.tb_lineno - code.co_firstlineno + 1} of it"
        tb = tb.tb_next
    if inner:
        message = f"{message} ({inner})"
    return ErrorReport(type(exc).__name__, scrub(message), line)


_DEFAULT_MESSAGES = {"MemoryError": "the program ran out of memory"}


def main(argv: list[str]) -> None:
    """Worker entry point: argv = [in-fd, out-fd, config-json]."""
    read_fd, write_fd = int(argv[0]), int(argv[1])
    try:
        config = WorkerConfig.from_json(argv[2])
        confine.limit_resources(config.memory_bytes, config.cpu_s)
        from planner.sandbox import helpers

        helpers.warm_up()
        layers = confine.lock_down(
            config.max_open_files,
            drop_user=config.drop_user,
            landlock=config.landlock,
            seccomp=config.seccomp,
        )
    except Exception as error:
        protocol.send(write_fd, Fatal(scrub(f"{type(error).__name__}: {error}")))
        os._exit(2)
    protocol.send(write_fd, Ready(layers))
    try:
        run = protocol.receive(read_fd)
    except protocol.WorkerGone:
        os._exit(0)
    if not isinstance(run, Run):
        os._exit(3)
    session = Session(run, read_fd, write_fd)
    names = session.namespace(run.functions, run.helpers)
    protocol.send(write_fd, session.run(run.source, run.prelude, names))
    os._exit(0)
