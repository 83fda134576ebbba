"""The bridge protocol: message kinds, the wire form of robot types, and errors on the wire.

Client to server (DEALER -> ROUTER), one msgpack header then array frames:

- request ``{v, type: "req", id, session, deadline, cmd, args}``: `id` grows per client,
  within [1, 2**53 - 1]; `session` comes from the ``hello`` handshake, `deadline` is the
  latest server-clock time (seconds) at which the command may start.
- heartbeat ``{v, type: "hb", session, t}``.

A session speaks only from the connections that opened it: the ROUTER identity the
``hello`` came from, the identities of the client's other sockets it lists in
``routing_ids``, and, with keys, the CURVE key it came with. Anything sent for the
session from elsewhere is refused; no reply carries another session's token.

Server to client: reply ``{v, type: "rep", id, ok, body}`` (on failure `body` is an
error ``{kind, message[, limit, value]}``) and heartbeat reply ``{v, type: "hb",
session_ok, running, t, echo, reason}``. The state stream (PUB) sends a topic frame
(``state``, ``camera/<name>``, ``event``), then ``{v, type: "pub", seq, t, stamp, body}``.

Every header is decoded strictly into its msgspec struct (`bridge.wire`, `bridge.codec`)
on both sides; command arguments and replies have one struct each (`bridge.commands`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec
import numpy as np
from msgspec import UNSET
from msgspec.msgpack import Decoder

from bridge import codec, wire
from bridge.codec import Frames
from bridge.commands import COMMANDS, Command
from bridge.errors import BridgeBusy, BridgeError, BridgeRefused, EpisodeRefused, ProtocolError
from bridge.wire import MAX_ARRAYS, MAX_INT, VERSION, Heartbeat, HeartbeatReply
from skills.errors import RobotError, SafetyError, StaleStateError
from skills.objects import ObjectState
from skills.robot import (
    CameraFrame,
    GripperResult,
    JointLimits,
    MotionResult,
    Pose,
    RobotSpec,
    RobotState,
)

MAX_MESSAGE_BYTES = 16 << 20


# --- wire form of robot types --------------------------------------------------------------
def floats(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(map(float, values))


def pose_to_wire(pose: Pose) -> wire.Pose:
    return wire.Pose(floats(pose.position), floats(pose.orientation))


def pose_from_wire(p: wire.Pose) -> Pose:
    return Pose(p.position, p.orientation)


def state_to_wire(s: RobotState) -> wire.State:
    pose = wire.Pose(floats(s.ee_pose.position), floats(s.ee_pose.orientation))
    return wire.State(floats(s.joints), pose, float(s.gripper_width), s.holding, float(s.stamp))


def state_from_wire(s: wire.State) -> RobotState:
    pose = s.ee_pose
    return RobotState(
        s.joints, Pose(pose.position, pose.orientation), s.gripper_width, s.holding, s.stamp
    )


def motion_to_wire(m: MotionResult) -> wire.Motion:
    return wire.Motion(
        bool(m.reached),
        pose_to_wire(m.target),
        pose_to_wire(m.final),
        float(m.error_m),
        float(m.duration_s),
        m.contact,
        bool(m.stopped),
    )


def motion_from_wire(m: wire.Motion) -> MotionResult:
    target, final = pose_from_wire(m.target), pose_from_wire(m.final)
    return MotionResult(m.reached, target, final, m.error_m, m.duration_s, m.contact, m.stopped)


def gripper_to_wire(g: GripperResult) -> wire.Gripper:
    return wire.Gripper(float(g.width), g.holding, float(g.force), float(g.duration_s))


def gripper_from_wire(g: wire.Gripper) -> GripperResult:
    return GripperResult(g.width, g.holding, g.force, g.duration_s)


def spec_to_wire(s: RobotSpec) -> wire.Spec:
    return wire.Spec(
        s.name,
        tuple(s.joint_names),
        floats(s.joint_limits.lower),
        floats(s.joint_limits.upper),
        float(s.gripper_max_width),
        float(s.gripper_max_force),
        tuple(s.cameras),
        float(s.gripper_depth),
    )


def spec_from_wire(s: wire.Spec) -> RobotSpec:
    return RobotSpec(
        name=s.name,
        joint_names=s.joint_names,
        joint_limits=JointLimits(s.lower, s.upper),
        gripper_max_width=s.gripper_max_width,
        gripper_max_force=s.gripper_max_force,
        cameras=s.cameras,
        gripper_depth=s.gripper_depth,
    )


def object_to_wire(o: ObjectState) -> wire.Object:
    return wire.Object(**dataclasses.asdict(o))  # the same fields (numpy scalars: `codec`)


def object_from_wire(o: wire.Object) -> ObjectState:
    return ObjectState(**msgspec.structs.asdict(o))


def camera_to_wire(f: CameraFrame, frames: Frames, codec_name: wire.Codec = "jpeg") -> wire.Camera:
    """The frame's header body; its arrays are attached to `frames` (RGB with `codec_name`)."""
    return wire.Camera(
        camera=f.camera,
        stamp=float(f.stamp),
        rgb=frames.add(np.asarray(f.rgb, dtype=np.uint8), codec_name),
        depth=frames.add(np.asarray(f.depth, dtype=np.float32)),
        intrinsics=frames.add(np.asarray(f.intrinsics, dtype=np.float64)),
        extrinsics=frames.add(np.asarray(f.extrinsics, dtype=np.float64)),
        labels=tuple(wire.Label(int(k), v) for k, v in sorted(f.labels.items())),
        segmentation=(
            UNSET
            if f.segmentation is None
            else frames.add(np.asarray(f.segmentation, dtype=np.int32))
        ),
    )


