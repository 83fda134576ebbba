"""Corrections that stick, end to end in the simulator: `heed demo`, `heed eval --rounds`,
`heed run` with a knowledge base and with corrections typed at the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tabletop_scenes import obj
from typer.testing import CliRunner

from heed.cli import app
from heed.episode import _outside_scope
from memory.records import TASK, Context, KnowledgeRecord
from memory.store import KnowledgeBase
from planner.outcome import TaskOutcome

runner = CliRunner()
GROUND_TRUTH = ("--objects", "ground_truth")  # the perception path has its own tests

MINI_SUITE = """
name: mini-corrections
defaults: {max_steps: 8, max_corrections: 3}
episodes:
  - id: colour-r1
    family: colour
    seed: 1
    objects:
      - {name: red block, type: block, color: red}
      - {name: blue bowl, type: bowl, color: blue, pose: [0.55, 0.15]}
      - {name: green bowl, type: bowl, color: green, pose: [0.55, -0.15]}
    instruction: put the red block in a bowl
    success: [{in: [red block, green bowl]}]
    user:
      - {violated: {in: [red block, green bowl]}, say: "no, red things always go in the green bowl"}
  - id: colour-r2
    family: colour
    round: 2
    seed: 2
    objects:
      - {name: red bar, type: bar, color: red}
      - {name: pink bowl, type: bowl, color: pink, pose: [0.55, 0.15]}
      - {name: green bowl, type: bowl, color: green, pose: [0.55, -0.15]}
    instruction: drop the red bar into one of the bowls
    success: [{in: [red bar, green bowl]}]
    user:
      - {violated: {in: [red bar, green bowl]}, say: "no, red things always go in the green bowl"}
"""


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def test_the_demo_learns_in_round_one_and_needs_no_correction_in_round_two(tmp_path):
    result = invoke("demo", "--no-video", *GROUND_TRUTH, "--runs-dir", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    by_id = {Path(e["run_dir"]).name.split("-", 2)[-1]: e for e in data["episodes"]}
    assert all(e["success"] for e in data["episodes"])
    assert [by_id[i]["corrections"] for i in ("learn-preference", "learn-grip")] == [1, 1]
    assert [by_id[i]["corrections"] for i in ("use-preference", "use-grip")] == [0, 0]
    statements = {k["statement"] for k in data["knowledge"] if k["kind"] != "program"}
    assert statements == {
        "red objects go in the green bowl",
        "when picking cylinders, grip with 60 N",
    }
    programs = [k for k in data["knowledge"] if k["kind"] == "program"]
    assert programs and all(k["change"]["program"].endswith("done()") for k in programs)
    trace = (Path(by_id["use-grip"]["run_dir"]) / "trace.jsonl").read_text().splitlines()
    knowledge = [json.loads(line) for line in trace if '"event": "knowledge"' in line]
    assert knowledge and knowledge[0]["defaults"] == {"force": 60.0}  # visible in the trace
    with KnowledgeBase.open(Path(data["folder"]) / "memory", writable=False) as kb:
        assert {r.statement for r in kb.records() if r.kind != "program"} == statements


def test_eval_rounds_compares_memory_with_the_baseline(tmp_path):
    suite = tmp_path / "mini.yaml"
    suite.write_text(MINI_SUITE)
    out = tmp_path / "rounds.json"
    result = invoke(
        "eval", str(suite), "--rounds", *GROUND_TRUTH, "--runs-dir", str(tmp_path / "runs"),
        "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "corrections by round" in result.output
    data = json.loads(out.read_text())
    rounds = data["rounds"]
    assert rounds["1"]["memory"]["corrections_per_episode"] == 1.0
    assert rounds["2"]["memory"]["corrections_per_episode"] == 0.0
    assert rounds["2"]["baseline"]["corrections_per_episode"] == 1.0
    assert data["later_vs_first_round"] == 0.0 and data["final_success"] == 1.0
    assert len(data["baseline_episodes"]) == 2
    with KnowledgeBase.open(data["memory"], writable=False) as kb:
        assert [r.statement for r in kb.records("task")] == ["red objects go in the green bowl"]


def test_memory_and_no_memory_contradict(tmp_path):
    result = invoke("eval", "suites/corrections.yaml", "--memory", str(tmp_path), "--no-memory")
    assert result.exit_code != 0 and "contradict" in result.output


@pytest.fixture
def scene_file(tmp_path):
    suite = tmp_path / "mini.yaml"
    suite.write_text(MINI_SUITE)
    return suite


def test_a_correction_typed_at_the_terminal_is_learnt_for_the_next_run(tmp_path, scene_file):
    memory = tmp_path / "kb"
    common = (*GROUND_TRUTH, "--runs-dir", str(tmp_path / "runs"), "--memory", str(memory))
    typed = "no, red things always go in the green bowl\n" + "\n" * 10
    scene = f"{scene_file}#colour-r1"
    first = invoke("run", "--scene", scene, "--interactive", *common, input=typed)
    assert first.exit_code == 0, first.output
    assert "learned #1 (task): red objects go in the green bowl" in first.output
    second = invoke("run", "--scene", f"{scene_file}#colour-r2", *common, "--json")
    report = json.loads(second.output)
    assert report["success"] and report["corrections"] == 0 and report["retrieved"] == 1


def test_no_memory_leaves_the_knowledge_base_alone(tmp_path, scene_file):
    memory = tmp_path / "kb"
    result = invoke(
        "run", "--scene", f"{scene_file}#colour-r1", *GROUND_TRUTH, "--no-memory",
        "--memory", str(memory), "--runs-dir", str(tmp_path / "runs"), "--json",
    )  # fmt: skip
    assert json.loads(result.output)["learned"] == 0
    assert not memory.exists()


PROGRAM_SUITE = """
name: programs
episodes:
  - id: first
    seed: 1
    objects:
      - {name: red block, type: block, color: red, pose: [0.45, 0.10]}
      - {name: green block, type: block, color: green, pose: [0.45, -0.15]}
      - {name: blue bowl, type: bowl, color: blue, pose: [0.60, 0.15]}
      - {name: yellow bowl, type: bowl, color: yellow, pose: [0.60, -0.12]}
    instruction: put the red block in the blue bowl
    success: [{in: [red block, blue bowl]}]
  - id: second
    seed: 2
    objects:
      - {name: red block, type: block, color: red, pose: [0.40, 0.12]}
      - {name: green block, type: block, color: green, pose: [0.50, -0.05]}
      - {name: blue bowl, type: bowl, color: blue, pose: [0.62, 0.16]}
      - {name: yellow bowl, type: bowl, color: yellow, pose: [0.60, -0.18]}
    instruction: put the green block in the yellow bowl
    success: [{in: [green block, yellow bowl]}]
