"""Bridge benchmark: request latency against a bare echo, stream rates, camera transport, soak.

Servers run as ``heed bridge serve`` subprocesses on 127.0.0.1 with `BenchRobot`, an
in-memory robot whose calls take microseconds, so the numbers are the bridge's own cost:

- **floor**: a bare pyzmq REQ/REP echo in a subprocess (100-byte request, 300-byte reply);
- **requests**: round-trip p50/p99 of a state query and a move command (and a ping, which
  the server loop answers alone), timed in blocks interleaved with the echo, so that the
  load of the machine falls on all of them alike;
- **state stream**: messages per second a subscriber receives from a server publishing
  at ``--state-hz``, and the sequence numbers it missed;
- **camera transport**: 640x480 frames per second that the server already holds
  (BenchRobot returns one frame rendered at start-up), streamed on the PUB socket and
  requested one after another; both include JPEG encoding on the server and decoding
  on the client. The simulator's CPU renderer is timed apart (it makes about 12 such
  frames per second).
- **soak** (``--soak SECONDS``): commands at 20 Hz (move and state query in turn) with
  heartbeats at 50 Hz; the resident memory of server and client is sampled every second.
  A miss is a command refused past its deadline, timed out, or slower than its 50 ms slot.
- **load** (``--load SECONDS``): the soak's commands, by a client that recovers lost links,
  beside 0, 1 and 2 processes spinning on a core each; per minute: sessions the server's
  watchdog ended (the client was alive, so each is a false stop), motions it stopped,
  links the client itself found silent, and commands interrupted. Shared machines are
  noisy: compare settings run together.

Targets: state query p50 within 3x the echo p50; state stream >= 500 Hz; camera
transport >= 30 fps at 640x480. Soak: memory growth < 2 MiB and no miss.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import zmq

from benchmarks.common import (
    Column,
    Verdict,
    console,
    finish,
    now,
    table,
    verdict_table,
)
from skills.robot import (
    CameraFrame,
    GripperResult,
    JointLimits,
    MotionResult,
    Pose,
    RobotSpec,
    RobotState,
)

DEFAULT_JSON = Path("benchmarks/results/bridge.json")
ROBOT = "benchmarks.bridge:BenchRobot"
LOWER = (-2.9, -1.8, -2.9, -3.0, -2.9, -0.08, -2.9)
UPPER = (2.9, 1.8, 2.9, -0.07, 2.9, 3.7, 2.9)
SPIN = "while True: pass"
SOAK_POSES = (Pose.top_down(0.45, -0.05, 0.3), Pose.top_down(0.55, 0.05, 0.3))
ECHO = """
import sys, zmq
s = zmq.Context().socket(zmq.REP)
port = s.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
reply = b"r" * 300
while True:
    s.recv()
    s.send(reply)
