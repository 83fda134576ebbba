"""The bridge wire format: round trips, strict decoding, schemas, arrays, and a decoder fuzz."""

from __future__ import annotations

import contextlib
import math
import queue
import re

import msgpack
import msgspec
import numpy as np
import pytest
from fakes import panda_like_spec
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import codec, protocol
from bridge.codec import Frames
from bridge.errors import BridgeBusy, BridgeRefused, EpisodeRefused, ProtocolError
from bridge.host import Job, JobQueue
from bridge.protocol import COMMANDS, Endpoint
from bridge.server import ServerConfig
from bridge.sessions import ReplayCache
from bridge.wire import Array
from skills.errors import RobotError, SafetyError, StaleStateError
from skills.objects import ObjectState
from skills.robot import CameraFrame, GripperResult, MotionResult, Pose, RobotState

POSE = Pose.top_down(0.5, -0.1, 0.2, 0.3)
SESSION = "0123456789abcdef"


def header(**fields: object) -> bytes:
    """Packed by msgpack (not as msgspec packs it: keys in another order, and so on)."""
    return msgpack.packb(fields, default=msgspec.to_builtins)


def request(cmd: str = "state", args: object = None, **override: object) -> list[bytes]:
    fields = {
        "v": protocol.VERSION,
        "type": "req",
        "id": 7,
        "session": SESSION,
        "deadline": 1.0,
        "cmd": cmd,
        "args": {} if args is None else args,
    }
    fields.update(override)
    return [header(**fields)]


def decode_error(parts: list[bytes]) -> str:
    with pytest.raises(ProtocolError) as info:
        protocol.decode_client(parts)
    return str(info.value)


# --- round trips ----------------------------------------------------------------------------
def test_robot_types_survive_the_wire_exactly() -> None:
    state = RobotState((0.1, -0.2, 0.3, -1.0, 0.0, 1.5, 0.7), POSE, 0.04, "red block", 12.5)
    motion = MotionResult(False, POSE, Pose.top_down(0.4, 0.0, 0.3), 0.1, 2.0, "bowl", True)
    grip = GripperResult(0.02, None, 30.0, 0.5)
    spec = panda_like_spec()
    obj = ObjectState("red block", "block", "red", (0.5, 0.1, 0.02), (0.04, 0.04, 0.04), 0.3)
    assert protocol.state_from_wire(protocol.state_to_wire(state)) == state
    assert protocol.motion_from_wire(protocol.motion_to_wire(motion)) == motion
    assert protocol.gripper_from_wire(protocol.gripper_to_wire(grip)) == grip
    assert protocol.spec_from_wire(protocol.spec_to_wire(spec)) == spec
    assert protocol.object_from_wire(protocol.object_to_wire(obj)) == obj


def test_numpy_scalars_travel_as_python_numbers() -> None:
    """msgspec encodes no numpy type: the codec sends their Python values (as msgpack did)."""
    xyz = tuple(np.float64(v) for v in (0.5, 0.1, 0.02))
    obj = ObjectState("red block", "block", "red", xyz, (0.04,) * 3, np.float32(0.25))
    reply = protocol.decode_server(
        protocol.encode_reply(2, {"objects": [protocol.object_to_wire(obj)]})
    )
    back = protocol.check_reply(COMMANDS.get("episode.objects"), reply).objects[0]
    assert back.position == (0.5, 0.1, 0.02) and back.yaw == 0.25
    error = protocol.decode_server(
        protocol.encode_error(3, SafetyError("speed", np.float64(2.5), ""))
    )
    with pytest.raises(SafetyError) as info:
        protocol.check_reply(COMMANDS.get("move_ee"), error)
    assert info.value.value == 2.5 and type(info.value.value) is float


