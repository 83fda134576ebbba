"""`heed` commands end to end: run, eval, sim demo, suite checks and their errors."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from heed.cli import app, run_exit_code
from heed.console import ConsolePrinter
from planner.events import Event

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_run_carries_out_an_instruction_and_writes_the_run_folder(tmp_path):
    result = invoke(
        "run",
        "put the red block in the blue bowl",
        "--seed",
        "1",
        "--runs-dir",
        str(tmp_path),
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["success"] and report["status"] == report["self_check"] == "verified"
    assert report["goal"][0] == {"in": ["red block", "blue bowl"]} and report["served_by"]
    run_dir = Path(report["run_dir"])
    for name in (
        "config.json",
        "trace.jsonl",
        "scene_initial.json",
        "scene_final.json",
        "result.json",
    ):
        assert (run_dir / name).is_file(), name
    events = [
        json.loads(line)["event"] for line in (run_dir / "trace.jsonl").read_text().splitlines()
    ]
    assert {"start", "thought", "code", "skill_end", "observation", "done"} <= set(events)


def test_run_a_suite_scene_with_video(tmp_path):
    result = invoke(
        "run",
        "--scene",
        "suites/tabletop.yaml#stack-01",
        "--video",
        "--runs-dir",
        str(tmp_path),
        "--json",
    )
    assert result.exit_code == 0, result.output
    run_dir = Path(json.loads(result.output)["run_dir"])
    assert (run_dir / "episode.mp4").stat().st_size > 10_000


def test_eval_reports_per_episode_keys_and_a_summary(tmp_path):
    out = tmp_path / "eval.json"
    result = invoke(
        "eval",
        "suites/tabletop.yaml",
        "--only",
        "place-01",
        "--only",
        "refuse-01",
        "--only",
        "ask-01",
        "--json",
        str(out),
        "--runs-dir",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["suite"] == "tabletop" and data["backend"] == "auto"
    keys = {
        "id",
        "round",
        "success",
        "failed_predicates",
        "corrections",
        "questions",
        "steps",
        "prompt_tokens",
        "completion_tokens",
        "wall_s",
        "run_dir",
    }
    assert [e["id"] for e in data["episodes"]] == ["place-01", "ask-01", "refuse-01"]
    assert all(keys <= set(e) for e in data["episodes"])
    assert all(e["success"] for e in data["episodes"])
    assert data["episodes"][1]["questions"] == 1
    assert data["summary"]["overall"]["success_rate"] == 1.0
    assert set(data["summary"]["families"]) == {"place", "ask", "refuse"}


def test_user_mistakes_get_one_line_errors_not_tracebacks(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nepisodes:\n  - id: a\n    seed: 0\n    objects: []\n")
    for args in (
        ("eval", str(bad)),
        ("sim", "check", str(bad)),
        ("run", "--scene", "suites/tabletop.yaml#no-such-episode"),
        ("run", "put it away", "--llm", "nonsense:model"),
    ):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert "error:" in result.output


def test_hostile_command_lines_get_one_line_errors(tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("not a folder")
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    order = "put the red block in the blue bowl"
    runs = ("--runs-dir", str(tmp_path / "runs"))
    cases = [
        (("run", order, "--runs-dir", str(afile / "runs"), "--no-memory"), "a-file/runs"),
        (("run", order, "--memory", str(afile), *runs), "is a file, not a knowledge-base folder"),
        (("eval", "suites/tabletop.yaml", "--workers", "0", *runs), "--workers must be 1 or"),
        (("run", " \t ", "--no-memory", *runs), "instruction must be non-empty text"),
        (("run", "go " * 700, "--no-memory", *runs), "has 2100 characters, over 2000"),
        (("sim", "check", str(latin)), "latin1.yaml: not UTF-8 text (byte 0xe9 at offset 9)"),
        (("run", "--scene", f"{latin}#x", *runs), "latin1.yaml: not UTF-8 text"),
        (("eval", str(latin), *runs), "latin1.yaml: not UTF-8 text"),
    ]
    for args, message in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "runs").exists()  # refused before anything ran
    helped = re.sub(r"[\s│]+", " ", invoke("run", "--help").output)  # unwrapped
    assert "at most 2000 characters" in helped


def test_program_output_reaches_the_terminal_without_control_characters():
    out = io.StringIO()
    printer = ConsolePrinter(Console(file=out, width=200))
    said = "done\x1b[2J\x1b]0;owned\x07 \x9b31m!"
    printer(Event("say", 1, {"text": said}))
    printer(Event("code", 1, {"code": f"say({said!r})\nsay('\x1b[31mred')"}))
    printer(Event("observation", 1, {"text": said, "ok": True}))
    shown = out.getvalue()
    assert not any(c in shown for c in "\x1b\x07\x9b") and shown.count("done") == 3, repr(shown)


def test_sim_demo_writes_video_and_passes_its_predicates(tmp_path):
    result = invoke("sim", "demo", "--runs-dir", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["success"] and Path(report["video"]).stat().st_size > 10_000


def test_run_exit_codes_say_whether_the_result_was_checked():
    assert run_exit_code(True, "verified") == 0
    assert run_exit_code(True, "unverified") == 3  # done, but no goal could be checked
    assert run_exit_code(True, "refused") == 0  # a refusal the scene called for
    assert run_exit_code(False, "verified") == run_exit_code(False, "failed") == 1