"""


class BenchRobot:
    """An in-memory `Robot`: instant motions, and one held 640x480 frame per camera read.

    Options: ``frame=sim`` renders the held frame once with the simulator (realistic
    image content for JPEG); ``frame=noise`` makes a random one without PyBullet.
    """

    def __init__(self, frame: str = "sim") -> None:
        self._spec = RobotSpec(
            name="bench robot",
            joint_names=tuple(f"joint{i}" for i in range(1, 8)),
            joint_limits=JointLimits(LOWER, UPPER),
            gripper_max_width=0.08,
            gripper_max_force=140.0,
            cameras=("front",),
        )
        self._q = tuple((lo + hi) / 2 for lo, hi in zip(LOWER, UPPER, strict=True))
        self._pose = Pose.top_down(0.5, 0.0, 0.3)
        self._width = 0.08
        self._t0 = time.monotonic()
        self._frame = _held_frame(frame)

    def spec(self) -> RobotSpec:
        return self._spec

    def clock(self) -> float:
        return time.monotonic() - self._t0

    def state(self) -> RobotState:
        return RobotState(self._q, self._pose, self._width, None, self.clock())

    def inverse_kinematics(self, pose: Pose) -> tuple[float, ...]:
        return self._q

    def move_ee(self, pose: Pose, speed: float) -> MotionResult:
        self._pose = pose
        return MotionResult(True, pose, pose, 0.0, 0.0)

    def open_gripper(self, width: float | None = None) -> GripperResult:
        self._width = 0.08 if width is None else width
        return GripperResult(self._width, None, 0.0, 0.0)

    def close_gripper(self, force: float) -> GripperResult:
        self._width = 0.0
        return GripperResult(0.0, None, force, 0.0)

    def camera(self, name: str) -> CameraFrame:
        self._frame.stamp = self.clock()
        return self._frame

    def stop(self) -> None:
        pass


def _held_frame(kind: str) -> CameraFrame:
    if kind == "sim":
        from heed.demo import demo_episode
        from sim.env import TabletopEnv

        with TabletopEnv.from_episode(demo_episode(0)) as env:
            return env.robot.camera("front")
    if kind != "noise":
        raise ValueError(f"frame={kind!r}: use sim or noise")
    rng = np.random.default_rng(0)
    return CameraFrame(
        rgb=rng.integers(0, 255, (480, 640, 3), dtype=np.uint8),
        depth=rng.random((480, 640), dtype=np.float32),
        intrinsics=np.eye(3),
        extrinsics=np.eye(4),
        segmentation=np.zeros((480, 640), dtype=np.int32),
        camera="front",
    )


# --- processes ------------------------------------------------------------------------------
@dataclass
class Server:
    """A ``heed bridge serve`` subprocess."""

    proc: subprocess.Popen
    url: str

    def rss_mib(self) -> float:
        return _rss_mib(self.proc.pid)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def serve(*options: str, frame: str = "sim") -> Iterator[Server]:
    """A bridge server with BenchRobot on a free port; stopped on exit."""
    with tempfile.NamedTemporaryFile("w+", suffix=".jsonl") as log:
        cmd = [sys.executable, "-m", "heed.bridge_cmd", "serve", "--robot", ROBOT, "--json"]
        cmd += ["--bind", "tcp://127.0.0.1:*", "--option", f"frame={frame}", *options]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            end = time.monotonic() + 120
            while time.monotonic() < end and proc.poll() is None:
                log.seek(0)
                ready = [json.loads(x) for x in log if '"event": "ready"' in x]
                if ready:
                    yield Server(proc, ready[0]["endpoint"])
                    return
                time.sleep(0.05)
            log.seek(0)
            raise RuntimeError(f"bridge server did not start: {log.read()[-2000:]}")
        finally:
            _stop(proc)


@contextmanager
def echo_server() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", ECHO], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        yield f"tcp://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        _stop(proc)


# --- measurements ---------------------------------------------------------------------------
def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max in microseconds."""
    xs = np.asarray(samples) * 1e6
    return {
        "p50_us": round(float(np.percentile(xs, 50)), 1),
        "p99_us": round(float(np.percentile(xs, 99)), 1),
        "max_us": round(float(xs.max()), 1),
        "n": len(xs),
    }