def camera_from_wire(c: wire.Camera, blobs: Sequence[bytes | memoryview]) -> CameraFrame:
    descs = {"rgb": c.rgb, "depth": c.depth, "intrinsics": c.intrinsics, "extrinsics": c.extrinsics}
    if c.segmentation is not UNSET:
        descs["segmentation"] = c.segmentation
    arrays = dict(zip(descs, codec.decode_arrays(list(descs.values()), blobs), strict=True))
    for key, shape in (("intrinsics", (3, 3)), ("extrinsics", (4, 4))):
        if arrays[key].shape != shape:
            raise ProtocolError(f"camera {key} must be {shape}, got {arrays[key].shape}")
    labels = {label.id: label.name for label in c.labels}
    return CameraFrame(**arrays, labels=labels, camera=c.camera, stamp=c.stamp)


# --- messages -------------------------------------------------------------------------------
# Named tuples: built for every message, and several times cheaper than frozen dataclasses.
class Request(NamedTuple):
    """A decoded, checked request; `args` is its command's argument struct."""

    id: int
    session: str
    deadline: float | None
    cmd: Command
    args: wire.Wire


class Reply(NamedTuple):
    """A decoded reply; `body` is plain (dicts, lists) until `check_reply` knows the command."""

    id: int | None
    ok: bool
    body: Any
    blobs: tuple[bytes | memoryview, ...]


class Publication(NamedTuple):
    """One message of the state stream."""

    topic: str
    seq: int
    t: float
    stamp: float
    body: Any
    blobs: tuple[bytes | memoryview, ...]


_FROM_CLIENT = Decoder(wire.RequestHeader[msgspec.Raw] | Heartbeat)
_FROM_SERVER = Decoder(wire.ReplyHeader | HeartbeatReply)
_STREAMS = {
    "state": Decoder(wire.PublicationHeader[wire.State]),
    "camera/": Decoder(wire.PublicationHeader[wire.Camera]),
    "event": Decoder(wire.PublicationHeader[wire.Event]),
}


def _frames(parts: Sequence[bytes | memoryview]) -> None:
    if not parts:
        raise ProtocolError("empty message")
    if len(parts) > 1 + MAX_ARRAYS:
        raise ProtocolError(f"message has {len(parts)} frames; at most {1 + MAX_ARRAYS}")


