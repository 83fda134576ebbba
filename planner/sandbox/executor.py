"""Run checked programs in worker processes; skill calls cross back to a handler here.

`SandboxExecutor` keeps one worker started ahead of time (the spare), so `run()` pays only
for checking and a pipe handoff. Each program gets its own worker, which is killed (its
whole process group) when the program ends or overruns, and a new spare is started.

Time: the deadline `timeout_s` counts *program time*: wall time since the handoff minus the
time spent in the handler (robot motion, a person answering `ask()`), because the worker
sits blocked while the handler runs. The per-program call budget `max_calls` bounds how
much handler time one program can cause; RLIMIT_CPU is a backstop in the worker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from planner.sandbox import protocol
from planner.sandbox.checker import CheckedProgram, CheckLimits, ProgramRejected, check_program
from planner.sandbox.frames import Call, Done, Failed, Ok, Out, Run, WorkerConfig
from planner.sandbox.names import BUILTIN_NAMES
from planner.sandbox.process import SandboxError, WorkerProcess
from planner.sandbox.schema import CallRejected, FunctionSpec, validate_call
from planner.sandbox.worker import TRUNCATED, scrub

Handler = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one program and its worker.

    Attributes:
        timeout_s: program time (wall time minus handler time) before the worker is killed.
        max_calls: API calls one program may make.
        max_output_chars: printed characters kept; more is cut with "[output truncated]".
        memory_bytes: the worker's address-space limit (RLIMIT_AS).
        cpu_margin_s: CPU seconds beyond `timeout_s` before RLIMIT_CPU kills the worker.
        max_open_files: RLIMIT_NOFILE once the worker is confined.
        max_frame_bytes: largest frame the parent accepts from a worker.
        startup_timeout_s: how long a worker may take to become ready.
        drop_user: drop root to nobody (only when the parent runs as root).
        landlock: apply Landlock where the kernel has it.
        seccomp: apply the seccomp filter where the architecture is supported.
        check: the checker's limits.
    """

    timeout_s: float = 20.0
    max_calls: int = 200
    max_output_chars: int = 4096
    memory_bytes: int = 1 << 30
    cpu_margin_s: int = 5
    max_open_files: int = 16
    max_frame_bytes: int = 1 << 16
    startup_timeout_s: float = 30.0
    drop_user: bool = True
    landlock: bool = True
    seccomp: bool = True
    check: CheckLimits = field(default_factory=CheckLimits)

    def __post_init__(self) -> None:
        if not self.timeout_s > 0 or self.max_calls < 0 or self.max_output_chars < 0:
            raise ValueError("SandboxLimits: timeout_s must be > 0, counts must be >= 0")
        if self.memory_bytes < 256 << 20:
            raise ValueError("SandboxLimits: memory_bytes below 256 MiB cannot load numpy")

    def worker_config(self) -> WorkerConfig:
        return WorkerConfig(
            memory_bytes=self.memory_bytes,
            cpu_s=math.ceil(self.timeout_s) + self.cpu_margin_s,
            max_open_files=self.max_open_files,
            drop_user=self.drop_user,
            landlock=self.landlock,
            seccomp=self.seccomp,
        )


@dataclass(frozen=True)
class ErrorInfo:
    """What went wrong, as the model sees it: no host paths, no frames."""

    type: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.type}: {self.message}"


@dataclass(frozen=True)
class ExecutionResult:
    """The outcome of one program.

    Attributes:
        ok: the program ran to its end without an error.
        error: the first error, refusal or stop.
        output: what it printed (bounded).
        calls: API calls it made (including refused ones).
        wall_s: from `run()` to the result, checking included.
        handler_s: time inside the handler (robot, person).
        run_s: the program's own time in the worker (excluding waiting on calls).
        wait_s: time the worker waited on calls (round trips plus handler).
        check_s: time the checker took.
        aborted: the worker was killed and `on_abort` called.
    """

    ok: bool
    error: ErrorInfo | None = None
    output: str = ""
    calls: int = 0
    wall_s: float = 0.0
    handler_s: float = 0.0
    run_s: float = 0.0
    wait_s: float = 0.0
    check_s: float = 0.0
    aborted: bool = False

    @property
    def overhead_s(self) -> float:
        """Sandbox time: wall time not spent running the program or in the handler."""
        return max(0.0, self.wall_s - self.handler_s - self.run_s)

    @classmethod
    def rejected(cls, error: ProgramRejected, wall_s: float = 0.0) -> ExecutionResult:
        """The result of a program the checker refused (nothing ran)."""
        info = ErrorInfo("ProgramRejected", error.message, error.line or None)
        return cls(ok=False, error=info, wall_s=wall_s, check_s=wall_s)