def interleaved(calls: dict[str, Callable[[], object]], n: int, blocks: int) -> dict[str, dict]:
    """Time each call `n` times, in `blocks` rounds that take turns (after a warm-up)."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(100):
            call()
    per_block = max(1, n // blocks)
    for _ in range(blocks):
        for name, call in calls.items():
            samples = times[name]
            for _ in range(per_block):
                t0 = time.perf_counter()
                call()
                samples.append(time.perf_counter() - t0)
    return {name: percentiles(samples) for name, samples in times.items()}


def request_latency(n: int, blocks: int) -> dict[str, dict]:
    from bridge.client import connect_robot

    with echo_server() as echo_url, serve() as server:
        req = zmq.Context.instance().socket(zmq.REQ)
        req.linger = 0
        req.connect(echo_url)
        payload = b"q" * 100

        def echo() -> None:
            req.send(payload)
            req.recv()

        client = connect_robot(server.url)
        poses = [Pose.top_down(0.5, 0.0, 0.3), Pose.top_down(0.5, 0.01, 0.3)]
        flip = iter(range(10**9))
        try:
            return interleaved(
                {
                    "bare REQ/REP echo": echo,
                    "ping (server loop)": client.ping,
                    "state query": client.state,
                    "move_ee command": lambda: client.move_ee(poses[next(flip) % 2], 0.2),
                },
                n,
                blocks,
            )
        finally:
            client.close()
            req.close()


def stream_rate(state_hz: float, seconds: float) -> dict[str, Any]:
    from bridge.client import connect_robot

    with serve("--state-hz", str(state_hz)) as server:
        client = connect_robot(server.url, role="observe")
        try:
            with client.subscribe(["state"]) as stream:
                stream.receive(5.0)
                seqs = []
                end = time.perf_counter() + seconds
                while time.perf_counter() < end:
                    message = stream.receive(1.0)
                    if message is not None:
                        seqs.append(message.seq)
        finally:
            client.close()
    span = seqs[-1] - seqs[0] + 1 if seqs else 0
    return {
        "configured_hz": state_hz,
        "received_hz": round(len(seqs) / seconds, 1),
        "missed": span - len(seqs),
    }


def camera_transport(camera_hz: float, seconds: float, codec: str) -> dict[str, Any]:
    from bridge.client import connect_robot

    options = ("--state-hz", "0", "--camera-hz", str(camera_hz), "--image-codec", codec)
    with serve(*options) as server:
        client = connect_robot(server.url, role="observe")
        try:
            with client.subscribe(["camera/front"]) as stream:
                first = stream.receive(10.0)
                count, end = 0, time.perf_counter() + seconds
                while time.perf_counter() < end:
                    message = stream.receive(1.0)
                    count += message is not None
            shape = first.value.rgb.shape if first is not None else None
            requested, end = 0, time.perf_counter() + seconds
            while time.perf_counter() < end:
                client.camera("front")
                requested += 1
        finally:
            client.close()
    return {
        "resolution": f"{shape[1]}x{shape[0]}" if shape else None,
        "codec": codec,
        "configured_hz": camera_hz,
        "stream_fps": round(count / seconds, 1),
        "request_fps": round(requested / seconds, 1),
    }


def render_rate(frames: int) -> dict[str, Any]:
    from heed.demo import demo_episode
    from sim.env import TabletopEnv

    with TabletopEnv.from_episode(demo_episode(0)) as env:
        env.robot.camera("front")
        t0 = time.perf_counter()
        for _ in range(frames):
            env.robot.camera("front")
        wall = time.perf_counter() - t0
    return {"renderer": "tiny", "resolution": "640x480", "fps": round(frames / wall, 1)}


def _soak_command(client: Any, k: int) -> None:
    """The soak's `k`-th command: a move and a state query in turn."""
    client.move_ee(SOAK_POSES[k % 2], 0.2) if k % 2 else client.state()


def soak(seconds: float) -> dict[str, Any]:
    """Commands at 20 Hz and heartbeats at 50 Hz for `seconds`; memory and misses."""
    from bridge.client import connect_robot
    from bridge.errors import BridgeRefused, BridgeTimeout

    period = 0.05
    with serve("--heartbeat-ms", "20") as server:
        client = connect_robot(server.url)
        latencies, misses, memory = [], {"deadline": 0, "timeout": 0, "overrun": 0}, []
        start = next_tick = time.perf_counter()
        next_sample, k = start, 0
        try:
            while (t := time.perf_counter()) - start < seconds:
                if t >= next_sample:
                    memory.append((t - start, server.rss_mib(), _rss_mib(os.getpid())))
                    next_sample += 1.0
                t0 = time.perf_counter()
                try:
                    _soak_command(client, k)
                except BridgeRefused:
                    misses["deadline"] += 1
                except BridgeTimeout:
                    misses["timeout"] += 1
                latency = time.perf_counter() - t0
                latencies.append(latency)
                misses["overrun"] += latency > period
                k += 1
                next_tick += period
                time.sleep(max(0.0, next_tick - time.perf_counter()))
        finally:
            client.close()
    return {
        "seconds": seconds,
        "commands": k,
        "command_hz": round(k / seconds, 2),
        "heartbeat_hz": 50,
        "latency": percentiles(latencies),
        "misses": misses,
        "memory": _memory_summary(memory),
    }


