"""Strict msgpack through msgspec, typed binary array frames, and sends. Never pickle.

A bridge message is a list of ZeroMQ frames: one msgpack header, then one frame per
array. The header names each array with a descriptor (`bridge.wire.Array`); its codec is
``raw`` (C-order bytes), ``jpeg`` or ``png`` (OpenCV, for 8-bit images).

`decode` turns a header into its struct (`bridge.wire`) in one msgspec call, which refuses
whatever the struct does not describe. msgspec lets the last of two equal map keys win,
so the result is encoded again: a header msgspec wrote comes out byte for byte; any other
is read once more by msgpack, with a hook that refuses a repeated key (`plain`). A refused
header raises `ProtocolError` naming the path of the offending value and quoting it, cut
short; arrays whose bytes or encoded image size disagree with their descriptor too.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import msgpack
import msgspec
import numpy as np
import zmq

from bridge.errors import ProtocolError
from bridge.wire import CODECS, DTYPES, MAX_ITEMS, MAX_STR, Array, Codec

_SNDMORE = int(zmq.SNDMORE)
MAX_HEADER_BYTES = 1 << 20
ZERO_COPY_BYTES = 1 << 16
MAX_PIXELS = 4096 * 4096
SHOW_CHARS = 40  # longest quote of a refused value


def _scalar(value: object) -> object:
    """A numpy scalar as its Python value (msgspec encodes no numpy type itself)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot send a value of type {type(value).__name__}")


_encoder = msgspec.msgpack.Encoder(enc_hook=_scalar)  # (fresh state each call: any thread)


def pack(value: Any) -> bytes:
    """Encode a header (structs of `bridge.wire`, or plain dicts, lists and scalars)."""
    return _encoder.encode(value)


def builtins(value: object) -> Any:
    """A free-form value as msgpack carries it (numpy scalars as Python ones), to be checked
    before it is sent."""
    return msgspec.to_builtins(value, builtin_types=(bytes, bytearray), enc_hook=_scalar)


def show(value: object) -> str:
    """`value` quoted for an error message, at most `SHOW_CHARS` characters."""
    text = repr(value)
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 3] + "..."


def decode(
    data: bytes | memoryview | msgspec.Raw, decoder: msgspec.msgpack.Decoder, where: str
) -> Any:
    """`data` decoded by `decoder` (of a struct), strictly; a refusal raises `ProtocolError`
    naming the path from `where` (``header``, ``args``) of what is wrong."""
    try:
        return strict(data, decoder)
    except (msgspec.DecodeError, ValueError, RecursionError) as err:  # (ValueError: bad UTF-8)
        raise _explain(data, err, where) from None


def strict(data: bytes | memoryview | msgspec.Raw, decoder: msgspec.msgpack.Decoder) -> Any:
    """`decode` without the explanation: msgspec's own errors, for callers that only try."""
    if len(data) > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {len(data)} bytes is over the {MAX_HEADER_BYTES} limit")
    value = decoder.decode(data)
    written = data if type(data) is bytes else memoryview(data)  # (a Raw equals no bytes)
    if _encoder.encode(value) != written:  # not as msgspec writes it: look for repeated keys
        plain(data)
    return value


def convert(value: Any, kind: type, where: str) -> Any:
    """A plain decoded value (dicts, lists) checked into struct `kind`, as `decode` would."""
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as err:
        raise refusal(err, value, where) from None


def plain(data: bytes | memoryview | msgspec.Raw) -> Any:
    """`data` decoded by msgpack into plain values, refusing what no header may hold:
    bytes that are not one msgpack value, extension types, binary strings, keys that are
    not text or come twice, over-long strings and containers."""
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            object_pairs_hook=_pairs,
            max_str_len=MAX_STR,
            max_bin_len=0,
            max_array_len=MAX_ITEMS,
            max_map_len=MAX_ITEMS,
            max_ext_len=0,
        )
    except ProtocolError:
        raise
    except RecursionError:
        raise ProtocolError("header nests too deeply") from None
    except (ValueError, TypeError, msgpack.UnpackException) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ProtocolError(f"not a msgpack message: {reason[:200]}") from None


