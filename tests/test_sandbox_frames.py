"""Frames between the parent and a worker: msgspec structs, decoded strictly by the parent."""

from __future__ import annotations

import math
import os

import msgpack
import pytest

from planner.sandbox import protocol
from planner.sandbox.frames import (
    Call,
    Done,
    ErrorReport,
    Failed,
    Fatal,
    Ok,
    Out,
    Ready,
    Run,
    WorkerConfig,
)

CALL = {"kind": "call", "name": "pick", "args": ["cube"], "kwargs": {"force": 2.5}}
DONE = {"kind": "done", "error": None, "run_s": 0.01, "wait_s": 0.0}


def payload(frame: object) -> bytes:
    """An encoded frame without its length header."""
    return protocol.encode(frame)[protocol.HEADER.size :]


@pytest.mark.parametrize(
    "frame",
    [
        Ready({"rlimits": True, "seccomp": False}),
        Out("hello\n"),
        Call("place", [[0.4, 0.1], "é"], {"offset": [0.0, 0.01], "meta": {"a": None}}),
        Done(ErrorReport("ValueError", "bad", 3), 0.5, 0.25),
        Done(None, 0.0, 0.0),
        Fatal("OSError: no"),
    ],
)
def test_worker_frames_round_trip(frame: object) -> None:
    assert protocol.decode(payload(frame)) == frame


def test_parent_frames_reach_the_worker_nan_and_all() -> None:
    run = Run("pick('a')", "", ["pick"], ["dist"], 50, 4096, 1 << 16)
    read_fd, write_fd = os.pipe()
    try:
        for frame in (run, Ok([0.5, math.nan, {"a": (1, 2)}]), Failed("SkillError", "no")):
            protocol.send(write_fd, frame)
            got = protocol.receive(read_fd)
            if isinstance(got, Ok):
                assert got.value[0] == 0.5 and math.isnan(got.value[1])
                assert got.value[2] == {"a": [1, 2]}  # (tuples arrive as lists)
            else:
                assert got == frame
    finally:
        os.close(read_fd)
        os.close(write_fd)
    config = WorkerConfig(1 << 30, 25, 16, True, True, False)
    assert WorkerConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        ({**CALL, "extra": 1}, "frame: Object contains unknown field `extra`"),
        ({**CALL, "name": 7}, "frame.name: Expected `str`, got `int`"),
        ({**CALL, "args": {"a": 1}}, "frame.args: Expected `array`, got `object`"),
        ({**CALL, "kwargs": {3: 1}}, "frame.kwargs: Expected `str`, got `int` (a map key)"),
        ({**CALL, "name": "x" * 129}, "frame.name: Expected `str` of length <= 128"),
        ({"kind": "call", "name": "pick"}, "missing required field `args`"),
        ({**DONE, "run_s": math.nan}, "frame.run_s: Expected `float` >= 0.0"),
        ({**DONE, "wait_s": -1.0}, "frame.wait_s: Expected `float` >= 0.0"),
        ({**DONE, "run_s": True}, "frame.run_s: Expected `float`, got `bool`"),
        ({**DONE, "error": {"type": "E", "message": "m"}}, "missing required field `line`"),
        ({"kind": "ready", "layers": {"seccomp": 1}}, "frame.layers[...]: Expected `bool`"),
        ({"kind": "run", "source": ""}, "frame.kind: Invalid value 'run'"),
        ({"kind": "q" * 100}, "frame.kind: Invalid value 'qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq...'"),
        (["call", "pick"], "frame: Expected `object`, got `array`"),
    ],
)
def test_malformed_frames_are_refused_naming_the_path(frame: object, needle: str) -> None:
    with pytest.raises(protocol.ProtocolError) as info:
        protocol.decode(msgpack.packb(frame))
    message = str(info.value)
    assert needle in message
    assert "\n" not in message and len(message) < 200


def packed(*pairs: tuple[str, object], raw: bytes = b"") -> bytes:
    """A msgpack map of `pairs` written by hand (`raw`: one more key and value, as bytes)."""
    body = b"".join(msgpack.packb(k) + msgpack.packb(v) for k, v in pairs)
    return bytes([0x80 + len(pairs) + bool(raw)]) + body + raw


def test_only_frames_as_msgspec_writes_them_are_accepted() -> None:
    assert protocol.decode(packed(*CALL.items())) == Call("pick", ["cube"], {"force": 2.5})
    repeated = packed(*CALL.items(), ("name", "format_disk"))
    int32_one = packed(*list(CALL.items())[:2], ("kwargs", {}), raw=b"\xa4args\x91\xd2\0\0\0\1")
    int_for_float = packed(*{**DONE, "run_s": 0}.items())
    for data in (repeated, int32_one, int_for_float):
        with pytest.raises(protocol.ProtocolError, match="not as msgspec writes it"):
            protocol.decode(data)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"\xc1", "undecodable frame: MessagePack data is malformed"),
        (payload(Out("x"))[:-1], "undecodable frame: Input data was truncated"),
        (payload(Call("f", [], {}))[:-1] + b"\x81\xa1a" + b"\x91" * 5000 + b"\x01", "recursion"),
    ],
)
def test_undecodable_frames_are_refused(data: bytes, needle: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=needle):
        protocol.decode(data)


def test_numbers_that_subclass_float_are_sent_as_floats() -> None:
    np = pytest.importorskip("numpy")
    frame = Call("move_to", [np.float64(0.4), np.str_("a")], {})
    assert protocol.decode(payload(frame)) == Call("move_to", [0.4, "a"], {})
    with pytest.raises(TypeError, match="not plain data"):
        protocol.encode(Ok(np.int64(3)))  # not a subclass of int: refused, as JSON did
