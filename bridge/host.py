"""The robot side of the server: one lock owns the robot; a thread runs commands and streams.

Every robot call except ``stop`` happens under `RobotHost.lock`, so a driver is never
called concurrently (PyBullet is not thread-safe). Commands that may block (motions,
camera frames, episode set-up) run on the robot thread; quick reads (state, clock,
inverse kinematics) run directly on the server loop when the robot is idle, and wait
their turn on the robot thread otherwise. The robot thread also samples the state and
publishes the PUB stream, between commands and, through the driver's tick callback,
during them.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import struct
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple

import zmq
from msgspec import UNSET

from bridge import codec, protocol, wire
from bridge.codec import Frames
from bridge.commands import (
    COMMANDS,
    CameraArgs,
    CheckArgs,
    CloseArgs,
    Command,
    EpisodeArgs,
    Joints,
    MoveArgs,
    Objects,
    OpenArgs,
    PoseArgs,
    Result,
    Results,
    Time,
)
from bridge.drivers import EpisodeHost
from bridge.errors import BridgeRefused, EpisodeRefused
from bridge.sessions import Sessions
from bridge.wire import Wire
from skills.errors import HeedError
from skills.registry import Registry
from skills.robot import Robot, RobotState
from skills.safety import SafeRobot, SafetyLimits

IDLE_SAMPLE_HZ = 10.0  # the state is sampled at least this often (for `status`)

Answer = tuple[Any, Frames | None]
Log = Callable[..., None]


class Job(NamedTuple):
    """A robot command: whose, which, with what, and by when it must start (server clock)."""

    session: str
    id: int
    command: Command
    args: Wire
    deadline: float


class JobQueue:
    """Jobs for the robot thread in two lanes, each in order: the controller's, served
    first, then the observers'. The server loop bounds what each session may queue."""

    def __init__(self) -> None:
        self._lanes: tuple[collections.deque[Job], ...] = (collections.deque(), collections.deque())
        self._ready: queue.SimpleQueue[None] = queue.SimpleQueue()  # a token per job, and close

    def put(self, job: Job, control: bool) -> None:
        """Queue `job`; `control`: in the controller's lane."""
        self._lanes[0 if control else 1].append(job)
        self._ready.put(None)

    def get(self, timeout: float) -> Job | None:
        """The next job, None once closed and empty; `queue.Empty` after `timeout` seconds."""
        self._ready.get(timeout=timeout)
        control, observe = self._lanes
        return control.popleft() if control else observe.popleft() if observe else None

    def close(self) -> None:
        """Let the robot thread end once the queued jobs are answered."""
        self._ready.put(None)


class Streamer:
    """The PUB socket: state and camera streams (robot thread) and events (any thread).

    A full send queue drops messages (``NOBLOCK``): a slow subscriber never blocks the
    robot. Each topic numbers its messages, so a subscriber sees what it missed.
    """

    def __init__(
        self,
        socket: zmq.Socket,
        state_hz: float,
        camera_hz: float,
        cameras: tuple[str, ...],
        codec: str,
    ) -> None:
        self.socket = socket
        self.lock = threading.Lock()
        self.state_period = 1.0 / state_hz if state_hz else None
        self.camera_period = 1.0 / camera_hz if camera_hz else None
        self.cameras = cameras if camera_hz else ()
        self.codec = codec
        self.seq: collections.Counter[str] = collections.Counter()
        self.next_camera = 0.0

    def send(self, topic: str, stamp: float, body: Any, frames: Frames | None = None) -> None:
        with self.lock:
            seq = self.seq[topic]
            self.seq[topic] += 1
            msg = protocol.encode_publication(topic, seq, time.monotonic(), stamp, body, frames)
            with contextlib.suppress(zmq.ZMQError):
                codec.send(self.socket, msg, zmq.NOBLOCK)

    def event(self, kind: str, message: str) -> None:
        self.send("event", 0.0, wire.Event(kind[:32], message[:1024]))


HANDLERS: Registry[Callable[[RobotHost, Any], Answer]] = Registry("bridge handler")