def _pairs(pairs: list[tuple[Any, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ProtocolError(f"duplicate map key {show(key)}")
        out[key] = value
    return out


def _explain(data: bytes | memoryview | msgspec.Raw, err: Exception, where: str) -> ProtocolError:
    """Why msgspec refused `data`: msgpack's words for bytes that no header may hold, else
    the path and value msgspec found wrong."""
    try:
        value = plain(data)
    except ProtocolError as why:
        return why
    if isinstance(err, msgspec.ValidationError):
        return refusal(err, value, where)
    if isinstance(err, RecursionError):
        return ProtocolError(f"{where} nests too deeply")
    return ProtocolError(f"not a msgpack message: {str(err)[:200]}")


_AT = re.compile(r"(.*?)(?: - at `(.*)`)?", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|(\[\.\.\.\])")
_MISSING = object()


def refusal(err: msgspec.ValidationError, value: Any, where: str) -> ProtocolError:
    """`err` said with the path from `where` and, where it helps, the value it found."""
    reason, at = _AT.fullmatch(str(err)).groups()
    at = at or "$"
    if at.startswith("key` in `"):  # a map key (``key` in `$.executed``)
        at, reason = at[len("key` in `") :], f"{reason} (a map key)"
    path = where + at[1:] if at.startswith("$") else where
    words, quote = _words(reason)
    found = _lookup(value, at) if quote else _MISSING
    if found is not _MISSING:
        words = re.sub(r", got [^,]*$", "", words) + f", got {show(found)}"
    return ProtocolError(f"{path}: {words}")


def _words(reason: str) -> tuple[str, bool]:
    """msgspec's reason in the bridge's words, cut short; whether quoting the value helps."""
    for prefix, words in (
        ("Object missing required field `", "missing key"),
        ("Object contains unknown field `", "unexpected key"),
    ):
        if reason.startswith(prefix):
            return f"{words} {show(reason[len(prefix) : -1])}", False
    if "1.7976931348623157e+308" in reason:  # the bounds of `wire.Number`
        return "expected a finite number", True
    if reason.startswith("Invalid"):  # an enum or tag value (quoted below, cut short)
        return "invalid value", True
    if reason.startswith("Expected"):
        return "e" + reason[1:200], True
    return reason[:200], False  # a struct's own check (free-form values) says it all


def _lookup(value: Any, at: str) -> Any:
    """The value at msgspec path `at` (``$.a.b[2]``) in a plain decoded `value`."""
    for key, index, unknown in _STEP.findall(at[1:]):
        try:
            if unknown:
                return _MISSING
            value = value[key] if key else value[int(index)]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


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


@dataclass
class Frames:
    """Arrays being attached to an outgoing message; `add` returns each descriptor."""

    blobs: list[bytes | memoryview]

    @classmethod
    def empty(cls) -> Frames:
        return cls([])

    def add(self, array: np.ndarray, codec: Codec = "raw", quality: int = 90) -> Array:
        """Attach `array` encoded with `codec`; return its header descriptor."""
        desc, blob = encode_array(array, codec, quality, len(self.blobs) + 1)
        self.blobs.append(blob)
        return desc


def encode_array(
    array: np.ndarray, codec: Codec = "raw", quality: int = 90, frame: int = 1
) -> tuple[Array, bytes | memoryview]:
    """Descriptor and bytes of one array, to be sent as array frame `frame` (from 1)."""
    dtype = np.dtype(array.dtype).name
    if dtype not in DTYPES:
        allowed = ", ".join(DTYPES)
        raise ProtocolError(f"arrays of dtype {dtype} cannot be sent (allowed: {allowed})")
    if codec not in CODECS:
        raise ProtocolError(f"unknown array codec {codec!r} (allowed: {', '.join(CODECS)})")
    desc = Array(frame, dtype, tuple(array.shape), codec)
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


def decode_array(desc: Array, blob: bytes | memoryview) -> np.ndarray:
    """The array a checked descriptor and its frame describe; strict on sizes."""
    shape = desc.shape
    dtype = np.dtype(desc.dtype)
    if math.prod(shape) > MAX_PIXELS * 4:
        raise ProtocolError(f"array of shape {shape} is over the size limit")
    codec = desc.codec
    if codec == "raw":
        expected = math.prod(shape) * dtype.itemsize
        if len(blob) != expected:
            raise ProtocolError(
                f"array {desc.dtype}{list(shape)} needs {expected} bytes, frame has {len(blob)}"
            )
        return np.frombuffer(blob, dtype=dtype).reshape(shape).copy()
    channels = 3 if len(shape) == 3 else 1
    if dtype != np.uint8 or len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] != 3):
        raise ProtocolError(f"{codec} frames hold uint8 HxW or HxWx3 images, not {shape}")
    size = _jpeg_size(blob) if codec == "jpeg" else _png_size(blob)
    if size is None:
        raise ProtocolError(f"frame {desc.frame} is not a valid {codec} image")
    if size[:2] != shape[:2] or size[2] not in (channels, 4 if channels == 3 else channels):
        raise ProtocolError(f"{codec} image is {size[0]}x{size[1]}, descriptor says {shape}")
    flag = cv2.IMREAD_COLOR if channels == 3 else cv2.IMREAD_GRAYSCALE
    image = cv2.imdecode(np.frombuffer(blob, dtype=np.uint8), flag)
    if image is None or image.shape != shape:
        raise ProtocolError(f"frame {desc.frame} does not decode to a {shape} {codec} image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if channels == 3 else image


def decode_arrays(descs: Sequence[Array], blobs: Sequence[bytes | memoryview]) -> list[np.ndarray]:
    """Decode checked descriptors against the frames after the header (each used once)."""
    used = [d.frame for d in descs]
    if len(set(used)) != len(used) or sorted(used) != list(range(1, len(blobs) + 1)):
        raise ProtocolError(
            f"array descriptors name frames {used} but the message has {len(blobs)} array frames"
        )
    return [decode_array(d, blobs[d.frame - 1]) for d in descs]
