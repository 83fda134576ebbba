"""The bridge commands (`COMMANDS`): each one's flags, and the structs of its arguments and
reply, with the msgspec decoders both sides use for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType
from msgspec.msgpack import Decoder

from bridge.wire import (
    Camera,
    Codec,
    Count,
    Floats,
    Gripper,
    HeartbeatReply,
    Integer,
    Motion,
    Name,
    Number,
    Object,
    Port,
    Pose,
    Positive,
    ReplyHeader,
    Spec,
    State,
    Stop,
    Text16,
    Text2048,
    Token,
    Wire,
    check_tree,
)
from skills.registry import Registry


# --- arguments and replies ------------------------------------------------------------------
class Nothing(Wire):
    """No arguments, or an empty reply."""


class HelloArgs(Wire):
    role: Literal["control", "observe"]
    client: Name
    client_id: Token
    routing_ids: Annotated[tuple[Token, ...], Meta(max_length=4)] = ()


class Hello(Wire):
    session: Token
    robot: Name
    protocol: Integer
    time: Number
    watchdog_s: Positive
    heartbeat_s: Positive
    max_message_bytes: Count
    stream_port: Port
    episodes: bool
    auth: Literal["curve", "none"]
    spec: Spec
    last_stop: Stop | UnsetType = UNSET


class Controller(Wire):
    client: Name
    since_s: Number
    heard_ms: Number


class Stream(Wire):
    port: Port
    state_hz: Positive
    camera_hz: Positive
    cameras: Annotated[tuple[Name, ...], Meta(max_length=1024)]


class Status(Wire):
    robot: Name
    protocol: Integer
    uptime_s: Positive
    auth: Text16
    observers: Count
    watchdog_stops: Count
    executed: Annotated[dict[Name, Count], Meta(max_length=256)]
    refused: Count
    malformed: Count
    stream: Stream
    state: State | UnsetType = UNSET
    state_age_s: Number | UnsetType = UNSET
    busy: Name | UnsetType = UNSET
    controller: Controller | UnsetType = UNSET
    last_stop: Stop | UnsetType = UNSET


class Time(Wire):
    t: Number


class Stopped(Wire):
    stopped: bool


class PoseArgs(Wire):
    pose: Pose


class Joints(Wire):
    joints: Floats


class MoveArgs(Wire):
    pose: Pose
    speed: Number


class OpenArgs(Wire):
    width: Number | None


class CloseArgs(Wire):
    force: Number


class CameraArgs(Wire):
    name: Name
    codec: Codec | UnsetType = UNSET


class EpisodeArgs(Wire):
    episode: Any

    def __post_init__(self) -> None:
        check_tree(self.episode, "episode")


class Objects(Wire):
    objects: Annotated[tuple[Object, ...], Meta(max_length=1024)]


class CheckArgs(Wire):
    predicates: Annotated[tuple[Any, ...], Meta(max_length=256)] | None

    def __post_init__(self) -> None:
        for predicate in self.predicates or ():  # each a free-form value of its own
            check_tree(predicate, "predicates")


class Result(Wire):
    ok: bool
    detail: Text2048


class Results(Wire):
    results: Annotated[tuple[Result, ...], Meta(max_length=256)]


# --- the table ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """One request kind.

    Attributes:
        name: the ``cmd`` field.
        args: struct of ``args``.
        reply: struct of the reply body.
        control: only the controlling session may send it.
        motion: it moves the robot (the watchdog stops it when the controller goes silent).
        robot: it calls the robot (else the server loop answers it alone).
        quick: a read that takes microseconds: run at once when the robot is idle.
        args_decoder: decodes encoded ``args`` into `args`.
        reply_decoder: decodes a whole reply header with a `reply` body in one call.
    """

    name: str
    args: type[Wire]
    reply: type[Wire]
    control: bool = False
    motion: bool = False
    robot: bool = True
    quick: bool = False
    args_decoder: Decoder = field(init=False, repr=False, compare=False)
    reply_decoder: Decoder = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args_decoder", Decoder(self.args))
        # (in a union, so that ``type`` is required: a lone tagged struct may go without)
        reply = Decoder(ReplyHeader[self.reply] | HeartbeatReply)
        object.__setattr__(self, "reply_decoder", reply)


COMMANDS: Registry[Command] = Registry("bridge command")


def _command(name: str, args: type[Wire], reply: type[Wire], **flags: bool) -> None:
    COMMANDS.add(name, Command(name, args, reply, **flags))


_command("hello", HelloArgs, Hello, robot=False)
_command("bye", Nothing, Nothing, robot=False)
_command("ping", Nothing, Time, robot=False)
_command("status", Nothing, Status, robot=False)
_command("stop", Nothing, Stopped, robot=False)
_command("spec", Nothing, Spec, robot=False)
_command("state", Nothing, State, quick=True)
_command("clock", Nothing, Time, quick=True)
_command("inverse_kinematics", PoseArgs, Joints, quick=True)
_command("move_ee", MoveArgs, Motion, control=True, motion=True)
_command("open_gripper", OpenArgs, Gripper, control=True, motion=True)
_command("close_gripper", CloseArgs, Gripper, control=True, motion=True)
_command("camera", CameraArgs, Camera)
_command("episode.reset", EpisodeArgs, Objects, control=True)
_command("episode.objects", Nothing, Objects)
_command("episode.check", CheckArgs, Results)
