"""`heed bridge`: serve a robot over ZeroMQ, generate CURVE keys, query a server's status.

Registered in `heed.cli` with ``app.add_typer(bridge_app, name="bridge")``; also runs as
``python -m heed.bridge_cmd``. User mistakes end with a one-line message and exit 2.
"""

from __future__ import annotations

import json
import signal
import statistics
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from heed.console import fail
from skills.errors import HeedError

bridge_app = typer.Typer(
    help="Hardware bridge: serve any Robot over ZeroMQ, make CURVE keys, query a server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()

KeysOption = Annotated[
    Path | None,
    typer.Option(help="CURVE keys folder (see `heed bridge keys`); without it: 127.0.0.1 only."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


def _limits(path: Path | None) -> Any:
    from skills.safety import SafetyLimits

    if path is None:
        return SafetyLimits()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"cannot read safety limits {path}: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"safety limits {path}: expected a mapping of limit names to values")
    return SafetyLimits.from_dict(data)


@bridge_app.command("serve")
def serve(
    robot: Annotated[
        str,
        typer.Option(help="Driver: a registered name (sim) or module:Class implementing Robot."),
    ] = "sim",
    bind: Annotated[
        str, typer.Option(help="Command endpoint tcp://HOST:PORT (PORT * picks a free one).")
    ] = "tcp://127.0.0.1:5555",
    keys: KeysOption = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Driver option key=value (repeatable)."),
    ] = None,
    stream_port: Annotated[
        int | None, typer.Option(help="State-stream (PUB) port; default: command port + 1.")
    ] = None,
    state_hz: Annotated[float, typer.Option(help="State stream rate; 0 turns it off.")] = 100.0,
    camera_hz: Annotated[
        float, typer.Option(help="Camera stream rate per camera; 0 turns it off.")
    ] = 0.0,
    camera: Annotated[
        list[str] | None, typer.Option(help="Camera to stream (repeatable); default: the first.")
    ] = None,
    image_codec: Annotated[str, typer.Option(help="RGB encoding: jpeg, png or raw.")] = "jpeg",
    heartbeat_ms: Annotated[float, typer.Option(help="Heartbeat period for clients.")] = 50.0,
    watchdog_ms: Annotated[
        float, typer.Option(help="Controller silence that ends its session and stops its motion.")
    ] = 250.0,
    max_message_mib: Annotated[float, typer.Option(help="Largest message accepted.")] = 16.0,
    limits: Annotated[
        Path | None, typer.Option(help="YAML/JSON file of SafetyLimits fields to override.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print events as JSON lines.")] = False,
) -> None:
    """Serve a robot to bridge clients until interrupted (Ctrl-C or SIGTERM).

    The simulator (`--robot sim`) is the reference driver and also accepts episode set-up
    and success checks; any class implementing the Robot protocol can be served with
    `--robot module:Class` (the driver interface is documented in bridge/drivers.py).
    Every command passes the safety envelope on the server, whatever the client checked.
    """
    from bridge.drivers import load_driver, parse_options
    from bridge.server import BridgeServer, EventLog, ServerConfig

    try:
        config = ServerConfig(
            bind=bind,
            stream_port=stream_port,
            keys=keys,
            state_hz=state_hz,
            camera_hz=camera_hz,
            stream_cameras=tuple(camera or ()),
            image_codec=image_codec,
            heartbeat_s=heartbeat_ms / 1000,
            watchdog_s=watchdog_ms / 1000,
            max_message_bytes=int(max_message_mib * (1 << 20)),
            limits=_limits(limits),
        )
        driver = load_driver(robot, parse_options(option or ()))
    except (HeedError, ValueError) as err:
        raise fail(str(err)) from None
    server = BridgeServer(driver, config, EventLog(as_json))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server.start()
    except (HeedError, ValueError) as err:
        closer = getattr(driver, "close", None)
        if callable(closer):
            closer()
        raise fail(str(err)) from None
    try:
        server.serve(stop)
    finally:
        server.close()


@bridge_app.command("keys")
def keys(
    folder: Annotated[Path, typer.Argument(help="Folder that receives the key files.")],
    name: Annotated[
        str, typer.Option(help="Key name: server or client (the names the bridge looks for).")
    ] = "server",
    force: Annotated[bool, typer.Option(help="Replace existing key files.")] = False,
) -> None:
    """Generate a CURVE key pair: NAME.key (public) and NAME.key_secret (keep private).

    Server folder: server.key_secret, plus authorized/ holding each admitted client's
    client.key (renamed as you like, *.key). Client folder: client.key_secret, plus the
    server's server.key.
    """
    from bridge.auth import generate

    try:
        public, secret = generate(folder, name, force)
    except HeedError as err:
        raise fail(str(err)) from None
    console.print(f"public key: {public}\nsecret key: {secret} (mode 600; never copy it)")


@bridge_app.command("status")
def status(
    url: Annotated[str, typer.Argument(help="Bridge server, tcp://HOST:PORT.")],
    keys: KeysOption = None,
    pings: Annotated[int, typer.Option(help="Pings for the latency figure.")] = 20,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each reply.")] = 2.0,
    as_json: JsonFlag = False,
) -> None:
    """Print the robot's state, the link latency and who controls the robot (as an observer)."""
    from bridge.client import BridgeClient

    try:
        with BridgeClient(
            url, keys=keys, timeout_s=timeout, role="observe", client="heed bridge status"
        ) as client:
            rtts = [client.ping() * 1000 for _ in range(max(1, pings))]
            report = client.status()
    except (HeedError, ValueError) as err:
        raise fail(str(err)) from None
    report["latency_ms"] = {
        "p50": round(statistics.median(rtts), 3),
        "max": round(max(rtts), 3),
        "pings": len(rtts),
    }
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    _print_status(url, report)


def _print_status(url: str, r: dict[str, Any]) -> None:
    lat = r["latency_ms"]
    console.print(
        f"[bold]{escape(r['robot'])}[/] at {url} (auth {r['auth']}, protocol {r['protocol']})"
    )
    console.print(
        f"latency: p50 {lat['p50']:.3f} ms, max {lat['max']:.3f} ms over {lat['pings']} pings"
    )
    c = r.get("controller")
    if c:
        console.print(
            f"controlled by {escape(c['client'])!s} for {c['since_s']:.1f} s "
            f"(heard {c['heard_ms']:.0f} ms ago); observers: {r['observers']}"
        )
    else:
        console.print(f"no controlling client; observers: {r['observers']}")
    state = r.get("state")
    if state:
        x, y, z = state["ee_pose"]["position"]
        console.print(
            f"state ({r['state_age_s'] * 1000:.0f} ms old): ee ({x:.3f}, {y:.3f}, {z:.3f}) m, "
            f"gripper {state['gripper_width'] * 1000:.1f} mm, "
            f"holding {state['holding'] or 'nothing'}"
        )
        console.print("joints: " + ", ".join(f"{q:+.3f}" for q in state["joints"]))
    if r.get("busy"):
        console.print(f"busy: {r['busy']}")
    stop = r.get("last_stop")
    console.print(
        f"watchdog stops: {r['watchdog_stops']}"
        + (f"; last stop {stop['ago_s']:.1f} s ago: {escape(stop['reason'])}" if stop else "")
    )
    s = r["stream"]
    console.print(
        f"stream port {s['port']}: state {s['state_hz']:g} Hz, camera {s['camera_hz']:g} Hz"
        + (f" ({', '.join(s['cameras'])})" if s["cameras"] else "")
    )


if __name__ == "__main__":
    bridge_app()
