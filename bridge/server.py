"""The bridge server: one `Robot` served to clients over ZeroMQ.

The server loop (the caller of `BridgeServer.serve`) owns the ROUTER socket: it decodes
and checks every message, keeps sessions, answers heartbeats, replays the cached reply
of a retried request, runs the watchdog and calls ``robot.stop()`` when needed. The
robot itself belongs to `bridge.host.RobotHost` (one lock, one robot thread).

A command runs at most once: it must carry a live session, come from a connection of
that session's client (`bridge.sessions.Session.owns`) and arrive before its deadline,
and the server answers a repeated request id with the cached reply. If the
controlling client goes silent for `ServerConfig.watchdog_s`, its session ends, and a
motion it started is stopped (the gripper is left as it is).
"""

from __future__ import annotations

import collections
import contextlib
import json
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from msgspec import UNSET, UnsetType

from bridge import auth, codec, protocol
from bridge.commands import Controller, Hello, Nothing, Status, Stopped, Stream, Time
from bridge.drivers import EpisodeHost
from bridge.errors import BridgeBusy, BridgeConfigError, BridgeError, BridgeRefused, ProtocolError
from bridge.host import Job, RobotHost, Streamer
from bridge.protocol import Endpoint, Request
from bridge.sessions import ReplayCache, Session, Sessions, check_retry, fingerprint
from bridge.wire import Heartbeat, Stop, Wire
from skills.robot import Robot
from skills.safety import SafetyLimits

_NOBLOCK = int(zmq.NOBLOCK)
_NOBLOCK_MORE = _NOBLOCK | int(zmq.SNDMORE)
REPLAY_BYTES = 32 << 20  # cached replies kept for retried requests, in all
REPLAY_ITEM_BYTES = 1 << 20  # larger replies (camera frames) are recomputed, not cached


@dataclass(frozen=True)
class ServerConfig:
    """How a bridge server runs.

    Attributes:
        bind: command endpoint, ``tcp://HOST:PORT`` (``*`` port: any free one).
        stream_port: port of the PUB stream; None for the command port + 1.
        keys: CURVE keys folder (see `bridge.auth`); None serves 127.0.0.1 only.
        state_hz: state stream rate (0 turns it off).
        camera_hz: camera stream rate per camera (0 turns it off).
        stream_cameras: cameras to stream; empty for the robot's first camera.
        image_codec: RGB encoding of camera frames: ``jpeg``, ``png`` or ``raw``.
        heartbeat_s: heartbeat period clients are told to keep.
        watchdog_s: silence of the controlling client after which its session ends and
            its motion is stopped.
        observer_timeout_s: silence after which an observing session ends.
        max_message_bytes: largest message accepted (``MAXMSGSIZE``).
        replay_window: request replies kept for retried requests.
        max_queued: robot commands one session may have waiting or running; more are
            refused as busy (at most 64, what a heartbeat reply lists).
        limits: the safety envelope applied to every command.
    """

    bind: str = "tcp://127.0.0.1:5555"
    stream_port: int | None = None
    keys: Path | None = None
    state_hz: float = 100.0
    camera_hz: float = 0.0
    stream_cameras: tuple[str, ...] = ()
    image_codec: str = "jpeg"
    heartbeat_s: float = 0.05
    watchdog_s: float = 0.25
    observer_timeout_s: float = 5.0
    max_message_bytes: int = protocol.MAX_MESSAGE_BYTES
    replay_window: int = 256
    max_queued: int = 16
    limits: SafetyLimits = field(default_factory=SafetyLimits)

    def __post_init__(self) -> None:
        try:
            endpoint = Endpoint.parse(self.bind, bind=True)
        except ValueError as err:
            raise BridgeConfigError(str(err)) from None
        if self.keys is None and not endpoint.loopback:
            raise BridgeConfigError(
                f"without keys the bridge binds to 127.0.0.1 only, not {self.bind}: "
                "create keys with `heed bridge keys` and pass --keys, or bind tcp://127.0.0.1:PORT"
            )
        for name in ("heartbeat_s", "watchdog_s", "observer_timeout_s"):
            if not getattr(self, name) > 0:
                raise BridgeConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.watchdog_s < 2 * self.heartbeat_s:
            raise BridgeConfigError(
                f"watchdog_s {self.watchdog_s} must be at least twice heartbeat_s "
                f"{self.heartbeat_s}: one late heartbeat must not stop the robot"
            )
        if self.state_hz < 0 or self.camera_hz < 0:
            raise BridgeConfigError("stream rates must be >= 0 (0 turns a stream off)")
        if self.image_codec not in ("jpeg", "png", "raw"):
            raise BridgeConfigError(f"image_codec {self.image_codec!r}: use jpeg, png or raw")
        if not 1024 <= self.max_message_bytes <= 1 << 30:
            raise BridgeConfigError("max_message_bytes must be in [1 KiB, 1 GiB]")
        if self.replay_window < 1:
            raise BridgeConfigError("replay_window must be at least 1")
        if not 1 <= self.max_queued <= 64:
            raise BridgeConfigError(
                f"max_queued {self.max_queued}: use 1 to 64 (a heartbeat reply lists 64 at most)"
            )


