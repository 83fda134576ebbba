"""What crosses the wire: msgspec structs for headers and robot types, every field bounded.

msgspec decodes a header straight into these structs, in C, and refuses what they do not
describe: missing or unknown keys, wrong types (booleans are no numbers), NaN and
infinities (`Number`), integers beyond 2**53, over-long text and lists, unknown choices.
An `Any` field holds a free-form value (an episode, a predicate, an error's value); its
struct bounds it with `check_tree`. Structs of one command's arguments and reply are in
`bridge.commands`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

from msgspec import UNSET, Meta, Struct, UnsetType

VERSION = 2  # 2: sessions bound to their connections (hello's routing_ids), no token in status
MAX_INT = 2**53  # integers beyond this are refused (they stop being exact as floats)
MAX_REQUEST_ID = MAX_INT - 1  # the largest id whose successor is still exact (2**53 - 1)
MAX_DEPTH = 12  # nesting of free-form values (episodes, predicates)
MAX_ITEMS = 20_000  # values in one free-form tree
MAX_STR = 1 << 16  # bytes of a text (or map key) in a free-form tree
MAX_ARRAYS = 8  # array frames after one header
MAX_DIM = 8192  # length of one array dimension

_BIG = sys.float_info.max
Number = Annotated[float, Meta(ge=-_BIG, le=_BIG)]  # finite; integers arrive as floats
Positive = Annotated[float, Meta(ge=0.0, le=_BIG)]  # finite and >= 0 (durations, limits)
Integer = Annotated[int, Meta(ge=-MAX_INT, le=MAX_INT)]
Count = Annotated[int, Meta(ge=0, le=MAX_INT)]
Port = Annotated[int, Meta(ge=0, le=65535)]
Name = Annotated[str, Meta(max_length=128)]
Token = Annotated[str, Meta(max_length=64)]  # session and client ids, routing ids
Vec3 = tuple[Number, Number, Number]
Vec4 = tuple[Number, Number, Number, Number]
Floats = Annotated[tuple[Number, ...], Meta(max_length=64)]  # joint values
Names = Annotated[tuple[Name, ...], Meta(max_length=64)]
Dim = Annotated[int, Meta(ge=1, le=MAX_DIM)]
Text16 = Annotated[str, Meta(max_length=16)]
Text32 = Annotated[str, Meta(max_length=32)]
Text64 = Annotated[str, Meta(max_length=64)]
Text256 = Annotated[str, Meta(max_length=256)]
Text1024 = Annotated[str, Meta(max_length=1024)]
Text2048 = Annotated[str, Meta(max_length=2048)]
Text4096 = Annotated[str, Meta(max_length=4096)]
Dtype = Literal["uint8", "uint16", "int32", "float32", "float64"]
Codec = Literal["raw", "jpeg", "png"]
DTYPES: tuple[str, ...] = get_args(Dtype)
CODECS: tuple[str, ...] = get_args(Codec)
ErrorKind = Literal[
    "bad_request", "refused", "busy", "episode", "safety", "stale_state", "robot", "internal"
]
T = TypeVar("T")


def check_tree(value: object, name: str) -> None:
    """Bound depth and size of free-form value `name`; refuse binary strings, extension
    types, map keys that are not text, over-long text, huge integers and non-finite floats.

    Raises ValueError, which msgspec reports with the path of the struct holding `name`.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_ITEMS:
            raise ValueError(f"{name} holds more than {MAX_ITEMS} values")
        kind = type(item)
        if kind is bool or item is None:
            continue
        if kind is str:
            if len(item) > MAX_STR // 4 and len(item.encode()) > MAX_STR:
                raise ValueError(f"{name} holds a text of more than {MAX_STR} bytes")
        elif kind is int:
            if not -MAX_INT <= item <= MAX_INT:
                raise ValueError(f"{name} holds integer {item}, beyond the bound of 2**53")
        elif kind is float:
            if item - item != 0.0:
                raise ValueError(f"{name} holds a non-finite number {item!r}")
        elif kind is list or kind is tuple or kind is dict:  # (tuples: built here, sent as lists)
            if depth >= MAX_DEPTH:
                raise ValueError(f"{name} nests deeper than {MAX_DEPTH} levels")
            if kind is dict:
                if any(type(k) is not str or len(k.encode()) > MAX_STR for k in item):
                    raise ValueError(
                        f"{name} holds a map key that is not a text of <= {MAX_STR} bytes"
                    )
                item = item.values()
            stack.extend((child, depth + 1) for child in item)
        else:
            raise ValueError(f"{name} holds a value of type {kind.__name__}, which is not allowed")


