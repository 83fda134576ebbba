"""The bridge protocol: message kinds, the command table, and the wire form of robot types.

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

Every header is decoded strictly (`bridge.codec`) and checked against its schema on
both sides; command arguments and replies have one schema each in `COMMANDS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from bridge import codec
from bridge.codec import ARRAY, Frames
from bridge.errors import BridgeBusy, BridgeError, BridgeRefused, EpisodeRefused, ProtocolError
from bridge.schema import (
    MAX_INT,
    Bool,
    Field,
    Int,
    Later,
    ListOf,
    MapOf,
    Num,
    Obj,
    Opt,
    Text,
    Tree,
    Vec,
    obj,
)
from skills.errors import RobotError, SafetyError, StaleStateError
from skills.objects import ObjectState
from skills.registry import Registry
from skills.robot import (
    CameraFrame,
    GripperResult,
    JointLimits,
    MotionResult,
    Pose,
    RobotSpec,
    RobotState,
)

VERSION = 2  # 2: sessions bound to their connections (hello's routing_ids), no token in status
MAX_MESSAGE_BYTES = 16 << 20
MAX_REQUEST_ID = MAX_INT - 1  # the largest id whose successor is still exact (2**53 - 1)
NAME = Text(128)
SESSION = Text(64)

# --- wire form of robot types --------------------------------------------------------------
POSE = obj(position=Vec(3), orientation=Vec(4))
STATE = obj(
    joints=ListOf(Num(), 64),
    ee_pose=POSE,
    gripper_width=Num(),
    holding=Opt(NAME),
    stamp=Num(),
)
MOTION = obj(
    reached=Bool(),
    target=POSE,
    final=POSE,
    error_m=Num(0.0),
    duration_s=Num(0.0),
    contact=Opt(NAME),
    stopped=Bool(),
)
GRIPPER = obj(width=Num(), holding=Opt(NAME), force=Num(), duration_s=Num(0.0))
SPEC = obj(
    name=NAME,
    joint_names=ListOf(NAME, 64),
    lower=ListOf(Num(), 64),
    upper=ListOf(Num(), 64),
    gripper_max_width=Num(0.0),
    gripper_max_force=Num(0.0),
    cameras=ListOf(NAME, 64),
    gripper_depth=Num(),
)
OBJECT = obj(
    name=NAME,
    category=NAME,
    color=NAME,
    position=Vec(3),
    size=Vec(3),
    yaw=Num(),
    upright=Bool(),
    confidence=Num(0.0, 1.0),
)
CAMERA = obj(
    ["segmentation"],
    camera=NAME,
    stamp=Num(),
    rgb=ARRAY,
    depth=ARRAY,
    intrinsics=ARRAY,
    extrinsics=ARRAY,
    segmentation=ARRAY,
    labels=ListOf(obj(id=Int(), name=NAME), 4096),
)
STOP = obj(reason=Text(256), ago_s=Num(0.0))
ERROR_KINDS = (
    "bad_request",
    "refused",
    "busy",
    "episode",
    "safety",
    "stale_state",
    "robot",
    "internal",
)
ERROR = obj(
    ["limit", "value"],
    kind=Text(16, ERROR_KINDS),
    message=Text(4096),
    limit=NAME,
    value=Tree(),
)
EVENT = obj(kind=Text(32), message=Text(1024))


def floats(values: Sequence[float]) -> list[float]:
    return list(map(float, values))


def pose_to_wire(pose: Pose) -> dict:
    return {
        "position": list(map(float, pose.position)),
        "orientation": list(map(float, pose.orientation)),
    }


def pose_from_wire(d: dict) -> Pose:
    return Pose(tuple(d["position"]), tuple(d["orientation"]))


def state_to_wire(s: RobotState) -> dict:
    pose = s.ee_pose
    return {
        "joints": list(map(float, s.joints)),
        "ee_pose": {
            "position": list(map(float, pose.position)),
            "orientation": list(map(float, pose.orientation)),
        },
        "gripper_width": float(s.gripper_width),
        "holding": s.holding,
        "stamp": float(s.stamp),
    }


def state_from_wire(d: dict) -> RobotState:
    pose = d["ee_pose"]
    return RobotState(
        tuple(d["joints"]),
        Pose(tuple(pose["position"]), tuple(pose["orientation"])),
        d["gripper_width"],
        d["holding"],
        d["stamp"],
    )


def motion_to_wire(m: MotionResult) -> dict:
    return {
        "reached": bool(m.reached),
        "target": pose_to_wire(m.target),
        "final": pose_to_wire(m.final),
        "error_m": float(m.error_m),
        "duration_s": float(m.duration_s),
        "contact": m.contact,
        "stopped": bool(m.stopped),
    }


def motion_from_wire(d: dict) -> MotionResult:
    target, final = pose_from_wire(d["target"]), pose_from_wire(d["final"])
    return MotionResult(**{**d, "target": target, "final": final})


def gripper_to_wire(g: GripperResult) -> dict:
    return {
        "width": float(g.width),
        "holding": g.holding,
        "force": float(g.force),
        "duration_s": float(g.duration_s),
    }


def gripper_from_wire(d: dict) -> GripperResult:
    return GripperResult(**d)


def spec_to_wire(s: RobotSpec) -> dict:
    return {
        "name": s.name,
        "joint_names": list(s.joint_names),
        "lower": floats(s.joint_limits.lower),
        "upper": floats(s.joint_limits.upper),
        "gripper_max_width": float(s.gripper_max_width),
        "gripper_max_force": float(s.gripper_max_force),
        "cameras": list(s.cameras),
        "gripper_depth": float(s.gripper_depth),
    }


def spec_from_wire(d: dict) -> RobotSpec:
    return RobotSpec(
        name=d["name"],
        joint_names=tuple(d["joint_names"]),
        joint_limits=JointLimits(tuple(d["lower"]), tuple(d["upper"])),
        gripper_max_width=d["gripper_max_width"],
        gripper_max_force=d["gripper_max_force"],
        cameras=tuple(d["cameras"]),
        gripper_depth=d["gripper_depth"],
    )


def object_to_wire(o: ObjectState) -> dict:
    return {
        "name": o.name,
        "category": o.category,
        "color": o.color,
        "position": floats(o.position),
        "size": floats(o.size),
        "yaw": float(o.yaw),
        "upright": bool(o.upright),
        "confidence": float(o.confidence),
    }


def object_from_wire(d: dict) -> ObjectState:
    return ObjectState(**{**d, "position": tuple(d["position"]), "size": tuple(d["size"])})


def camera_to_wire(f: CameraFrame, frames: Frames, codec_name: str = "jpeg") -> dict:
    """The frame's header body; its arrays are attached to `frames` (RGB with `codec_name`)."""
    body = {
        "camera": f.camera,
        "stamp": float(f.stamp),
        "rgb": frames.add(np.asarray(f.rgb, dtype=np.uint8), codec_name),
        "depth": frames.add(np.asarray(f.depth, dtype=np.float32)),
        "intrinsics": frames.add(np.asarray(f.intrinsics, dtype=np.float64)),
        "extrinsics": frames.add(np.asarray(f.extrinsics, dtype=np.float64)),
        "labels": [{"id": int(k), "name": v} for k, v in sorted(f.labels.items())],
    }
    if f.segmentation is not None:
        body["segmentation"] = frames.add(np.asarray(f.segmentation, dtype=np.int32))
    return body


