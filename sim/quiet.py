"""Silence PyBullet's C-level banners ("pybullet build time", "argv[0]=") on stderr.

They cannot be turned off and would clutter every command's terminal output.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def c_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_pybullet_quietly() -> None:
    """Import pybullet once with its banner swallowed (later imports are cached)."""
    with c_stderr_silenced():
        importlib.import_module("pybullet")