@pytest.mark.parametrize("image_codec", ["raw", "png", "jpeg"])
def test_camera_frames_travel_as_typed_binary_frames(image_codec: str) -> None:
    rng = np.random.default_rng(0)
    frame = CameraFrame(
        rgb=np.full((48, 64, 3), (200, 30, 90), dtype=np.uint8),
        depth=rng.random((48, 64), dtype=np.float32),
        intrinsics=np.eye(3),
        extrinsics=np.eye(4),
        segmentation=rng.integers(0, 5, (48, 64), dtype=np.int32),
        labels={3: "red block"},
        camera="front",
        stamp=1.25,
    )
    frames = Frames.empty()
    body = protocol.camera_to_wire(frame, frames, image_codec)
    parts = protocol.encode_reply(3, body, frames)
    reply = protocol.decode_server(parts)
    back = protocol.camera_from_wire(protocol.check_reply(COMMANDS.get("camera"), reply), parts[1:])
    tolerance = 3 if image_codec == "jpeg" else 0
    assert np.abs(back.rgb.astype(int) - frame.rgb).max() <= tolerance
    np.testing.assert_array_equal(back.depth, frame.depth)
    np.testing.assert_array_equal(back.segmentation, frame.segmentation)
    assert back.labels == {3: "red block"} and back.camera == "front" and back.stamp == 1.25


def test_errors_keep_their_type_and_message() -> None:
    cases = [
        SafetyError("workspace.x", 0.9, "allowed range [0.3, 0.7] m"),
        StaleStateError("state.age_s", 0.8, "too old"),
        BridgeRefused("session ended"),
        BridgeBusy("busy: this session has 16 robot commands waiting or running"),
        EpisodeRefused("episode set-up needs a simulator"),
        RobotError("gripper jammed"),
        ProtocolError("args.speed: expected a finite number, got nan"),
    ]
    for err in cases:
        reply = protocol.decode_server(protocol.encode_error(4, err))
        with pytest.raises(type(err)) as info:
            protocol.check_reply(COMMANDS.get("move_ee"), reply)
        assert str(info.value) == str(err) and type(info.value) is type(err)
    back = protocol.error_from_wire(protocol.error_to_wire(cases[0]))
    assert (back.limit, back.value) == ("workspace.x", 0.9)
    internal = protocol.error_from_wire(protocol.error_to_wire(KeyError("x")))
    assert "the driver raised KeyError" in str(internal)


# --- strict decoding ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([b"\xc1garbage"], "not a msgpack message"),
        ([msgpack.packb({"v": 1}) + b"x"], "not a msgpack message"),
        ([msgpack.packb([1, 2])], "header must be a map with a protocol version"),
        (request(v=1), "protocol version 1 is not supported (this side speaks 2)"),
        (request(type="pub"), "message type 'pub' is not expected here"),
        (request(cmd="fly"), "unknown command 'fly'; known: "),
        (request(id=True), "header.id: expected `int`, got True"),
        (request(id=2**60), "header.id: expected `int` <= 9007199254740991, got 11529215"),
        (request(extra=1), "unexpected key 'extra'"),
        (request(deadline=math.nan), "deadline: expected a finite number"),
        (request("move_ee", {"pose": protocol.pose_to_wire(POSE), "speed": math.inf}), "speed"),
        (request("move_ee", {"pose": protocol.pose_to_wire(POSE)}), "missing key 'speed'"),
        (
            request(
                "move_ee", {"pose": {"position": [1, 2], "orientation": [1, 0, 0, 0]}, "speed": 1}
            ),
            "args.pose.position: expected `array` of length 3, got [1, 2]",
        ),
        (request("move_ee", {"pose": protocol.pose_to_wire(POSE), "speed": True}), "args.speed"),
        (request("camera", {"name": "x" * 500}), "args.name: expected `str` of length <= 128"),
        (request("episode.reset", {"episode": {"a": [[[[[[[[[[[[[1]]]]]]]]]]]]]}}), "nests deeper"),
        (request("episode.check", {"predicates": [{"in": [math.nan]}]}), "non-finite number"),
        (request("episode.check", {"predicates": [2**60]}), "beyond the bound of 2**53"),
        ([b"\x83" + b"".join(map(msgpack.packb, ["v", 1, "type", "req", "v", 1]))], "duplicate"),
        ([msgpack.packb({1: 2})], "not a msgpack message"),
        ([msgpack.packb({"v": 1, "type": "req", "b": b"bin"})], "not a msgpack message"),
        ([msgpack.packb(msgpack.ExtType(5, b"x"))], "exceeds max_ext_len"),
        ([*request(), b"x"], "requests carry no array frames"),
        (request() * 12, "message has 12 frames"),
        ([], "empty message"),
    ],
)
def test_malformed_requests_are_named(parts: list[bytes], message: str) -> None:
    assert message in decode_error(parts)


