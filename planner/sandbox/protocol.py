"""Length-prefixed msgpack frames between the parent and a worker, on dedicated pipes.

A frame is a 4-byte big-endian length and one msgpack map, a struct of `frames` (never
pickle). The parent decodes what a worker sends strictly: a size limit, the struct's
shape and types (msgspec), and only the bytes msgspec itself writes for that value, so a
repeated key or any other encoding a worker could forge is refused.

Worker -> parent: ready, out, call, done, fatal. Parent -> worker: run, ok, error.
"""

from __future__ import annotations

import errno
import math
import os
import re
import select
import struct
import time

import msgspec

from planner.sandbox.frames import Frame, ParentFrame, WorkerFrame

HEADER = struct.Struct(">I")
MAX_READ = 1 << 16
SHOW_CHARS = 40  # longest quote of a refused value


class ProtocolError(Exception):
    """A frame broke the protocol (size, encoding, shape): the worker is not trusted."""


class WorkerGone(Exception):
    """The worker closed its pipe (exited or was killed)."""


def _base(value: object) -> object:
    """A subclass of str, int or float (numpy's float64, str_) as its base value."""
    for kind in (float, int, str):
        if isinstance(value, kind):
            return kind(value)
    raise TypeError(f"a value of type {type(value).__name__} is not plain data")


_encoder = msgspec.msgpack.Encoder(enc_hook=_base)
_from_worker = msgspec.msgpack.Decoder(WorkerFrame)
_from_parent = msgspec.msgpack.Decoder(ParentFrame)


def encode(frame: Frame) -> bytes:
    """One frame: header and msgpack payload.

    Raises:
        TypeError, OverflowError: a value msgpack cannot carry (an object, a huge integer).
    """
    payload = _encoder.encode(frame)
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> WorkerFrame:
    """A worker's frame as its struct, strictly (see the module docstring).

    Raises:
        ProtocolError: undecodable, of the wrong shape, or not as msgspec writes it; the
            message names the path of the offending value.
    """
    try:
        frame = _from_worker.decode(payload)
    except msgspec.ValidationError as error:
        raise ProtocolError(_where(str(error))) from None
    except (msgspec.DecodeError, RecursionError) as error:
        raise ProtocolError(f"undecodable frame: {_quotes_cut(str(error))}") from None
    if _encoder.encode(frame) != payload:
        raise ProtocolError("frame not as msgspec writes it (a repeated key?)")
    return frame


def _where(message: str) -> str:
    """msgspec's refusal as ``frame.path: reason`` (``$.a.b`` becomes ``frame.a.b``)."""
    reason, _, at = message.partition(" - at `")
    at = at[:-1]
    if at.startswith("key` in `"):  # a map key (``key` in `$.kwargs``)
        at, reason = at[len("key` in `") :], f"{reason} (a map key)"
    return f"frame{at[1:]}: {_quotes_cut(reason)}"


_QUOTED = re.compile(r"'[^']*'|`[^`]*`")


def _quotes_cut(message: str) -> str:
    """The first line of `message`, each quoted value cut to `SHOW_CHARS` characters."""
    line = message.splitlines()[0] if message else ""
    return _QUOTED.sub(lambda m: _cut(m.group()), line)


def _cut(quoted: str) -> str:
    if len(quoted) <= SHOW_CHARS:
        return quoted
    return quoted[: SHOW_CHARS - 4] + "..." + quoted[-1]


# --- parent side: non-blocking, with deadlines ---------------------------------------------
class FrameReader:
    """Reads frames from a non-blocking fd, never waiting past a deadline."""

    def __init__(self, fd: int, max_bytes: int) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def read(self, timeout_s: float | None) -> WorkerFrame | None:
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


def write_frame(fd: int, frame: bytes, timeout_s: float) -> None:
    """Write an encoded frame to a non-blocking fd within `timeout_s`.

    Raises:
        WorkerGone: the reader is gone (broken pipe) or did not read in time.
    """
    data = memoryview(frame)
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
def send(fd: int, frame: Frame) -> None:
    """Write a frame to a blocking fd (worker side)."""
    write_all(fd, encode(frame))


def write_all(fd: int, frame: bytes) -> None:
    """Write encoded bytes to a blocking fd."""
    data = memoryview(frame)
    while data:
        data = data[os.write(fd, data) :]


def receive(fd: int) -> ParentFrame:
    """Read one frame from a blocking fd (worker side; the parent is trusted).

    Raises:
        WorkerGone: the parent closed the pipe.
    """
    header = _read_exactly(fd, HEADER.size)
    (size,) = HEADER.unpack(header)
    return _from_parent.decode(_read_exactly(fd, size))


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise WorkerGone("parent closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
