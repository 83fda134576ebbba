"""The bridge client: a `Robot` whose calls travel to a bridge server.

`connect_robot("tcp://host:port")` handshakes and returns a `BridgeClient`, usable
wherever a `Robot` is (skills wrap it in the safety envelope as usual; the server checks
every command again). With a simulator behind the bridge, `BridgeClient.start_episode`
sets up a suite episode and returns a `RemoteEpisode`, which has the face of
`sim.env.TabletopEnv` (``robot``, ``objects()``, ``check()``, ``close()``).

Each request carries the session id and a deadline (the server-clock time by which it
must start; the client's timeout after its first send). Unanswered requests are resent
with the same id at most `retries` times within the timeout; the server runs a request
once and replays its reply. While the server reports a request as running (in its
heartbeat replies), the client waits for it however long the motion takes. A heartbeat
thread on its own socket keeps the session alive; when a heartbeat goes unanswered for
the server's watchdog time (or the server says the session ended), the link counts as
lost: calls fail with `BridgeDisconnected` (the robot state is unknown) until `connect()`
makes a new handshake. A client made with ``recover=True`` does that itself at its next
call, reads the state and tells its `listeners` (a `Recovery`); a command that was under
way when the link was lost is never sent again: a read is asked anew, anything else fails
with `CommandInterrupted`, which says what is known.

Calls may come from several threads; they are serialised, except `stop()` and `close()`,
which have a socket of their own and never wait behind a running motion. Each socket
of a handshake has a random ROUTER identity; the ``hello`` names those of the heartbeat
and stop sockets, so that the server takes the session's messages from them alone.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import zmq

from bridge import auth, codec, protocol
from bridge.commands import (
    CameraArgs,
    CheckArgs,
    CloseArgs,
    EpisodeArgs,
    Hello,
    HelloArgs,
    MoveArgs,
    Nothing,
    OpenArgs,
    PoseArgs,
)
from bridge.errors import (
    BridgeConfigError,
    BridgeDisconnected,
    BridgeError,
    BridgeTimeout,
    CommandInterrupted,
    ProtocolError,
)
from bridge.protocol import COMMANDS, Endpoint, HeartbeatReply, Reply
from bridge.wire import Wire
from skills.objects import ObjectState
from skills.robot import CameraFrame, GripperResult, MotionResult, Pose, RobotSpec, RobotState

if TYPE_CHECKING:
    from perception.predicates import PredicateResult
    from sim.suite import Episode

_NOBLOCK = int(zmq.NOBLOCK)
RECEIVE_SLICE_MS = 20  # how often a waiting call looks at the heartbeat's news
URGENT = frozenset({"stop", "bye"})  # sent on a socket of their own
SOCKETS = ("command", "heartbeat", "urgent")  # the sockets of one handshake
TEXT_CHARS = 160  # longest text a `Recovery` line quotes
NOTHING = Nothing()


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


def _client_socket(
    ctx: zmq.Context, url: str, keys: auth.ClientKeys | None, max_bytes: int, routing_id: str
) -> zmq.Socket:
    s = ctx.socket(zmq.DEALER)
    s.routing_id = routing_id.encode()
    s.linger = 0
    s.setsockopt(zmq.IMMEDIATE, 1)
    s.maxmsgsize = max_bytes
    s.sndhwm = s.rcvhwm = 100
    s.reconnect_ivl, s.reconnect_ivl_max = 100, 1000
    s.rcvtimeo = RECEIVE_SLICE_MS
    if keys is not None:
        auth.secure_client(s, keys)
    s.connect(url)
    return s


class _Heartbeat(threading.Thread):
    """Sends heartbeats on its own socket; tracks liveness, running requests, clock offset.

    The link is lost when a heartbeat goes unanswered for `link_timeout_s`, never merely
    because this thread was starved and sent none meanwhile: that is the server's to judge.
    """

    def __init__(
        self,
        socket: zmq.Socket,
        session: str,
        period_s: float,
        link_timeout_s: float,
        offset: float,
    ) -> None:
        super().__init__(name="bridge-heartbeat", daemon=True)
        self.socket = socket
        self.session = session
        self.period_s = period_s
        self.link_timeout_s = link_timeout_s
        self.offset = offset  # server clock minus local clock
        self.best_rtt = float("inf")
        self.rtt = 0.0
        self.heard = time.monotonic()
        self.waiting: float | None = None  # when the oldest unanswered heartbeat was sent
        self.running: frozenset[int] = frozenset()
        self.lost: str | None = None
        self._closing = threading.Event()

    def run(self) -> None:
        next_send = 0.0
        try:
            while not self._closing.is_set() and self.lost is None:
                now = time.monotonic()
                if now >= next_send:
                    msg = protocol.encode_heartbeat(self.session, now)
                    with contextlib.suppress(zmq.Again):  # not connected: silence shows below
                        self.socket.send_multipart(msg, zmq.NOBLOCK)
                    self.waiting = self.waiting or time.monotonic()  # (now may be stale)
                    next_send = now + self.period_s
                if self.socket.poll(max(0.0, next_send - now) * 1000, zmq.POLLIN):
                    self._receive()
                if self.waiting and time.monotonic() - self.waiting > self.link_timeout_s:
                    self._judge()
        except zmq.ZMQError as err:  # the socket was closed under us: we are closing
            if not self._closing.is_set():
                self.lost = f"heartbeat socket failed: {err}"
        finally:
            self.socket.close(linger=0)

    def _judge(self) -> None:
        """Read replies that came while this thread was starved; if still unanswered, lost."""
        while self.lost is None and self.socket.poll(0, zmq.POLLIN):
            self._receive()
        if self.lost is None and self.waiting:
            self.lost = f"no heartbeat reply for {time.monotonic() - self.waiting:.2f} s"

    def _receive(self) -> None:
        try:
            reply = protocol.decode_server(self.socket.recv_multipart(zmq.NOBLOCK))
        except (zmq.Again, ProtocolError):
            return
        if not isinstance(reply, HeartbeatReply):
            return
        now = time.monotonic()
        if not reply.session_ok:
            self.lost = reply.reason or "the server ended the session"
            return
        self.heard, self.waiting = now, None
        self.running = frozenset(reply.running)
        self.rtt = now - reply.echo
        if self.rtt <= self.best_rtt * 1.5:
            self.best_rtt = min(self.best_rtt, self.rtt)
            self.offset = reply.t - (reply.echo + now) / 2

    def close(self) -> None:
        self._closing.set()
        self.join(1.0)


@dataclass
class _Link:
    """One handshake: its sockets, session, heartbeat thread and what the server said."""

    ctx: zmq.Context
    routing_ids: dict[str, str]  # ROUTER identity of each of `SOCKETS`
    command: zmq.Socket
    session: str = ""
    hello: Hello | None = None
    offset: float = 0.0
    heartbeat: _Heartbeat | None = None
    urgent: zmq.Socket | None = None  # stop and bye: never queued behind a running command
    lock: threading.Lock = field(default_factory=threading.Lock)
    urgent_lock: threading.Lock = field(default_factory=threading.Lock)

    def server_now(self) -> float:
        offset = self.heartbeat.offset if self.heartbeat is not None else self.offset
        return time.monotonic() + offset

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.close()
        self.command.close(linger=0)
        if self.urgent is not None:
            self.urgent.close(linger=0)


@dataclass(frozen=True)
class Recovery:
    """A new handshake after a lost link, and what the client knows since.

    Attributes:
        lost: why the link was lost (the heartbeat's or the server's words).
        session: the new session id.
        state: the robot state read right after the new handshake.
        server_stop: why the server stopped the robot while the link was down, or None.
    """

    lost: str
    session: str
    state: RobotState
    server_stop: str | None = None

    def line(self) -> str:
        """One line for traces and error messages (each quoted text cut short)."""
        x, y, z = self.state.ee_pose.position
        stop = "the server stopped nothing meanwhile"
        if self.server_stop:
            stop = f"robot stopped by the server ({_cut(self.server_stop)})"
        return (
            f"bridge link lost ({_cut(self.lost)}); {stop}; new session {self.session[:8]}, "
            f"robot now at ({x:.3f}, {y:.3f}, {z:.3f}) m, gripper "
            f"{self.state.gripper_width:.3f} m, holding {_cut(self.state.holding or 'nothing')}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.line(),
            "lost": _cut(self.lost),
            "server_stop": _cut(self.server_stop) if self.server_stop else None,
            "session": self.session[:8],
        }


@dataclass(frozen=True)
class StreamMessage:
    """One message of the state stream; `value` is a RobotState, CameraFrame or event dict."""

    topic: str
    seq: int
    t: float
    stamp: float
    value: RobotState | CameraFrame | dict


class StreamSubscriber:
    """Receives the server's state/camera/event stream (use from one thread)."""

    def __init__(
        self,
        url: str,
        topics: Sequence[str] = ("state",),
        keys: Path | None = None,
        max_message_bytes: int = protocol.MAX_MESSAGE_BYTES,
    ) -> None:
        Endpoint.parse(url)
        self._ctx = zmq.Context()
        self.socket = self._ctx.socket(zmq.SUB)
        self.socket.linger = 0
        self.socket.maxmsgsize = max_message_bytes
        self.socket.rcvhwm = 1000
        if keys is not None:
            auth.secure_client(self.socket, auth.load_client_keys(Path(keys)))
        for topic in topics:
            self.socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self.socket.connect(url)

    def receive(self, timeout_s: float = 1.0) -> StreamMessage | None:
        """The next message, or None after `timeout_s` without one."""
        if not self.socket.poll(timeout_s * 1000):
            return None
        pub = protocol.decode_publication(self.socket.recv_multipart())
        value: Any
        if pub.topic == "state":
            value = protocol.state_from_wire(pub.body)
        elif pub.topic.startswith("camera/"):
            value = protocol.camera_from_wire(pub.body, pub.blobs)
        else:  # an event: {kind, message}
            value = msgspec.structs.asdict(pub.body)
        return StreamMessage(pub.topic, pub.seq, pub.t, pub.stamp, value)

    def close(self) -> None:
        self._ctx.destroy(linger=0)

    def __enter__(self) -> StreamSubscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BridgeClient:
    """A `Robot` behind a bridge server (see the module docstring).

    Args:
        url: ``tcp://host:port`` of the server.
        keys: client keys folder (`bridge.auth`); required when the server has keys.
        timeout_s: how long a request may go unanswered (and unacknowledged).
        retries: resends of an unanswered request within `timeout_s`.
        role: ``control`` (one client at a time) or ``observe`` (reads only).
        client: a name the server shows in its status.
        connect: handshake now (else call `connect`).
        recover: after a lost link, handshake again at the next call (see `Recovery`).
    """

    def __init__(
        self,
        url: str,
        keys: Path | str | None = None,
        timeout_s: float = 2.0,
        retries: int = 2,
        role: str = "control",
        client: str = "heed",
        connect: bool = True,
        max_message_bytes: int = protocol.MAX_MESSAGE_BYTES,
        recover: bool = False,
    ) -> None:
        try:
            self.endpoint = Endpoint.parse(url)
        except ValueError as err:
            raise BridgeConfigError(str(err)) from None
        if not timeout_s > 0 or retries < 0:
            raise BridgeConfigError("timeout_s must be positive and retries >= 0")
        if role not in ("control", "observe"):
            raise BridgeConfigError(f"role {role!r}: use control or observe")
        self.url = self.endpoint.url()
        self.keys = auth.load_client_keys(Path(keys)) if keys is not None else None
        self.keys_dir = Path(keys) if keys is not None else None
        self.timeout_s = timeout_s
        self.retries = retries
        self.role = role
        self.client = client
        self.max_message_bytes = max_message_bytes
        self.recover = recover
        self.listeners: list[Callable[[Recovery], None]] = []  # told of each recovery
        self.last_recovery: Recovery | None = None
        self._recovering = threading.Lock()
        self._client_id = secrets.token_hex(8)
        self._ids = itertools.count(1)
        self._link: _Link | None = None
        self._lost: str | None = "not connected yet"
        self._spec: RobotSpec | None = None
        if connect:
            self.connect()

    # --- connection ------------------------------------------------------------------------
    def connect(self) -> dict[str, Any]:
        """Handshake (again): fresh sockets, so nothing queued before runs; a new session."""
        self._drop_link()
        ctx = zmq.Context()
        ids = {name: secrets.token_hex(16) for name in SOCKETS}
        link = _Link(ctx, ids, self._socket(ctx, ids["command"]))
        rid = next(self._ids)
        routing_ids = (ids["heartbeat"], ids["urgent"])
        args = HelloArgs(self.role, self.client, self._client_id, routing_ids)
        frames = protocol.encode_request(rid, "", None, "hello", args)
        t0 = time.monotonic()
        try:
            body, _ = self._exchange(link, link.command, rid, frames, "hello", None)
        except BaseException:
            link.close()
            ctx.destroy(linger=0)
            raise
        if body.protocol != protocol.VERSION:
            link.close()
            ctx.destroy(linger=0)
            raise ProtocolError(
                f"server speaks protocol {body.protocol}, this client {protocol.VERSION}"
            )
        link.session, link.hello = body.session, body
        link.offset = body.time - (t0 + time.monotonic()) / 2
        beat = self._socket(ctx, ids["heartbeat"])
        link.heartbeat = _Heartbeat(
            beat,
            link.session,
            body.heartbeat_s,
            max(body.watchdog_s, 2 * body.heartbeat_s),
            link.offset,
        )
        link.heartbeat.start()
        self._spec = protocol.spec_from_wire(body.spec)
        self._link, self._lost = link, None
        return msgspec.to_builtins(body)

    def _socket(self, ctx: zmq.Context, routing_id: str) -> zmq.Socket:
        return _client_socket(ctx, self.url, self.keys, self.max_message_bytes, routing_id)

    def _drop_link(self) -> None:
        """Close the link; a call running on it in another thread ends first (bye stopped
        its motion, or its link is lost) or is cut after `timeout_s`."""
        link, self._link = self._link, None
        if link is None:
            return
        idle = link.lock.acquire(timeout=self.timeout_s)
        try:
            link.close()
            link.ctx.destroy(linger=0)
        finally:
            if idle:
                link.lock.release()

    def close(self) -> None:
        """Say bye (ending the session; the server stops a motion it ran) and close."""
        if self._link is not None and self.connected:
            with contextlib.suppress(BridgeTimeout, BridgeDisconnected, ProtocolError):
                self._call("bye", NOTHING, timeout_s=0.5, retries=0)  # else the server times it out
        self._drop_link()
        self._lost = "closed"

    def __enter__(self) -> BridgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Whether the session is alive (heartbeats answered)."""
        link = self._link
        return link is not None and link.heartbeat is not None and link.heartbeat.lost is None

    @property
    def session(self) -> str | None:
        """The current session id (None before the handshake)."""
        return self._link.session if self._link is not None else None

    def server_time(self) -> float:
        """The server's clock now, as estimated from heartbeats (seconds)."""
        return self._require_link("server_time").server_now()

    @property
    def server(self) -> dict[str, Any]:
        """What the server said at the handshake (robot, watchdog, stream port, ...)."""
        link = self._link
        return msgspec.to_builtins(link.hello) if link is not None and link.hello else {}

    def _require_link(self, name: str) -> _Link:
        link = self._link
        reason = self._lost
        if link is not None and link.heartbeat is not None and link.heartbeat.lost:
            reason = link.heartbeat.lost
        if link is None or reason is not None:
            self._lost = reason
            raise BridgeDisconnected(
                f"{name}: no session with {self.url} ({reason}); the robot state is unknown: "
                "call connect() for a new handshake"
            )
        return link

    # --- requests --------------------------------------------------------------------------
    def _call(
        self,
        name: str,
        args: Wire,
        timeout_s: float | None = None,
        retries: int | None = None,
    ) -> tuple[Any, tuple]:
        """Send command `name`, wait for its reply; return (checked body, array frames).
        With `recover`, a lost link is handshaken again first (see the module docstring)."""
        link = self._link
        beat = link.heartbeat if link is not None else None
        if link is None or self._lost is not None or (beat is not None and beat.lost):
            if self.recover and link is not None and name != "bye":
                self._recover(link)
                link = self._link
            else:
                link = self._require_link(name)  # raises, unless the link came back meanwhile
        try:
            return self._request(link, name, args, timeout_s, retries)
        except BridgeDisconnected as lost:
            beat = link.heartbeat
            if not (self.recover and name != "bye" and beat is not None and beat.lost):
                raise  # (closed under it, or no recovery wanted)
            recovery = self._recover(link)
            if COMMANDS.get(name).control:
                known = recovery.line() if recovery else "connect() was called meanwhile"
                raise CommandInterrupted(
                    f"{name} (request {lost.request_id}) was under way when the link was lost; "
                    f"whether it ran is unknown, so it was not repeated; {known}",
                    recovery,
                ) from None
        return self._request(self._link, name, args, timeout_s, retries)  # a read: ask anew

    def _recover(self, lost: _Link) -> Recovery | None:
        """Handshake again after link `lost`, read the state, tell the listeners; once for
        all the threads that found it lost (None: `connect()` was called meanwhile). A
        failed handshake raises `BridgeDisconnected`."""
        with self._recovering:
            if self._link is not lost:  # another thread handshook meanwhile (or closed)
                self._require_link("recovery")
                return self.last_recovery
            beat = lost.heartbeat
            reason = (beat.lost if beat is not None else None) or self._lost or "link closed"
            down_s = time.monotonic() - (beat.heard if beat is not None else 0.0)
            try:
                self.connect()
                hello = self._link.hello
                state = protocol.state_from_wire(self._request(self._link, "state", NOTHING)[0])
            except BridgeError as err:
                self._lost = f"{_cut(reason)}; a new handshake failed: {_cut(str(err))}"
                raise BridgeDisconnected(
                    f"lost the bridge at {self.url} ({self._lost}); the robot state is unknown"
                ) from None
            stop = hello.last_stop
            recovery = Recovery(
                reason,
                hello.session,
                state,
                stop.reason if stop and stop.ago_s <= down_s else None,
            )
            self.last_recovery = recovery
        for listener in self.listeners:
            listener(recovery)
        return recovery

    def _request(
        self,
        link: _Link,
        name: str,
        args: Wire,
        timeout_s: float | None = None,
        retries: int | None = None,
    ) -> tuple[Any, tuple]:
        """Send command `name` on `link` and wait for its reply (no recovery)."""
        timeout = timeout_s if timeout_s is not None else self.timeout_s
        urgent = name in URGENT
        with link.urgent_lock if urgent else link.lock:
            if urgent and link.urgent is None:
                link.urgent = self._socket(link.ctx, link.routing_ids["urgent"])
            socket = link.urgent if urgent else link.command
            rid = next(self._ids)
            beat = link.heartbeat
            offset = beat.offset if beat is not None else link.offset  # as link.server_now()
            deadline = time.monotonic() + offset + timeout
            try:
                frames = protocol.encode_request(rid, link.session, deadline, name, args)
            except (TypeError, ValueError, msgspec.EncodeError) as err:
                raise ProtocolError(f"{name}: cannot encode the arguments: {err}") from None
            size = len(frames[0])  # one header, no arrays
            limit = link.hello.max_message_bytes
            if size > limit:
                raise ProtocolError(
                    f"{name}: request of {size} bytes is over the {_mib(limit)} limit"
                )
            return self._exchange(link, socket, rid, frames, name, timeout, retries)

    def _exchange(
        self,
        link: _Link,
        socket: zmq.Socket,
        rid: int,
        frames: list[bytes],
        name: str,
        timeout_s: float | None,
        retries: int | None = None,
    ) -> tuple[Any, tuple]:
        """Send, resend while unanswered, and wait for the reply to request `rid`; return
        its checked body and array frames (a failure reply raises its typed error)."""
        command = COMMANDS.get(name)
        timeout = timeout_s if timeout_s is not None else self.timeout_s
        tries = 1 + (retries if retries is not None else self.retries)
        interval = timeout / tries
        beat = link.heartbeat
        progress = time.monotonic()
        sent, last_sent, want_send = 0, progress, True
        small = len(frames) == 1 and len(frames[0]) < codec.ZERO_COPY_BYTES
        while True:
            now = time.monotonic()
            if beat is not None and rid in beat.running:
                progress = now  # the server runs it: wait as long as it takes
            elif sent and sent < tries and now - max(last_sent, progress) >= interval:
                want_send = True  # unanswered (or its reply lost): the server replays or runs it
            if want_send:
                try:
                    if small:  # a request is one frame, nearly always a small one
                        socket.send(frames[0], _NOBLOCK)
                    else:
                        codec.send(socket, frames, _NOBLOCK)
                    sent, last_sent, want_send = sent + 1, now, False
                except zmq.Again:
                    pass  # no connection yet (IMMEDIATE): wait until writable
            if now - progress >= timeout:
                raise BridgeTimeout(
                    f"{name}: no reply from {self.url} within {timeout:g} s (server down, or a "
                    f"message over the {_mib(self.max_message_bytes)} limit)"
                )
            if beat is not None and beat.lost is not None:
                self._lost = beat.lost
                lost = BridgeDisconnected(
                    f"{name}: lost the bridge at {self.url} ({beat.lost}); the robot state is "
                    "unknown (the server stops a robot whose client goes silent): call connect() "
                    "for a new handshake"
                )
                lost.request_id = rid
                raise lost
            if want_send:  # rare: not connected yet; wake when writable (or a slice passed)
                socket.poll(RECEIVE_SLICE_MS, zmq.POLLIN | zmq.POLLOUT)
                continue
            try:  # blocks at most RECEIVE_SLICE_MS (the socket's RCVTIMEO)
                parts = codec.recv(socket)
            except zmq.Again:
                continue
            except zmq.ZMQError as err:  # closed under us by close() from another thread
                raise BridgeDisconnected(f"{name}: the client was closed ({err})") from None
            body = protocol.decode_reply(parts, command, rid)  # the usual case, in one step
            if body is not protocol.MISS:
                return body, tuple(parts[1:])
            reply = protocol.decode_server(parts)
            if isinstance(reply, Reply) and (reply.id == rid or reply.id is None):
                return protocol.check_reply(command, reply), reply.blobs

    # --- Robot -----------------------------------------------------------------------------
    def spec(self) -> RobotSpec:
        self._require_link("spec")
        return self._spec

    def state(self) -> RobotState:
        return protocol.state_from_wire(self._call("state", NOTHING)[0])

    def clock(self) -> float:
        return self._call("clock", NOTHING)[0].t

    def inverse_kinematics(self, pose: Pose) -> tuple[float, ...]:
        return self._call("inverse_kinematics", PoseArgs(protocol.pose_to_wire(pose)))[0].joints

    def move_ee(self, pose: Pose, speed: float) -> MotionResult:
        args = MoveArgs(protocol.pose_to_wire(pose), _num(speed))
        return protocol.motion_from_wire(self._call("move_ee", args)[0])

    def open_gripper(self, width: float | None = None) -> GripperResult:
        args = OpenArgs(None if width is None else _num(width))
        return protocol.gripper_from_wire(self._call("open_gripper", args)[0])

    def close_gripper(self, force: float) -> GripperResult:
        args = CloseArgs(_num(force))
        return protocol.gripper_from_wire(self._call("close_gripper", args)[0])

    def camera(self, name: str, codec: str | None = None) -> CameraFrame:
        """A frame from camera `name`; `codec` overrides the server's RGB encoding."""
        args = CameraArgs(name) if codec is None else CameraArgs(name, codec)
        body, blobs = self._call("camera", args)
        return protocol.camera_from_wire(body, blobs)

    def stop(self) -> None:
        """Stop the robot now (on a socket of its own: never queued behind a motion)."""
        self._call("stop", NOTHING)

    # --- bridge extras ---------------------------------------------------------------------
    def ping(self) -> float:
        """Round-trip time of a ping, seconds."""
        t0 = time.perf_counter()
        self._call("ping", NOTHING)
        return time.perf_counter() - t0

    def status(self) -> dict[str, Any]:
        """The server's status: robot state, who controls it, counters, stream rates."""
        return msgspec.to_builtins(self._call("status", NOTHING)[0])

    def subscribe(self, topics: Sequence[str] = ("state",)) -> StreamSubscriber:
        """A subscriber to the server's stream (topics ``state``, ``camera/NAME``, ``event``)."""
        port = self._require_link("subscribe").hello.stream_port
        return StreamSubscriber(self.endpoint.url(port), topics, self.keys_dir)

    # --- episodes (a simulator behind the bridge) ------------------------------------------
    def start_episode(self, episode: Episode) -> RemoteEpisode:
        """Set up `episode` on the simulator behind the bridge (refused by hardware)."""
        args = _free_form(EpisodeArgs, "episode.reset", episode.to_dict())
        body, _ = self._call("episode.reset", args)
        initial = [protocol.object_from_wire(o) for o in body.objects]
        return RemoteEpisode(self, episode, {o.name: o for o in initial})

    def objects(self) -> list[ObjectState]:
        """Ground-truth object states from the simulator behind the bridge."""
        body, _ = self._call("episode.objects", NOTHING)
        return [protocol.object_from_wire(o) for o in body.objects]

    def check(self, predicates: Sequence[object] | None = None) -> list[PredicateResult]:
        """Evaluate predicates (parsed or YAML form; None: the episode's own) on the server."""
        from perception.predicates import PredicateResult

        raw = None if predicates is None else tuple(_raw_predicate(p) for p in predicates)
        body, _ = self._call("episode.check", _free_form(CheckArgs, "episode.check", raw))
        return [PredicateResult(r.ok, r.detail) for r in body.results]


