"""`heed memory`: every command, JSON output, export/import round trip, one-line errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_memory_fakes import HashingEmbedder, skill_record, task_record
from typer.testing import CliRunner, Result

from heed import memory_cmd
from memory.store import DB_NAME, SNAPSHOT_NAME, KnowledgeBase

Invoke = Callable[..., Result]


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch) -> HashingEmbedder:
    fake = HashingEmbedder()
    monkeypatch.setattr(memory_cmd, "make_embedder", lambda: fake)
    return fake


@pytest.fixture
def folder(tmp_path: Path, embedder: HashingEmbedder) -> Path:
    """A knowledge base with a task record, and a skill record superseding another."""
    path = tmp_path / "memory"
    with KnowledgeBase.open(path, embedder) as kb:
        kb.add(task_record("red objects go in the green bowl"))
        old = kb.add(skill_record("grip cylinders with 60 N", applies_to={"category": "cylinder"}))
        new = skill_record(
            "grip cylinders with 80 N", applies_to={"category": "cylinder"}, force=80
        )
        kb.add(new, supersedes=[old])
    return path


@pytest.fixture
def invoke(embedder: HashingEmbedder) -> Invoke:
    def run(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(memory_cmd.memory_app, [str(a) for a in args])
        assert result.exit_code == code, result.output
        return result

    return run


def test_list_show_search_stats(invoke: Invoke, folder: Path) -> None:
    listed = json.loads(invoke("list", "--memory", folder, "--json").stdout)
    assert [r["id"] for r in listed] == [1, 3]
    history = json.loads(invoke("list", "--memory", folder, "--all", "--json").stdout)
    assert [(r["id"], r["superseded_by"]) for r in history] == [(1, None), (2, 3), (3, None)]
    assert [
        r["id"]
        for r in json.loads(invoke("list", "--memory", folder, "--kind", "skill", "--json").stdout)
    ] == [3]
    shown = json.loads(invoke("show", "2", "--memory", folder, "--json").stdout)
    assert shown["superseded_by"] == 3 and shown["change"]["params"] == {"force": 60.0}
    hits = json.loads(invoke("search", "grip cylinders", "--memory", folder, "--json").stdout)
    assert hits[0]["id"] == 3 and hits[0]["score"] > 0.5
    stats = json.loads(invoke("stats", "--memory", folder, "--check", "--json").stdout)
    assert stats["current"] == 2 and stats["superseded"] == 1 and stats["problems"] == []
    assert "grip cylinders with 80 N" in invoke("list", "--memory", folder).stdout
    assert "superseded_by" in invoke("show", "3", "--memory", folder).stdout


def test_delete_then_the_record_is_gone(invoke: Invoke, folder: Path) -> None:
    assert json.loads(invoke("delete", "1", "--memory", folder, "--json").stdout) == {"deleted": 1}
    assert [r["id"] for r in json.loads(invoke("list", "--memory", folder, "--json").stdout)] == [3]
    result = invoke("delete", "1", "--memory", folder, code=2)
    assert result.stderr.strip() == "error: no knowledge record 1 (deleted)"


def test_export_import_round_trip_keeps_history(
    invoke: Invoke, folder: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "kb.jsonl"
    assert "exported 3 record(s)" in invoke("export", dump, "--memory", folder).stdout
    assert len(dump.read_text().splitlines()) == 3
    target = tmp_path / "copy"
    result = json.loads(invoke("import", dump, "--memory", target, "--json").stdout)
    assert result == {"added": 3, "duplicates": 0, "ids": [1, 2, 3]}
    again = json.loads(invoke("import", dump, "--memory", target, "--json").stdout)
    assert again["added"] == 0 and again["duplicates"] == 3
    copied = json.loads(invoke("list", "--memory", target, "--all", "--json").stdout)
    original = json.loads(invoke("list", "--memory", folder, "--all", "--json").stdout)
    strip = ("created_at",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in copied] == [
        {k: v for k, v in r.items() if k not in strip} for r in original
    ]
    assert invoke("export", "-", "--memory", folder).stdout.count("\n") == 3


def test_errors_are_one_line_with_exit_code_2(
    invoke: Invoke, folder: Path, tmp_path: Path, embedder: HashingEmbedder
) -> None:
    cases = [
        (("list", "--memory", tmp_path / "none"), "no knowledge base in"),
        (("show", "42", "--memory", folder), "no knowledge record 42"),
        (
            ("list", "--kind", "plan", "--memory", folder),
            "--kind must be one of task, skill, program",
        ),
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(task_record("fine").to_dict()) + "\n{not json\n")
    cases.append((("import", bad, "--memory", folder), "bad.jsonl:2: not a JSON record"))
    afile = tmp_path / "a-file"
    afile.write_text("not a folder")
    dump = tmp_path / "in.jsonl"
    dump.write_text(task_record("blue blocks go in the red bowl").to_json() + "\n")
    cases += [
        (("search", "grip", "--k", "-1", "--memory", folder), "--k must be 1 or more, not -1"),
        (("list", "--memory", afile), "a-file is a file, not a knowledge-base folder"),
        (("import", dump, "--memory", afile), "a-file is a file, not a knowledge-base folder"),
        (("list", "--kind", "x" * 10**5, "--memory", folder), "not 'xxxxxxx"),
    ]
    deep = tmp_path / "deep.jsonl"
    deep.write_text(
        '{"kind": "task", "statement": "x", "change": %s}\n' % ("[" * 10**5 + "]" * 10**5)
    )
    cases.append((("import", deep, "--memory", folder), "deep.jsonl:1: not a record: it nests"))
    for args, message in cases:
        result = invoke(*args, code=2)
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert len(result.stderr) < 300 and "Traceback" not in result.output
    with KnowledgeBase.open(folder, embedder):
        result = invoke("delete", "1", "--memory", folder, code=2)
        assert "open for writing by process" in result.stderr
        assert invoke("list", "--memory", folder, "--json").exit_code == 0  # readers welcome


def test_import_refuses_a_record_learn_would_refuse_and_stores_none_of_the_file(
    invoke: Invoke, folder: Path, tmp_path: Path
) -> None:
    fine = task_record("blue blocks go in the red bowl").to_dict()
    cylinders = {"category": "cylinder"}
    bad = {
        "PickParams.force = 1e+308: must be a number in [1.0, 140.0]": skill_record(
            "grip cylinders hard", applies_to=cylinders, force=1e308
        ),
        "statement has 5000 characters, over 2000": task_record("grip " * 1000),
        "change.skill 'juggle' takes no stored parameters": skill_record("juggle", "juggle"),
    }
    before = invoke("list", "--memory", folder, "--all", "--json").stdout
    for message, record in bad.items():
        dump = tmp_path / "in.jsonl"
        dump.write_text(json.dumps(fine) + "\n" + record.to_json() + "\n")
        error = invoke("import", dump, "--memory", folder, code=2).stderr
        assert error.startswith(f"error: {dump}:2: record '") and message in error, error
        assert error.count("\n") == 1 and len(error) < 200 + len(str(dump)), error
        assert invoke("list", "--memory", folder, "--all", "--json").stdout == before


def test_an_emptied_database_is_reported_and_left_alone_until_repair(
    invoke: Invoke, folder: Path, tmp_path: Path
) -> None:
    snapshot = (folder / SNAPSHOT_NAME).read_bytes()
    (folder / DB_NAME).write_bytes(b"")
    dump = tmp_path / "in.jsonl"
    dump.write_text(task_record("blue blocks go in the red bowl").to_json() + "\n")
    for args in (("list",), ("stats",), ("import", dump), ("delete", "1")):
        error = invoke(*args, "--memory", folder, code=2).stderr
        assert "is damaged or not a knowledge base (the file is empty (0 bytes))" in error
        assert "`heed memory salvage OUT.jsonl --memory" in error and error.count("\n") == 1
        assert "`heed memory repair --memory" in error, error
    assert (folder / DB_NAME).read_bytes() == b""  # neither re-initialised ...
    assert (folder / SNAPSHOT_NAME).read_bytes() == snapshot  # ... nor its index replaced
    repaired = json.loads(invoke("repair", "--memory", folder, "--json").stdout)
    assert repaired["problem"] == "the file is empty (0 bytes)" and repaired["restored"] == 0
    assert {Path(p).name.split(".damaged-")[0] for p in repaired["moved"]} >= {
        DB_NAME,
        SNAPSHOT_NAME,
    }
    assert json.loads(invoke("import", dump, "--memory", folder, "--json").stdout)["added"] == 1
    sound = json.loads(invoke("repair", "--memory", folder, "--json").stdout)
    assert sound == {"problem": None}


def test_a_damaged_page_takes_no_writes_and_salvage_and_repair_keep_what_reads(
    invoke: Invoke, tmp_path: Path, embedder: HashingEmbedder
) -> None:
    folder = tmp_path / "memory"
    with KnowledgeBase.open(folder, embedder) as kb:
        kb.add_many([task_record(f"marker{i:03d} goes " + "far away " * 20) for i in range(300)])
    database = folder / DB_NAME
    data = bytearray(database.read_bytes())
    page = data.index(b"marker150") // 4096 * 4096  # a page of the records table
    data[page : page + 8] = b"\xff" * 8
    database.write_bytes(bytes(data))
    damaged = hashlib.sha256(data).hexdigest()
    dump = tmp_path / "in.jsonl"
    dump.write_text(task_record("blue blocks go in the red bowl").to_json() + "\n")
    for args in (("delete", "1"), ("import", dump), ("list",)):
        error = invoke(*args, "--memory", folder, code=2).stderr
        assert "is damaged or not a knowledge base" in error and error.count("\n") == 1, error
    assert hashlib.sha256(database.read_bytes()).hexdigest() == damaged

    out = tmp_path / "salvaged.jsonl"
    saved = json.loads(invoke("salvage", out, "--memory", folder, "--json").stdout)
    assert 0 < saved["unreadable"] < 20 and saved["salvaged"] + saved["unreadable"] == 300
    statements = [json.loads(line)["statement"][:9] for line in out.read_text().splitlines()]
    assert len(statements) == saved["salvaged"] and "marker150" not in statements
    assert statements[0] == "marker000" and statements[-1] == "marker299"
    assert hashlib.sha256(database.read_bytes()).hexdigest() == damaged

    repaired = json.loads(invoke("repair", "--memory", folder, "--json").stdout)
    assert repaired["problem"].startswith("SQLite's integrity check:")
    assert repaired["restored"] == saved["salvaged"] and repaired["refused"] == 0
    assert Path(repaired["salvaged"]).read_text() == out.read_text()
    kept = [Path(p) for p in repaired["moved"] if Path(p).name.startswith(f"{DB_NAME}.damaged-")]
    assert hashlib.sha256(kept[0].read_bytes()).hexdigest() == damaged
    stats = json.loads(invoke("stats", "--memory", folder, "--check", "--json").stdout)
    assert stats["current"] == saved["salvaged"] and stats["problems"] == []
    assert invoke("delete", "1", "--memory", folder).exit_code == 0


def test_a_model_change_is_refused_until_reindex(
    invoke: Invoke, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_cmd, "make_embedder", lambda: HashingEmbedder("test-v2", 128))
    result = invoke("search", "grip", "--memory", folder, code=2)
    assert "built with test-hashing (384-d); run `heed memory reindex" in result.stderr
    done = json.loads(invoke("reindex", "--memory", folder, "--json").stdout)
    assert done == {"reindexed": 3, "model": "test-v2", "dimension": 128}
    hits = json.loads(invoke("search", "grip cylinders", "--memory", folder, "--json").stdout)
    assert hits[0]["id"] == 3


def test_what_opening_repaired_is_noted_once(folder: Path) -> None:
    (folder / SNAPSHOT_NAME).write_bytes(b"not a snapshot")
    script = (
        "import sys; sys.path.insert(0, 'tests'); from test_memory_fakes import HashingEmbedder; "
        "from heed import memory_cmd; memory_cmd.make_embedder = HashingEmbedder; "
        "memory_cmd.memory_app()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "list", "--memory", str(folder)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("the index snapshot is damaged") == 1, result.stderr
    assert result.stderr.startswith(f"note: knowledge base {folder}: the index snapshot")


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "heed.memory_cmd", "stats", "--memory", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: no knowledge base in") and "Traceback" not in (
        result.stderr
    )
