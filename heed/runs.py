"""Run folders: one per run, holding its trace, scene graphs, results and video."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from skills.errors import HeedError

DEFAULT_ROOT = Path("runs")


class RunFolderError(HeedError):
    """No run folder can be made where asked."""


def _slug(text: str) -> str:
    keep = "".join(ch if ch.isalnum() else "-" for ch in text.lower())
    return "-".join(part for part in keep.split("-") if part)[:40] or "run"


@dataclass(frozen=True)
class RunFolder:
    """A folder ``ROOT/YYYYmmdd-HHMMSS-label`` made for one run."""

    path: Path

    @classmethod
    def create(cls, label: str, root: Path | str = DEFAULT_ROOT) -> RunFolder:
        """Make a fresh folder; a numeric suffix keeps runs started in the same second apart."""
        base = Path(root) / f"{datetime.now():%Y%m%d-%H%M%S}-{_slug(label)}"
        for n in range(1000):
            candidate = base if n == 0 else base.with_name(f"{base.name}-{n}")
            try:
                candidate.mkdir(parents=True)
            except FileExistsError:
                continue
            except OSError as error:  # e.g. `root` lies under a regular file
                raise RunFolderError(
                    f"cannot make a run folder in {root}: {error.strerror}; "
                    "give --runs-dir a folder you can write to"
                ) from None
            return cls(candidate)
        raise FileExistsError(f"could not make a run folder next to {base}")

    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, data: Any) -> Path:
        """Write `data` as indented JSON to `name` (via a temp file, so readers never see half)."""
        target = self.file(name)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
        tmp.replace(target)
        return target

    def trace(self) -> TraceWriter:
        return TraceWriter(self.file("trace.jsonl"))


class TraceWriter:
    """Appends one JSON object per event to ``trace.jsonl``, flushed as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO = path.open("a", encoding="utf-8")
        self._t0 = time.perf_counter()

    def write(self, event: str, /, **payload: Any) -> None:
        record = {"event": event, "t_wall": round(time.perf_counter() - self._t0, 4), **payload}
        self._file.write(json.dumps(record, default=_jsonable) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jsonable(value: Any) -> Any:
    """Make NumPy scalars/arrays, tuples of them and dataclass-like objects JSON-friendly."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
