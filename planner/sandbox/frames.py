"""What crosses the pipes between the parent and a worker: msgspec structs, one per frame.

A frame is a msgpack map whose ``kind`` names its struct. Worker -> parent: `Ready`,
`Out`, `Call`, `Done`, `Fatal`; parent -> worker: `Run`, `Ok`, `Failed`. msgspec decodes
a frame straight into its struct and refuses missing or unknown keys, wrong types
(booleans are no numbers), NaN and infinities where seconds are due. A call's arguments
stay plain values here; `schema.validate_call` types them against the function's schema.
`WorkerConfig` is what a worker is told at start, as JSON on its command line.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

Seconds = Annotated[float, Meta(ge=0.0, le=sys.float_info.max)]  # finite and >= 0
Name = Annotated[str, Meta(max_length=128)]  # a function, helper or layer name
Line = Annotated[int, Meta(ge=0, le=2**31)]


class Frame(Struct, tag_field="kind", forbid_unknown_fields=True, frozen=True, gc=False):
    """A frame: exactly its keys, ``kind`` first."""


# --- worker -> parent -----------------------------------------------------------------------
class Ready(Frame, tag="ready"):
    """The worker is confined and waits for its program; `layers` says which layers hold."""

    layers: dict[Name, bool]


class Out(Frame, tag="out"):
    """Printed text (the worker bounds it; the parent bounds it again)."""

    text: str


class Call(Frame, tag="call"):
    """An API call: arguments as the program gave them, checked by the parent."""

    name: Name
    args: list[Any]
    kwargs: dict[str, Any]


class ErrorReport(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """The program's error: its type, a message without host paths, its line if known."""

    type: str
    message: str
    line: Line | None


class Done(Frame, tag="done"):
    """The program ended: its error (None if it ran to the end) and its times."""

    error: ErrorReport | None
    run_s: Seconds
    wait_s: Seconds


class Fatal(Frame, tag="fatal"):
    """The worker could not confine itself or start."""

    message: str


WorkerFrame = Ready | Out | Call | Done | Fatal


# --- parent -> worker -----------------------------------------------------------------------
class Run(Frame, tag="run"):
    """The one program the worker runs, the names it sees and its limits."""

    source: str
    prelude: str
    functions: list[Name]
    helpers: list[Name]
    max_calls: int
    max_output_chars: int
    max_frame_bytes: int


class Ok(Frame, tag="ok"):
    """A call's result."""

    value: Any


class Failed(Frame, tag="error"):
    """A call's refusal or failure: `type` names the exception the program sees."""

    type: str
    message: str


ParentFrame = Run | Ok | Failed


# --- the command line -----------------------------------------------------------------------
class WorkerConfig(Struct, forbid_unknown_fields=True, frozen=True):
    """What a worker is told at start: its limits and which confinement layers to apply."""

    memory_bytes: int
    cpu_s: int
    max_open_files: int
    drop_user: bool
    landlock: bool
    seccomp: bool

    def to_json(self) -> str:
        return msgspec.json.encode(self).decode()

    @classmethod
    def from_json(cls, text: str) -> WorkerConfig:
        return msgspec.json.decode(text, type=cls)
