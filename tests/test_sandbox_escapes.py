"""Known escapes: each is refused before running or stopped in the worker, host and robot safe.

The last group bypasses the checker on purpose (as if it had a hole) and shows that the
worker process still holds: kernel layers, and a parent that trusts nothing it receives.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgpack
import pytest

from planner.sandbox import protocol
from planner.sandbox.checker import CheckedProgram, CheckLimits, ProgramRejected, check_program
from planner.sandbox.executor import ExecutionResult, SandboxExecutor, SandboxLimits
from planner.sandbox.testing import DEMO_FUNCTIONS, RecordingHandler

TIMEOUT_S = 2.0
MAX_CALLS = 50
SECRET = "TOPSECRET-canary-7f3a"


@dataclass(frozen=True)
class Host:
    """A folder the programs must not touch: a secret to read, names not to create."""

    root: Path

    @property
    def secret(self) -> Path:
        return self.root / "secret.txt"

    @property
    def canary(self) -> Path:
        return self.root / "canary"

    def fill(self, source: str) -> str:
        return source.replace("SECRET_PATH", str(self.secret)).replace("CANARY", str(self.canary))


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Host:
    host = Host(tmp_path_factory.mktemp("host"))
    host.secret.write_text(SECRET)
    return host


@pytest.fixture(scope="module")
def robot() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture(scope="module")
def shared(robot: RecordingHandler) -> Iterator[SandboxExecutor]:
    limits = SandboxLimits(timeout_s=TIMEOUT_S, max_calls=MAX_CALLS)
    with SandboxExecutor(DEMO_FUNCTIONS, robot, limits, on_abort=robot.stop) as executor:
        yield executor


@pytest.fixture
def executor(shared: SandboxExecutor, robot: RecordingHandler) -> SandboxExecutor:
    robot.reset()
    return shared


def assert_host_safe(host: Host, robot: RecordingHandler, result: ExecutionResult,
                     allowed_calls: tuple[str, ...] = ()) -> None:  # fmt: skip
    """Nothing created or leaked on the host; the robot saw only what was expected."""
    assert sorted(p.name for p in host.root.iterdir()) == ["secret.txt"]
    assert host.secret.read_text() == SECRET
    assert SECRET not in result.output
    assert result.error is None or SECRET not in result.error.message
    assert set(robot.names()) <= set(allowed_calls)
    assert robot.stops == (1 if result.aborted else 0)


# --- refused before running ---------------------------------------------------------------
REFUSED = {
    "import os": ("import os\nos.system('touch CANARY')", "import is not allowed"),
    "__import__": ("x = __import__('os')", "'__import__' is not allowed"),
    "subclasses": ("x = ().__class__.__bases__[0].__subclasses__()", "may not start with '_'"),
    "getattr dunder from strings": (
        "x = 1\ny = getattr(x, '_' * 2 + 'class' + '_' * 2)", "'getattr' is not available"),
    "str.format attribute walk": ("x = 1\nprint('{0.__class__}'.format(x))",
                                  "attribute 'format' is not allowed"),
    "str.format_map": ("print('{x.__class__}'.format_map({'x': 1}))",
                       "attribute 'format_map' is not allowed"),
    "f-string dunder": ("x = 1\nprint(f'{x.__class__}')", "'__class__' is not allowed"),
    "generator frame walk": ("g = (i for i in [1])\nprint(g.gi_frame.f_back.f_globals)",
                             "generator expression"),
    "generator function": ("def gen():\n    yield 1\nprint(gen().gi_frame)",
                           "yield is not allowed"),
    "traceback frames": (
        "try:\n    1 / 0\nexcept Exception as e:\n    print(e.__traceback__.tb_frame)",
        "try is not allowed"),
    "rebind a skill": ("pick = print\npick('x')", "cannot assign to 'pick'"),
    "redefine a skill": ("def pick(obj):\n    pass", "cannot assign to 'pick'"),
    "shadow a skill in a loop": ("for move_to in range(3):\n    pass",
                                 "cannot assign to 'move_to'"),
    "rebind a builtin": ("print = say", "cannot assign to 'print'"),
    "open a file": ("f = open('SECRET_PATH')", "'open' is not available"),
    "globals": ("print(globals())", "'globals' is not available"),
    "eval": ("eval('1 + 1')", "'eval' is not available"),
    "exec": ("exec('x = 1')", "'exec' is not available"),
    "type": ("t = type(pick)", "'type' is not available"),
    "builtins dict": ("print(__builtins__)", "'__builtins__' is not allowed"),
    "function globals": ("print(pick.__globals__)", "'__globals__' is not allowed"),
    "bound method self": ("print(print.__self__)", "'__self__' is not allowed"),
    "lambda": ("f = lambda: 1", "lambda is not allowed"),
    "class": ("class A:\n    pass", "class is not allowed"),
    "1 MB program": ("x = 1\n" * 200_000, "too long"),
    "100 000 nested parentheses": ("x = " + "(" * 100_000 + "1" + ")" * 100_000, "too long"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_before_running(
    name: str, executor: SandboxExecutor, robot: RecordingHandler, host: Host
) -> None:
    source, needle = REFUSED[name]
    t0 = time.perf_counter()
    result = executor.run(host.fill(source))
    assert time.perf_counter() - t0 < 0.5
    assert result.error is not None and result.error.type == "ProgramRejected"
    assert needle in result.error.message, result.error
    assert result.calls == 0 and not result.aborted
    assert_host_safe(host, robot, result)


def test_deep_parentheses_are_refused_before_the_parser_even_with_a_large_size_limit() -> None:
    source = "x = " + "(" * 100_000 + "1" + ")" * 100_000
    with pytest.raises(ProgramRejected, match="brackets are nested too deeply"):
        check_program(source, DEMO_FUNCTIONS, CheckLimits(max_bytes=1_000_000))


# --- stopped in the worker ----------------------------------------------------------------
STOPPED = {
    "while True: pass": ("noop()\nwhile True:\n    pass", {"Timeout"}, ("noop",)),
    "[0] * (1 << 31)": ("x = [0] * (1 << 31)", {"MemoryError"}, ()),
    "10 ** 10 ** 10": ("x = 10 ** 10 ** 10", {"Timeout", "MemoryError", "WorkerDied"}, ()),
    "unbounded recursion": ("def f(n):\n    return f(n + 1)\nf(0)", {"RecursionError"}, ()),
    "a million skill calls": ("for i in range(1000000):\n    noop()", {"CallBudgetExceeded"},
                              ("noop",)),
    "print flooding": ("while True:\n    print('flood ' * 100)", {"Timeout"}, ()),
    "deeply nested data": ("x = []\nfor i in range(100000):\n    x = [x]\nprint(x)",
                           {"RecursionError"}, ()),
    "deeply nested argument": ("x = []\nfor i in range(100):\n    x = [x]\nplace(x)",
                               {"ArgumentError"}, ()),
    "huge shared argument": ("x = [0.0] * 1000\nplace([x] * 1000)", {"ArgumentError"}, ()),
    "huge int to text": ("print(str(10 ** 100000))", {"ValueError"}, ()),
    "NaN argument": ("pick('cube', force=float('nan'))", {"ArgumentError"}, ()),
    "inf argument": ("move_to(0.4, 0.0, float('inf'))", {"ArgumentError"}, ()),
    "string for a number": ("move_to('0.4', 0.0, 0.2)", {"ArgumentError"}, ()),
    "wrong-length vector": ("place([0.4, 0.1, 0.2, 0.3])", {"ArgumentError"}, ()),
    "extra argument": ("pick('cube', 5.0, 'extra')", {"ArgumentError"}, ()),
}  # fmt: skip


@pytest.mark.parametrize("name", list(STOPPED))
def test_stopped_in_the_worker(
    name: str, executor: SandboxExecutor, robot: RecordingHandler, host: Host
) -> None:
    source, expected, allowed = STOPPED[name]
    t0 = time.perf_counter()
    result = executor.run(source)
    assert time.perf_counter() - t0 < TIMEOUT_S + 1.0
    assert result.error is not None and result.error.type in expected, result.error
    assert "/" not in result.error.message or "<path>" in result.error.message
    assert len(result.output) <= 4096 + 40
    assert result.aborted == (result.error.type in {"Timeout", "WorkerDied"})
    assert_host_safe(host, robot, result, allowed)
    if name == "a million skill calls":
        assert len(robot.calls) == MAX_CALLS


# --- the checker bypassed: the worker and the parent still hold ------------------------------
def unchecked(executor: SandboxExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a hole in the checker: every program goes to the worker as it is."""

    def check(source: str, prelude: str = "") -> CheckedProgram:
        return CheckedProgram(source, prelude, (), (), 0, 0.0)

    monkeypatch.setattr(executor, "check", check)


