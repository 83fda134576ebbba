"""The worked examples LLM prompts show: each program works in the simulator on its scene."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fakes import ScriptedBackend

from heed.episode import RunOptions, run_episode
from planner.llm import goal_line, phrases
from planner.llm.examples import (
    LIBRARY,
    RECOLOUR,
    RECOLOURED,
    ExampleLibrary,
    load_examples,
)
from sim.objects import OBJECT_TYPES
from sim.suite import parse_suite, read_suite_yaml

RAW = read_suite_yaml(LIBRARY.read_text(encoding="utf-8"))
EXAMPLES = load_examples()
STATUS = {"done": "unverified", "refused": "refused", "asked": "failed"}  # scripts state no goal


def test_sizes_are_the_simulators():
    for kind, size in RAW["sizes"].items():
        assert tuple(size) == OBJECT_TYPES.get(kind).spec("x", "red").size, kind


def test_every_example_is_a_valid_suite_episode():
    episodes = [
        {k: item[k] for k in ("id", "objects", "instruction", "success")} | {"seed": 0}
        for item in RAW["examples"]
    ]
    suite = parse_suite({"name": "examples", "episodes": episodes}, str(LIBRARY))
    assert len(suite.episodes) == len(EXAMPLES) >= 25
    assert all(o.pose is not None for e in suite.episodes for o in e.objects)


def test_the_goal_line_shows_every_predicate_the_example_is_checked_against():
    """`on:` is a predicate, not YAML 1.1's True, in the prompt as in the test."""
    for example, item in zip(EXAMPLES, RAW["examples"], strict=True):
        if example.ends == "done" and not example.goal_said:
            assert example.goal == tuple(item["success"]), example.id
            sayable = [p for p in example.goal if next(iter(p)) in goal_line.LINE_KINDS]
            assert goal_line.render(example.goal).count("(") == len(sayable), example.id


def _recoloured(item: dict) -> dict:
    """A library entry with its colours swapped as `Example.recoloured` swaps them."""
    words = re.compile(r"\b(?:" + "|".join(RECOLOUR) + r")\b")
    return json.loads(words.sub(lambda m: RECOLOUR[m.group()], json.dumps(item)))


@pytest.mark.parametrize("recolour", [False, True], ids=["as-written", "recoloured"])
@pytest.mark.parametrize("item", RAW["examples"], ids=[e["id"] for e in RAW["examples"]])
def test_the_program_achieves_the_goal(item: dict, recolour: bool, tmp_path: Path):
    """...and the Goal line it shows, its find() calls grounded in its scene, holds too; so
    does the example recoloured, as a prompt may show it."""
    example = next(e for e in EXAMPLES if e.id == item["id"])
    if recolour:
        example, item = example.recoloured(), _recoloured(item)
        assert example.instruction == item["instruction"]
    said = ()
    if example.goal_said:
        goal = goal_line.read(
            f"Goal: {example.goal_said}", lambda text: phrases.ground(text, example.scene)
        )
        assert goal.predicates, goal.reason
        said = goal.predicates
    raw = {k: item[k] for k in ("id", "objects", "instruction")}
    raw["success"] = [*item["success"], *said]
    suite = parse_suite({"name": "examples", "episodes": [raw | {"seed": 0}]}, str(LIBRARY))
    episode = suite.episodes[0]
    episode = type(episode)(**{**episode.__dict__, "max_steps": 1})
    options = RunOptions(objects="ground_truth", runs_dir=tmp_path)
    result = run_episode(episode, ScriptedBackend([example.program]), options)
    unmet = [f for f in result.failed_predicates if not f.startswith("planner ended")]
    assert not unmet, unmet
    assert result.status == STATUS[example.ends]


def test_nearest_examples_come_in_library_order_and_fit_the_instruction():
    library = ExampleLibrary(EXAMPLES)
    chosen = library.nearest("pile the green, red and blue cubes into a tower, red on top", 3)
    assert len(chosen) == 3
    order = [e.id for e in EXAMPLES]
    assert [order.index(e.id) for e in chosen] == sorted(order.index(e.id) for e in chosen)
    assert any(e.program.startswith("build_tower(") for e in chosen)
    swaps = library.nearest("could you exchange where the two cans are?", 3)
    assert "swap" in {e.id for e in swaps}


def test_an_example_sharing_the_scenes_colours_is_shown_recoloured():
    """A small model copies an example's names into a scene that has them too."""
    library = ExampleLibrary(EXAMPLES)
    task = "build a tower: blue at the bottom, then yellow, red on top"
    scene = {"blue", "yellow", "red", "green"}
    plain = library.nearest(task, 3)
    shown = library.nearest(task, 3, scene)
    for before, after in zip(plain, shown, strict=True):
        other = before.recoloured()
        fewer = len(other.colors() & scene) < len(before.colors() & scene)
        assert after == (other if fewer else before)
    tower = next(e for e in shown if e.id.startswith("stack-top-down"))  # yellow, green, blue
    assert tower.id.endswith(RECOLOURED) and not tower.colors() & scene
    assert set(re.findall(r'"(\w+) block"', tower.program)) == tower.colors()
    assert library.nearest(task, 3, {"gray"}) == plain  # no colour in common: as written