"""


def test_a_verified_program_is_remembered_and_replayed_for_an_order_like_it(tmp_path):
    suite = tmp_path / "programs.yaml"
    suite.write_text(PROGRAM_SUITE)
    out, memory = tmp_path / "out.json", tmp_path / "memory"
    args = ("eval", str(suite), *GROUND_TRUTH, "--memory", str(memory), "--json", str(out))
    result = invoke(*args, "--only", "first", "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    with KnowledgeBase.open(memory, writable=False) as kb:
        (program,) = kb.records("program")
    assert program.statement == "put the red block in the blue bowl"
    result = invoke(*args, "--only", "second", "--runs-dir", str(tmp_path / "runs"))
    (episode,) = json.loads(out.read_text())["episodes"]
    assert episode["success"] and episode["self_check"] == "verified"
    assert episode["served_by"] == ["memory"]
    assert json.loads(out.read_text())["summary"]["overall"]["from_memory"] == 1.0


def test_knowledge_acted_on_for_objects_outside_its_scope_is_counted():
    said = "red blocks go in the green bowl"
    change = {"rule": "destination", "object": {"category": "block", "color": "red"}}
    records = {said: KnowledgeRecord(TASK, said, change, Context("put it away", ()))}
    scene = [obj("red block", 0.4, 0.0), obj("red can", 0.5, 0.1), obj("green bowl", 0.6, -0.1)]

    def outside(*goal: dict) -> list[str]:
        outcome = TaskOutcome("done", goal=list(goal), knowledge_applied=[said])
        return _outside_scope(outcome, records, scene)

    assert outside({"in": ["red block", "green bowl"]}, {"unmoved": ["red can"]}) == []
    assert outside({"in": ["red can", "green bowl"]}, {"unmoved": ["red block"]}) == [said]


QUIET_SUITE = """
name: quiet
episodes:
  - id: red-block
    seed: 1
    objects:
      - {name: red block, type: block, color: red}
      - {name: blue bowl, type: bowl, color: blue, pose: [0.55, 0.15]}
      - {name: green bowl, type: bowl, color: green, pose: [0.55, -0.15]}
    instruction: put the red block in a bowl
    success: [{in: [red block, green bowl]}]
"""


def test_a_rule_given_as_the_instruction_is_acknowledged_kept_and_used_next_time(tmp_path):
    scene = tmp_path / "quiet.yaml"
    scene.write_text(QUIET_SUITE)
    common = (*GROUND_TRUTH, "--runs-dir", str(tmp_path / "runs"), "--memory", str(tmp_path / "kb"))
    said = "From now on, red things go in the green bowl."
    first = json.loads(
        invoke("run", said, "--scene", f"{scene}#red-block", *common, "--json").output
    )
    assert first["status"] == "verified" and first["learned"] == 1  # kept; nothing moved
    assert first["goal"] == [{"unmoved": ["red block", "blue bowl", "green bowl"]}]
    second = json.loads(invoke("run", "--scene", f"{scene}#red-block", *common, "--json").output)
    assert second["success"] and second["corrections"] == 0 and second["retrieved"] == 1


def test_a_lesson_the_store_refuses_is_said_and_the_episode_goes_on(tmp_path):
    from test_memory_fakes import HashingEmbedder

    from heed.episode import _learn
    from planner.events import EventBus

    seen = []
    bus = EventBus()
    bus.subscribe(seen.append)
    said = "red blocks go in the green bowl, " * 100  # a correction too long to keep
    change = {"rule": "destination", "object": {"color": "red"}}
    with KnowledgeBase.open(tmp_path, HashingEmbedder()) as kb:
        assert not _learn(kb, KnowledgeRecord(TASK, said, change, Context("x", ())), bus)
        assert kb.stats()["records"] == 0
    ((event,),) = [[e for e in seen if e.kind == "error"]]
    assert event.data["message"].startswith("not learned: record 'red blocks go in")
