"""Timings of the sandbox itself (no model, no robot): `python -m planner.sandbox`.

`measure()` reports medians of: a worker's start-up (spawn to ready), checking a typical
20-line program, the handoff of a trivial program to a warm worker and back (wall time
minus program time), and one API call's round trip worker -> parent -> worker with a
no-op handler.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from planner.sandbox.executor import SandboxExecutor, SandboxLimits
from planner.sandbox.testing import DEMO_FUNCTIONS, RecordingHandler

TYPICAL_PROGRAM = """\
def farthest_first(names):
    ranked = []
    for name in names:
        pos = get_pos(name)
        ranked.append([dist(pos[:2], [0.3, 0.0]), name])
    ranked.sort()
    ranked.reverse()
    return [pair[1] for pair in ranked]

blocks = objects(category="block")
bowl = "blue bowl"
moved = 0
for name in farthest_first(blocks):
    if get_color(name) == "red" or moved >= 3:
        continue
    x, y, z = get_pos(name)
    if abs(y) > 0.25:
        say(f"{name} is too close to the edge ({y:.2f} m)")
    put_first_on_second(name, bowl)
    moved += 1
print(f"moved {moved} of {len(blocks)} blocks")
"""
CALLS_PER_PROGRAM = 100


@dataclass(frozen=True)
class SandboxTimings:
    """Medians, in seconds, plus the confinement layers that were active."""

    startup_s: float
    check_s: float
    handoff_s: float
    call_round_trip_s: float
    typical_program_wall_s: float
    layers: dict[str, bool]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(repeats: int = 20) -> SandboxTimings:
    """Measure the sandbox's own costs (see module docstring); takes a few seconds."""
    startup, check, handoff, trip, typical = [], [], [], [], []
    handler = RecordingHandler()
    with SandboxExecutor(DEMO_FUNCTIONS, handler, SandboxLimits()) as executor:
        for _ in range(repeats * 5):
            check.append(executor.check(TYPICAL_PROGRAM).check_s)
        loop = f"for i in range({CALLS_PER_PROGRAM}):\n    noop()"
        for _ in range(repeats):
            startup.append(executor.warm())
            handoff.append(executor.run("pass").overhead_s)
            executor.warm()
            result = executor.run(loop)
            trip.append(result.wait_s / max(1, result.calls))
            executor.warm()
            typical.append(executor.run(TYPICAL_PROGRAM).wall_s)
            handler.reset()
        layers = executor.layers
    return SandboxTimings(
        startup_s=statistics.median(startup),
        check_s=statistics.median(check),
        handoff_s=statistics.median(handoff),
        call_round_trip_s=statistics.median(trip),
        typical_program_wall_s=statistics.median(typical),
        layers=layers,
    )