def _header(data: bytes, decoder: Decoder, kinds: tuple[str, ...]) -> Any:
    """The header struct of a message of one of `kinds`; a refusal names the version or
    kind first, when those are what is wrong."""
    try:
        return codec.decode(data, decoder, "header")
    except ProtocolError as err:
        try:
            header = codec.plain(data)
        except ProtocolError:
            raise err from None  # (the same words)
        if type(header) is not dict or "v" not in header:
            raise ProtocolError("header must be a map with a protocol version 'v'") from None
        if header["v"] != VERSION:
            raise ProtocolError(
                f"protocol version {codec.show(header['v'])} is not supported "
                f"(this side speaks {VERSION})"
            ) from None
        kind = header.get("type")
        if kind not in kinds:
            raise ProtocolError(
                f"message type {codec.show(kind)} is not expected here ({', '.join(kinds)})"
            ) from None
        err.request_id = _reply_id(header.get("id"))
        raise


def _reply_id(rid: object) -> int | None:
    """`rid` if a reply may carry it (an id out of range is none)."""
    return rid if type(rid) is int and 0 <= rid <= MAX_INT else None


def decode_client(parts: Sequence[bytes | memoryview]) -> Request | Heartbeat:
    """A request or heartbeat from a client; `ProtocolError` (with `.request_id`) if bad."""
    _frames(parts)
    header = _header(parts[0], _FROM_CLIENT, ("req", "hb"))
    if type(header) is Heartbeat:
        return header
    try:
        if len(parts) > 1:
            raise ProtocolError("requests carry no array frames")
        try:
            command = COMMANDS.get(header.cmd)
        except KeyError:
            known = ", ".join(COMMANDS)
            raise ProtocolError(f"unknown command {header.cmd!r}; known: {known}") from None
        args = codec.decode(header.args, command.args_decoder, "args")
    except ProtocolError as err:
        err.request_id = header.id
        raise
    return Request(header.id, header.session, header.deadline, command, args)


def decode_server(parts: Sequence[bytes | memoryview]) -> Reply | HeartbeatReply:
    """A reply or heartbeat reply from the server."""
    _frames(parts)
    header = _header(parts[0], _FROM_SERVER, ("rep", "hb"))
    if type(header) is HeartbeatReply:
        return header
    return Reply(header.id, header.ok, header.body, tuple(parts[1:]))


MISS = object()  # `decode_reply`: not the awaited successful reply


def decode_reply(parts: Sequence[bytes | memoryview], command: Command, rid: int) -> Any:
    """The checked body of a successful reply to request `rid` of `command`, in one step
    (header and body in one msgspec call); `MISS` for any other message, which
    `decode_server` and `check_reply` then take apart, naming what is wrong with it."""
    if not 0 < len(parts) <= 1 + MAX_ARRAYS:
        return MISS
    try:
        header = codec.strict(parts[0], command.reply_decoder)
    except (ProtocolError, msgspec.DecodeError, ValueError, RecursionError):
        return MISS
    if type(header) is HeartbeatReply or header.id != rid or header.ok is not True:
        return MISS
    return header.body


def decode_publication(parts: Sequence[bytes | memoryview]) -> Publication:
    """A state-stream message (topic frame first); the body is checked by topic."""
    if len(parts) < 2:
        raise ProtocolError("a publication needs a topic frame and a header")
    topic = bytes(parts[0]).decode("utf-8", errors="replace")
    decoder = _STREAMS.get("camera/" if topic.startswith("camera/") else topic)
    if decoder is None:
        raise ProtocolError(f"unknown stream topic {codec.show(topic)}")
    _frames(parts[1:])
    h = _header(parts[1], decoder, ("pub",))
    return Publication(topic, h.seq, h.t, h.stamp, h.body, tuple(parts[2:]))


def check_reply(command: Command, reply: Reply) -> Any:
    """The reply body checked against `command`; a failure reply raises its typed error."""
    if not reply.ok:
        raise error_from_wire(codec.convert(reply.body, wire.Error, "error"))
    return codec.convert(reply.body, command.reply, f"{command.name} reply")


def encode_request(rid: int, session: str, deadline: float | None, cmd: str, args: Any) -> list:
    """A request header; `args` is the command's struct (or a plain dict, as tests send)."""
    return [codec.pack(wire.RequestHeader(VERSION, rid, session, deadline, cmd, args))]