@dataclass
class _Run:
    """Counters of the program being run."""

    started: float
    calls: int = 0
    handler_s: float = 0.0
    output: list[str] = field(default_factory=list)
    output_chars: int = 0

    def program_s(self) -> float:
        return time.perf_counter() - self.started - self.handler_s


class SandboxExecutor:
    """Checks programs and runs each in a fresh, confined worker process.

    Args:
        functions: the API: name -> schema. Each becomes a stub in the worker.
        handler: runs a validated call in the parent: handler(name, {param: value}).
        limits: time, call, output, memory and checker limits.
        on_abort: called after a worker was killed (timeout, crash, protocol breach);
            the planner uses it to stop the robot.
        helpers: names from `helpers.HELPERS` to expose (default: all).
        forward_errors: handler exceptions shown to the program as `SkillError`; any other
            exception kills the worker, calls `on_abort` and propagates from `run()`.
        prestart: start the spare worker now rather than at the first `run()`.
    """

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        handler: Handler,
        limits: SandboxLimits | None = None,
        on_abort: Callable[[], None] | None = None,
        helpers: Collection[str] | None = None,
        forward_errors: tuple[type[BaseException], ...] = (Exception,),
        prestart: bool = True,
    ) -> None:
        from planner.sandbox.helpers import HELPERS

        self.functions = dict(functions)
        self.handler = handler
        self.limits = limits or SandboxLimits()
        self.on_abort = on_abort
        self.helpers = tuple(sorted(HELPERS)) if helpers is None else tuple(helpers)
        self.forward_errors = forward_errors
        unknown = set(self.helpers) - set(HELPERS)
        if unknown:
            raise KeyError(f"unknown sandbox helpers {sorted(unknown)}; known: {sorted(HELPERS)}")
        clash = (set(self.functions) & set(self.helpers)) | (
            (set(self.functions) | set(self.helpers)) & set(BUILTIN_NAMES)
        )
        if clash:
            raise ValueError(f"names given twice (API, helper or builtin): {sorted(clash)}")
        self.known_names = frozenset(self.functions) | frozenset(self.helpers)
        self._config = self.limits.worker_config()
        self._pool: ThreadPoolExecutor | None = None
        self._spare: Future[WorkerProcess] | None = None  # started in the background
        self._last_startup_s: float | None = None
        self._layers: dict[str, bool] = {}
        if prestart:
            self._recycle(None)

    # --- public API -----------------------------------------------------------------------
    def check(self, source: str, prelude: str = "") -> CheckedProgram:
        """Check without running (raises `ProgramRejected`); see `check_program`."""
        return check_program(source, self.known_names, self.limits.check, prelude)

    def run(self, source: str, prelude: str = "") -> ExecutionResult:
        """Check and run one program (after `prelude`'s definitions) in a fresh worker.

        Never raises for anything the program does: refusals, errors, timeouts and
        crashes are in the result. Raises `SandboxError` if no worker can start, and
        re-raises handler exceptions outside `forward_errors`.
        """
        t0 = time.perf_counter()
        try:
            checked = self.check(source, prelude)
            if checked.undefined_functions:
                name = checked.undefined_functions[0]
                raise ProgramRejected(0, f"function {name!r} is not defined")
        except ProgramRejected as error:
            return ExecutionResult.rejected(error, wall_s=time.perf_counter() - t0)
        worker = self._take()
        try:
            result = self._drive(worker, checked, t0)
        finally:
            self._recycle(worker)
        return replace(result, check_s=checked.check_s)

    def warm(self) -> float:
        """Make sure a spare worker is started and ready; return its start-up time (s)."""
        return self._ready_spare().startup_s or 0.0

    def startup_time(self) -> float | None:
        """Seconds from spawn to "ready" of the last worker that became ready."""
        return self._last_startup_s

    @property
    def layers(self) -> dict[str, bool]:
        """Confinement layers active in the workers (starts one if none is ready yet)."""
        if not self._layers:
            self.warm()
        return dict(self._layers)

    def close(self) -> None:
        """Kill the spare worker. The executor starts a new one if `run()` is called again."""
        spare, self._spare = self._spare, None
        if spare is not None and spare.exception() is None:
            spare.result().close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> SandboxExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- workers --------------------------------------------------------------------------
    def _recycle(self, used: WorkerProcess | None) -> None:
        """In the background: reap the used worker, then start the next spare."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spare")
        self._spare = self._pool.submit(self._replace, used)

    def _replace(self, used: WorkerProcess | None) -> WorkerProcess:
        if used is not None:
            used.close()
        return WorkerProcess(self._config, self.limits.max_frame_bytes)

    def _note(self, worker: WorkerProcess) -> None:
        self._last_startup_s = worker.startup_s
        self._layers = dict(worker.layers)

    def _ready_spare(self) -> WorkerProcess:
        """The spare, ready (one retry with a fresh worker if it died while idle)."""
        for attempt in range(2):
            if self._spare is None:
                self._recycle(None)
            assert self._spare is not None
            worker = self._spare.result()
            try:
                worker.wait_ready(self.limits.startup_timeout_s)
            except SandboxError:
                self._spare = None
                worker.close()
                if attempt:
                    raise
                continue
            self._note(worker)
            return worker
        raise AssertionError("unreachable")

    def _take(self) -> WorkerProcess:
        """Take the ready spare for one program; the next spare starts after it."""
        worker, self._spare = self._ready_spare(), None
        return worker

    # --- one program ----------------------------------------------------------------------
    def _drive(self, worker: WorkerProcess, checked: CheckedProgram, t0: float) -> ExecutionResult:
        lim = self.limits
        state = _Run(started=time.perf_counter())
        try:
            worker.send(protocol.encode(Run(
                checked.source, checked.prelude, sorted(self.functions), list(self.helpers),
                lim.max_calls, lim.max_output_chars, lim.max_frame_bytes,
            )))  # fmt: skip
            state.started = time.perf_counter()
            while True:
                frame = worker.read(max(0.0, lim.timeout_s - state.program_s()))
                if frame is None:
                    message = f"the program ran longer than {lim.timeout_s:g} s and was stopped"
                    return self._abort(worker, state, t0, "Timeout", message)
                if isinstance(frame, Out):
                    self._output(state, frame.text)
                elif isinstance(frame, Call):
                    worker.send(self._call(state, frame))
                elif isinstance(frame, Done):
                    return self._done(state, frame, t0)
                else:
                    raise protocol.ProtocolError(f"unexpected frame {type(frame).__name__}")
        except protocol.WorkerGone:
            message = f"the program's process ended: {worker.exit_reason()}"
            return self._abort(worker, state, t0, "WorkerDied", message)
        except protocol.ProtocolError as error:
            message = f"the program's process broke the protocol ({error}) and was stopped"
            return self._abort(worker, state, t0, "SandboxViolation", message)
        except BaseException:
            worker.kill()
            if self.on_abort is not None:
                self.on_abort()
            raise

    def _call(self, state: _Run, call: Call) -> bytes:
        """Validate and run one call; the encoded reply frame."""
        name = call.name
        spec = self.functions.get(name)
        if spec is None:
            raise protocol.ProtocolError(f"call to unknown function {name[:40]!r}")
        state.calls += 1
        if state.calls > self.limits.max_calls:
            raise protocol.ProtocolError("call budget exceeded")
        try:
            args = validate_call(spec, call.args, call.kwargs)
        except CallRejected as error:
            return protocol.encode(Failed("ArgumentError", str(error)))
        t = time.perf_counter()
        try:
            value = self.handler(name, args)
        except self.forward_errors as error:
            return protocol.encode(Failed("SkillError", scrub(str(error) or type(error).__name__)))
        finally:
            state.handler_s += time.perf_counter() - t
        try:
            return protocol.encode(Ok(value))
        except (TypeError, OverflowError, RecursionError):
            message = f"{name}() returned a value the program cannot receive"
            return protocol.encode(Failed("SkillError", message))

    def _output(self, state: _Run, text: str) -> None:
        room = self.limits.max_output_chars + len(TRUNCATED) - state.output_chars
        if room > 0:
            state.output.append(text[:room])
            state.output_chars += min(len(text), room)

    def _done(self, state: _Run, done: Done, t0: float) -> ExecutionResult:
        error, report = None, done.error
        if report is not None:
            kind = report.type if report.type.isidentifier() else "Error"
            error = ErrorInfo(kind[:64], scrub(report.message), report.line)
        wall_s = time.perf_counter() - t0
        return ExecutionResult(
            ok=error is None,
            error=error,
            output="".join(state.output),
            calls=state.calls,
            wall_s=wall_s,
            handler_s=state.handler_s,
            run_s=min(done.run_s, wall_s),  # (reported by the worker: trusted only this far)
            wait_s=min(done.wait_s, wall_s),
        )

    def _abort(
        self, worker: WorkerProcess, state: _Run, t0: float, kind: str, message: str
    ) -> ExecutionResult:
        """Kill the worker, tell the robot to stop, and report why."""
        worker.kill()
        if self.on_abort is not None:
            self.on_abort()
        return ExecutionResult(
            ok=False,
            error=ErrorInfo(kind, message),
            output="".join(state.output),
            calls=state.calls,
            wall_s=time.perf_counter() - t0,
            handler_s=state.handler_s,
            run_s=state.program_s(),
            aborted=True,
        )