def camera_from_wire(d: dict, blobs: Sequence[bytes | memoryview]) -> CameraFrame:
    keys = ["rgb", "depth", "intrinsics", "extrinsics"]
    if "segmentation" in d:
        keys.append("segmentation")
    arrays = dict(zip(keys, codec.decode_arrays([d[k] for k in keys], blobs), strict=True))
    for key, shape in (("intrinsics", (3, 3)), ("extrinsics", (4, 4))):
        if arrays[key].shape != shape:
            raise ProtocolError(f"camera {key} must be {shape}, got {arrays[key].shape}")
    return CameraFrame(
        **arrays,
        labels={item["id"]: item["name"] for item in d["labels"]},
        camera=d["camera"],
        stamp=d["stamp"],
    )


# --- commands -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """One request kind.

    Attributes:
        name: the ``cmd`` field.
        args: schema of ``args``.
        reply: schema of the reply body.
        control: only the controlling session may send it.
        motion: it moves the robot (the watchdog stops it when the controller goes silent).
        robot: it calls the robot (else the server loop answers it alone).
        quick: a read that takes microseconds: run at once when the robot is idle.
    """

    name: str
    args: Obj
    reply: Field
    control: bool = False
    motion: bool = False
    robot: bool = True
    quick: bool = False

    @cached_property
    def reply_path(self) -> str:
        """Where a reply's problems are said to be (``state reply.joints[2]: ...``)."""
        return f"{self.name} reply"

    @cached_property
    def request(self) -> Obj:
        """The whole request header with these arguments: one compiled check for both."""
        return Obj({**_REQUEST.fields, "args": self.args})

    @cached_property
    def response(self) -> Obj:
        """The whole header of a successful reply: one compiled check for both."""
        return Obj({**_REPLY.fields, "body": self.reply})


