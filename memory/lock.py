"""The writer lock: one process writes a knowledge base at a time, readers need no lock.

An ``flock`` on ``writer.lock`` in the folder. The kernel releases it when the holder exits
or dies, so a crashed writer never leaves a stale lock; the file keeps the holder's pid so
the refusal can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from memory.errors import KnowledgeBaseLocked


class WriterLock:
    """An exclusive, non-blocking lock on a file, naming its holder.

    Attributes:
        path: the lock file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise `KnowledgeBaseLocked` naming the holder's pid."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise KnowledgeBaseLocked(
                f"the knowledge base in {self.path.parent} is open for writing by {who}; "
                "close it there, or open this one read-only",
                holder,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