class RobotHost:
    """Owns the robot (see the module docstring)."""

    def __init__(
        self,
        robot: Robot,
        limits: SafetyLimits,
        sessions: Sessions,
        streamer: Streamer,
        results: zmq.Socket,
        log: Log,
    ) -> None:
        self.robot = robot
        self.safe = SafeRobot(robot, limits)
        self.spec = robot.spec()
        self.sessions = sessions
        self.streamer = streamer
        self.results = results
        self.log = log
        self.lock = threading.Lock()
        self.jobs = JobQueue()
        self.current: Job | None = None
        self.outstanding = 0  # jobs handed over and not yet answered (server loop's count)
        self.latest: tuple[RobotState, float] | None = None
        self.executed: collections.Counter[str] = collections.Counter()
        self._handlers = {name: HANDLERS.get(name) for name in HANDLERS}
        self._next_sample = 0.0
        self._thread = threading.Thread(target=self._run, name="bridge-robot", daemon=True)
        setter = getattr(robot, "set_tick_callback", None)
        if callable(setter):
            setter(self.tick)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        self.jobs.close()
        self._thread.join(timeout_s)

    def episodes(self) -> EpisodeHost:
        """The robot as an episode host, or `EpisodeRefused` for hardware."""
        if not isinstance(self.robot, EpisodeHost):
            raise EpisodeRefused(
                f"episode set-up needs a simulator behind the bridge (this robot is "
                f"{self.spec.name})"
            )
        return self.robot

    # --- running commands ------------------------------------------------------------------
    def answer(self, job: Job) -> list:
        """Run `job` and encode its reply (or error); the caller holds `lock`. Its session
        and deadline are checked again first: it may have waited behind other commands."""
        try:
            self._admit(job)
        except BridgeRefused as err:
            return protocol.encode_error(job.id, err)
        return self._reply(job.id, job.command.name, job.args)

    def _reply(self, rid: int, name: str, args: Wire) -> list:
        """Run command `name` and encode its reply (or error); the caller holds `lock`."""
        try:
            body, frames = self._handlers[name](self, args)
            self.executed[name] += 1
            return protocol.encode_reply(rid, body, frames)
        except Exception as err:  # every failure becomes an error reply; serving goes on
            if not isinstance(err, HeedError):
                self.log("error", f"{name} failed: {traceback.format_exc(limit=3)!r}")
            return protocol.encode_error(rid, err)

    def _admit(self, job: Job) -> None:
        """Refuse a job whose session ended or whose deadline passed while it waited."""
        name = job.command.name
        if not self.sessions.valid(job.session):
            raise BridgeRefused(f"the session ended before {name} could start; not run")
        late = time.monotonic() - job.deadline
        if late > 0:
            raise BridgeRefused(
                f"{name} waited {late * 1000:.0f} ms past its deadline behind other commands; "
                "not run"
            )

    def try_now(self, rid: int, command: Command, args: Wire) -> list | None:
        """The reply of quick read `rid` run right now (session and deadline just checked
        by the server loop), or None when the robot is busy."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            return self._reply(rid, command.name, args)
        finally:
            self.lock.release()

    def _run(self) -> None:
        while True:
            wait = max(0.0, self._next_due() - time.monotonic())
            try:
                job = self.jobs.get(timeout=wait)
            except queue.Empty:
                job = False
            if job is None:
                return
            with self.lock:
                if job:
                    self._execute(job)
                self.tick()

    def _execute(self, job: Job) -> None:
        self.current = job
        try:
            reply = self.answer(job)
        finally:
            self.current = None
        if job.command.motion:
            self._sample(time.monotonic())
        head = [job.session.encode(), struct.pack(">Q", job.id)]
        codec.send(self.results, [*head, *reply])

    # --- streams (robot thread, lock held) -------------------------------------------------
    def _next_due(self) -> float:
        if self.streamer.cameras:
            return min(self._next_sample, self.streamer.next_camera)
        return self._next_sample

    def tick(self) -> None:
        """Sample and publish what is due; drivers call it during blocking commands."""
        now = time.monotonic()
        if now >= self._next_sample:
            self._sample(now)
        s = self.streamer
        if s.cameras and now >= s.next_camera:
            s.next_camera = now + s.camera_period
            for name in s.cameras:
                frames = Frames.empty()
                frame = self.robot.camera(name)
                body = protocol.camera_to_wire(frame, frames, s.codec)
                s.send(f"camera/{name}", frame.stamp, body, frames)

    def _sample(self, now: float) -> None:
        state = self.robot.state()
        self.latest = (state, now)
        period = self.streamer.state_period
        if period is not None:
            self.streamer.send("state", state.stamp, protocol.state_to_wire(state))
        self._next_sample = now + min(period or 1.0, 1.0 / IDLE_SAMPLE_HZ)


# --- handlers: one per robot command ----------------------------------------------------------
@HANDLERS.register("state")
def _state(host: RobotHost, args: Any) -> Answer:
    return protocol.state_to_wire(host.robot.state()), None


@HANDLERS.register("clock")
def _clock(host: RobotHost, args: Any) -> Answer:
    return Time(float(host.robot.clock())), None


@HANDLERS.register("inverse_kinematics")
def _ik(host: RobotHost, args: PoseArgs) -> Answer:
    q = host.robot.inverse_kinematics(protocol.pose_from_wire(args.pose))
    return Joints(protocol.floats(q)), None


@HANDLERS.register("move_ee")
def _move(host: RobotHost, args: MoveArgs) -> Answer:
    result = host.safe.move_ee(protocol.pose_from_wire(args.pose), args.speed)
    return protocol.motion_to_wire(result), None


@HANDLERS.register("open_gripper")
def _open(host: RobotHost, args: OpenArgs) -> Answer:
    return protocol.gripper_to_wire(host.safe.open_gripper(args.width)), None


@HANDLERS.register("close_gripper")
def _close(host: RobotHost, args: CloseArgs) -> Answer:
    return protocol.gripper_to_wire(host.safe.close_gripper(args.force)), None


@HANDLERS.register("camera")
def _camera(host: RobotHost, args: CameraArgs) -> Answer:
    frames = Frames.empty()
    frame = host.robot.camera(args.name)
    image_codec = host.streamer.codec if args.codec is UNSET else args.codec
    return protocol.camera_to_wire(frame, frames, image_codec), frames


def _objects(host: RobotHost) -> Objects:
    return Objects(tuple(protocol.object_to_wire(o) for o in host.episodes().objects()))


@HANDLERS.register("episode.reset")
def _reset(host: RobotHost, args: EpisodeArgs) -> Answer:
    episodes = host.episodes()
    if not isinstance(args.episode, dict):
        raise EpisodeRefused("episode.reset needs an episode map (Episode.to_dict())")
    episodes.reset_episode(args.episode)
    return _objects(host), None


@HANDLERS.register("episode.objects")
def _episode_objects(host: RobotHost, args: Any) -> Answer:
    return _objects(host), None


@HANDLERS.register("episode.check")
def _check(host: RobotHost, args: CheckArgs) -> Answer:
    results = host.episodes().check(args.predicates)
    return Results(tuple(Result(bool(ok), str(d)[:2048]) for ok, d in results)), None


_unhandled = [n for n in COMMANDS if COMMANDS.get(n).robot and n not in HANDLERS]
if _unhandled:
    raise RuntimeError(f"bridge commands without a robot handler: {_unhandled}")