def encode_heartbeat(session: str, t: float) -> list[bytes]:
    return [codec.pack(Heartbeat(VERSION, session, t))]


def encode_reply(rid: int | None, body: Any, frames: Frames | None = None) -> list:
    return [
        codec.pack(wire.ReplyHeader(VERSION, rid, True, body)),
        *(frames.blobs if frames else ()),
    ]


def encode_error(rid: int | None, err: BaseException) -> list:
    return [codec.pack(wire.ReplyHeader(VERSION, rid, False, error_to_wire(err)))]


def encode_heartbeat_reply(
    session_ok: bool, running: Sequence[int], t: float, echo: float, reason: str | None
) -> list[bytes]:
    header = HeartbeatReply(VERSION, session_ok, tuple(running)[:64], t, echo, reason)
    return [codec.pack(header)]


def encode_publication(
    topic: str, seq: int, t: float, stamp: float, body: Any, frames: Frames | None = None
) -> list:
    header = wire.PublicationHeader("pub", VERSION, seq, t, stamp, body)
    return [topic.encode(), codec.pack(header), *(frames.blobs if frames else ())]


# --- errors on the wire -----------------------------------------------------------------------
def _plain(value: object) -> object:
    """A value as msgpack can carry it: finite numbers as they are, anything else as text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int) and abs(value) <= MAX_INT:
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return float(value)
    return repr(value)[:200]


def error_to_wire(err: BaseException) -> wire.Error:
    """``{kind, message[, limit, value]}`` for an exception raised while serving."""
    message = str(err).splitlines()[0][:4000] if str(err) else type(err).__name__
    if isinstance(err, SafetyError):
        kind = "stale_state" if isinstance(err, StaleStateError) else "safety"
        return wire.Error(kind, message, err.limit, _plain(err.value))
    kinds: tuple[tuple[type[BaseException], wire.ErrorKind], ...] = (
        (ProtocolError, "bad_request"),
        (EpisodeRefused, "episode"),
        (BridgeBusy, "busy"),
        (BridgeRefused, "refused"),
        (RobotError, "robot"),
    )
    for cls, kind in kinds:
        if isinstance(err, cls):
            return wire.Error(kind, message)
    return wire.Error("internal", f"the driver raised {type(err).__name__}: {message}")


def _rebuilt(cls: type[SafetyError], message: str, limit: str, value: object) -> SafetyError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.limit, err.value = limit, value
    return err


def error_from_wire(e: wire.Error) -> Exception:
    """The typed exception an error body stands for."""
    if e.kind in ("safety", "stale_state"):
        cls = StaleStateError if e.kind == "stale_state" else SafetyError
        return _rebuilt(cls, e.message, e.limit or "", e.value)
    classes: dict[str, type[Exception]] = {
        "bad_request": ProtocolError,
        "refused": BridgeRefused,
        "busy": BridgeBusy,
        "episode": EpisodeRefused,
        "robot": RobotError,
    }
    return classes.get(e.kind, BridgeError)(e.message)


# --- endpoints ------------------------------------------------------------------------------
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Endpoint:
    """A ``tcp://host:port`` address; `port` is None for ``*`` (any free port, bind only)."""

    host: str
    port: int | None

    @classmethod
    def parse(cls, url: str, bind: bool = False) -> Endpoint:
        """Parse `url`; ``*`` ports (and hosts) are allowed only when binding."""
        scheme, sep, rest = url.partition("://")
        host, colon, port = rest.rpartition(":")
        host = host.strip("[]")
        if scheme != "tcp" or not sep or not colon or not host:
            raise ValueError(f"bridge address {url!r}: write tcp://HOST:PORT")
        if port == "*" and bind:
            return cls(host, None)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bridge address {url!r}: the port must be a number in 1..65535")
        if host == "*" and not bind:
            raise ValueError(f"bridge address {url!r}: connect to a host, not '*'")
        return cls(host, int(port))

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK or self.host.startswith("127.")

    def url(self, port: int | None = None) -> str:
        """The address, with `port` instead of its own when given."""
        p = port if port is not None else self.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{'127.0.0.1' if host == 'localhost' else host}:{'*' if p is None else p}"
