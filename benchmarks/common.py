"""Helpers shared by the benchmark scripts: machine facts, rich tables and progress, target
verdicts, and the JSON results file.

A results file is one JSON object: the benchmark's name, the exact command line, when it
ran, the machine it ran on, then the benchmark's own numbers.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

PIPE_WIDTH = 160  # console width when stdout is a file or a pipe (rich would use 80)


def console() -> Console:
    """The stdout console for result tables: terminal width, or wide when piped."""
    return Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)


def progress() -> Progress:
    """A one-line progress bar on stderr, so stdout keeps only the results.

    It refreshes only when told (`Progress.refresh`, or `advance` with `refresh=True`):
    PyBullet's output silencing points the file descriptors at /dev/null for moments, and
    no background thread should draw then.
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        auto_refresh=False,
        transient=True,
    )


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(packages: Sequence[str] = ("pybullet", "numpy")) -> dict[str, Any]:
    """Facts that explain a timing: platform, Python, package versions, CPUs and load."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": {name: _package_version(name) for name in packages},
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def command_line() -> str:
    """The command line as typed, interpreter included (``python -m benchmarks.x ...``)."""
    return shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))


def write_json(path: Path, benchmark: str, started: datetime, body: dict[str, Any]) -> Path:
    """Write ``{benchmark, command, started, machine, **body}`` to `path` (folders made)."""
    document = {
        "benchmark": benchmark,
        "command": command_line(),
        "started": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        **body,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def finish(
    out: Console,
    path: Path,
    benchmark: str,
    started: datetime,
    body: dict[str, Any],
    verdicts: Sequence[Verdict],
) -> int:
    """Write the results with their verdicts, say where, and return the exit status: 1
    when a target failed, else 0 (verdicts without a target do not count)."""
    body = {**body, "verdicts": [v.to_dict() for v in verdicts]}
    written = write_json(path, benchmark, started, body)
    out.print(f"results: {written}")
    return 1 if any(v.passed is False for v in verdicts) else 0


def now() -> datetime:
    """The current time in UTC, for `write_json`'s `started`."""
    return datetime.now(UTC)


class Stopwatch:
    """Wall and CPU seconds of a `with` block (CPU: this process, all its threads).

    CPU seconds barely change when other processes compete for the cores; wall seconds
    grow. A wall time well above the CPU time says the machine was busy meanwhile.
    """

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self._start = (0.0, 0.0)

    def __enter__(self) -> Stopwatch:
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._start[0]
        self.cpu_s = time.process_time() - self._start[1]


@dataclass(frozen=True)
class Column:
    """A table column: its header and whether it holds numbers (right-aligned)."""

    header: str
    numeric: bool = True


def table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> Table:
    """A rich table of pre-formatted cells."""
    out = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        out.add_column(column.header, justify="right" if column.numeric else "left")
    for row in rows:
        out.add_row(*row)
    return out


@dataclass(frozen=True)
class Verdict:
    """A target checked against a measurement.

    Attributes:
        target: the target in words, with its threshold.
        measured: what was measured, with the numbers that explain it.
        passed: whether the target is met; None for a line that only informs.
    """

    target: str
    measured: str
    passed: bool | None

    @property
    def label(self) -> str:
        return {True: "PASS", False: "FAIL", None: "info"}[self.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "measured": self.measured, "verdict": self.label}


def verdict_table(verdicts: Sequence[Verdict], title: str = "Targets") -> Table:
    """The verdicts, one per line, PASS in green and FAIL in red."""
    style = {"PASS": "bold green", "FAIL": "bold red", "info": "dim"}
    out = Table(title=title, title_justify="left")
    out.add_column("verdict")
    out.add_column("target")
    out.add_column("measured")
    for v in verdicts:
        out.add_row(f"[{style[v.label]}]{v.label}[/]", v.target, v.measured)
    return out
