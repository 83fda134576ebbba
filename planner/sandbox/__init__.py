"""The sandboxed executor of generated code ("code as policy"), in two layers.

1. **Check before running** (`checker.check_program`): allow-listed syntax, names and
   attribute names only; bounded size, node count and nesting. A refusal is
   `ProgramRejected(line, message)` ("line 3: import is not allowed").
2. **Run in a worker process** (`executor.SandboxExecutor`): one fresh, confined Python
   process per program (rlimits, root dropped, Landlock, seccomp: see README.md), started
   ahead of time; frames on dedicated pipes as length-prefixed msgpack (msgspec structs,
   `frames.py`); killed with its process group at the deadline, after which `on_abort`
   tells the robot to stop. The worker holds only stubs: every API call crosses to the
   parent, which validates it (`schema.validate_call`), counts it against the call budget
   and runs the handler.

Generic: the executor knows function names and argument schemas (`FunctionSpec`,
`Param`) and forwards each validated call to `handler(name, args)`; pure helpers that run
inside the worker are registered in `helpers.py` with `@helper`.

API::

    executor = SandboxExecutor(functions: Mapping[str, FunctionSpec],
                               handler: Callable[[str, dict], Any],
                               limits: SandboxLimits | None = None,
                               on_abort: Callable[[], None] | None = None,
                               helpers: Collection[str] | None = None,
                               forward_errors: tuple[type[BaseException], ...] = (Exception,))
    executor.check(source, prelude="") -> CheckedProgram      # raises ProgramRejected
    executor.run(source, prelude="") -> ExecutionResult       # never raises for the program
    executor.warm() -> float                                  # spare ready; start-up seconds
    executor.startup_time() -> float | None
    executor.layers -> dict[str, bool]                        # active confinement layers
    executor.close()
    ExecutionResult(ok, error: ErrorInfo | None, output, calls, wall_s, handler_s, run_s,
                    wait_s, check_s, aborted); .overhead_s; ExecutionResult.rejected(exc)
    ErrorInfo(type, message, line)
    check_program(source, known_names, limits=None, prelude="") -> CheckedProgram
    undefined_calls(source, known_names, prelude="") -> list[str]
    program_rules() -> str; helper_listing(names=None) -> str     # text for the prompt
    validate_call(spec, args, kwargs) -> dict                 # raises CallRejected
    timing.measure() -> SandboxTimings                        # `python -m planner.sandbox`

Names are loaded lazily so the worker process imports only what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CallRejected": "schema",
    "FunctionSpec": "schema",
    "Param": "schema",
    "validate_call": "schema",
    "CheckLimits": "checker",
    "CheckedProgram": "checker",
    "ProgramRejected": "checker",
    "check_program": "checker",
    "undefined_calls": "checker",
    "ErrorInfo": "executor",
    "ExecutionResult": "executor",
    "SandboxExecutor": "executor",
    "SandboxLimits": "executor",
    "SandboxError": "process",
    "HELPERS": "helpers",
    "add_helper": "helpers",
    "helper": "helpers",
    "helper_listing": "helpers",
    "program_rules": "names",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
