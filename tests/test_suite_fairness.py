"""Corrections suites are fair: no fixed side of the table is the right container's.

In an episode whose success puts an object `in` a container while another container of the
same type stands in the scene, the planner has to choose. If the right container were
always the leftmost (largest y, the robot's left) or always the rightmost, a fixed rule
would need no corrections, and a suite would not measure learning from them. From the
poses fixed in the YAML, neither rule may be right in more than `MAX_SHARE` of the choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.suite import Episode, load_suite

REPO = Path(__file__).resolve().parents[1]
SUITES = (
    "corrections.yaml",
    "corrections-heldout.yaml",
    "corrections-paraphrase.yaml",
    "corrections-teach-heldout.yaml",
    "corrections-teach-heldout-2.yaml",
)
MAX_SHARE = 0.7


@dataclass(frozen=True)
class Choice:
    """An episode's choice between containers of one type: y of the right one, of all."""

    episode: str
    right_y: float
    ys: tuple[float, ...]


def choices(episode: Episode) -> list[Choice]:
    """The episode's `in` predicates whose container has a rival of the same type."""
    objects = {o.name: o for o in episode.objects}
    found = []
    for predicate in episode.success:
        raw = predicate.to_raw()
        if not isinstance(raw, dict) or "in" not in raw:
            continue
        _, container = raw["in"]
        kind = objects[container].type
        rivals = [o for o in episode.objects if o.type == kind]
        if len(rivals) < 2:
            continue
        for entry in rivals:
            assert entry.pose is not None, f"{episode.id}: {entry.name} has no fixed pose"
        ys = tuple(o.pose[1] for o in rivals)
        assert len(set(ys)) == len(ys), f"{episode.id}: two {kind}s share a y"
        found.append(Choice(episode.id, objects[container].pose[1], ys))
    return found


@pytest.mark.parametrize("name", SUITES)
def test_no_fixed_side_is_right_most_of_the_time(name: str) -> None:
    suite = load_suite(REPO / "suites" / name)
    found = [c for e in suite.episodes for c in choices(e)]
    assert len(found) >= 6, f"{name}: only {len(found)} choices between containers"
    leftmost = sum(c.right_y == max(c.ys) for c in found) / len(found)
    rightmost = sum(c.right_y == min(c.ys) for c in found) / len(found)
    assert leftmost <= MAX_SHARE, f"{name}: the leftmost container is right {leftmost:.0%}"
    assert rightmost <= MAX_SHARE, f"{name}: the rightmost container is right {rightmost:.0%}"
