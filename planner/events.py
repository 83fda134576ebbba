"""One event stream for everything the planner does.

The terminal printer, the trace writer and a live teleoperator console all subscribe to
the same `EventBus`. A subscriber may pause the loop; it then waits at the next skill
boundary (before the next skill call) until resumed or stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

EVENT_KINDS = (
    "start",
    "thought",
    "goal",
    "code",
    "skill_start",
    "skill_end",
    "observation",
    "goal_check",
    "correction",
    "question",
    "answer",
    "say",
    "knowledge",
    "retrieved",
    "distilled",
    "forgotten",
    "done",
    "error",
    "bridge",  # the robot's bridge lost its link and handshook again (one line: what is known)
)


@dataclass(frozen=True)
class Event:
    """Something that happened: its kind, the loop step and the details."""

    kind: str
    step: int
    data: dict[str, Any] = field(default_factory=dict)
    t_wall: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "step": self.step, "t_wall": round(self.t_wall, 4), **self.data}


Subscriber = Callable[[Event], None]


class EventBus:
    """Publishes events to subscribers in order; carries the pause and stop requests."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._t0 = time.perf_counter()
        self.step = 0
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._interrupt = threading.Event()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def publish(self, kind: str, /, **data: Any) -> Event:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}; kinds: {', '.join(EVENT_KINDS)}")
        event = Event(kind, self.step, data, time.perf_counter() - self._t0)
        for subscriber in list(self._subscribers):
            subscriber(event)
        return event

    # --- flow control -----------------------------------------------------------------------
    def pause(self) -> None:
        """Ask the loop to wait at the next skill boundary."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def request_stop(self) -> None:
        """Ask the loop to stop at the next skill boundary (and release a pause)."""
        self._stop.set()
        self._running.set()

    def interrupt(self) -> None:
        """Ask the running program to end at the next skill boundary, without ending the
        task: a person has a correction to give (the loop then asks for it)."""
        self._interrupt.set()
        self._running.set()

    def clear_interrupt(self) -> None:
        """Forget an interrupt that came while no program ran (a new program starts)."""
        self._interrupt.clear()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def skill_boundary(self, timeout_s: float | None = None) -> bool:
        """Block while paused; return False when a stop or an interrupt was requested (an
        interrupt counts once)."""
        self._running.wait(timeout_s)
        if self._interrupt.is_set():
            self._interrupt.clear()
            return False
        return not self._stop.is_set()