FIND_OS = (
    "os = [c for c in ().__class__.__base__.__subclasses__()\n"
    "      if c.__name__ == '_wrap_close'][0].__init__.__globals__\n"
    "B = os['__builtins__']\n"
)
OS_ATTEMPTS = (
    FIND_OS
    + """
def attempt(label, fn):
    try:
        fn()
        print(label, 'ALLOWED')
    except B['BaseException'] as error:
        print(label, 'denied', B['type'](error).__name__)

def system():
    if os['system']('touch CANARY') != 0:
        raise B['OSError']('system() failed')

def socket():
    libc = B['__import__']('ctypes').CDLL(None, use_errno=True)
    if libc.socket(2, 1, 0) < 0:
        raise B['PermissionError']('socket() failed')

def fork():
    if os['fork']() == 0:
        os['_exit'](0)

attempt('read', lambda: os['read'](os['open']('SECRET_PATH', os['O_RDONLY']), 100))
attempt('create', lambda: os['open']('CANARY', os['O_WRONLY'] | os['O_CREAT']))
attempt('listdir', lambda: os['listdir']('/'))
attempt('system', system)
attempt('fork', fork)
attempt('exec', lambda: os['execv']('/bin/true', ['true']))
attempt('signal', lambda: os['kill'](os['getppid'](), 0))
attempt('socket', socket)
attempt('import', lambda: B['__import__']('socket'))
attempt('setuid', lambda: os['setuid'](0))
"""
)