COMMANDS: Registry[Command] = Registry("bridge command")


def _command(name: str, args: Obj, reply: Field, **flags: bool) -> None:
    COMMANDS.add(name, Command(name, args, reply, **flags))


HELLO = obj(
    ["last_stop"],
    session=SESSION,
    robot=NAME,
    protocol=Int(),
    time=Num(),
    watchdog_s=Num(0.0),
    heartbeat_s=Num(0.0),
    max_message_bytes=Int(0),
    stream_port=Int(0, 65535),
    episodes=Bool(),
    auth=Text(16, ("curve", "none")),
    spec=SPEC,
    last_stop=STOP,
)
STATUS = obj(
    ["state", "controller", "busy", "last_stop"],
    robot=NAME,
    protocol=Int(),
    uptime_s=Num(0.0),
    auth=Text(16),
    state=STATE,
    state_age_s=Num(),
    busy=NAME,
    controller=obj(client=NAME, since_s=Num(), heard_ms=Num()),
    observers=Int(0),
    watchdog_stops=Int(0),
    last_stop=STOP,
    executed=MapOf(Int(0)),
    refused=Int(0),
    malformed=Int(0),
    stream=obj(port=Int(0, 65535), state_hz=Num(0.0), camera_hz=Num(0.0), cameras=ListOf(NAME)),
)
OBJECTS = obj(objects=ListOf(OBJECT, 1024))
NOTHING = obj()

_command(
    "hello",
    obj(
        ["routing_ids"],
        role=Text(16, ("control", "observe")),
        client=NAME,
        client_id=SESSION,
        routing_ids=ListOf(Text(64), 4),
    ),
    HELLO,
    robot=False,
)
_command("bye", NOTHING, NOTHING, robot=False)
_command("ping", NOTHING, obj(t=Num()), robot=False)
_command("status", NOTHING, STATUS, robot=False)
_command("stop", NOTHING, obj(stopped=Bool()), robot=False)
_command("spec", NOTHING, SPEC, robot=False)
_command("state", NOTHING, STATE, quick=True)
_command("clock", NOTHING, obj(t=Num()), quick=True)
_command("inverse_kinematics", obj(pose=POSE), obj(joints=ListOf(Num(), 64)), quick=True)
_command("move_ee", obj(pose=POSE, speed=Num()), MOTION, control=True, motion=True)
_command("open_gripper", obj(width=Opt(Num())), GRIPPER, control=True, motion=True)
_command("close_gripper", obj(force=Num()), GRIPPER, control=True, motion=True)
_command("camera", obj(["codec"], name=NAME, codec=Text(8, codec.CODECS)), CAMERA)
_command("episode.reset", obj(episode=Tree()), OBJECTS, control=True)
_command("episode.objects", NOTHING, OBJECTS)
_command(
    "episode.check",
    obj(predicates=Opt(ListOf(Tree(), 256))),
    obj(results=ListOf(obj(ok=Bool(), detail=Text(2048)), 256)),
)


# --- messages -------------------------------------------------------------------------------
# Named tuples: built for every message, and several times cheaper than frozen dataclasses.
class Request(NamedTuple):
    """A decoded, checked request; `args` follows its command's schema."""

    id: int
    session: str
    deadline: float | None
    cmd: Command
    args: dict[str, Any]


class Heartbeat(NamedTuple):
    """A client's heartbeat."""

    session: str
    t: float


class Reply(NamedTuple):
    """A decoded reply; `body` is unchecked until `check_reply` knows the command."""

    id: int | None
    ok: bool
    body: Any
    blobs: tuple[bytes | memoryview, ...]


class HeartbeatReply(NamedTuple):
    """The server's answer to a heartbeat."""

    session_ok: bool
    running: tuple[int, ...]
    t: float
    echo: float
    reason: str | None


class Publication(NamedTuple):
    """One message of the state stream."""

    topic: str
    seq: int
    t: float
    stamp: float
    body: Any
    blobs: tuple[bytes | memoryview, ...]