@pytest.mark.parametrize(
    ("rid", "bound"), [(2**53, "<= 9007199254740991"), (0, ">= 1"), (-1, ">= 1")]
)
def test_request_ids_stay_within_exact_integers(rid: int, bound: str) -> None:
    """Issue 13: an id of 2**53 decoded, and moved the session's newest id past any a client
    can send after it; ids in [1, 2**53 - 1] only are refused before any session sees them."""
    message = decode_error(request(id=rid))
    assert f"header.id: expected `int` {bound}, got {rid}" in message


def test_bad_request_errors_carry_the_request_id() -> None:
    with pytest.raises(ProtocolError) as info:
        protocol.decode_client(request(cmd="fly"))
    assert info.value.request_id == 7


@pytest.mark.parametrize("rid", [-1, 2**53 + 1, True])
def test_an_id_no_reply_may_carry_is_not_echoed(rid) -> None:
    """A reply's id must decode on the client: a bad request's id out of range is dropped
    (hypothesis found a server error reply with id -1 the client could not read)."""
    with pytest.raises(ProtocolError) as info:
        protocol.decode_client(request(id=rid))
    assert info.value.request_id is None
    reply = protocol.decode_server(protocol.encode_error(info.value.request_id, info.value))
    assert reply.id is None and not reply.ok


def test_non_canonical_msgpack_is_accepted() -> None:
    canonical = protocol.decode_client(request())
    packer = msgpack.Packer(use_single_float=True)  # float32 deadline: re-packs differently
    fields = msgpack.unpackb(request()[0])
    assert protocol.decode_client([packer.pack(fields)]) == canonical


