"""`heed memory`: look into and manage the knowledge base learnt from corrections.

Registered in `heed.cli` with ``app.add_typer(memory_app, name="memory")``; also runs as
``python -m heed.memory_cmd``. The knowledge base lives in ``--memory PATH``, by default
``$HEEDBOT_MEMORY`` or ``~/.heedbot/memory``: what the robot learnt belongs to the user,
not to one working directory. Reading commands open it read-only, so they work while a
robot session writes to it. User mistakes end with a one-line message and exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from heed.console import fail, show_memory_notices, shown
from memory.records import KINDS
from skills.errors import HeedError, quote

memory_app = typer.Typer(
    help="The knowledge base learnt from corrections: list, search, delete, export, import, "
    "salvage, repair, reindex, stats.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    callback=show_memory_notices,
)
console = Console()

DEFAULT_MEMORY = Path("~/.heedbot/memory")
MemoryOption = Annotated[
    Path,
    typer.Option(
        "--memory",
        envvar="HEEDBOT_MEMORY",
        help="Knowledge-base folder (default: $HEEDBOT_MEMORY, else ~/.heedbot/memory).",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]
KindOption = Annotated[
    str | None, typer.Option(help="Only this kind: task, skill or program (remembered programs).")
]
AllFlag = Annotated[
    bool, typer.Option("--all", help="Include superseded records (kept as history).")
]
IdArgument = Annotated[int, typer.Argument(help="Record id, as `heed memory list` shows it.")]


def make_embedder() -> Any:
    """The embedder the commands use (the packaged MiniLM)."""
    from memory.embedder import default_embedder

    return default_embedder()


@memory_app.command("list")
def list_records(
    memory: MemoryOption = DEFAULT_MEMORY,
    kind: KindOption = None,
    include_superseded: AllFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """List the stored knowledge, oldest first (current records unless --all)."""
    with _errors():
        _check_kind(kind)
        with _opened(memory, writable=False) as kb:
            records = list(kb.records(kind, include_superseded))
    if as_json:
        return _print_json([r.to_dict() for r in records])
    table = Table("id", "kind", "statement", "from episode", "created", title=f"{memory}")
    for r in records:
        statement = shown(r.statement)
        if r.superseded_by is not None:
            statement = f"[dim]{statement} (superseded by {r.superseded_by})[/]"
        table.add_row(str(r.id), r.kind, statement, shown(r.provenance.episode), r.created_at)
    console.print(table)
    console.print(f"{len(records)} record(s)")


@memory_app.command("show")
def show(
    record_id: IdArgument, memory: MemoryOption = DEFAULT_MEMORY, as_json: JsonFlag = False
) -> None:
    """Show one record: statement, structured change, context and provenance."""
    with _errors(), _opened(memory, writable=False) as kb:
        record = kb.get(record_id)
    if as_json:
        return _print_json(record.to_dict())
    for key, value in record.to_dict().items():
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        console.print(f"[bold]{key}[/]: {shown(str(text))}", highlight=False)


@memory_app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    memory: MemoryOption = DEFAULT_MEMORY,
    k: Annotated[int, typer.Option("--k", "-k", help="How many records at most.")] = 5,
    kind: KindOption = None,
    include_superseded: AllFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Records whose statements mean the most like TEXT, with cosine similarity."""
    with _errors():
        _check_kind(kind)
        if k < 1:
            raise ValueError(f"--k must be 1 or more, not {k}")
        with _opened(memory, writable=False) as kb:
            hits = kb.search(text, k, kind, include_superseded)
    if as_json:
        return _print_json([{"score": round(h.score, 4), **h.record.to_dict()} for h in hits])
    table = Table("score", "id", "kind", "statement", title=f"search: {shown(text)}")
    for h in hits:
        table.add_row(f"{h.score:.3f}", str(h.record.id), h.record.kind, shown(h.record.statement))
    console.print(table)


@memory_app.command("delete")
def delete(
    record_id: IdArgument, memory: MemoryOption = DEFAULT_MEMORY, as_json: JsonFlag = False
) -> None:
    """Delete a record: it is never retrieved again."""
    with _errors(), _opened(memory, writable=True) as kb:
        kb.delete(record_id)
    _report(as_json, {"deleted": record_id}, f"deleted record {record_id}")


@memory_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="JSONL file to write; - for stdout.")],
    memory: MemoryOption = DEFAULT_MEMORY,
    as_json: JsonFlag = False,
) -> None:
    """Write every record that is not deleted as JSON Lines (no vectors)."""
    from memory.transfer import export_jsonl, write_jsonl

    with _errors(), _opened(memory, writable=False) as kb:
        if str(file) == "-":
            export_jsonl(kb, sys.stdout)
            return
        count = write_jsonl(file, kb.records(include_superseded=True))
    _report(
        as_json, {"exported": count, "file": str(file)}, f"exported {count} record(s) to {file}"
    )