_VERSIONED = obj(v=Int(), type=Text(8, ("req", "hb", "rep", "pub")))
_REQUEST = obj(
    v=Int(),
    type=Text(8),
    id=Int(1, MAX_REQUEST_ID),
    session=SESSION,
    deadline=Opt(Num()),
    cmd=Text(64),
    args=Later(),
)
_HEARTBEAT = obj(v=Int(), type=Text(8), session=SESSION, t=Num())
_REPLY = obj(v=Int(), type=Text(8), id=Opt(Int(0, MAX_INT)), ok=Bool(), body=Later())
_HEARTBEAT_REPLY = obj(
    v=Int(),
    type=Text(8),
    session_ok=Bool(),
    running=ListOf(Int(0, MAX_INT), 64),
    t=Num(),
    echo=Num(),
    reason=Opt(Text(1024)),
)
_PUBLICATION = obj(v=Int(), type=Text(8), seq=Int(0, MAX_INT), t=Num(), stamp=Num(), body=Later())


_FROM_CLIENT = ("req", "hb")
_FROM_SERVER = ("rep", "hb")


def _header(parts: Sequence[bytes | memoryview], kinds: tuple[str, ...]) -> dict:
    """The checked header of a message of one of `kinds`, version first."""
    if not parts:
        raise ProtocolError("empty message")
    if len(parts) > 1 + codec.MAX_ARRAYS:
        raise ProtocolError(f"message has {len(parts)} frames; at most {1 + codec.MAX_ARRAYS}")
    header = codec.unpack(parts[0])
    if type(header) is not dict or "v" not in header:
        raise ProtocolError("header must be a map with a protocol version 'v'")
    if header["v"] != VERSION:
        raise ProtocolError(
            f"protocol version {header['v']!r} is not supported (this side speaks {VERSION})"
        )
    kind = header.get("type")
    if kind not in kinds:
        raise ProtocolError(f"message type {kind!r} is not expected here ({', '.join(kinds)})")
    return header


def _with_id(err: ProtocolError, header: dict) -> ProtocolError:
    rid = header.get("id")  # echoed only when a reply may carry it: an id out of range is none
    valid = isinstance(rid, int) and not isinstance(rid, bool) and 0 <= rid <= MAX_INT
    err.request_id = rid if valid else None
    return err


def decode_client(parts: Sequence[bytes | memoryview]) -> Request | Heartbeat:
    """A request or heartbeat from a client; `ProtocolError` (with `.request_id`) if bad."""
    header = _header(parts, _FROM_CLIENT)
    kind = header["type"]
    if kind == "req" and len(parts) == 1:  # header and arguments in one compiled check
        try:
            command = COMMANDS.get(header["cmd"])
            h = command.request.fast(header)
        except Exception:  # no such command, or refused: the checks below name the problem
            pass
        else:
            return Request(h["id"], h["session"], h["deadline"], command, h["args"])
    elif kind == "hb":
        h = _HEARTBEAT.check(header, "header")
        return Heartbeat(h["session"], h["t"])
    try:
        if len(parts) > 1:
            raise ProtocolError("requests carry no array frames")
        h = _REQUEST.check(header, "header")
        try:
            command = COMMANDS.get(h["cmd"])
        except KeyError:
            known = ", ".join(COMMANDS)
            raise ProtocolError(f"unknown command {h['cmd']!r}; known: {known}") from None
        args = command.args.check(h["args"], "args")
    except ProtocolError as err:
        raise _with_id(err, header) from None
    return Request(h["id"], h["session"], h["deadline"], command, args)


def decode_server(parts: Sequence[bytes | memoryview]) -> Reply | HeartbeatReply:
    """A reply or heartbeat reply from the server."""
    header = _header(parts, _FROM_SERVER)
    if header["type"] == "hb":
        h = _HEARTBEAT_REPLY.check(header, "header")
        return HeartbeatReply(h["session_ok"], h["running"], h["t"], h["echo"], h["reason"])
    h = _REPLY.check(header, "header")
    return Reply(h["id"], h["ok"], h["body"], tuple(parts[1:]))


MISS = object()  # `decode_reply`: not the awaited successful reply


def decode_reply(parts: Sequence[bytes | memoryview], command: Command, rid: int) -> Any:
    """The checked body of a successful reply to request `rid` of `command`, in one step
    (header and body in one compiled check); `MISS` for any other message, which
    `decode_server` and `check_reply` then take apart, naming what is wrong with it."""
    if not 0 < len(parts) <= 1 + codec.MAX_ARRAYS:
        return MISS
    header = codec.unpack(parts[0])
    if type(header) is not dict or header.get("id") != rid or header.get("ok") is not True:
        return MISS
    try:  # what `_header` checks, then the compiled check of header and body
        if header["v"] == VERSION and header["type"] == "rep":
            return command.response.fast(header)["body"]
    except Exception:  # refused: the reference checks say why
        pass
    return MISS