@pytest.mark.parametrize(
    ("desc", "blob", "message"),
    [
        (Array(1, "float32", (2, 2), "raw"), b"\0" * 15, "needs 16 bytes"),
        (Array(1, "uint8", (4, 4, 3), "jpeg"), b"not a jpeg", "valid jpeg"),
        (Array(1, "float32", (4, 4), "png"), b"", "hold uint8"),
    ],
)
def test_bad_arrays_are_refused(desc: Array, blob: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        codec.decode_array(desc, blob)


def test_encoded_image_size_must_match_its_descriptor() -> None:
    desc, blob = codec.encode_array(np.zeros((8, 8, 3), np.uint8), "png")
    with pytest.raises(ProtocolError, match="png image is 8x8, descriptor says"):
        codec.decode_array(msgspec.structs.replace(desc, shape=(16, 16, 3)), blob)
    desc, blob = codec.encode_array(np.zeros((8, 8, 3), np.uint8), "jpeg")
    assert codec.decode_array(desc, blob).shape == (8, 8, 3)
    with pytest.raises(ProtocolError, match="name frames"):
        codec.decode_arrays([msgspec.structs.replace(desc, frame=2)], [blob])


def test_unsupported_dtypes_are_not_sent() -> None:
    with pytest.raises(ProtocolError, match="dtype complex128 cannot be sent"):
        codec.encode_array(np.zeros(3, complex))


# --- what msgspec alone would let through, or words it would not say --------------------------
def packed_map(*pairs: tuple[str, object]) -> bytes:
    """A msgpack map of `pairs` in order, repeats allowed; a bytes value goes in as packed."""
    items = [msgpack.packb(k) + (v if type(v) is bytes else msgpack.packb(v)) for k, v in pairs]
    return bytes([0x80 | len(items)]) + b"".join(items)


MOVE = {"pose": msgspec.to_builtins(protocol.pose_to_wire(POSE)), "speed": 0.1}
STATE = msgspec.to_builtins(protocol.state_to_wire(RobotState((0.1,) * 7, POSE, 0.04, None, 1.0)))
HEAD = {"v": protocol.VERSION, "type": "req", "id": 7, "session": SESSION, "deadline": 1.0}


@pytest.mark.parametrize(
    ("parts", "message"),
    [  # msgspec keeps the last of two equal keys: each of these would pass it
        ([packed_map(*HEAD.items(), ("cmd", "state"), ("args", {}), ("id", 7))], "duplicate"),
        (
            [
                packed_map(
                    *HEAD.items(),
                    ("cmd", "move_ee"),
                    ("args", packed_map(*MOVE.items(), ("speed", 0.1))),
                )
            ],
            "duplicate map key 'speed'",
        ),
        (
            [
                packed_map(
                    *HEAD.items(),
                    ("cmd", "episode.reset"),
                    ("args", packed_map(("episode", packed_map(("a", 1), ("a", 1))))),
                )
            ],
            "duplicate",
        ),
        (request(type=None), "message type None is not expected here (req, hb)"),
        (
            [
                msgpack.packb(
                    {k: v for k, v in HEAD.items() if k != "type"} | {"cmd": "state", "args": {}}
                )
            ],
            "message type None",
        ),
        (
            request("move_ee", {**MOVE, "pose": {**MOVE["pose"], "frame": "world"}}),
            "args.pose: unexpected key 'frame'",
        ),
        (request("move_ee", {**MOVE, "speed": "fast"}), "args.speed: expected `float`, got 'fast'"),
        (request(id=7.0), "header.id: expected `int`, got 7.0"),
        (
            request("close_gripper", {"force": -math.inf}),
            "args.force: expected a finite number, got -inf",
        ),
        (
            request(
                "hello",
                {"role": "control", "client": "c", "client_id": "i", "routing_ids": ["r"] * 5},
            ),
            "args.routing_ids: expected `array` of length <= 4",
        ),
        (
            request("episode.check", {"predicates": [{"in": ["a", "b"]}] * 257}),
            "args.predicates: expected `array` of length <= 256",
        ),
        (request("episode.reset", {"episode": {"k" * 70000: 1}}), "not a msgpack message"),
        (
            request("episode.reset", {"episode": {"a": [2**53 + 1]}}),
            "args: episode holds integer 9007199254740993",
        ),
    ],
)
def test_the_server_refuses_what_msgspec_alone_would_not(parts: list[bytes], message: str) -> None:
    assert message in decode_error(parts)


def reply_header(body: object, **override: object) -> dict:
    return {"v": protocol.VERSION, "type": "rep", "id": 1, "ok": True, "body": body, **override}


def client_error(parts: list[bytes], command: str = "state") -> str:
    """What the client says of reply `parts` to its request 1: never the fast path's body."""
    assert protocol.decode_reply(parts, COMMANDS.get(command), 1) is protocol.MISS
    with pytest.raises(ProtocolError) as info:
        reply = protocol.decode_server(parts)
        protocol.check_reply(COMMANDS.get(command), reply)
    return str(info.value)


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([packed_map(*reply_header(STATE).items(), ("ok", True))], "duplicate map key 'ok'"),
        (
            [packed_map(*reply_header(packed_map(*STATE.items(), ("stamp", 1.0))).items())],
            "duplicate",
        ),
        (
            [msgpack.packb({k: v for k, v in reply_header(STATE).items() if k != "type"})],
            "message type None",
        ),
        (
            [msgpack.packb(reply_header({**STATE, "torques": [0.0] * 7}))],
            "state reply: unexpected key 'torques'",
        ),
        (
            [msgpack.packb(reply_header({**STATE, "joints": [0.1, math.nan]}))],
            "state reply.joints[1]: expected a finite number, got nan",
        ),
        (
            [msgpack.packb(reply_header({**STATE, "joints": [0.0] * 65}))],
            "state reply.joints: expected `array` of length <= 64",
        ),
        (
            [msgpack.packb(reply_header({**STATE, "holding": 5}))],
            "state reply.holding: expected `str | null`, got 5",
        ),
        (
            [msgpack.packb(reply_header({**STATE, "stamp": True}))],
            "state reply.stamp: expected `float`, got True",
        ),
        (
            [
                msgpack.packb(
                    reply_header({"kind": "safety", "message": "m", "value": [math.nan]}, ok=False)
                )
            ],
            "error: value holds a non-finite number nan",
        ),
        (
            [msgpack.packb(reply_header({"kind": "bad", "message": "m"}, ok=False))],
            "error.kind: invalid value, got 'bad'",
        ),
    ],
)
def test_the_client_refuses_what_msgspec_alone_would_not(parts: list[bytes], message: str) -> None:
    assert message in client_error(parts)


