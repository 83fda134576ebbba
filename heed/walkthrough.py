"""`heed demo`: the whole loop offline, corrections that stick.

Round 1: the robot gets two tasks wrong for lack of knowledge (a preference it can not
guess, a can too heavy for its default grip), the simulated teleoperator corrects it, the
plan changes, and what the corrections teach is distilled into a fresh knowledge base.
Round 2: new objects need the same knowledge; the robot retrieves it and succeeds without
being corrected. Every task gets a run folder (trace, scene graphs, video).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from heed.demo import packaged_suite
from heed.episode import EpisodeResult, RunOptions, run_episode
from memory.records import KnowledgeRecord
from memory.store import KnowledgeBase
from planner.backend import PlannerBackend
from planner.events import Event
from sim.suite import Episode

WALKTHROUGH_SUITE = "walkthrough.yaml"
STORY = {
    "learn-preference": "The robot does not know where you like red things to go.",
    "learn-grip": "This can is heavier and more slippery than it looks.",
    "use-preference": "New objects, same preference: the robot should remember it.",
    "use-grip": "Another heavy can: the robot should grip it right the first time.",
}


@dataclass
class Walkthrough:
    """What `heed demo` did: each task's result and the knowledge it ended with."""

    folder: Path
    episodes: list[Episode]
    results: list[EpisodeResult]
    knowledge: list[KnowledgeRecord]


def run_walkthrough(
    backend: PlannerBackend,
    options: RunOptions,
    subscribers: Iterable[Callable[[Event], None]] = (),
    announce: Callable[[int, int, str, str], None] | None = None,
) -> Walkthrough:
    """Run the packaged walkthrough with a fresh knowledge base in a new demo folder.

    Args:
        backend: the planner backend.
        options: run options; run folders and the knowledge base go under `runs_dir`.
        subscribers: receive every event of every task (the terminal printer).
        announce: called before each task with (number, total, instruction, story).
    """
    suite = packaged_suite(WALKTHROUGH_SUITE)
    folder = Path(options.runs_dir) / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    options = RunOptions(**{**options.__dict__, "runs_dir": folder})
    episodes = sorted(suite.episodes, key=lambda e: e.round)
    results: list[EpisodeResult] = []
    with KnowledgeBase.open(folder / "memory") as kb:
        for number, episode in enumerate(episodes, 1):
            if announce is not None:
                announce(number, len(episodes), episode.instruction, STORY.get(episode.id, ""))
            results.append(run_episode(episode, backend, options, subscribers, kb=kb))
        knowledge = list(kb.records())
    return Walkthrough(folder, episodes, results, knowledge)
