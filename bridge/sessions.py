"""Sessions of bridge clients, and the replay cache that makes a retried request run once."""

from __future__ import annotations

import collections
import hashlib
import secrets
import threading
from dataclasses import dataclass, field

from bridge import codec
from bridge.commands import Command
from bridge.errors import ProtocolError
from bridge.wire import Wire

MAX_ENDED = 256  # ended sessions remembered, so late messages get a precise refusal


def fingerprint(command: Command, args: Wire) -> bytes:
    """What a retry must repeat: the command and its checked arguments (16-byte digest)."""
    return hashlib.blake2b(codec.pack([command.name, args]), digest_size=16).digest()


def check_retry(rid: int, first: bytes, command: Command, args: Wire) -> None:
    """Refuse a repeat of request `rid` unless it is the request whose fingerprint is `first`."""
    if fingerprint(command, args) != first:
        raise ProtocolError(
            f"request {rid} was sent before with other arguments, and only an exact repeat "
            "gets its reply: send a new request with a new id"
        )


@dataclass
class Session:
    """One handshake of one client, bound to the connections it came from.

    Attributes:
        id: random token the client sends with every message.
        client: the name the client gave.
        client_id: random id of the client object (a re-handshake replaces its session).
        role: ``control`` or ``observe``.
        started: server-clock time of the handshake.
        heard: server-clock time of the last message from the client.
        hello_id: request id of the handshake (a retried hello gets the same session).
        routes: ROUTER identities of the client's sockets: the handshake's and those it listed.
        peer: the client's CURVE public key (z85) when the server has keys, else None.
        hello_reply: the encoded handshake reply, for such a retry.
        hello_fingerprint: the handshake's `fingerprint`, which such a retry must match.
        max_request: newest id of a command that changes things (older ones never run).
        running: ids of this session's robot commands not yet answered.
        ended: why the session ended, or None while it lives.
    """

    id: str
    client: str
    client_id: str
    role: str
    started: float
    heard: float
    hello_id: int
    routes: frozenset[bytes] = frozenset()
    peer: str | None = None
    hello_reply: list = field(default_factory=list)
    hello_fingerprint: bytes = b""
    max_request: int = 0
    running: set[int] = field(default_factory=set)
    ended: str | None = None

    def owns(self, routing: bytes, peer: str | None) -> bool:
        """Whether a message from this connection (ROUTER identity, CURVE key) is the client's."""
        return routing in self.routes and peer == self.peer


class Sessions:
    """The session table. The server loop changes it; the robot thread asks `valid`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: collections.OrderedDict[str, Session] = collections.OrderedDict()
        self.controller: Session | None = None
        self.get = self._all.get  # the session of an id, or None (the dict's own, for speed)

    def open(
        self,
        client: str,
        client_id: str,
        role: str,
        hello_id: int,
        now: float,
        routes: frozenset[bytes],
        peer: str | None,
    ) -> Session:
        token = secrets.token_hex(8)
        session = Session(token, client, client_id, role, now, now, hello_id, routes, peer)
        with self._lock:
            self._all[session.id] = session
            if role == "control":
                self.controller = session
            ended = [k for k, s in self._all.items() if s.ended]
            for key in ended[: max(0, len(ended) - MAX_ENDED)]:
                del self._all[key]
        return session

    def find_hello(
        self, client_id: str, hello_id: int, routing: bytes, peer: str | None
    ) -> Session | None:
        """The live session this connection's handshake (client id, request id) opened."""
        for s in reversed(self._all.values()):
            if s.client_id == client_id and s.hello_id == hello_id and s.ended is None:
                return s if s.owns(routing, peer) else None
        return None

    def end(self, session: Session, reason: str) -> None:
        with self._lock:
            session.ended = session.ended or reason
            if self.controller is session:
                self.controller = None

    def valid(self, session_id: str) -> bool:
        with self._lock:
            s = self._all.get(session_id)
            return s is not None and s.ended is None

    def live(self) -> list[Session]:
        return [s for s in self._all.values() if s.ended is None]


@dataclass
class Entry:
    """A request the server took: where to answer, and its reply once done.

    Attributes:
        routing: ROUTER identity of the latest copy of the request.
        command: the command.
        fingerprint: its `fingerprint`, which a retry must match.
        frames: the encoded reply, kept for repeats; None while running or not kept.
        size: bytes of `frames`.
        replayable: False for a finished reply too large to keep (a read; it reruns).
    """

    routing: bytes
    command: Command
    fingerprint: bytes
    frames: list | None = None
    size: int = 0
    replayable: bool = True

    @property
    def done(self) -> bool:
        return self.frames is not None or not self.replayable


class ReplayCache:
    """Recent requests by (session, id), bounded in count and bytes; running ones stay."""

    def __init__(self, window: int, max_bytes: int, max_item_bytes: int) -> None:
        self.window = window
        self.max_bytes = max_bytes
        self.max_item_bytes = max_item_bytes
        self.bytes = 0
        self._entries: collections.OrderedDict[tuple[str, int], Entry] = collections.OrderedDict()
        self.get = self._entries.get  # the entry of a key, or None (the dict's own, for speed)

    def add(
        self, key: tuple[str, int], routing: bytes, command: Command, fingerprint: bytes
    ) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        self._entries[key] = Entry(routing, command, fingerprint)

    def finish(self, key: tuple[str, int], frames: list) -> Entry | None:
        """Store the reply of `key` (if small enough); return its entry, if any."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        size = sum(len(f) for f in frames)
        if size <= self.max_item_bytes:
            entry.frames, entry.size = frames, size
            self.bytes += size
        else:
            entry.replayable = False
        self._evict()
        return entry

    def _evict(self) -> None:
        while len(self._entries) > self.window or self.bytes > self.max_bytes:
            key = next((k for k, e in self._entries.items() if e.done), None)
            if key is None:
                return
            self.bytes -= self._entries.pop(key).size

    def __len__(self) -> int:
        return len(self._entries)