def test_heartbeat_replies_and_publications_are_refused_alike() -> None:
    beat = {"v": 2, "type": "hb", "session_ok": True, "t": 1.0, "echo": 1.0, "reason": None}
    with pytest.raises(ProtocolError, match=r"header.running: expected `array` of length <= 64"):
        protocol.decode_server([msgpack.packb({**beat, "running": list(range(65))})])
    with pytest.raises(ProtocolError, match="duplicate map key 't'"):
        protocol.decode_server([packed_map(*beat.items(), ("running", []), ("t", 1.0))])
    pub = {"type": "pub", "v": 2, "seq": 1, "t": 1.0, "stamp": 1.0}
    good = msgpack.packb({**pub, "body": STATE})
    assert protocol.decode_publication([b"state", good]).body.joints == (0.1,) * 7
    cases = [
        (
            {**pub, "body": {**STATE, "gripper_width": math.inf}},
            "header.body.gripper_width: expected a finite",
        ),
        (
            {k: v for k, v in pub.items() if k != "type"} | {"body": STATE},
            "message type None is not expected here (pub)",
        ),
        ({**pub, "body": STATE, "extra": 1}, "header: unexpected key 'extra'"),
    ]
    for header, message in cases:
        with pytest.raises(ProtocolError, match=re.escape(message)):
            protocol.decode_publication([b"state", msgpack.packb(header)])
    with pytest.raises(ProtocolError, match="duplicate map key 'seq'"):
        protocol.decode_publication(
            [b"state", packed_map(*pub.items(), ("body", STATE), ("seq", 1))]
        )