@dataclass
class RemoteEpisode:
    """An episode set up behind a bridge, with the face of `TabletopEnv`.

    Attributes:
        robot: the bridge client (a `Robot`).
        episode: the episode that was set up.
        initial: object states right after set-up, by name.
    """

    robot: BridgeClient
    episode: Episode
    initial: dict[str, ObjectState]

    def objects(self) -> list[ObjectState]:
        return self.robot.objects()

    def check(self, predicates: Sequence[object]) -> list[PredicateResult]:
        return self.robot.check(predicates)

    def close(self) -> None:
        """Nothing to free here: the scene lives on the server until the next set-up."""

    def __enter__(self) -> RemoteEpisode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cut(text: str) -> str:
    """`text` on one line, at most `TEXT_CHARS` characters."""
    line = " ".join(text.split())
    return line if len(line) <= TEXT_CHARS else line[: TEXT_CHARS - 3] + "..."


def _num(value: object) -> object:
    """Numbers (numpy's too) as floats; anything else is sent as is and refused by the server."""
    try:
        return float(value) if not isinstance(value, bool | str) else value
    except (TypeError, ValueError):
        return value


def _free_form(kind: type[Wire], name: str, value: object) -> Wire:
    """Arguments holding a free-form value, checked as the server will check them."""
    try:
        return kind(codec.builtins(value))
    except (TypeError, ValueError) as err:
        raise ProtocolError(f"{name}: {err}") from None


def _raw_predicate(p: object) -> object:
    to_raw = getattr(p, "to_raw", None)
    return to_raw() if callable(to_raw) else p


def connect_robot(url: str, **options: Any) -> BridgeClient:
    """Handshake with the bridge at `url` and return the client (a `Robot`).

    Options are those of `BridgeClient` (``keys``, ``timeout_s``, ``retries``, ``role``).
    """
    return BridgeClient(url, **options)
