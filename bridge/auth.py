"""CURVE keys and the ZAP authenticator of the bridge.

A keys folder holds:

- on the server (``heed bridge serve --keys DIR``): ``server.key_secret`` (the server's
  key pair) and ``authorized/*.key``, the public keys of the clients it admits;
- on a client (``BridgeClient(url, keys=DIR)``): ``client.key_secret`` (the client's key
  pair) and ``server.key`` (the server's public key).

``heed bridge keys DIR --name NAME`` writes ``NAME.key`` (public) and ``NAME.key_secret``
(the pair, mode 600). Without a running ZAP handler, CURVE admits any client key; the
server therefore runs `zmq.auth.thread.ThreadAuthenticator` and, at start-up, checks
that a random key is refused (`check_refuses_unknown`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

from bridge.errors import BridgeConfigError

SERVER_NAME = "server"
CLIENT_NAME = "client"
AUTHORIZED = "authorized"


@dataclass(frozen=True)
class ServerKeys:
    """The server's key pair and the folder of admitted client public keys."""

    public: bytes
    secret: bytes
    authorized: Path


@dataclass(frozen=True)
class ClientKeys:
    """The client's key pair and the server's public key."""

    public: bytes
    secret: bytes
    server: bytes


def generate(folder: Path, name: str, force: bool = False) -> tuple[Path, Path]:
    """Write ``NAME.key`` and ``NAME.key_secret`` into `folder`; return their paths."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise BridgeConfigError(f"key name {name!r}: use letters, digits, '-' and '_'")
    folder.mkdir(parents=True, exist_ok=True)
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    if not force and (public.exists() or secret.exists()):
        raise BridgeConfigError(f"{secret} already exists: pass --force to replace it")
    made_public, made_secret = zmq.auth.create_certificates(str(folder), name)
    Path(made_secret).chmod(0o600)
    return Path(made_public), Path(made_secret)


def _pair(path: Path) -> tuple[bytes, bytes]:
    if not path.is_file():
        raise BridgeConfigError(
            f"{path} not found: create it with `heed bridge keys {path.parent} "
            f"--name {path.name.removesuffix('.key_secret')}`"
        )
    public, secret = _load(path)
    if secret is None:
        raise BridgeConfigError(f"{path} holds no secret key")
    return public, secret


def _load(path: Path) -> tuple[bytes, bytes | None]:
    try:
        return zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as err:
        raise BridgeConfigError(f"cannot read key file {path}: {err}") from None


def load_server_keys(folder: Path) -> ServerKeys:
    """The server's keys from `folder` (see the module docstring for the layout)."""
    public, secret = _pair(folder / f"{SERVER_NAME}.key_secret")
    authorized = folder / AUTHORIZED
    if not authorized.is_dir() or not any(authorized.glob("*.key")):
        raise BridgeConfigError(
            f"no client keys in {authorized}: copy each admitted client's NAME.key there"
        )
    for key in authorized.glob("*.key"):
        _load(key)
    return ServerKeys(public, secret, authorized)


def load_client_keys(folder: Path) -> ClientKeys:
    """A client's keys from `folder` (see the module docstring for the layout)."""
    public, secret = _pair(folder / f"{CLIENT_NAME}.key_secret")
    server_key = folder / f"{SERVER_NAME}.key"
    if not server_key.is_file():
        raise BridgeConfigError(f"{server_key} not found: copy the server's public key there")
    return ClientKeys(public, secret, _load(server_key)[0])


def secure_server(socket: zmq.Socket, keys: ServerKeys) -> None:
    """Make `socket` a CURVE server (before it binds)."""
    socket.curve_secretkey = keys.secret
    socket.curve_publickey = keys.public
    socket.curve_server = True


def secure_client(socket: zmq.Socket, keys: ClientKeys) -> None:
    """Make `socket` a CURVE client of the keyed server (before it connects)."""
    socket.curve_secretkey = keys.secret
    socket.curve_publickey = keys.public
    socket.curve_serverkey = keys.server


def start_authenticator(context: zmq.Context, keys: ServerKeys) -> ThreadAuthenticator:
    """A running ZAP handler that admits only the keys in `keys.authorized`."""
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=str(keys.authorized))
    return auth


def check_refuses_unknown(
    context: zmq.Context, endpoint: str, server_public: bytes, timeout_s: float = 3.0
) -> None:
    """Connect to `endpoint` with a fresh random key and require the handshake to fail.

    Raises:
        BridgeConfigError: the random key was admitted, or no verdict came in time.
    """
    public, secret = zmq.curve_keypair()
    probe = context.socket(zmq.DEALER)
    probe.linger = 0
    monitor = probe.get_monitor_socket()
    try:
        secure_client(probe, ClientKeys(public, secret, server_public))
        probe.connect(endpoint)
        end = time.monotonic() + timeout_s
        while (left := end - time.monotonic()) > 0:
            if not monitor.poll(left * 1000):
                break
            event = recv_monitor_message(monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                return
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                raise BridgeConfigError(
                    f"{endpoint} admitted a random CURVE key: the ZAP authenticator is not "
                    "enforcing the authorized keys; refusing to serve"
                )
        raise BridgeConfigError(
            f"no authentication verdict from {endpoint} within {timeout_s:g} s for a random "
            "key; refusing to serve"
        )
    finally:
        probe.disable_monitor()
        monitor.close(linger=0)
        probe.close(linger=0)
