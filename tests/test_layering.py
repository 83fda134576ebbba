"""The planner's layers: the loop, API, goals, corrections and shared language sit below
every backend, and nothing below a backend imports one (issue 11, section 5)."""

from __future__ import annotations

import ast
from pathlib import Path

PLANNER = Path(__file__).resolve().parents[1] / "planner"
BACKENDS = ("planner.embedded", "planner.llm", "planner.chat")
BELOW = (
    "api",
    "backend",
    "context",
    "corrections",
    "distill",
    "events",
    "goals",
    "loop",
    "outcome",
    "language",
    "sandbox",
)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_nothing_below_the_backends_imports_one():
    for name in BELOW:
        target = PLANNER / name
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]
        for path in files:
            bad = [m for m in imports(path) if m.startswith(BACKENDS)]
            assert not bad, f"{path.relative_to(PLANNER.parent)} imports backend {bad}"


def test_the_world_s_vocabulary_sits_below_the_simulator():
    """Perception and skills run on hardware too: they never import the simulator (the
    colour palette they share with it lives in `skills.palette`; issue 13)."""
    root = PLANNER.parent
    for package in ("perception", "skills"):
        for path in sorted((root / package).rglob("*.py")):
            bad = [m for m in imports(path) if m == "sim" or m.startswith("sim.")]
            assert not bad, f"{path.relative_to(root)} imports the simulator: {bad}"