def load(seconds: float, busy: int) -> dict[str, Any]:
    """The soak's commands for `seconds` beside `busy` spinning processes; lost links."""
    from bridge.client import Recovery, connect_robot
    from bridge.errors import BridgeError, CommandInterrupted

    hogs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
    losses: list[Recovery] = []
    counts = {"commands": 0, "interrupted": 0, "failed": 0}
    try:
        with serve(frame="noise") as server:
            client = connect_robot(server.url, recover=True)
            client.listeners.append(losses.append)
            start = next_tick = time.perf_counter()
            while time.perf_counter() - start < seconds:
                k = counts["commands"]
                try:
                    _soak_command(client, k)
                except CommandInterrupted:
                    counts["interrupted"] += 1
                except BridgeError:
                    counts["failed"] += 1
                counts["commands"] += 1
                next_tick += 0.05
                time.sleep(max(0.0, next_tick - time.perf_counter()))
            stops = client.status()["watchdog_stops"]
            client.close()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    watchdog = sum(r.lost.startswith("session ended (watchdog") for r in losses)
    minutes = seconds / 60
    return {
        "busy_cores": busy,
        "seconds": seconds,
        **counts,
        "watchdog_ends_per_min": round(watchdog / minutes, 2),
        "watchdog_stops_per_min": round(stops / minutes, 2),
        "client_losses_per_min": round((len(losses) - watchdog) / minutes, 2),
        "losses": [r.lost for r in losses[:20]],
    }


def load_table(rows: list[dict[str, Any]]) -> Any:
    columns = [
        Column("busy cores"),
        Column("commands"),
        Column("watchdog ends/min"),
        Column("watchdog stops/min"),
        Column("client losses/min"),
        Column("interrupted"),
        Column("failed"),
    ]
    cells = [
        [
            str(r["busy_cores"]),
            str(r["commands"]),
            f"{r['watchdog_ends_per_min']:.2f}",
            f"{r['watchdog_stops_per_min']:.2f}",
            f"{r['client_losses_per_min']:.2f}",
            str(r["interrupted"]),
            str(r["failed"]),
        ]
        for r in rows
    ]
    return table("False watchdog stops beside busy cores (20 Hz commands)", columns, cells)


