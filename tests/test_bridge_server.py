"""The bridge end to end: servers run in subprocesses on 127.0.0.1 and are always killed.

Drivers: the simulator (``sim``) and `test_bridge_drivers.SlowRobot`, a fake robot whose
motions take wall-clock time and stop on `stop()` from another thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from bridge import auth, protocol
from bridge.client import BridgeClient, _Heartbeat, connect_robot
from bridge.errors import (
    BridgeDisconnected,
    BridgeRefused,
    BridgeTimeout,
    CommandInterrupted,
    EpisodeRefused,
    ProtocolError,
)
from bridge.server import ServerConfig
from heed.bridge_cmd import bridge_app
from skills.errors import SafetyError
from skills.robot import Pose

REPO = Path(__file__).resolve().parents[1]
SLOW = "test_bridge_drivers:SlowRobot"
FAR = Pose.top_down(0.5, 0.25, 0.3)  # 0.27 m from the fake robot's start: 5.4 s at 0.05 m/s
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)])}
EPISODE = {
    "name": "bridge",
    "episodes": [
        {
            "id": "red-in-bowl",
            "seed": 3,
            "objects": [
                {"name": "red block", "type": "block", "color": "red"},
                {"name": "blue bowl", "type": "bowl", "color": "blue"},
                {"name": "green block", "type": "block", "color": "green"},
            ],
            "instruction": "put the red block in the blue bowl",
            "success": [{"in": ["red block", "blue bowl"]}, {"unmoved": ["green block"]}],
        }
    ],
}

# A controlling client that starts a long motion, then obeys its stdin: "raw" sends a move
# with its (by then ended) session on a plain socket that queues across a partition.
CLIENT = r"""
import json, sys, threading, time, zmq
from bridge import protocol
from bridge.client import connect_robot
from skills.robot import Pose
client = connect_robot(sys.argv[1], timeout_s=1.0)
session, offset = client.session, client.server_time() - time.monotonic()
raw = zmq.Context.instance().socket(zmq.DEALER)
raw.linger = 0
raw.connect(client.url)
SAY = threading.Lock()
def say(**kw):
    with SAY:  # two threads print: keep each JSON line whole
        print(json.dumps(kw), flush=True)
def move():
    try:
        r = client.move_ee(Pose.top_down(*json.loads(sys.argv[2])), float(sys.argv[3]))
        say(event="moved", stopped=r.stopped)
    except Exception as err:
        say(event="move_failed", error=type(err).__name__, message=str(err))
threading.Thread(target=move, daemon=True).start()
say(event="moving", session=session)
for line in sys.stdin:
    pose = protocol.pose_to_wire(Pose.top_down(0.35, -0.25, 0.3))
    deadline = time.monotonic() + offset + 60
    args = {"pose": pose, "speed": 0.05}
    raw.send_multipart(protocol.encode_request(10**6, session, deadline, "move_ee", args))
    reply = protocol.decode_server(raw.recv_multipart()) if raw.poll(15000) else None
    say(event="raw_reply", body=reply.body if reply else None)
"""


# --- processes ------------------------------------------------------------------------------
@dataclass
class Server:
    """A bridge server subprocess and its JSON event log."""

    proc: subprocess.Popen
    log: Path
    url: str = ""

    def read_events(self) -> list[dict]:
        lines = self.log.read_text().splitlines()
        whole = [line for line in lines if line.startswith("{") and line.endswith("}")]
        return [json.loads(line) for line in whole]  # (a line being written is skipped)

    def wait_event(self, kind: str, timeout_s: float = 10.0, count: int = 1) -> dict:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            found = [e for e in self.read_events() if e["event"] == kind]
            if len(found) >= count:
                return found[count - 1]
            if self.proc.poll() is not None:
                pytest.fail(f"server exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)
        pytest.fail(f"no {kind!r} event within {timeout_s} s: {self.log.read_text()[-2000:]}")


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the process group `proc` leads (started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        kill(proc, signal.SIGCONT)
        kill(proc, signal.SIGTERM)
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            kill(proc)
            proc.wait(3)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen]]:
    """Subprocesses the test starts; all are stopped at the end, whatever happens."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in reversed(started):
        _stop(proc)


def start_server(
    started: list[subprocess.Popen],
    log_dir: Path,
    robot: str = SLOW,
    port: int | str = "*",
    *extra: str,
    netns: str | None = None,
) -> Server:
    """Start ``heed bridge serve`` and wait until it is ready."""
    log = log_dir / f"server-{len(started)}.jsonl"
    cmd = [sys.executable, "-m", "heed.bridge_cmd", "serve", "--robot", robot, "--json"]
    cmd += ["--bind", f"tcp://127.0.0.1:{port}", *extra]
    if netns is not None:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=ENV, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    started.append(proc)
    server = Server(proc, log)
    ready = server.wait_event("ready", 60.0)
    server.url = ready["endpoint"]
    return server


