"""Running a small corrections suite in rounds (`heed eval --rounds`) from a test."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from heed.cli import app


def corrections_by_round(tmp_path: Path, suite_yaml: str) -> dict[str, dict[str, float]]:
    """Corrections per episode by round, with memory and without: {"1": {"memory": ...,
    "baseline": ...}, ...}, after checking that the run succeeded."""
    return {
        number: {side: r[side]["corrections_per_episode"] for side in ("memory", "baseline")}
        for number, r in rounds_report(tmp_path, suite_yaml).items()
    }


def rounds_report(tmp_path: Path, suite_yaml: str) -> dict[str, dict]:
    """The per-round statistics of `heed eval --rounds` on the suite, with memory and
    without, after checking that the run succeeded."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(suite_yaml)
    out = tmp_path / "rounds.json"
    result = CliRunner().invoke(
        app,
        ["eval", str(suite), "--rounds", "--objects", "ground_truth",
         "--runs-dir", str(tmp_path / "runs"), "--json", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())["rounds"]
