"""Silence PyBullet's C-level banners ("pybullet build time", "argv[0]=").

They cannot be turned off and would clutter every command's terminal output.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import sys
from collections.abc import Iterator

_LIBC = ctypes.CDLL(None)


@contextlib.contextmanager
def c_output_silenced() -> Iterator[None]:
    """Point file descriptors 1 and 2 at /dev/null for the duration (C buffers flushed)."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no real stdout/stderr (embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        _LIBC.fflush(None)
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


def import_pybullet_quietly() -> None:
    """Import pybullet once with its banner swallowed (later imports are cached)."""
    with c_output_silenced():
        importlib.import_module("pybullet")