class Wire(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """A bridge struct: exactly its keys (those with defaults may be left out)."""


# --- robot types ----------------------------------------------------------------------------
class Pose(Wire):
    position: Vec3
    orientation: Vec4


class State(Wire):
    joints: Floats
    ee_pose: Pose
    gripper_width: Number
    holding: Name | None
    stamp: Number


class Motion(Wire):
    reached: bool
    target: Pose
    final: Pose
    error_m: Positive
    duration_s: Positive
    contact: Name | None
    stopped: bool


class Gripper(Wire):
    width: Number
    holding: Name | None
    force: Number
    duration_s: Positive


class Spec(Wire):
    name: Name
    joint_names: Names
    lower: Floats
    upper: Floats
    gripper_max_width: Positive
    gripper_max_force: Positive
    cameras: Names
    gripper_depth: Number


class Object(Wire):
    name: Name
    category: Name
    color: Name
    position: Vec3
    size: Vec3
    yaw: Number
    upright: bool
    confidence: Annotated[float, Meta(ge=0.0, le=1.0)]


class Array(Wire):
    """Descriptor of one array frame: ``raw`` C-order bytes, or a JPEG / PNG image."""

    frame: Annotated[int, Meta(ge=1, le=MAX_ARRAYS)]
    dtype: Dtype
    shape: Annotated[tuple[Dim, ...], Meta(min_length=1, max_length=3)]
    codec: Codec


class Label(Wire):
    id: Integer
    name: Name


class Camera(Wire):
    camera: Name
    stamp: Number
    rgb: Array
    depth: Array
    intrinsics: Array
    extrinsics: Array
    labels: Annotated[tuple[Label, ...], Meta(max_length=4096)]
    segmentation: Array | UnsetType = UNSET


class Stop(Wire):
    reason: Text256
    ago_s: Positive


class Error(Wire, omit_defaults=True):
    """A failure reply's body; `limit` and `value` come with safety errors."""

    kind: ErrorKind
    message: Text4096
    limit: Name | UnsetType = UNSET
    value: Any = None

    def __post_init__(self) -> None:
        check_tree(self.value, "value")


class Event(Wire):
    kind: Text32
    message: Text1024


# --- headers --------------------------------------------------------------------------------
class Header(Wire, tag_field="type"):
    """A message header; ``type`` tells the kind (required, as it picks the struct)."""


class RequestHeader(Header, Generic[T], tag="req"):
    """A command; decoded with `Raw` `args`, which stay encoded until `cmd` names their
    struct."""

    v: Literal[VERSION]
    id: Annotated[int, Meta(ge=1, le=MAX_REQUEST_ID)]
    session: Token
    deadline: Number | None
    cmd: Text64
    args: T


class Heartbeat(Header, tag="hb"):
    """A client's heartbeat."""

    v: Literal[VERSION]
    session: Token
    t: Number


class ReplyHeader(Header, Generic[T], tag="rep"):
    """A reply; `body` is the command's reply struct, or an `Error` when not `ok`."""

    v: Literal[VERSION]
    id: Count | None
    ok: bool
    body: T


class HeartbeatReply(Header, tag="hb"):
    """The server's answer to a heartbeat."""

    v: Literal[VERSION]
    session_ok: bool
    running: Annotated[tuple[Count, ...], Meta(max_length=64)]
    t: Number
    echo: Number
    reason: Text1024 | None


class PublicationHeader(Wire, Generic[T]):
    """One message of the state stream (never in a union, so ``type`` is a plain field)."""

    type: Literal["pub"]
    v: Literal[VERSION]
    seq: Count
    t: Number
    stamp: Number
    body: T