def test_what_msgspec_wrote_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second, slower read (msgpack, looking for repeated keys) is for other encoders."""

    def second_read(data: object) -> None:
        raise AssertionError("read twice")

    monkeypatch.setattr(codec, "plain", second_read)
    move = COMMANDS.get("move_ee").args(protocol.pose_to_wire(POSE), 0.1)
    assert protocol.decode_client(protocol.encode_request(3, SESSION, 1.0, "move_ee", move)).id == 3
    state = protocol.state_to_wire(RobotState((0.1,) * 7, POSE, 0.04, None, 1.0))
    reply = protocol.encode_reply(3, state)
    assert protocol.decode_reply(reply, COMMANDS.get("state"), 3) == state


def test_refusals_quote_values_cut_short() -> None:
    message = decode_error(request("camera", {"name": "front", "codec": "x" * 5000}))
    assert message.startswith("args.codec: invalid value, got 'xxx") and len(message) < 100
    message = decode_error(request(**{"y" * 5000: 1}))
    assert message.startswith("header: unexpected key 'yyy") and len(message) < 100


# --- configuration and helpers --------------------------------------------------------------
def test_endpoints_parse_and_refuse_nonsense() -> None:
    assert Endpoint.parse("tcp://127.0.0.1:5555") == Endpoint("127.0.0.1", 5555)
    assert Endpoint.parse("tcp://127.0.0.1:*", bind=True).port is None
    assert Endpoint.parse("tcp://localhost:1").url() == "tcp://127.0.0.1:1"
    for bad in ("udp://x:1", "tcp://x", "tcp://x:0", "tcp://*:5", "tcp://x:*"):
        with pytest.raises(ValueError, match="bridge address"):
            Endpoint.parse(bad)


def test_server_config_refuses_open_binds_without_keys() -> None:
    with pytest.raises(Exception, match=r"without keys the bridge binds to 127\.0\.0\.1 only"):
        ServerConfig(bind="tcp://0.0.0.0:5555")
    with pytest.raises(Exception, match="at least twice heartbeat_s"):
        ServerConfig(heartbeat_s=0.2, watchdog_s=0.25)
    with pytest.raises(Exception, match="image_codec 'gif'"):
        ServerConfig(image_codec="gif")


def test_replay_cache_is_bounded_and_keeps_running_entries() -> None:
    cache = ReplayCache(window=2, max_bytes=100, max_item_bytes=50)
    command = COMMANDS.get("move_ee")
    for i in range(4):
        cache.add(("s", i), b"r", command, b"")
    assert len(cache) == 4  # nothing finished yet: nothing evicted
    cache.finish(("s", 0), [b"x" * 10])
    cache.finish(("s", 1), [b"x" * 60])  # too large to keep: recomputed on a retry
    assert cache.get(("s", 0)) is None and cache.get(("s", 1)) is None
    cache.finish(("s", 2), [b"y" * 10])
    assert cache.get(("s", 2)).frames == [b"y" * 10] and cache.bytes == 10


def test_the_controllers_jobs_go_first_and_each_lane_keeps_its_order() -> None:
    waiting = JobQueue()
    jobs = [Job("s", i, COMMANDS.get("camera"), {}, 0.0) for i in range(4)]
    for job in jobs:
        waiting.put(job, control=job.id % 2 == 1)
    waiting.close()
    assert [waiting.get(0).id for _ in jobs] == [1, 3, 0, 2]
    assert waiting.get(0) is None
    with pytest.raises(queue.Empty):
        waiting.get(0)


# --- fuzz -----------------------------------------------------------------------------------
json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=30,
)
valid = request("move_ee", {"pose": protocol.pose_to_wire(POSE), "speed": 0.1})[0]


def _mutations() -> st.SearchStrategy[list[bytes]]:
    flips = st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), max_size=4)

    def mutate(changes: list[tuple[int, int]]) -> list[bytes]:
        data = bytearray(valid)
        for at, value in changes:
            data[at] = value
        return [bytes(data)]

    return flips.map(mutate)


frames_strategy = st.one_of(
    st.lists(st.binary(max_size=64), max_size=10),
    json_like.map(lambda v: [msgpack.packb(v)]),
    st.dictionaries(st.sampled_from(["v", "type", "id", "session", "cmd", "args"]), json_like).map(
        lambda d: [msgpack.packb({"v": protocol.VERSION, "type": "req", **d})]
    ),
    _mutations(),
)


@settings(max_examples=400, deadline=None)
@given(frames_strategy)
def test_decoders_only_ever_raise_protocol_errors(parts: list[bytes]) -> None:
    for decode in (protocol.decode_client, protocol.decode_server, protocol.decode_publication):
        with contextlib.suppress(ProtocolError):
            decode(parts)


def test_infinite_vectors_are_refused_not_crashing_the_decoder() -> None:
    pose = {"position": [math.inf, -math.inf, 0.3], "orientation": [1.0, 0.0, 0.0, 0.0]}
    decode_error(request("move_ee", {"pose": pose, "speed": 0.1}))
