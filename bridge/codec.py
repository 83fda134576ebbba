"""Strict msgpack and typed binary array frames. Never pickle.

A bridge message is a list of ZeroMQ frames: one msgpack header, then one frame per
array. The header names each array with a descriptor ``{frame, dtype, shape, codec}``;
``codec`` is ``raw`` (C-order bytes), ``jpeg`` or ``png`` (OpenCV, for 8-bit images).

Decoding refuses, with `ProtocolError`: bytes that are not exactly one msgpack value,
extension types, binary strings, non-string or duplicate map keys, over-long strings and
containers, and arrays whose bytes or encoded image size disagree with their descriptor.
The schemas (`bridge.schema`) then refuse NaN and infinities, integers beyond 2**53,
missing or extra keys, and free-form values nested deeper than `MAX_DEPTH`.
"""

from __future__ import annotations

import math
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import msgpack
import numpy as np
import zmq

from bridge.errors import ProtocolError
from bridge.schema import MAX_ITEMS, Int, ListOf, Text, obj

_RCVMORE = int(zmq.RCVMORE)
_SNDMORE = int(zmq.SNDMORE)
MAX_HEADER_BYTES = 1 << 20
ZERO_COPY_BYTES = 1 << 16
MAX_STR = 1 << 16
MAX_ARRAYS = 8
MAX_DIM = 8192
MAX_PIXELS = 4096 * 4096
DTYPES = ("uint8", "uint16", "int32", "float32", "float64")
CODECS = ("raw", "jpeg", "png")
IMAGE_CODECS = ("jpeg", "png")

ARRAY = obj(
    frame=Int(1, MAX_ARRAYS),
    dtype=Text(16, DTYPES),
    shape=ListOf(Int(1, MAX_DIM), 3, 1),
    codec=Text(8, CODECS),
)


def _no_ext(code: int, data: bytes) -> object:
    raise ProtocolError(f"msgpack extension type {code} is not allowed")


