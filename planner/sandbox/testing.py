"""Test doubles for the sandbox, named as such: a small API and a recording handler.

Used by the sandbox's tests and by `timing.measure()`; never by the planner itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from planner.sandbox.schema import FunctionSpec, Param

DEMO_FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("noop"),
        FunctionSpec("pick", (Param("obj", "str"),
                              Param("force", "float", optional=True, default=None))),
        FunctionSpec("place", (Param("target", "str|vec"),
                               Param("offset", "vec2", optional=True, default=None))),
        FunctionSpec("move_to", (Param("x", "float"), Param("y", "float"), Param("z", "float"))),
        FunctionSpec("put_first_on_second", (Param("obj", "str"), Param("target", "str|vec"))),
        FunctionSpec("objects", (Param("category", "str", optional=True, default=""),)),
        FunctionSpec("get_pos", (Param("obj", "str"),), returns="[x, y, z]"),
        FunctionSpec("get_color", (Param("obj", "str"),), returns="colour name"),
        FunctionSpec("say", (Param("text", "str"),)),
    )
}  # fmt: skip


@dataclass
class RecordingHandler:
    """A fake robot behind the sandbox: records every validated call and every stop.

    Attributes:
        answers: what query functions return, by name (anything else returns True).
        failures: exceptions to raise, by function name.
        delay_s: seconds each call takes (a slow robot or person).
        calls: (name, args) of every call that reached the handler.
        stops: how often `stop()` (the executor's on_abort) was called.
    """

    answers: dict[str, Any] = field(default_factory=lambda: {
        "objects": ["red block", "green block", "blue bowl"],
        "get_pos": [0.5, 0.1, 0.02],
        "get_color": "green",
    })  # fmt: skip
    failures: dict[str, BaseException] = field(default_factory=dict)
    delay_s: float = 0.0
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stops: int = 0

    def __call__(self, name: str, args: dict[str, Any]) -> Any:
        self.calls.append((name, args))
        if self.delay_s:
            time.sleep(self.delay_s)
        if name in self.failures:
            raise self.failures[name]
        return self.answers.get(name, True)

    def stop(self) -> None:
        self.stops += 1

    def reset(self) -> None:
        self.calls.clear()
        self.failures.clear()
        self.stops, self.delay_s = 0, 0.0

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]
