"""Typed errors of the bridge; each message is one line that names the cause."""

from __future__ import annotations

from skills.errors import HeedError, RobotError


class BridgeError(RobotError):
    """The bridge could not carry a command to the robot or its answer back."""


class BridgeTimeout(BridgeError):
    """No reply came within the timeout (server down, network lost, message too large)."""


class BridgeDisconnected(BridgeError):
    """The link to the server is lost: the robot state is unknown until a new handshake.

    Attributes:
        request_id: the request under way when the link was lost, if any.
    """

    request_id: int | None = None


class CommandInterrupted(BridgeDisconnected):
    """A command was under way when the link was lost; the client handshook again and read
    the state, but whether (or how far) the command ran is unknown: it is not repeated.

    Attributes:
        recovery: what the client knows since (`bridge.client.Recovery`; None when
            `connect()` was called meanwhile).
    """

    def __init__(self, message: str, recovery: object) -> None:
        super().__init__(message)
        self.recovery = recovery


class BridgeRefused(BridgeError):
    """The server refused a command (old session, past its deadline, not the controller)."""


class ProtocolError(BridgeError):
    """A message is malformed: bad msgpack, wrong version, schema violation, bad array.

    Attributes:
        request_id: the id of the request it was found in, when the header had one.
    """

    request_id: int | None = None


class BridgeConfigError(HeedError):
    """A bridge setting is wrong (endpoint, keys folder, driver name); says what to fix."""


class BridgeBusy(BridgeRefused):
    """The session has as many robot commands waiting as it may; send more after replies."""


class EpisodeRefused(BridgeRefused):
    """The server cannot set up or check an episode (no simulator, or a bad episode)."""
