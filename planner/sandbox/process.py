"""A worker process seen from the parent: start, ready handshake, frames, kill, reap.

The worker is started with `python -I -B` (no user site, no PYTHON* variables, no .pyc
writes), a minimal environment, stdin/stdout/stderr on /dev/null, a fresh empty working
directory, its own session (so its whole process group can be killed) and exactly two
inherited pipe ends: commands in, frames out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

from planner.sandbox import protocol
from planner.sandbox.frames import Fatal, Ready, WorkerConfig, WorkerFrame
from planner.sandbox.worker import BOOTSTRAP

ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds `planner/`
ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    # one thread: BLAS pools would leave threads that Landlock and seccomp do not cover
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
_SIGNALS = {
    signal.SIGXCPU: "it used up its CPU time",
    signal.SIGKILL: "it was killed (out of memory, or stopped)",
    signal.SIGSEGV: "it crashed",
    signal.SIGABRT: "it aborted",
    signal.SIGSYS: "it made a forbidden system call",
}


class SandboxError(RuntimeError):
    """The sandbox itself failed (a worker could not start): a host problem, not the model's."""


class WorkerProcess:
    """One started worker; `close()` kills its process group and removes its directory."""

    def __init__(self, config: WorkerConfig, max_frame_bytes: int) -> None:
        self.spawned = time.perf_counter()
        self.startup_s: float | None = None
        self.layers: dict[str, bool] = {}
        self.workdir = tempfile.mkdtemp(prefix="heedbot-sandbox-")
        to_worker, self._in_fd = os.pipe()
        self._out_fd, from_worker = os.pipe()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", BOOTSTRAP, ROOT, str(to_worker),
                 str(from_worker), config.to_json()],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=self.workdir, env=ENV, start_new_session=True,
                pass_fds=(to_worker, from_worker),
            )  # fmt: skip
        except BaseException:
            _cleanup(None, (self._in_fd, self._out_fd), self.workdir)
            raise
        finally:
            os.close(to_worker)
            os.close(from_worker)
        os.set_blocking(self._in_fd, False)
        os.set_blocking(self._out_fd, False)
        self.reader = protocol.FrameReader(self._out_fd, max_frame_bytes)
        self._finalizer = weakref.finalize(
            self, _cleanup, self.popen, (self._in_fd, self._out_fd), self.workdir
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_ready(self, timeout_s: float) -> None:
        """Block until the worker said "ready" (or raise `SandboxError`)."""
        if self.startup_s is not None:
            return
        try:
            frame = self.reader.read(timeout_s)
        except (protocol.WorkerGone, protocol.ProtocolError) as error:
            raise SandboxError(f"sandbox worker failed to start: {error}") from None
        if frame is None:
            raise SandboxError(f"sandbox worker did not start within {timeout_s} s")
        if isinstance(frame, Fatal):
            raise SandboxError(f"sandbox worker failed to start: {frame.message[:300]}")
        if not isinstance(frame, Ready):
            raise SandboxError(f"sandbox worker sent {type(frame).__name__} before Ready")
        self.layers = dict(frame.layers)
        self.startup_s = time.perf_counter() - self.spawned

    def send(self, frame: bytes, timeout_s: float = 5.0) -> None:
        """Write an encoded frame (`protocol.encode`) to the worker."""
        protocol.write_frame(self._in_fd, frame, timeout_s)

    def read(self, timeout_s: float | None) -> WorkerFrame | None:
        return self.reader.read(timeout_s)

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (idempotent)."""
        _kill_group(self.popen)

    def exit_reason(self) -> str:
        """Why the worker ended, in words (waits briefly for it to exit)."""
        try:
            code = self.popen.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        if code < 0:
            return _SIGNALS.get(-code, f"it was killed by signal {-code}")
        return f"it exited with status {code}"

    def close(self) -> None:
        """Kill, reap and clean up (idempotent)."""
        self.kill()
        self._finalizer()


def _kill_group(popen: subprocess.Popen) -> None:
    if popen.returncode is None:  # not reaped yet, so its pid (= group id) is still its own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)


def _cleanup(popen: subprocess.Popen | None, fds: tuple[int, ...], workdir: str) -> None:
    if popen is not None:
        _kill_group(popen)
        popen.wait()
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    shutil.rmtree(workdir, ignore_errors=True)
