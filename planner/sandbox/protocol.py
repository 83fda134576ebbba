"""Length-prefixed JSON frames between the parent and a worker, on dedicated pipes.

A frame is a 4-byte big-endian length and a UTF-8 JSON object with exactly one key (the
message kind). JSON, never pickle: the parent decodes worker data as plain values only,
with a size limit, duplicate keys refused and each kind's shape checked.

Worker -> parent: ready, out, call, done, fatal. Parent -> worker: run, ok, error.
"""

from __future__ import annotations

import errno
import json
import math
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">I")
MAX_READ = 1 << 16


class ProtocolError(Exception):
    """A frame broke the protocol (size, encoding, shape): the worker is not trusted."""


class WorkerGone(Exception):
    """The worker closed its pipe (exited or was killed)."""


def encode(message: dict[str, Any]) -> bytes:
    """One frame: header and compact JSON (NaN/inf kept so schemas can name them)."""
    payload = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    return HEADER.pack(len(payload)) + payload


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ProtocolError("duplicate key in frame")
    return result


def decode(payload: bytes) -> tuple[str, Any]:
    """Decode one frame's payload into (kind, body); strict about shape, not content."""
    try:
        message = json.loads(payload.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolError(f"undecodable frame: {type(error).__name__}") from None
    if not isinstance(message, dict) or len(message) != 1:
        raise ProtocolError("a frame must be an object with one key")
    ((kind, body),) = message.items()
    return kind, body


# --- parent side: non-blocking, with deadlines ---------------------------------------------
class FrameReader:
    """Reads frames from a non-blocking fd, never waiting past a deadline."""

    def __init__(self, fd: int, max_bytes: int) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def read(self, timeout_s: float | None) -> tuple[str, Any] | None:
        """The next frame, or None if none is complete within `timeout_s` (None: wait).

        Raises:
            WorkerGone: end of file.
            ProtocolError: a frame over the size limit or malformed.
        """
        deadline = None if timeout_s is None else time.monotonic() + max(0.0, timeout_s)
        while True:
            frame = self._take()
            if frame is not None:
                return decode(frame)
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._poll.poll(None if wait is None else math.ceil(wait * 1000)):
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            try:
                chunk = os.read(self.fd, MAX_READ)
            except BlockingIOError:
                continue
            if not chunk:
                raise WorkerGone("worker closed its pipe")
            self._buffer += chunk

    def _take(self) -> bytes | None:
        if len(self._buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._buffer)
        if size > self.max_bytes:
            raise ProtocolError(f"frame of {size} bytes is over the limit of {self.max_bytes}")
        end = HEADER.size + size
        if len(self._buffer) < end:
            return None
        frame = bytes(self._buffer[HEADER.size : end])
        del self._buffer[:end]
        return frame


def write_frame(fd: int, message: dict[str, Any], timeout_s: float) -> None:
    """Write a frame to a non-blocking fd within `timeout_s`.

    Raises:
        WorkerGone: the reader is gone (broken pipe) or did not read in time.
    """
    data = memoryview(encode(message))
    deadline = time.monotonic() + timeout_s
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    while data:
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            written = 0
        except OSError as error:
            if error.errno in (errno.EPIPE, errno.EBADF):
                raise WorkerGone("worker pipe closed") from None
            raise
        data = data[written:]
        if data:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise WorkerGone("worker did not read its pipe in time")
            poll.poll(math.ceil(wait * 1000))


# --- worker side: blocking ----------------------------------------------------------------
def send(fd: int, message: dict[str, Any]) -> None:
    """Write a frame to a blocking fd (worker side)."""
    write_all(fd, encode(message))


def write_all(fd: int, frame: bytes) -> None:
    """Write encoded bytes to a blocking fd."""
    data = memoryview(frame)
    while data:
        data = data[os.write(fd, data) :]


def receive(fd: int) -> tuple[str, Any]:
    """Read one frame from a blocking fd (worker side; the parent is trusted).

    Raises:
        WorkerGone: the parent closed the pipe.
    """
    header = _read_exactly(fd, HEADER.size)
    (size,) = HEADER.unpack(header)
    return decode(_read_exactly(fd, size))


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise WorkerGone("parent closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def fields(body: Any, shape: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """Check that a frame body has exactly `shape`'s keys with those types (bool is no int).

    Raises:
        ProtocolError: a missing, extra or wrongly typed field.
    """
    if not isinstance(body, dict) or set(body) != set(shape):
        raise ProtocolError(f"frame fields must be {sorted(shape)}")
    for key, kind in shape.items():
        value = body[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ProtocolError(f"frame field {key!r} has the wrong type")
    return body