def test_os_module_reached_through_a_checker_hole_can_do_nothing(
    executor: SandboxExecutor, robot: RecordingHandler, host: Host,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    layers = executor.layers
    if not (layers["landlock"] and layers["seccomp"]):
        pytest.skip(f"kernel layers not all active here: {layers}")
    unchecked(executor, monkeypatch)
    result = executor.run(host.fill(OS_ATTEMPTS))
    assert result.ok, result.error
    lines = result.output.splitlines()
    labels = [
        "read",
        "create",
        "listdir",
        "system",
        "fork",
        "exec",
        "signal",
        "socket",
        "import",
        "setuid",
    ]
    assert [line.split()[0] for line in lines] == labels
    assert all(line.split()[1] == "denied" for line in lines), result.output
    assert_host_safe(host, robot, result)


def test_forged_frames_kill_the_worker_and_stop_the_robot(
    executor: SandboxExecutor, robot: RecordingHandler, host: Host,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    unchecked(executor, monkeypatch)
    source = FIND_OS + (
        "for fd in range(3, 256):\n"
        "    try:\n"
        "        os['write'](fd, b'\\xff\\xff\\xff\\xff' + b'x' * 100)\n"
        "    except B['OSError']:\n"
        "        pass\n"
        "while True:\n"
        "    pass\n"
    )
    result = executor.run(source)
    assert result.error is not None and result.error.type == "SandboxViolation"
    assert "over the limit" in result.error.message
    assert result.aborted
    assert_host_safe(host, robot, result)


def forged(*pairs: tuple[str, object]) -> bytes:
    """A frame as a compromised worker could write it: header, then a msgpack map."""
    body = b"".join(msgpack.packb(key) + msgpack.packb(value) for key, value in pairs)
    payload = bytes([0x80 + len(pairs)]) + body
    return protocol.HEADER.pack(len(payload)) + payload


CALL = (("kind", "call"), ("name", "pick"), ("args", ["cube"]), ("kwargs", {}))
FORGED = {
    "unknown key": (forged(*CALL, ("sudo", True)), "unknown field `sudo`"),
    "repeated key": (forged(*CALL, ("name", "noop")), "not as msgspec writes it"),
    "wrong type": (forged(*CALL[:3], ("kwargs", [])), "frame.kwargs: Expected `object`"),
    "NaN seconds": (
        forged(("kind", "done"), ("error", None), ("run_s", math.nan), ("wait_s", 0.0)),
        "frame.run_s: Expected `float` >= 0.0",
    ),
    "over-long name": (forged(("kind", "call"), ("name", "p" * 500), *CALL[2:]), "<= 128"),
    "a parent's frame": (forged(("kind", "ok"), ("value", 1)), "Invalid value 'ok'"),
}


@pytest.mark.parametrize("name", list(FORGED))
def test_frames_a_compromised_worker_forges_are_refused(
    name: str, executor: SandboxExecutor, robot: RecordingHandler, host: Host,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    unchecked(executor, monkeypatch)
    frame, needle = FORGED[name]
    source = FIND_OS + (
        "session = noop.__closure__[1].cell_contents\n"
        f"os['write'](session.write_fd, {frame!r})\n"
        "while True:\n"
        "    pass\n"
    )
    result = executor.run(source)
    assert result.error is not None and result.error.type == "SandboxViolation", result.error
    assert needle in result.error.message and "\n" not in result.error.message
    assert result.aborted and robot.calls == []
    assert_host_safe(host, robot, result)


def test_parent_enforces_the_call_budget_on_a_compromised_worker(
    executor: SandboxExecutor, robot: RecordingHandler, host: Host,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    unchecked(executor, monkeypatch)
    source = "session = noop.__closure__[1].cell_contents\nsession.max_calls = 10 ** 9\n"
    result = executor.run(source + "while True:\n    noop()")
    assert result.error is not None and result.error.type == "SandboxViolation"
    assert "call budget" in result.error.message
    assert len(robot.calls) == MAX_CALLS and result.aborted
    assert_host_safe(host, robot, result, ("noop",))


def test_parent_refuses_calls_to_functions_it_does_not_offer(
    executor: SandboxExecutor, robot: RecordingHandler, host: Host,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    unchecked(executor, monkeypatch)
    source = "session = noop.__closure__[1].cell_contents\nsession.call('format_disk', (), {})"
    result = executor.run(source)
    assert result.error is not None and result.error.type == "SandboxViolation"
    assert robot.calls == [] and result.aborted
    assert_host_safe(host, robot, result)


def test_the_host_keeps_working_after_all_that(executor: SandboxExecutor) -> None:
    result = executor.run("print(sum([1, 2, 3]))")
    assert result.ok and result.output == "6\n"