# --- events ---------------------------------------------------------------------------------
class EventLog:
    """Server events as lines on stdout (JSON when asked), throttled per kind when noisy."""

    NOISY = frozenset({"malformed", "refused"})

    def __init__(self, as_json: bool = False, out: Any = None) -> None:
        self.as_json = as_json
        self.out = out if out is not None else sys.stdout
        self._last: dict[str, float] = {}
        self._suppressed: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self.listeners: list[Callable[[str, str], None]] = []

    def __call__(self, kind: str, message: str, **data: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if kind in self.NOISY and now - self._last.get(kind, -1e9) < 1.0:
                self._suppressed[kind] += 1
                return
            self._last[kind] = now
            more = self._suppressed.pop(kind, 0)
            if more:
                message += f" ({more} more suppressed)"
            if self.as_json:
                line = json.dumps({"event": kind, "message": message, **data})
            else:
                line = f"bridge {kind}: {message}"
            print(line, file=self.out, flush=True)
        for listener in self.listeners:
            listener(kind, message)


# --- the server loop --------------------------------------------------------------------------
class BridgeServer:
    """Serves `robot` as `config` says; `start`, then `serve` until `stop` is set, `close`."""

    def __init__(self, robot: Robot, config: ServerConfig, log: EventLog | None = None) -> None:
        self.robot = robot
        self.config = config
        self.log = log or EventLog()
        self.sessions = Sessions()
        self.cache = ReplayCache(config.replay_window, REPLAY_BYTES, REPLAY_ITEM_BYTES)
        self.counts: collections.Counter[str] = collections.Counter()
        self.last_stop: tuple[str, float] | None = None
        self.started = time.monotonic()
        self.endpoint = ""
        self.stream_port = 0
        self._restop_at = 0.0
        self._ctx: zmq.Context | None = None
        self._auth: Any = None
        self._keyed = False  # CURVE keys: each message comes with its sender's public key
        self.host: RobotHost | None = None

    # --- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Bind the sockets, start the authenticator (keys) and the robot thread.

        Raises:
            BridgeConfigError: bad keys, an address in use, or keys not enforced.
        """
        try:
            self._start()
        except BaseException:
            if self._auth is not None:
                self._auth.stop()
            if self._ctx is not None:
                self._ctx.destroy(linger=0)
            raise

    def _start(self) -> None:
        cfg = self.config
        bind = Endpoint.parse(cfg.bind, bind=True)
        ctx = self._ctx = zmq.Context()
        keys = auth.load_server_keys(cfg.keys) if cfg.keys is not None else None
        if keys is not None:
            self._auth = auth.start_authenticator(ctx, keys)
            self._keyed = True
        self.router = self._socket(zmq.ROUTER, keys)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.endpoint = self._bind(self.router, bind.url())
        port = int(self.endpoint.rsplit(":", 1)[1])
        stream = cfg.stream_port if cfg.stream_port is not None else port + 1
        pub = self._socket(zmq.PUB, keys)
        pub.sndhwm = 100
        stream_url = bind.url(stream if bind.port is not None or cfg.stream_port else None)
        self.stream_port = int(self._bind(pub, stream_url).rsplit(":", 1)[1])
        if keys is not None:
            probe = Endpoint("127.0.0.1" if bind.host in ("*", "0.0.0.0") else bind.host, port)
            auth.check_refuses_unknown(ctx, probe.url(), keys.public)
        inproc = f"inproc://bridge-results-{id(self)}"
        self.results = ctx.socket(zmq.PAIR)
        self.results.bind(inproc)
        worker_end = ctx.socket(zmq.PAIR)
        worker_end.connect(inproc)
        spec = self.robot.spec()
        cameras = cfg.stream_cameras or spec.cameras[:1]
        unknown = [c for c in cameras if c not in spec.cameras]
        if cfg.camera_hz and unknown:
            raise BridgeConfigError(f"unknown camera {unknown[0]!r}: this robot has {spec.cameras}")
        self.streamer = Streamer(pub, cfg.state_hz, cfg.camera_hz, tuple(cameras), cfg.image_codec)
        self.log.listeners.append(self._publish_event)
        self.host = RobotHost(
            self.robot, cfg.limits, self.sessions, self.streamer, worker_end, self.log
        )
        self.host.start()
        how = "CURVE, listed client keys only" if keys else "no keys: 127.0.0.1 only, unencrypted"
        self.log(
            "ready",
            f"serving {spec.name} on {self.endpoint} (state stream port {self.stream_port}; {how})",
            endpoint=self.endpoint,
            stream_port=self.stream_port,
            auth="curve" if keys else "none",
        )

    def _socket(self, kind: int, keys: auth.ServerKeys | None) -> zmq.Socket:
        s = self._ctx.socket(kind)
        s.linger = 0
        s.setsockopt(zmq.IMMEDIATE, 1)
        s.maxmsgsize = self.config.max_message_bytes
        s.rcvhwm = s.sndhwm = 1000
        if keys is not None:
            auth.secure_server(s, keys)
        return s

    def _bind(self, socket: zmq.Socket, url: str) -> str:
        try:
            socket.bind(url)
        except zmq.ZMQError as err:
            raise BridgeConfigError(f"cannot bind {url}: {err}") from None
        return socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def serve(self, stop: threading.Event) -> None:
        """Run the server loop until `stop` is set."""
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.results, zmq.POLLIN)
        tick_s = min(0.005, self.config.watchdog_s / 20)
        router, host, receive = self.router, self.host, self._receive
        router.rcvtimeo = max(1, int(tick_s * 1000))  # a message wakes the receive at once
        monotonic = time.monotonic
        next_check = 0.0
        while not stop.is_set():
            if host.outstanding:  # robot replies may come: watch both sockets
                ready = dict(poller.poll(tick_s * 1000))
                if router in ready:
                    self._drain(router, receive)
                if self.results in ready:
                    self._drain(self.results, self._receive_result)
            else:  # only clients can speak: a plain blocking receive is cheaper
                with contextlib.suppress(zmq.Again):
                    receive(0)
            if (now := monotonic()) >= next_check:
                self._supervise(now)
                next_check = now + tick_s

    def close(self) -> None:
        """Stop any motion, end the robot thread, close sockets and the driver."""
        if self.host is None:
            return
        for s in self.sessions.live():  # queued commands of theirs are refused, not run
            self._end(s, "the server is shutting down")
        if self.host.current is not None:
            self._stop_robot("the server is shutting down")
        self.host.close()
        if self._auth is not None:
            self._auth.stop()
        self._ctx.destroy(linger=0)
        closer = getattr(self.robot, "close", None)
        if callable(closer):
            closer()
        self.log("closed", "server stopped")

    def _drain(self, socket: zmq.Socket, receive: Callable[[int], None], most: int = 256) -> None:
        """Handle the messages waiting on `socket` (at most `most`, so others get a turn)."""
        for _ in range(most):
            receive(_NOBLOCK)
            if not socket.get(zmq.EVENTS) & zmq.POLLIN:
                return

    def _receive(self, flags: int) -> None:
        """Receive a client's message (with keys, also its sender's public key); handle it."""
        if self._keyed:
            frames, peer = codec.recv_keyed(self.router, flags)
        else:
            frames, peer = codec.recv(self.router, flags, True), None
        self._on_message(frames, peer)

    def _receive_result(self, flags: int) -> None:
        self._on_result(codec.recv(self.results, flags))

    def _send(self, routing: bytes, frames: list) -> None:
        try:
            if len(frames) == 1 and len(frames[0]) < codec.ZERO_COPY_BYTES:  # most replies
                self.router.send(routing, _NOBLOCK_MORE)
                self.router.send(frames[0], _NOBLOCK)
            else:
                codec.send(self.router, [routing, *frames], _NOBLOCK)
        except zmq.ZMQError:
            self.counts["undeliverable"] += 1  # the client left or is not reading

    def _publish_event(self, kind: str, message: str) -> None:
        if kind in ("watchdog", "stop", "session_end", "session_start"):
            self.streamer.event(kind, message)

    # --- incoming --------------------------------------------------------------------------
    def _on_message(self, frames: list, peer: str | None) -> None:
        routing, parts = frames[0], frames[1:]
        try:
            size = sum(map(len, parts))
            if size > self.config.max_message_bytes:
                raise ProtocolError(
                    f"message of {size} bytes is over the {self.config.max_message_bytes} limit"
                )
            message = protocol.decode_client(parts)
        except ProtocolError as err:
            self.counts["malformed"] += 1
            self.log("malformed", f"refused a malformed message: {err}")
            self._send(routing, protocol.encode_error(err.request_id, err))
            return
        try:
            if isinstance(message, Heartbeat):
                self._on_heartbeat(routing, peer, message)
            else:
                self._on_request(routing, peer, message)
        except (BridgeRefused, ProtocolError) as err:
            self._refused(err)
            self._send(routing, protocol.encode_error(getattr(message, "id", None), err))
        except Exception as err:  # a bug must not stop the server: answer and log it
            self.log("error", f"server loop: {traceback.format_exc(limit=4)!r}")
            self._send(routing, protocol.encode_error(getattr(message, "id", None), err))

    def _refused(self, err: BridgeError) -> None:
        self.counts["refused"] += 1
        self.log("refused", str(err))

    def _on_heartbeat(self, routing: bytes, peer: str | None, hb: Heartbeat) -> None:
        now = time.monotonic()
        try:
            s = self._own(hb.session, routing, peer)
        except BridgeError as err:  # only the client's own heartbeats keep a session alive
            self._refused(err)
            self._send(routing, protocol.encode_heartbeat_reply(False, [], now, hb.t, str(err)))
            return
        s.heard = now
        reply = protocol.encode_heartbeat_reply(True, sorted(s.running), now, hb.t, None)
        self._send(routing, reply)

    def _own(self, session_id: str, routing: bytes, peer: str | None) -> Session:
        """The live session `session_id`, if this connection is its client's; else raise why not."""
        s = self.sessions.get(session_id)
        if s is not None and s.ended is None and s.owns(routing, peer):
            return s
        if s is None:
            raise BridgeRefused(
                "unknown session: the server restarted or never knew it; handshake again"
            )
        if s.ended:
            raise BridgeRefused(f"session ended ({s.ended}); handshake again")
        raise ProtocolError(
            "this session belongs to another connection: a session is used only from the "
            "sockets that opened it; send hello on this connection for a session of its own"
        )

    def _on_request(self, routing: bytes, peer: str | None, req: Request) -> None:
        now = time.monotonic()
        cmd, rid, deadline = req.cmd, req.id, req.deadline
        if cmd.name == "hello":
            self._hello(routing, peer, req, now)
            return
        s = self._own(req.session, routing, peer)
        s.heard = now
        key = (s.id, rid)
        entry = self.cache.get(key)
        if entry is not None:
            check_retry(rid, entry.fingerprint, cmd, req.args)
            entry.routing = routing
            if entry.frames is not None:
                self.counts["replayed"] += 1
                self._send(routing, entry.frames)
                return
            if entry.replayable or cmd.control:
                return  # still running: its reply goes to the latest sender
            # else: a finished read whose reply was too large to keep; run it again
        elif cmd.control and rid <= s.max_request:  # reads may run twice, moves never
            raise BridgeRefused(
                f"request {rid} is older than the newest ({s.max_request}) and no longer in "
                "the replay window; not run"
            )
        if deadline is None:
            raise BridgeRefused(f"{cmd.name} needs a deadline")
        if now > deadline:
            raise BridgeRefused(
                f"request {rid} ({cmd.name}) arrived {now - deadline:.3f} s past its "
                "deadline; not run"
            )
        if cmd.control and s.role != "control":
            raise BridgeRefused(
                f"{cmd.name} needs the controlling session; this one ({s.client}) observes"
            )
        if not cmd.robot:
            self._send(routing, protocol.encode_reply(rid, self._server_command(s, req, now)))
            return
        host = self.host
        if cmd.quick:
            reply = host.try_now(rid, cmd, req.args)
            if reply is None and cmd.name == "state" and host.current is not None:
                latest = host.latest  # busy with a long command: the newest sample
                reply = latest and protocol.encode_reply(rid, protocol.state_to_wire(latest[0]))
            if reply is not None:
                self._send(routing, reply)
                return
        if len(s.running) >= self.config.max_queued:
            raise BridgeBusy(
                f"busy: this session has {len(s.running)} robot commands waiting or running, "
                f"the most it may; send {cmd.name} again once replies come"
            )
        if cmd.control:  # (never quick) from here on it runs: older ids never will
            s.max_request = max(s.max_request, rid)
        self.cache.add(key, routing, cmd, fingerprint(cmd, req.args))
        s.running.add(rid)
        host.outstanding += 1
        host.jobs.put(Job(s.id, rid, cmd, req.args, deadline), s.role == "control")

    def _hello(self, routing: bytes, peer: str | None, req: Request, now: float) -> None:
        args = req.args
        again = self.sessions.find_hello(args.client_id, req.id, routing, peer)
        if again is not None:
            check_retry(req.id, again.hello_fingerprint, req.cmd, args)
            self._send(routing, again.hello_reply)
            return
        if args.role == "control" and (c := self.sessions.controller) is not None:
            if c.client_id != args.client_id or c.peer != peer:
                raise BridgeRefused(
                    f"the robot is controlled by {c.client!r} (for {now - c.started:.1f} s): "
                    "connect as an observer, or wait until it disconnects"
                )
            self._end(c, "replaced by a new handshake from the same client")
        routes = frozenset([routing, *(r.encode() for r in args.routing_ids)])
        s = self.sessions.open(args.client, args.client_id, args.role, req.id, now, routes, peer)
        body = Hello(
            session=s.id,
            robot=self.host.spec.name,
            protocol=protocol.VERSION,
            time=now,
            watchdog_s=self.config.watchdog_s,
            heartbeat_s=self.config.heartbeat_s,
            max_message_bytes=self.config.max_message_bytes,
            stream_port=self.stream_port,
            episodes=isinstance(self.robot, EpisodeHost),
            auth="curve" if self.config.keys else "none",
            spec=protocol.spec_to_wire(self.host.spec),
            last_stop=self._last_stop(now),
        )
        s.hello_reply = protocol.encode_reply(req.id, body)
        s.hello_fingerprint = fingerprint(req.cmd, args)
        self.log("session_start", f"{s.role} session {s.id[:8]} for {s.client!r}", session=s.id)
        self._send(routing, s.hello_reply)

    def _last_stop(self, now: float) -> Stop | UnsetType:
        """Why and how long ago the robot was last stopped, or UNSET (never)."""
        if self.last_stop is None:
            return UNSET
        reason, at = self.last_stop
        return Stop(reason[:256], now - at)

    def _server_command(self, s: Session, req: Request, now: float) -> Wire:
        name = req.cmd.name
        if name == "ping":
            return Time(now)
        if name == "spec":
            return protocol.spec_to_wire(self.host.spec)
        if name == "stop":
            self._stop_robot(f"stop requested by {s.client!r}")
            return Stopped(True)
        if name == "bye":
            self._end(s, "the client said bye")
            return Nothing()
        if name == "status":
            return self._status(now)
        raise ProtocolError(f"no server handler for {name!r}")

    def _status(self, now: float) -> Status:
        host, c = self.host, self.sessions.controller
        latest, job = host.latest, host.current
        return Status(
            robot=host.spec.name,
            protocol=protocol.VERSION,
            uptime_s=now - self.started,
            auth="curve" if self.config.keys else "none",
            observers=sum(1 for s in self.sessions.live() if s.role == "observe"),
            watchdog_stops=self.counts["watchdog"],
            executed=dict(host.executed),
            refused=self.counts["refused"],
            malformed=self.counts["malformed"],
            stream=Stream(
                self.stream_port,
                self.config.state_hz,
                self.config.camera_hz,
                tuple(self.streamer.cameras),
            ),
            state=UNSET if latest is None else protocol.state_to_wire(latest[0]),
            state_age_s=UNSET if latest is None else now - latest[1],
            busy=UNSET if job is None else job.command.name,
            controller=(
                UNSET
                if c is None
                else Controller(c.client, now - c.started, (now - c.heard) * 1000)
            ),
            last_stop=self._last_stop(now),
        )

    def _on_result(self, frames: list) -> None:
        self.host.outstanding -= 1
        session, rid, reply = frames[0].decode(), struct.unpack(">Q", frames[1])[0], frames[2:]
        s = self.sessions.get(session)
        if s is not None:
            s.running.discard(rid)
        entry = self.cache.finish((session, rid), reply)
        if entry is not None:
            self._send(entry.routing, reply)

    # --- safety supervision ----------------------------------------------------------------
    def _supervise(self, now: float) -> None:
        c = self.sessions.controller
        if c is not None and (silence := now - c.heard) > self.config.watchdog_s:
            self._end(c, f"watchdog: no message from {c.client!r} for {silence:.2f} s")
        for s in self.sessions.live():
            if s.role == "observe" and now - s.heard > self.config.observer_timeout_s:
                self._end(s, "observer timed out")
        job = self.host.current
        orphan = job is not None and job.command.motion and not self.sessions.valid(job.session)
        if orphan and now >= self._restop_at:  # repeat: a stop landing before a motion is lost
            self.robot.stop()
            self._restop_at = now + 0.02

    def _end(self, s: Session, reason: str) -> None:
        """End session `s`; if it is moving the robot, stop the robot."""
        self.sessions.end(s, reason)
        self.log("session_end", f"{s.role} session {s.id[:8]} ({s.client!r}) ended: {reason}")
        job = self.host.current
        if job is not None and job.session == s.id and job.command.motion:
            watchdog = reason.startswith("watchdog")
            if watchdog:
                self.counts["watchdog"] += 1
            self._stop_robot(reason, "watchdog" if watchdog else "stop")

    def _stop_robot(self, reason: str, kind: str = "stop") -> None:
        self.robot.stop()
        self.last_stop = (reason, time.monotonic())
        self.log(kind, f"robot stopped ({reason}); the gripper is left as it is")