def start_client(
    started: list[subprocess.Popen], url: str, target: Pose = FAR, speed: float = 0.05, netns=None
) -> tuple[subprocess.Popen, queue.Queue]:
    """Start the CLIENT script; return it and a queue of its JSON lines."""
    cmd = [sys.executable, "-c", CLIENT, url, json.dumps(target.position), str(speed)]
    if netns is not None:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started.append(proc)
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(json.loads(line))

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def next_line(lines: queue.Queue, event: str, timeout_s: float = 30.0) -> dict:
    end = time.monotonic() + timeout_s
    while (left := end - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line["event"] == event:
            return line
    pytest.fail(f"the client printed no {event!r} within {timeout_s} s")


@pytest.fixture
def clients() -> Iterator[Callable[..., BridgeClient]]:
    """`connect(url, **options)`; every client is closed at the end."""
    made: list[BridgeClient] = []

    def connect(url: str, **options: object) -> BridgeClient:
        made.append(connect_robot(url, **options))
        return made[-1]

    yield connect
    for client in made:
        client.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One SlowRobot server for the tests that leave it serving."""
    started: list[subprocess.Popen] = []
    try:
        yield start_server(
            started, tmp_path_factory.mktemp("shared"), SLOW, "*", "--state-hz", "200"
        )
    finally:
        for proc in started:
            _stop(proc)


def wait_for(predicate: Callable[[], object], timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            pytest.fail("condition not met in time")
        time.sleep(0.02)


def free_port_pair() -> int:
    """A port p with p + 1 also free (command + stream), on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b, contextlib.suppress(OSError):
                b.bind(("127.0.0.1", port + 1))
                return port
    pytest.fail("no free port pair")


def raw_socket(
    url: str, immediate: bool = True, keys: Path | None = None, routing_id: bytes = b""
) -> zmq.Socket:
    """A DEALER to `url`; `keys`: a client keys folder; `routing_id`: the identity it claims."""
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.setsockopt(zmq.IMMEDIATE, int(immediate))
    if keys is not None:
        auth.secure_client(s, auth.load_client_keys(keys))
    if routing_id:
        s.routing_id = routing_id
    s.connect(url)
    return s


def raw_reply(s: zmq.Socket, timeout_s: float = 3.0) -> protocol.Reply | None:
    if not s.poll(timeout_s * 1000):
        return None
    reply = protocol.decode_server(s.recv_multipart())
    assert isinstance(reply, protocol.Reply)
    return reply


def raw_hello(s: zmq.Socket, role: str = "observe", client: str = "raw", **more: object) -> dict:
    args = {"role": role, "client": client, "client_id": os.urandom(4).hex(), **more}
    s.send_multipart(protocol.encode_request(1, "", None, "hello", args))
    return raw_reply(s).body


def raw_request(s: zmq.Socket, hello: dict, rid: int, cmd: str, args: dict) -> protocol.Reply:
    """Send request `rid` for the session of `hello` (deadline 30 s on); its reply."""
    s.send_multipart(protocol.encode_request(rid, hello["session"], hello["time"] + 30, cmd, args))
    return raw_reply(s)


def raw_heartbeat(s: zmq.Socket, session: str, timeout_s: float = 3.0) -> protocol.HeartbeatReply:
    s.send_multipart(protocol.encode_heartbeat(session, time.monotonic()))
    assert s.poll(timeout_s * 1000), "no heartbeat reply"
    reply = protocol.decode_server(s.recv_multipart())
    assert isinstance(reply, protocol.HeartbeatReply)
    return reply


# --- an episode through the bridge ----------------------------------------------------------
def _run_episode(robot: object, env: object, episode: object) -> dict:
    from skills.primitives import Skills

    result = Skills(robot, env).put_first_on_second("red block", "blue bowl")
    checks = env.check(episode.success)
    return {
        "skill": (result.success, result.message),
        "checks": [(c.ok, c.detail) for c in checks],
        "objects": sorted((o.name, o.position, o.yaw) for o in env.objects()),
        "state": robot.state().ee_pose,
    }


def test_an_episode_through_the_bridge_matches_the_local_run(procs, tmp_path, clients) -> None:
    from sim.env import TabletopEnv
    from sim.suite import parse_suite

    episode = parse_suite(EPISODE, "test").episodes[0]
    with TabletopEnv.from_episode(episode) as env:
        local = _run_episode(env.robot, env, episode)
        initial = env.initial
    # This test compares results, not the watchdog: a lenient one keeps a loaded CI machine
    # (heartbeats starved while the server builds the scene) from ending the session.
    server = start_server(procs, tmp_path, "sim", "*", "--watchdog-ms", "2000")
    client = clients(server.url, timeout_s=10.0)
    remote = client.start_episode(episode)
    assert remote.initial == initial
    bridged = _run_episode(client, remote, episode)
    assert bridged == local
    assert local["skill"][0] and all(ok for ok, _ in local["checks"])
    assert [r.ok for r in client.check()] == [ok for ok, _ in local["checks"]]


def test_a_hardware_driver_refuses_episode_commands(shared, clients) -> None:
    from sim.suite import parse_suite

    client = clients(shared.url, role="observe")
    message = "episode set-up needs a simulator behind the bridge (this robot is fake-panda)"
    with pytest.raises(EpisodeRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        client.objects()
    with pytest.raises(BridgeRefused, match="needs the controlling session"):
        client.start_episode(parse_suite(EPISODE, "t").episodes[0])


# --- failures of the link -------------------------------------------------------------------
def test_killing_the_server_mid_motion_fails_fast(procs, tmp_path, clients) -> None:
    server = start_server(procs, tmp_path)
    client = clients(server.url, timeout_s=2.0)
    observer = clients(server.url, role="observe")
    outcome: dict = {}

    def move() -> None:
        try:
            client.move_ee(FAR, 0.05)
        except Exception as err:  # recorded for the asserts below
            outcome["error"], outcome["at"] = err, time.monotonic()

    mover = threading.Thread(target=move)
    mover.start()
    wait_for(lambda: observer.status().get("busy") == "move_ee")
    kill(server.proc)
    killed = time.monotonic()
    mover.join(5.0)
    assert not mover.is_alive(), "the client hangs after the server died"
    assert isinstance(outcome["error"], BridgeDisconnected)
    assert "lost the bridge at" in str(outcome["error"])
    assert outcome["at"] - killed < client.timeout_s
    with pytest.raises(BridgeDisconnected, match="robot state is unknown: call connect"):
        client.state()


def test_closing_during_a_motion_stops_it_and_returns(procs, tmp_path, clients) -> None:
    server = start_server(procs, tmp_path)
    client = connect_robot(server.url)
    observer = clients(server.url, role="observe")
    outcome: dict = {}

    def move() -> None:
        try:
            outcome["result"] = client.move_ee(FAR, 0.05)
        except BridgeDisconnected as err:
            outcome["error"] = err

    mover = threading.Thread(target=move)
    mover.start()
    wait_for(lambda: observer.status().get("busy") == "move_ee")
    started = time.monotonic()
    client.close()
    mover.join(5.0)
    assert not mover.is_alive() and time.monotonic() - started < 2.0
    assert outcome.get("error") is not None or outcome["result"].stopped
    status = observer.status()
    assert "controller" not in status and status["last_stop"]["reason"] == "the client said bye"


@pytest.mark.parametrize("robot", [SLOW, "sim"])
def test_a_silent_client_triggers_the_watchdog_and_nothing_replays(procs, tmp_path, clients, robot):
    slow = robot == SLOW
    server = start_server(procs, tmp_path, robot)
    observer = clients(server.url, role="observe")
    target, speed = (FAR, 0.05) if slow else (Pose.top_down(0.62, 0.25, 0.3), 0.01)
    client, lines = start_client(procs, server.url, target, speed)
    next_line(lines, "moving")
    wait_for(lambda: observer.status().get("busy") == "move_ee")
    width = observer.state().gripper_width
    kill(client, signal.SIGSTOP)
    stopped_at = time.monotonic()
    event = server.wait_event("watchdog", 5.0)
    assert (
        "no message from 'heed'" in event["message"]
        and "gripper is left as it is" in event["message"]
    )
    wait_for(lambda: observer.status().get("busy") is None, 5.0)
    assert time.monotonic() - stopped_at < 3.0
    status = observer.status()
    assert status["watchdog_stops"] == 1 and "controller" not in status
    state = observer.state()
    assert abs(state.ee_pose.position[1] - target.position[1]) > 0.02  # stopped short
    assert state.gripper_width == pytest.approx(width, abs=1e-3)  # never opened
    kill(client, signal.SIGCONT)
    client.stdin.write("raw\n")
    client.stdin.flush()
    reply = next_line(lines, "raw_reply")
    assert (
        reply["body"]["kind"] == "refused" and "session ended (watchdog" in reply["body"]["message"]
    )
    assert observer.status()["executed"]["move_ee"] == 1


def _netns(name: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", name, *cmd], capture_output=True, text=True)


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh network namespace with only its loopback up; skipped where not permitted."""
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command: cannot make a network namespace")
    name = f"heedbridge{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"network namespaces not permitted here: {made.stderr.strip()}")
    try:
        _netns(name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_a_network_partition_stops_the_robot_and_replays_nothing(procs, tmp_path, netns) -> None:
    server = start_server(procs, tmp_path, SLOW, "*", netns=netns)
    client, lines = start_client(procs, server.url, netns=netns)
    next_line(lines, "moving")
    time.sleep(0.3)  # the motion is under way
    netem = _netns(netns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "loss", "100%")
    cut = ["tc", "qdisc", "del", "dev", "lo", "root"]
    if netem.returncode != 0:  # no netem in this kernel: take the loopback down instead
        assert _netns(netns, "ip", "link", "set", "lo", "down").returncode == 0
        cut = ["ip", "link", "set", "lo", "up"]
    try:
        event = server.wait_event("watchdog", 5.0)
        assert "no message from 'heed'" in event["message"]
        client.stdin.write("raw\n")  # queued in the partitioned connection
        client.stdin.flush()
        time.sleep(0.3)
    finally:
        assert _netns(netns, *cut).returncode == 0
    reply = next_line(lines, "raw_reply", 20.0)
    assert (
        reply["body"]["kind"] == "refused" and "session ended (watchdog" in reply["body"]["message"]
    )
    status = _netns(netns, sys.executable, "-m", "heed.bridge_cmd", "status", server.url, "--json")
    report = json.loads(status.stdout)
    assert report["executed"] == {"move_ee": 1} and report["watchdog_stops"] == 1


def test_a_restarted_server_runs_nothing_queued_before(procs, tmp_path, clients) -> None:
    port = free_port_pair()
    server = start_server(procs, tmp_path, SLOW, port)
    client = clients(server.url, timeout_s=1.0)
    old_session = client.session
    queued = raw_socket(server.url, immediate=False)  # this socket queues while disconnected
    kill(server.proc)
    wait_for(lambda: not client.connected, 5.0)
    with pytest.raises(BridgeDisconnected):
        client.move_ee(FAR, 0.05)
    args = {"pose": protocol.pose_to_wire(FAR), "speed": 0.05}
    queued.send_multipart(
        protocol.encode_request(99, old_session, time.monotonic() + 60, "move_ee", args)
    )
    server = start_server(procs, tmp_path, SLOW, port)
    reply = raw_reply(queued, 10.0)
    assert reply is not None and reply.body["kind"] == "refused"
    assert "unknown session" in reply.body["message"]
    client.connect()
    assert client.session != old_session and client.state().ee_pose.position[1] == 0.0
    assert "move_ee" not in client.status()["executed"]


# --- a starved client -----------------------------------------------------------------------
@pytest.fixture
def starve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], threading.Event]]:
    """`starve(session)` holds that session's heartbeat thread before its next beat, as a
    starved process would be, until the returned event is set (at the latest at the end)."""
    gates: dict[str, threading.Event] = {}
    encode = protocol.encode_heartbeat

    def held(session: str, t: float) -> list[bytes]:
        gate = gates.get(session)
        if gate is not None:
            gate.wait(30.0)
        return encode(session, t)

    def starve_session(session: str) -> threading.Event:
        gates[session] = threading.Event()
        return gates[session]

    monkeypatch.setattr(protocol, "encode_heartbeat", held)
    yield starve_session
    for gate in gates.values():
        gate.set()


def test_a_starved_heartbeat_thread_waits_for_the_reply_to_its_next_beat(starve) -> None:
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    beat = _Heartbeat(dealer, "s1", 0.05, 1.0, 0.0)

    def answer(seconds: float) -> int:
        """Answer the heartbeats waiting and those coming within `seconds`; how many."""
        n, end = 0, time.monotonic() + seconds
        while router.poll(max(0.0, end - time.monotonic()) * 1000):
            routing, *parts = router.recv_multipart()
            t = protocol.decode_client(parts).t
            reply = protocol.encode_heartbeat_reply(True, [], time.monotonic(), t, None)
            router.send_multipart([routing, *reply])
            n += 1
        return n

    beat.start()
    try:
        assert answer(0.2) >= 2
        gate = starve("s1")
        answer(0.2)  # a beat already on its way
        time.sleep(1.3)  # starved for longer than the link timeout: nothing sent meanwhile
        gate.set()
        assert router.poll(5000)  # the next beat comes
        time.sleep(0.3)  # and the (equally starved) server answers it late, within the timeout
        answer(0.0)
        time.sleep(0.1)
        assert beat.lost is None
        wait_for(lambda: beat.lost, 5.0)  # a beat left unanswered for 1 s still loses the link
        assert beat.lost.startswith("no heartbeat reply for")
    finally:
        beat.close()
        router.close()


def test_a_starved_client_is_told_of_the_watchdog_stop_and_goes_on(
    procs, tmp_path, clients, starve
) -> None:
    server = start_server(procs, tmp_path)
    client = clients(server.url, recover=True)
    observer = clients(server.url, role="observe")
    told: list = []
    client.listeners.append(told.append)
    first = client.session
    outcome: dict = {}
    mover = threading.Thread(target=lambda: outcome.update(result=client.move_ee(FAR, 0.05)))
    mover.start()
    wait_for(lambda: observer.status().get("busy") == "move_ee")
    gate = starve(first)
    server.wait_event("watchdog", 5.0)  # the server stays strict: a silent client is stopped
    mover.join(5.0)
    stopped = outcome["result"]
    assert stopped.stopped and not stopped.reached
    gate.set()
    wait_for(lambda: not client.connected, 5.0)  # its next beat hears the session ended
    near = Pose.top_down(0.5, stopped.final.position[1] - 0.02, 0.3)
    assert client.move_ee(near, 0.2).reached  # after a new handshake, from the safe stop
    assert client.session not in (None, first)
    [recovery] = told
    assert recovery.lost.startswith("session ended (watchdog: no message from 'heed'")
    assert recovery.server_stop.startswith("watchdog: no message from 'heed'")
    assert recovery.state.ee_pose.position == pytest.approx(stopped.final.position, abs=1e-3)
    line = recovery.line()
    assert "\n" not in line and len(line) < 600 and "robot stopped by the server" in line
    status = observer.status()
    assert status["executed"]["move_ee"] == 2 and status["watchdog_stops"] == 1


def test_a_command_under_way_when_the_link_is_lost_is_reported_not_repeated(
    procs, tmp_path, clients, starve
) -> None:
    hold = tmp_path / "camera-may-answer"
    server = start_server(procs, tmp_path, SLOW, "*", "-o", f"hold={hold}")
    client = clients(server.url, recover=True)
    observer = clients(server.url, role="observe")
    viewer = clients(server.url, role="observe")  # (a client's calls wait for each other)
    camera = threading.Thread(target=lambda: viewer.camera("front"), daemon=True)
    failed: dict = {}

    def move() -> None:
        try:
            client.move_ee(FAR, 0.05)
        except Exception as err:  # recorded for the asserts below
            failed["error"] = err

    mover = threading.Thread(target=move)
    try:
        camera.start()  # the robot thread is busy until `hold` exists: a move waits behind it
        wait_for(lambda: observer.status().get("busy") == "camera")
        mover.start()
        wait_for(lambda: client._link.heartbeat.running)  # the server lists the move as queued
        gate = starve(client.session)
        server.wait_event("session_end", 5.0)
        gate.set()
        mover.join(10.0)
    finally:
        hold.touch()
    error = failed["error"]
    assert isinstance(error, CommandInterrupted)
    message = str(error)
    assert message.startswith("move_ee (request ") and "not repeated" in message
    assert "session ended (watchdog" in message and "\n" not in message
    assert error.recovery.state.ee_pose.position[1] == 0.0 and client.connected
    camera.join(10.0)
    assert "move_ee" not in observer.status()["executed"]  # the queued move never ran
    assert client.move_ee(Pose.top_down(0.5, 0.02, 0.3), 0.2).reached
    assert observer.status()["executed"]["move_ee"] == 1


def test_a_retried_request_runs_once(shared) -> None:
    s = raw_socket(shared.url)
    hello = raw_hello(s, "control", "retry")
    before = _executed(shared)
    move = {"pose": protocol.pose_to_wire(Pose.top_down(0.5, 0.0, 0.29)), "speed": 0.1}
    request = protocol.encode_request(2, hello["session"], hello["time"] + 30, "move_ee", move)
    for _ in range(3):  # lazy-pirate style: the same request, resent while it runs
        s.send_multipart(request)
    first = raw_reply(s)
    s.send_multipart(request)  # and once more after it finished: the cached reply
    second = raw_reply(s)
    assert first.ok and first.body == second.body
    assert raw_reply(s, 0.3) is None
    assert _executed(shared).get("move_ee", 0) == before.get("move_ee", 0) + 1
    observer = raw_socket(shared.url)  # (the raw controller above sent no heartbeats)
    session = raw_hello(observer)
    read = protocol.encode_request(2, session["session"], session["time"] + 30, "state", {})
    for _ in range(2):  # a repeated read is simply answered again
        observer.send_multipart(read)
        assert raw_reply(observer).ok


def observer_status(server: Server) -> dict:
    with BridgeClient(server.url, role="observe") as observer:
        return observer.status()


def _executed(server: Server) -> dict:
    return observer_status(server)["executed"]


# --- security and hostile input ------------------------------------------------------------
def make_keys(root: Path, admitted: tuple[str, ...], strangers: tuple[str, ...] = ()) -> Path:
    """A server keys folder ``root/srv`` admitting the clients named `admitted`; each client,
    and each of `strangers` (not admitted), gets a keys folder ``root/NAME``."""
    server_dir = root / "srv"
    auth.generate(server_dir, "server")
    (server_dir / "authorized").mkdir()
    for name in (*admitted, *strangers):
        auth.generate(root / name, "client")
        shutil.copy(server_dir / "server.key", root / name / "server.key")
        if name in admitted:
            shutil.copy(root / name / "client.key", server_dir / "authorized" / f"{name}.key")
    return server_dir


def test_only_listed_client_keys_are_admitted(procs, tmp_path, clients) -> None:
    server_dir = make_keys(tmp_path, ("cli",), ("other",))
    client_dir, stranger_dir = tmp_path / "cli", tmp_path / "other"
    server = start_server(procs, tmp_path, SLOW, "*", "--keys", str(server_dir))
    assert server.wait_event("ready")["auth"] == "curve"  # start-up check: a random key refused
    client = clients(server.url, keys=client_dir)
    assert client.server["auth"] == "curve" and client.state().gripper_width > 0
    for keys in (stranger_dir, None):
        with pytest.raises(BridgeTimeout, match="no reply from"):
            clients(server.url, keys=keys, timeout_s=0.5, retries=0)


BAD_MESSAGES = [
    ([b"\x00garbage\xff"], "not a msgpack message"),
    ([msgpack.packb({"v": 9, "type": "req"})], "protocol version 9 is not supported"),
    (protocol.encode_request(5, "x", 1e9, "teleport", {}), "unknown command 'teleport'"),
    (protocol.encode_request(5, "x", 1e9, "move_ee", {"speed": "fast"}), "args.speed: expected"),
    ([msgpack.packb({"v": protocol.VERSION, "type": "req"})], "header: missing key"),
    ([*protocol.encode_request(5, "x", 1e9, "state", {}), b"\0"], "requests carry no array"),
    (protocol.encode_request(5, "no-such-session", 1e9, "state", {}), "unknown session"),
]


def test_hostile_messages_get_errors_while_a_good_client_works(procs, tmp_path, clients) -> None:
    server = start_server(procs, tmp_path, SLOW, "*", "--max-message-mib", "1")
    good = clients(server.url)
    bad = raw_socket(server.url)
    for parts, message in BAD_MESSAGES:
        bad.send_multipart(parts)
        reply = raw_reply(bad)
        assert reply is not None and not reply.ok and message in reply.body["message"]
        assert good.state().gripper_width > 0
    bad.send_multipart([b"x" * (2 << 20)])  # over MAXMSGSIZE: dropped with the connection
    assert raw_reply(bad, 0.5) is None
    assert good.state().gripper_width > 0
    bad.send_multipart(BAD_MESSAGES[0][0])  # the dropped peer reconnects and is served
    assert "not a msgpack message" in raw_reply(bad, 5.0).body["message"]
    status = good.status()
    assert status["malformed"] >= 5 and status["refused"] >= 1


def test_the_server_checks_every_command_against_the_safety_envelope(shared, clients) -> None:
    client = clients(shared.url)
    with pytest.raises(SafetyError, match=r"workspace\.x") as info:
        client.move_ee(Pose.top_down(0.95, 0.0, 0.3), 0.1)
    assert info.value.limit == "workspace.x" and info.value.value == 0.95
    with pytest.raises(SafetyError, match=r"gripper\.force"):
        client.close_gripper(1000.0)
    with pytest.raises(ProtocolError, match=r"args\.speed: expected a finite number"):
        client.move_ee(Pose.top_down(0.5, 0.0, 0.3), float("nan"))
    client.move_ee(Pose.top_down(0.5, 0.0, 0.28), 0.5)  # the envelope lets this through


def test_one_controller_many_observers(shared, clients) -> None:
    first = clients(shared.url, client="first")
    with pytest.raises(BridgeRefused, match="the robot is controlled by 'first'"):
        clients(shared.url, client="second")
    observer = clients(shared.url, role="observe")
    assert observer.state().joints == first.state().joints
    with pytest.raises(BridgeRefused, match="move_ee needs the controlling session"):
        observer.move_ee(Pose.top_down(0.5, 0.0, 0.3), 0.1)
    observer.stop()  # stopping is never refused
    status = observer.status()
    assert status["controller"]["client"] == "first" and status["observers"] >= 1
    first.close()
    clients(shared.url, client="second").state()


def test_a_session_speaks_only_from_its_own_connection(shared, clients) -> None:
    """Issue 13: an observer read the controller's token in `status`, and with it moved the
    arm, locked the controller out (request id 2**53) and ended its session (bye)."""
    owner = clients(shared.url, client="owner")
    spy = raw_socket(shared.url)
    mine = raw_hello(spy)
    status = raw_request(spy, mine, 2, "status", {})
    assert status.ok and owner.session not in json.dumps(status.body)
    stolen = {**mine, "session": owner.session}
    move = {"pose": protocol.pose_to_wire(Pose.top_down(0.5, 0.1, 0.3)), "speed": 0.5}
    for rid, cmd, args in [(3, "move_ee", move), (2**53 - 1, "state", {}), (4, "bye", {})]:
        reply = raw_request(spy, stolen, rid, cmd, args)
        assert reply.body["kind"] == "bad_request"
        assert "this session belongs to another connection" in reply.body["message"]
    reply = raw_request(spy, stolen, 2**53, "move_ee", move)
    assert "header.id: expected `int` <= 9007199254740991" in reply.body["message"]
    beat = raw_heartbeat(spy, owner.session)
    assert not beat.session_ok and "another connection" in beat.reason
    assert owner.move_ee(Pose.top_down(0.5, 0.0, 0.3), 0.5).reached and owner.connected
    assert observer_status(shared)["controller"]["client"] == "owner"


def test_heartbeats_from_another_connection_keep_no_session_alive(shared) -> None:
    """Issue 13: a spy's heartbeats with a silent controller's token kept its session alive."""
    owner = raw_socket(shared.url)
    hello = raw_hello(owner, "control", "silent")
    spy = raw_socket(shared.url)
    end = time.monotonic() + 3 * hello["watchdog_s"]
    while time.monotonic() < end:  # at the pace of a client's heartbeats
        raw_heartbeat(spy, hello["session"])
        time.sleep(hello["heartbeat_s"])
    reply = raw_request(owner, hello, 2, "state", {})
    assert (
        not reply.ok
        and "session ended (watchdog: no message from 'silent'" in reply.body["message"]
    )


def test_observers_cannot_starve_the_controller(procs, tmp_path, clients) -> None:
    """Issue 13: 300 queued camera reads of an observer made the controller's move miss its
    deadline. Each session's queue is bounded and the controller's commands go first."""
    server = start_server(procs, tmp_path, SLOW, "*", "-o", "camera_ms=50")
    owner = clients(server.url, timeout_s=0.5)
    spy = raw_socket(server.url)
    mine = raw_hello(spy)
    front = {"name": "front"}
    for rid in range(2, 302):
        spy.send_multipart(
            protocol.encode_request(rid, mine["session"], mine["time"] + 60, "camera", front)
        )
    replies = [raw_reply(spy)]  # the server is taking them
    assert owner.move_ee(Pose.top_down(0.5, 0.0, 0.3), 0.5).reached
    replies += [raw_reply(spy) for _ in range(299)]
    busy = [r.body for r in replies if not r.ok]
    limit = ServerConfig().max_queued
    assert len(busy) >= 300 - limit and all(b["kind"] == "busy" for b in busy)
    assert f"busy: this session has {limit} robot commands waiting or running" in busy[0]["message"]


def test_a_request_id_reused_with_other_arguments_is_refused(shared) -> None:
    """Issue 13: a retried id with another body got the first reply, with ok=True."""
    s = raw_socket(shared.url)
    hello = {"role": "observe", "client": "raw", "client_id": os.urandom(4).hex()}
    s.send_multipart(protocol.encode_request(1, "", None, "hello", hello))
    mine = raw_reply(s).body
    s.send_multipart(protocol.encode_request(1, "", None, "hello", {**hello, "role": "control"}))
    reused = raw_reply(s)  # (the first reply, with ok=True, before the fix)
    assert not reused.ok and "request 1 was sent before with other" in reused.body["message"]
    first = raw_request(s, mine, 2, "camera", {"name": "front"})
    again = raw_request(s, mine, 2, "camera", {"name": "front"})
    assert first.ok and again.ok and again.body == first.body  # the cached reply
    other = raw_request(s, mine, 2, "camera", {"name": "front", "codec": "png"})
    assert not other.ok and other.body["kind"] == "bad_request"
    assert "request 2 was sent before with other arguments" in other.body["message"]


def test_with_keys_a_session_is_bound_to_its_clients_key(procs, tmp_path, clients) -> None:
    """A connection with another admitted key is refused, even from a routing id the session
    declared as its own (its heartbeat socket's)."""
    server_dir = make_keys(tmp_path, ("cli", "other"))
    server = start_server(procs, tmp_path, SLOW, "*", "--keys", str(server_dir))
    client = clients(server.url, keys=tmp_path / "cli")
    first = raw_socket(server.url, keys=tmp_path / "cli")
    mine = raw_hello(first, routing_ids=["beats", "spare"])
    beats = raw_socket(server.url, keys=tmp_path / "cli", routing_id=b"beats")
    assert raw_heartbeat(beats, mine["session"]).session_ok
    other = raw_socket(server.url, keys=tmp_path / "other", routing_id=b"spare")
    beat = raw_heartbeat(other, mine["session"])
    assert not beat.session_ok and "another connection" in beat.reason
    assert client.connected and client.state().gripper_width > 0


def test_state_and_camera_streams(procs, tmp_path, clients) -> None:
    server = start_server(procs, tmp_path, SLOW, "*", "--state-hz", "200", "--camera-hz", "20")
    client = clients(server.url, role="observe")
    with client.subscribe(["state", "camera/front"]) as stream:
        got: dict[str, list] = {"state": [], "camera/front": []}
        end = time.monotonic() + 10
        while (len(got["state"]) < 20 or len(got["camera/front"]) < 2) and time.monotonic() < end:
            message = stream.receive(1.0)
            if message is not None:
                got[message.topic].append(message)
    states, frames = got["state"], got["camera/front"]
    assert len(states) >= 20 and len(frames) >= 2
    assert [m.seq for m in states] == sorted(m.seq for m in states)
    assert states[-1].value.stamp >= states[0].value.stamp
    assert frames[0].value.rgb.shape == (4, 4, 3) and frames[0].value.camera == "front"


def test_a_request_over_the_limit_fails_before_sending(shared, clients) -> None:
    client = clients(shared.url, role="observe")
    huge = [{"in": ["x" * 60000]}] * 300
    with pytest.raises(ProtocolError, match="over the 16 MiB limit"):
        client.check(huge)
    with pytest.raises(ProtocolError, match="predicates holds a non-finite number nan"):
        client.check([{"in": ["red block", float("nan")]}])  # refused here as there
    assert client.connected and client.state().gripper_width > 0


def test_fuzzed_messages_never_crash_the_server(shared, clients) -> None:
    s = raw_socket(shared.url)
    parts = st.lists(st.binary(max_size=200), min_size=1, max_size=4) | st.dictionaries(
        st.sampled_from(["v", "type", "id", "session", "deadline", "cmd", "args"]),
        st.none() | st.integers(-5, 2**40) | st.floats() | st.text(max_size=10),
    ).map(lambda d: [msgpack.packb({"v": protocol.VERSION, "type": "req", **d})])

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(parts)
    def send(message: list[bytes]) -> None:
        s.send_multipart(message)
        reply = raw_reply(s, 3.0)
        assert reply is None or not reply.ok

    send()
    good = clients(shared.url, role="observe")
    assert good.state().gripper_width > 0 and shared.proc.poll() is None


# --- the command line -----------------------------------------------------------------------
def test_status_prints_state_latency_and_controller(shared, clients) -> None:
    # on a loaded machine the test process's heartbeat thread can be starved past the
    # shared server's 250 ms watchdog and the session ends: the client (recover=True) takes
    # control again at its next call, as `heed run --robot` does
    client = clients(shared.url, client="arm-operator", recover=True)
    runner = CliRunner()

    def status(*extra: str) -> Result:
        for _ in range(5):
            client.state()
            result = runner.invoke(bridge_app, ["status", shared.url, *extra])
            if "arm-operator" in result.output:
                break
        return result

    result = status("--pings", "5")
    assert result.exit_code == 0, result.output
    assert "controlled by arm-operator" in result.output and "latency: p50" in result.output
    report = json.loads(status("--json", "--pings", "3").output)
    assert report["controller"]["client"] == "arm-operator" and report["latency_ms"]["pings"] == 3


def test_cli_errors_are_one_line(tmp_path) -> None:
    runner = CliRunner()
    cases = [
        (["serve", "--bind", "tcp://0.0.0.0:5555"], "binds to 127.0.0.1 only"),
        (["serve", "--robot", "warp:Drive"], "cannot import warp"),
        (["serve", "--watchdog-ms", "60"], "at least twice heartbeat_s"),
        (["status", "tcp://127.0.0.1:1", "--timeout", "0.3"], "no reply from tcp://127.0.0.1:1"),
        (["status", "http://x"], "write tcp://HOST:PORT"),
    ]
    for args, message in cases:
        result = runner.invoke(bridge_app, args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
    assert runner.invoke(bridge_app, ["keys", str(tmp_path), "--name", "client"]).exit_code == 0
    assert (tmp_path / "client.key_secret").stat().st_mode & 0o777 == 0o600
    again = runner.invoke(bridge_app, ["keys", str(tmp_path), "--name", "client"])
    assert again.exit_code == 2 and "pass --force" in again.output
