"""The sandboxed executor: programs run in a worker, API calls cross to the parent."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from planner.sandbox.checker import ProgramRejected
from planner.sandbox.executor import ExecutionResult, SandboxExecutor, SandboxLimits
from planner.sandbox.names import BUILTIN_NAMES
from planner.sandbox.testing import DEMO_FUNCTIONS, RecordingHandler

TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def robot() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture(scope="module")
def shared(robot: RecordingHandler) -> Iterator[SandboxExecutor]:
    limits = SandboxLimits(timeout_s=TIMEOUT_S, max_calls=50)
    with SandboxExecutor(DEMO_FUNCTIONS, robot, limits, on_abort=robot.stop) as executor:
        yield executor


@pytest.fixture
def executor(shared: SandboxExecutor, robot: RecordingHandler) -> SandboxExecutor:
    robot.reset()
    return shared


def test_a_program_computes_with_helpers_and_calls_the_api(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    result = executor.run(
        "blocks = [n for n in objects() if n.endswith('block')]\n"
        "for name in blocks:\n"
        "    x, y, z = get_pos(name)\n"
        "    d = dist([x, y], [0.3, 0.0])\n"
        "    print(name, round(d, 3), round(sqrt(d * d), 3), clip(x, 0.3, 0.45))\n"
        "    pick(name, force=5)\n"
        "    place([x, y + 0.05], offset=(0.0, 0.01))\n"
        "print(mean([1, 2, 3]), linspace(0, 1, 3), polygon_contains([[0, 0], [1, 0], [1, 1]], "
        "[0.9, 0.1]), pi > 3)\n"
    )
    assert result.ok, result.error
    assert result.output.splitlines() == [
        "red block 0.224 0.224 0.45",
        "green block 0.224 0.224 0.45",
        "2.0 [0.0, 0.5, 1.0] True True",
    ]
    assert robot.names() == ["objects", "get_pos", "pick", "place"] * 1 + [
        "get_pos", "pick", "place"
    ]  # fmt: skip
    assert robot.calls[2] == ("pick", {"obj": "red block", "force": 5.0})
    assert robot.calls[3] == ("place", {"target": [0.5, 0.15000000000000002],
                                        "offset": [0.0, 0.01]})  # fmt: skip
    assert result.calls == 7 and not result.aborted and robot.stops == 0


def test_every_allowed_name_exists_in_the_worker(executor: SandboxExecutor) -> None:
    names = [*BUILTIN_NAMES, *executor.helpers]
    result = executor.run(f"print(len([n for n in [{', '.join(names)}] if n is not None]))")
    assert result.ok, result.error
    assert result.output == f"{len(names)}\n"


def test_prelude_functions_are_callable_and_errors_point_into_them(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    prelude = "def grab(obj):\n    pick(obj)\n    return 10 / len(obj)\n"
    ok = executor.run("print(grab('cube'))", prelude)
    assert ok.ok and ok.output == "2.5\n"
    failed = executor.run("x = 1\ngrab('')", prelude)
    assert failed.error is not None
    assert (failed.error.type, failed.error.line) == ("ZeroDivisionError", 2)
    assert "in grab(), line 3 of it" in failed.error.message


def test_undefined_functions_are_refused_before_running(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    source = "pick('a')\nstack_everything()"
    assert executor.check(source).undefined_functions == ("stack_everything",)
    result = executor.run(source)
    assert not result.ok and result.error is not None
    assert result.error.type == "ProgramRejected"
    assert "'stack_everything' is not defined" in result.error.message
    assert robot.calls == []


def test_runtime_errors_have_type_message_and_line_only(executor: SandboxExecutor) -> None:
    result = executor.run("x = [1, 2]\ny = {'a': 1}\nprint(x[5])")
    assert result.error is not None
    assert (result.error.type, result.error.line) == ("IndexError", 3)
    assert result.error.message == "list index out of range"
    assert str(result.error) == "line 3: IndexError: list index out of range"
    recursion = executor.run("def down(n):\n    return down(n + 1)\n\ndown(0)")
    assert recursion.error is not None
    assert (recursion.error.type, recursion.error.line) == ("RecursionError", 2)
    assert not recursion.aborted


def test_skill_failures_reach_the_program_without_host_paths(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    robot.failures["pick"] = RuntimeError(f"gripper fault, see {sys.prefix}/log/robot.log")
    result = executor.run("say('go')\npick('a')\nsay('never')")
    assert result.error is not None
    assert (result.error.type, result.error.line) == ("SkillError", 2)
    assert result.error.message == "gripper fault, see <path>"
    assert robot.names() == ["say", "pick"]


def test_bad_arguments_never_reach_the_robot(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    cases = {
        "pick('a', force=float('nan'))": "must be a finite number, got nan",
        "pick('a', force=float('inf'))": "must be a finite number, got inf",
        "pick('a', force='hard')": "must be a finite number, got 'hard'",
        "pick('a', force=True)": "must be a finite number, got True",
        "place([0.4])": "must be a name or a list of 2 to 3 finite numbers",
        "place('bowl', offset=[0.1, 0.2, 0.3])": "a list of 2 finite numbers",
        "move_to(0.4, 0.1)": "missing argument 'z'",
        "pick('a', speed=1)": "unexpected argument 'speed'",
        "pick(obj='a', object='b')": "unexpected argument 'object'",
        "pick('a' * 500)": "at most 200 characters",
        "pick({1, 2})": "arguments must be plain data",
        "say(range(3))": "arguments must be plain data (not range)",
        "say({1: 'x'})": "arguments must be plain data (dict keys must be strings)",
        "pick('a', force=10 ** 30)": "arguments must be plain data",  # beyond msgpack's ints
        "pick('a', force=2 ** 60)": "'force' must be a finite number (too large)",
    }
    for source, needle in cases.items():
        result = executor.run(source)
        assert result.error is not None, source
        assert result.error.type == "ArgumentError", (source, result.error)
        assert needle in result.error.message, (source, result.error.message)
        assert result.error.line == 1
    assert robot.calls == []


def test_call_budget_stops_a_million_calls(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    result = executor.run("for i in range(1000000):\n    noop()")
    assert result.error is not None
    assert (result.error.type, result.error.line) == ("CallBudgetExceeded", 2)
    assert "at most 50 calls" in result.error.message
    assert len(robot.calls) == 50 and result.calls == 50


def test_print_output_is_bounded(executor: SandboxExecutor) -> None:
    for source in ("for i in range(100000):\n    print(i)", "print('x' * 10000000)"):
        result = executor.run(source)
        assert result.ok, result.error
        assert len(result.output) <= 4096 + 40
        assert result.output.endswith("[output truncated]\n")


def test_deadline_kills_the_worker_and_stops_the_robot(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    t0 = time.perf_counter()
    result = executor.run("noop()\nprint('spinning')\nwhile True:\n    pass")
    elapsed = time.perf_counter() - t0
    assert result.error is not None and result.error.type == "Timeout"
    assert result.aborted and robot.stops == 1
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 1.0
    assert result.output == "spinning\n"  # output printed before the kill is kept


def test_handler_time_does_not_count_against_the_deadline(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    robot.delay_s = 0.6  # a slow robot: 5 calls take 3 s > the 2 s program deadline
    result = executor.run("for i in range(5):\n    move_to(0.4, 0.0, 0.2)")
    assert result.ok, result.error
    assert result.handler_s >= 3.0 and result.run_s < 1.0
    assert robot.stops == 0


def test_memory_bombs_fail_inside_the_worker(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    for source in ("x = [0] * (1 << 31)", "x = 'a' * (1 << 40)", "x = [0] * (1 << 27)"):
        result = executor.run(source)
        assert result.error is not None
        assert (result.error.type, result.error.line) == ("MemoryError", 1), source
    result = executor.run("x = []\nwhile True:\n    x.append([0] * 100000)")
    assert result.error is not None and result.error.type in ("MemoryError", "Timeout")


def test_handler_results_must_be_plain_data(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    robot.answers["get_color"] = object()
    try:
        result = executor.run("c = get_color('a')")
    finally:
        robot.answers["get_color"] = "green"
    assert result.error is not None and result.error.type == "SkillError"
    assert "cannot receive" in result.error.message


def test_handler_results_may_hold_numpy_floats(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    import numpy as np

    robot.answers["get_pos"] = [np.float64(0.5), np.float64(0.25), float("nan")]
    try:
        result = executor.run("x, y, z = get_pos('a')\nprint(x + y, z != z)")
    finally:
        robot.answers["get_pos"] = [0.5, 0.1, 0.02]
    assert result.ok, result.error
    assert result.output == "0.75 True\n"


def test_unforwarded_handler_errors_abort_and_propagate(
    executor: SandboxExecutor, robot: RecordingHandler
) -> None:
    robot.failures["pick"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        executor.run("pick('a')")
    assert robot.stops == 1
    robot.reset()
    assert executor.run("print('still fine')").output == "still fine\n"


def test_rejected_programs_are_results_with_the_line(executor: SandboxExecutor) -> None:
    result = executor.run("x = 1\nimport os")
    assert not result.ok and result.calls == 0 and not result.aborted
    assert str(result.error) == "line 2: ProgramRejected: import is not allowed"
    expected = ExecutionResult.rejected(ProgramRejected(2, "import is not allowed"))
    assert expected.error == result.error


def test_timings_and_layers_are_reported(executor: SandboxExecutor) -> None:
    startup = executor.warm()
    assert 0 < startup < 10 and executor.startup_time() == startup
    result = executor.run("pass")
    assert result.ok and result.overhead_s < 0.05  # ~0.5 ms on a warm worker; loose for CI
    layers = executor.layers
    assert set(layers) == {"rlimits", "user", "no_new_privs", "landlock", "seccomp"}
    assert layers["rlimits"]


def test_close_kills_the_spare_and_a_later_run_starts_another(robot: RecordingHandler) -> None:
    executor = SandboxExecutor(DEMO_FUNCTIONS, robot, SandboxLimits(timeout_s=TIMEOUT_S))
    executor.warm()
    spare = executor._spare.result()  # white-box: the spare process itself
    executor.close()
    assert spare.popen.returncode is not None
    assert executor.run("print(1)").output == "1\n"
    executor.close()


def test_executor_refuses_clashing_names(robot: RecordingHandler) -> None:
    from planner.sandbox.schema import FunctionSpec

    with pytest.raises(ValueError, match="given twice"):
        SandboxExecutor({"len": FunctionSpec("len")}, robot, prestart=False)
    with pytest.raises(ValueError, match="given twice"):
        SandboxExecutor({"dist": FunctionSpec("dist")}, robot, prestart=False)
    with pytest.raises(KeyError, match="unknown sandbox helper"):
        SandboxExecutor(DEMO_FUNCTIONS, robot, helpers=["system"], prestart=False)
