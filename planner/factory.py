"""Planner backends by name: what `--llm` accepts."""

from __future__ import annotations

from planner.cascade import CascadePlanner
from planner.chat import ChatPlanner
from planner.embedded.backend import EmbeddedPlanner
from planner.llm import LLMError, make_chat_model
from planner.llm.catalog import CATALOG, installed_path

PLANNER_MODEL = "qwen2.5-coder-1.5b"  # the model `auto` plans with once it is pulled
SPECS = "auto, auto+MODEL_SPEC, embedded, local:NAME|PATH.gguf, openai:MODEL@URL, hf:PATH"

Backend = CascadePlanner | EmbeddedPlanner | ChatPlanner


def make_backend(spec: str = "auto") -> Backend:
    """`auto` (the cascade: program memory, the offline parser, then the pulled local
    model if any), `auto+SPEC` (the cascade with that model as its LLM level),
    `embedded` (the parser alone), or a model spec (`local:`, `openai:`, `hf:`) alone."""
    if spec == "embedded":
        return EmbeddedPlanner()
    if spec == "auto":
        return CascadePlanner(EmbeddedPlanner(), _pulled_model)
    if spec.startswith("auto+"):
        llm = _chat(spec.removeprefix("auto+"))  # a bad spec fails now
        return CascadePlanner(EmbeddedPlanner(), lambda: llm, spec)
    return _chat(spec)


def _chat(spec: str) -> ChatPlanner:
    """A chat planner on the model `spec` names, shown the towers and rows the offline
    parser reads in a task's words and the objects they pick out."""
    return ChatPlanner(make_chat_model(spec), reader=EmbeddedPlanner().reading)


def _pulled_model() -> ChatPlanner | None:
    """The planner model `heed models pull` fetched, or None when it is not here (or the
    llama.cpp engine is not installed)."""
    if installed_path(CATALOG[PLANNER_MODEL]) is None:
        return None
    try:
        return _chat(f"local:{PLANNER_MODEL}")
    except LLMError:
        return None