def _memory_summary(samples: list[tuple[float, float, float]]) -> dict[str, Any]:
    """RSS growth from the first to the last tenth of the run (after a 10 % warm-up)."""
    tenth = max(1, len(samples) // 10)
    body = samples[tenth:] or samples
    out: dict[str, Any] = {"samples": len(samples)}
    for column, who in ((1, "server"), (2, "client")):
        head = statistics.median(s[column] for s in body[:tenth])
        tail = statistics.median(s[column] for s in body[-tenth:])
        out[who] = {
            "start_mib": round(head, 2),
            "end_mib": round(tail, 2),
            "growth_mib": round(tail - head, 2),
            "max_mib": round(max(s[column] for s in body), 2),
        }
    return out


# --- report ---------------------------------------------------------------------------------
def verdicts(report: dict[str, Any]) -> list[Verdict]:
    lat = report["latency"]
    echo, state = lat["bare REQ/REP echo"]["p50_us"], lat["state query"]["p50_us"]
    stream, camera = report["state_stream"], report["camera"]
    checks = [
        Verdict(
            "state query p50 <= 3x bare echo p50",
            f"{state:.0f} us vs {echo:.0f} us ({state / echo:.2f}x)",
            state <= 3 * echo,
        ),
        Verdict(
            "state stream >= 500 Hz",
            f"{stream['received_hz']:.0f} Hz received of {stream['configured_hz']:g} Hz "
            f"published ({stream['missed']} missed)",
            stream["received_hz"] >= 500,
        ),
        Verdict(
            f"camera transport >= 30 fps at 640x480 (held frames, {camera['codec']})",
            f"stream {camera['stream_fps']:.1f} fps of {camera['configured_hz']:g} Hz; "
            f"request/reply {camera['request_fps']:.1f} fps",
            camera["stream_fps"] >= 30 and camera["resolution"] == "640x480",
        ),
    ]
    if report.get("render"):
        checks.append(
            Verdict("renderer alone (for scale)", f"{report['render']['fps']:.1f} fps", None)
        )
    if report.get("soak"):
        s = report["soak"]
        growth = max(s["memory"][w]["growth_mib"] for w in ("server", "client"))
        checks.append(
            Verdict(
                "soak: memory flat (growth < 2 MiB)",
                f"server {s['memory']['server']['start_mib']:.1f} -> "
                f"{s['memory']['server']['end_mib']:.1f} MiB, client "
                f"{s['memory']['client']['start_mib']:.1f} -> "
                f"{s['memory']['client']['end_mib']:.1f} MiB over {s['seconds']:g} s",
                growth < 2.0,
            )
        )
        checks.append(
            Verdict(
                "soak: no missed deadline (20 Hz commands, 50 Hz heartbeats)",
                f"{sum(s['misses'].values())} misses {s['misses']} in {s['commands']} "
                f"commands; p99 {s['latency']['p99_us'] / 1000:.1f} ms",
                sum(s["misses"].values()) == 0,
            )
        )
    return checks


def latency_table(latency: dict[str, dict]) -> Any:
    columns = [Column("round trip", False), Column("p50 µs"), Column("p99 µs"), Column("max µs")]
    rows = [
        [name, f"{r['p50_us']:.1f}", f"{r['p99_us']:.1f}", f"{r['max_us']:.0f}"]
        for name, r in latency.items()
    ]
    return table("Request round trips (interleaved blocks)", columns, rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bridge",
        description=__doc__.split("\n\n")[0],
        epilog="Example: python -m benchmarks.bridge --soak 600",
    )
    parser.add_argument("--requests", type=int, default=4000, help="round trips per kind")
    parser.add_argument("--blocks", type=int, default=20, help="interleaved timing blocks")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per stream rate")
    parser.add_argument("--state-hz", type=float, default=1000.0, help="state stream rate")
    parser.add_argument("--camera-hz", type=float, default=60.0, help="camera stream rate")
    parser.add_argument("--codec", default="jpeg", choices=["jpeg", "png", "raw"])
    parser.add_argument("--render-frames", type=int, default=20, help="0 skips the renderer")
    parser.add_argument("--soak", type=float, default=0.0, metavar="SECONDS", help="soak time")
    parser.add_argument(
        "--load", type=float, default=0.0, metavar="SECONDS", help="time per busy-core setting"
    )
    parser.add_argument(
        "--load-only", action="store_true", help="run only the load mode (with --load)"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="results file")
    args = parser.parse_args(argv)
    if args.requests < 100 or args.blocks < 1 or args.seconds <= 0:
        parser.error("--requests >= 100, --blocks >= 1 and --seconds > 0 please")
    if args.load_only and args.load <= 0:
        parser.error("--load-only needs --load SECONDS")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started, out = now(), console()
    settings = {k: v for k, v in vars(args).items() if k != "json"}
    if args.load_only:
        rows = [load(args.load, busy) for busy in (0, 1, 2)]
        out.print(load_table(rows))
        return finish(out, args.json, "bridge", started, {"settings": settings, "load": rows}, [])
    report: dict[str, Any] = {
        "latency": request_latency(args.requests, args.blocks),
        "state_stream": stream_rate(args.state_hz, args.seconds),
        "camera": camera_transport(args.camera_hz, args.seconds, args.codec),
    }
    if args.render_frames:
        report["render"] = render_rate(args.render_frames)
    if args.soak:
        report["soak"] = soak(args.soak)
    if args.load:
        report["load"] = [load(args.load, busy) for busy in (0, 1, 2)]
        out.print(load_table(report["load"]))
    out.print(latency_table(report["latency"]))
    checks = verdicts(report)
    out.print(verdict_table(checks))
    body = {"settings": settings, **report}
    return finish(out, args.json, "bridge", started, body, checks)


if __name__ == "__main__":
    sys.exit(main())