@memory_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL file written by `heed memory export`.")],
    memory: MemoryOption = DEFAULT_MEMORY,
    as_json: JsonFlag = False,
) -> None:
    """Add the records of a JSONL export (re-embedded; already stored ones are skipped)."""
    from memory.transfer import import_records, read_jsonl

    with _errors():
        records = read_jsonl(file)
        with _opened(memory, writable=True, create=True) as kb:
            result = import_records(kb, records)
    _report(
        as_json,
        {"added": result.added, "duplicates": result.duplicates, "ids": result.ids},
        f"imported {result.added} record(s) into {memory} ({result.duplicates} already there)",
    )


@memory_app.command("salvage")
def salvage_records(
    file: Annotated[Path, typer.Argument(help="JSONL file to write (as `heed memory export`).")],
    memory: MemoryOption = DEFAULT_MEMORY,
    as_json: JsonFlag = False,
) -> None:
    """Save every record that can still be read, also from a damaged knowledge base, as
    JSON Lines (deleted ones included, marked so); the database is only read."""
    from memory.db import salvage
    from memory.store import DB_NAME
    from memory.transfer import write_jsonl

    with _errors():
        found = salvage(memory.expanduser() / DB_NAME)
        count = write_jsonl(file, found.records)
    _report(
        as_json,
        {"salvaged": count, "unreadable": found.unreadable, "file": str(file)},
        f"salvaged {count} record(s) to {file}; {found.unreadable} could not be read",
    )


@memory_app.command("repair")
def repair_folder(memory: MemoryOption = DEFAULT_MEMORY, as_json: JsonFlag = False) -> None:
    """Rebuild a damaged or emptied knowledge base from every record that can still be read
    (re-embedded); the damaged files are moved aside and nothing is deleted."""
    from memory.repair import repair

    with _errors():
        result = repair(memory.expanduser(), make_embedder())
    if not result.problem:
        return _report(as_json, {"problem": None}, f"{memory} is sound; nothing to repair")
    _report(
        as_json,
        {
            "problem": result.problem,
            "restored": result.restored,
            "refused": result.refused,
            "unreadable": result.unreadable,
            "salvaged": str(result.salvaged),
            "moved": [str(p) for p in result.moved],
        },
        f"repaired {memory}: {result.restored} record(s) restored, {result.refused} refused, "
        f"{result.unreadable} unreadable; all that was read is in {result.salvaged}, the "
        f"damaged files are kept as {', '.join(p.name for p in result.moved)}",
    )


@memory_app.command("reindex")
def reindex(memory: MemoryOption = DEFAULT_MEMORY, as_json: JsonFlag = False) -> None:
    """Re-embed every statement with the current model and rebuild the index."""
    with _errors(), _opened(memory, writable=True, reembed=True) as kb:
        count = kb.reindex()
        model, dimension = kb.model, kb.dimension
    _report(
        as_json,
        {"reindexed": count, "model": model, "dimension": dimension},
        f"re-embedded {count} statement(s) with {model} ({dimension}-d)",
    )


@memory_app.command("stats")
def stats(
    memory: MemoryOption = DEFAULT_MEMORY,
    check: Annotated[
        bool, typer.Option(help="Also compare the index with SQLite; exit 1 on a mismatch.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Counts, embedding model, index layout and sizes."""
    with _errors(), _opened(memory, writable=False) as kb:
        facts = kb.stats()
        problems = kb.check() if check else []
    if check:
        facts["problems"] = problems
    if as_json:
        _print_json(facts)
    else:
        for key, value in facts.items():
            text = json.dumps(value) if isinstance(value, dict | list) else value
            console.print(f"[bold]{key}[/]: {shown(str(text))}", highlight=False)
    if problems:
        raise typer.Exit(1)


@contextmanager
def _opened(
    memory: Path, writable: bool, create: bool = False, reembed: bool = False
) -> Iterator[Any]:
    """The knowledge base, opened for the command and closed after it (what opening had to
    repair is noted on stderr by `show_memory_notices`)."""
    from memory.store import KnowledgeBase

    kb = KnowledgeBase.open(
        memory.expanduser(), make_embedder(), create=create, writable=writable, reembed=reembed
    )
    try:
        yield kb
    finally:
        kb.close()


@contextmanager
def _errors() -> Iterator[None]:
    """Turn heedbot, value and OS errors into a one-line message and exit code 2."""
    try:
        yield
    except (HeedError, ValueError, OSError) as error:
        raise fail(str(error) or type(error).__name__) from None


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"--kind must be one of {', '.join(KINDS)}, not {quote(kind)}")


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _report(as_json: bool, data: dict[str, Any], message: str) -> None:
    if as_json:
        _print_json(data)
    else:
        console.print(shown(message), highlight=False)


if __name__ == "__main__":
    memory_app()