def decode_publication(parts: Sequence[bytes | memoryview]) -> Publication:
    """A state-stream message (topic frame first); the body is checked by topic."""
    if len(parts) < 2:
        raise ProtocolError("a publication needs a topic frame and a header")
    topic = bytes(parts[0]).decode("utf-8", errors="replace")
    h = _PUBLICATION.check(_header(parts[1:], ("pub",)), "")
    if topic == "state":
        body = STATE.check(h["body"], "body")
    elif topic.startswith("camera/"):
        body = CAMERA.check(h["body"], "body")
    elif topic == "event":
        body = EVENT.check(h["body"], "body")
    else:
        raise ProtocolError(f"unknown stream topic {topic!r}")
    return Publication(topic, h["seq"], h["t"], h["stamp"], body, tuple(parts[2:]))


def check_reply(command: Command, reply: Reply) -> Any:
    """The reply body checked against `command`; a failure reply raises its typed error."""
    if not reply.ok:
        raise error_from_wire(ERROR.check(reply.body, "error"))
    return command.reply.check(reply.body, command.reply_path)


def encode_request(
    rid: int, session: str, deadline: float | None, cmd: str, args: dict
) -> list[bytes]:
    header = {
        "v": VERSION,
        "type": "req",
        "id": rid,
        "session": session,
        "deadline": deadline,
        "cmd": cmd,
        "args": args,
    }
    return [codec.pack(header)]


def encode_heartbeat(session: str, t: float) -> list[bytes]:
    return [codec.pack({"v": VERSION, "type": "hb", "session": session, "t": t})]


def encode_reply(rid: int | None, body: Any, frames: Frames | None = None) -> list:
    header = {"v": VERSION, "type": "rep", "id": rid, "ok": True, "body": body}
    return [codec.pack(header), *(frames.blobs if frames else ())]


def encode_error(rid: int | None, err: BaseException) -> list:
    header = {"v": VERSION, "type": "rep", "id": rid, "ok": False, "body": error_to_wire(err)}
    return [codec.pack(header)]


def encode_heartbeat_reply(
    session_ok: bool, running: Sequence[int], t: float, echo: float, reason: str | None
) -> list[bytes]:
    header = {
        "v": VERSION,
        "type": "hb",
        "session_ok": session_ok,
        "running": list(running)[:64],
        "t": t,
        "echo": echo,
        "reason": reason,
    }
    return [codec.pack(header)]


def encode_publication(
    topic: str, seq: int, t: float, stamp: float, body: Any, frames: Frames | None = None
) -> list:
    header = {"v": VERSION, "type": "pub", "seq": seq, "t": t, "stamp": stamp, "body": body}
    return [topic.encode(), codec.pack(header), *(frames.blobs if frames else ())]


# --- errors on the wire -----------------------------------------------------------------------
def _plain(value: object) -> object:
    """A value as msgpack can carry it: finite numbers as they are, anything else as text."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and abs(value) <= MAX_INT:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return repr(value)[:200]


def error_to_wire(err: BaseException) -> dict:
    """``{kind, message[, limit, value]}`` for an exception raised while serving."""
    message = str(err).splitlines()[0][:4000] if str(err) else type(err).__name__
    if isinstance(err, SafetyError):
        kind = "stale_state" if isinstance(err, StaleStateError) else "safety"
        return {"kind": kind, "message": message, "limit": err.limit, "value": _plain(err.value)}
    kinds: tuple[tuple[type[BaseException], str], ...] = (
        (ProtocolError, "bad_request"),
        (EpisodeRefused, "episode"),
        (BridgeBusy, "busy"),
        (BridgeRefused, "refused"),
        (RobotError, "robot"),
    )
    for cls, kind in kinds:
        if isinstance(err, cls):
            return {"kind": kind, "message": message}
    return {"kind": "internal", "message": f"the driver raised {type(err).__name__}: {message}"}


def _rebuilt(cls: type[SafetyError], message: str, limit: str, value: object) -> SafetyError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.limit, err.value = limit, value
    return err


def error_from_wire(e: dict) -> Exception:
    """The typed exception an error body stands for."""
    kind, message = e["kind"], e["message"]
    if kind in ("safety", "stale_state"):
        cls = StaleStateError if kind == "stale_state" else SafetyError
        return _rebuilt(cls, message, e.get("limit") or "", e.get("value"))
    classes: dict[str, type[Exception]] = {
        "bad_request": ProtocolError,
        "refused": BridgeRefused,
        "busy": BridgeBusy,
        "episode": EpisodeRefused,
        "robot": RobotError,
    }
    return classes.get(kind, BridgeError)(message)


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