def _pairs(pairs: list[tuple[Any, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ProtocolError(f"duplicate map key {key!r}")
        out[key] = value
    return out


class _PerThread(threading.local):
    """A reusable msgpack Packer for each thread (`msgpack.packb` builds one every call)."""

    def __init__(self) -> None:
        self.packer = msgpack.Packer(use_bin_type=True)


_local = _PerThread()


def unpack(data: bytes | memoryview) -> Any:
    """Decode one msgpack value strictly (see the module docstring).

    Free-form parts are bounded by `bridge.schema.check_tree` when a schema reaches them;
    every other value is checked by its schema. Duplicate keys are found by re-packing:
    a canonical message re-packs to the same bytes; anything else is decoded again with
    a duplicate-refusing hook.
    """
    if len(data) > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {len(data)} bytes is over the {MAX_HEADER_BYTES} limit")
    try:
        value = msgpack.unpackb(  # keywords spelled out: cheaper than **_LIMITS
            data,
            raw=False,
            strict_map_key=True,
            ext_hook=_no_ext,
            max_str_len=MAX_STR,
            max_bin_len=0,
            max_array_len=MAX_ITEMS,
            max_map_len=MAX_ITEMS,
            max_ext_len=0,
        )
        if _local.packer.pack(value) != data:
            value = msgpack.unpackb(data, object_pairs_hook=_pairs, **_LIMITS)
    except ProtocolError:
        raise
    except (ValueError, TypeError, msgpack.UnpackException) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ProtocolError(f"not a msgpack message: {reason}") from None
    except RecursionError:
        raise ProtocolError("header nests too deeply") from None
    return value


_LIMITS = {
    "raw": False,
    "strict_map_key": True,
    "ext_hook": _no_ext,
    "max_str_len": MAX_STR,
    "max_bin_len": 0,
    "max_array_len": MAX_ITEMS,
    "max_map_len": MAX_ITEMS,
    "max_ext_len": 0,
}


def recv(socket: zmq.Socket, flags: int = 0, routed: bool = False) -> list[bytes]:
    """Receive a multipart message as bytes (what `recv_multipart` does, cheaper).

    Each frame comes as a `zmq.Frame`, whose ``more`` flag is a plain read: asking the
    socket for ``RCVMORE`` costs pyzmq most of a microsecond each time. `routed`: a
    ROUTER's message, whose routing id is always followed by more.
    """
    parts = [socket.recv(flags)] if routed else []
    while True:
        frame = socket.recv(flags, copy=False)
        parts.append(frame.bytes)
        if not frame.more:
            return parts


def recv_keyed(socket: zmq.Socket, flags: int = 0) -> tuple[list[bytes], str | None]:
    """A ROUTER's message, as `recv` gives it, and its sender's CURVE public key (z85, the
    ``User-Id`` the ZAP handler gave the connection), or None where it has none."""
    routing = socket.recv(flags)
    first = socket.recv(flags, copy=False)
    try:
        peer = first.get("User-Id")
    except zmq.ZMQError:  # no such property: a connection without authentication
        peer = None
    rest = recv(socket, flags) if first.more else []
    return [routing, first.bytes, *rest], peer


def send(socket: zmq.Socket, frames: Sequence[bytes | memoryview], flags: int = 0) -> None:
    """Send a multipart message: small frames copied, large ones (arrays) without a copy.

    A zero-copy send costs tens of microseconds, a copy of a small frame almost nothing.
    Multipart delivery is atomic: if the first frame is taken, so are the others.
    """
    last = len(frames) - 1
    more = int(flags) | _SNDMORE  # ints: zmq's flag enums combine in slow Python
    for i, frame in enumerate(frames):
        if len(frame) < ZERO_COPY_BYTES:
            socket.send(frame, more if i < last else flags)
        else:
            socket.send(frame, more if i < last else flags, copy=False)


def pack(value: Any) -> bytes:
    """Encode a header (plain dicts, lists, str, int, float, bool, None)."""
    return _local.packer.pack(value)


@dataclass
class Frames:
    """Arrays being attached to an outgoing message; `add` returns each descriptor."""

    blobs: list[bytes | memoryview]

    @classmethod
    def empty(cls) -> Frames:
        return cls([])

    def add(self, array: np.ndarray, codec: str = "raw", quality: int = 90) -> dict:
        """Attach `array` encoded with `codec`; return its header descriptor."""
        desc, blob = encode_array(array, codec, quality)
        self.blobs.append(blob)
        return {**desc, "frame": len(self.blobs)}


def encode_array(array: np.ndarray, codec: str = "raw", quality: int = 90) -> tuple[dict, bytes]:
    """Descriptor (without its frame index) and bytes of one array."""
    dtype = np.dtype(array.dtype).name
    if dtype not in DTYPES:
        allowed = ", ".join(DTYPES)
        raise ProtocolError(f"arrays of dtype {dtype} cannot be sent (allowed: {allowed})")
    if codec not in CODECS:
        raise ProtocolError(f"unknown array codec {codec!r} (allowed: {', '.join(CODECS)})")
    desc = {"dtype": dtype, "shape": list(array.shape), "codec": codec}
    if codec == "raw":
        return desc, memoryview(np.ascontiguousarray(array)).cast("B")  # flat bytes, no copy
    if dtype != "uint8" or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ProtocolError(f"{codec} encodes HxW or HxWx3 uint8 images, got {dtype} {array.shape}")
    image = cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if array.ndim == 3 else array
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if codec == "jpeg" else []
    ok, buf = cv2.imencode(".jpg" if codec == "jpeg" else ".png", image, params)
    if not ok:
        raise ProtocolError(f"OpenCV could not {codec}-encode an image of shape {array.shape}")
    return desc, buf.tobytes()


def _jpeg_size(buf: bytes | memoryview) -> tuple[int, int, int] | None:
    """(height, width, channels) from a JPEG's start-of-frame marker, or None."""
    data = bytes(buf[: 1 << 16])
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 10 > len(data):
                return None
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return h, w, data[i + 9]
        i += 2 + length
    return None


def _png_size(buf: bytes | memoryview) -> tuple[int, int, int] | None:
    """(height, width, channels) from a PNG's IHDR chunk, or None."""
    data = bytes(buf[:26])
    if len(data) < 26 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(data[25], 0)
    return h, w, channels


def decode_array(desc: dict, blob: bytes | memoryview) -> np.ndarray:
    """The array a checked descriptor (`ARRAY`) and its frame describe; strict on sizes."""
    shape = tuple(desc["shape"])
    dtype = np.dtype(desc["dtype"])
    if math.prod(shape) > MAX_PIXELS * 4:
        raise ProtocolError(f"array of shape {shape} is over the size limit")
    codec = desc["codec"]
    if codec == "raw":
        expected = math.prod(shape) * dtype.itemsize
        if len(blob) != expected:
            raise ProtocolError(
                f"array {desc['dtype']}{list(shape)} needs {expected} bytes, frame has {len(blob)}"
            )
        return np.frombuffer(blob, dtype=dtype).reshape(shape).copy()
    channels = 3 if len(shape) == 3 else 1
    if dtype != np.uint8 or len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] != 3):
        raise ProtocolError(f"{codec} frames hold uint8 HxW or HxWx3 images, not {shape}")
    size = _jpeg_size(blob) if codec == "jpeg" else _png_size(blob)
    if size is None:
        raise ProtocolError(f"frame {desc['frame']} is not a valid {codec} image")
    if size[:2] != shape[:2] or size[2] not in (channels, 4 if channels == 3 else channels):
        raise ProtocolError(f"{codec} image is {size[0]}x{size[1]}, descriptor says {shape}")
    flag = cv2.IMREAD_COLOR if channels == 3 else cv2.IMREAD_GRAYSCALE
    image = cv2.imdecode(np.frombuffer(blob, dtype=np.uint8), flag)
    if image is None or image.shape != shape:
        raise ProtocolError(f"frame {desc['frame']} does not decode to a {shape} {codec} image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if channels == 3 else image


def decode_arrays(descs: Sequence[dict], blobs: Sequence[bytes | memoryview]) -> list[np.ndarray]:
    """Decode checked descriptors against the frames after the header (each used once)."""
    used = [d["frame"] for d in descs]
    if len(set(used)) != len(used) or sorted(used) != list(range(1, len(blobs) + 1)):
        raise ProtocolError(
            f"array descriptors name frames {used} but the message has {len(blobs)} array frames"
        )
    return [decode_array(d, blobs[d["frame"] - 1]) for d in descs]
