"""Chat-model contract: messages, completions, typed errors and the backend registry.

A backend is chosen by a spec string ``BACKEND:TARGET``:

- ``openai:MODEL@URL`` — any OpenAI-compatible chat-completions endpoint; ``URL`` is
  the API base (``.../v1``), e.g. ``openai:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1``.
  ``MODEL`` may contain ``:`` (``openai:qwen2.5:7b@http://127.0.0.1:11434/v1``). Without
  ``@URL`` the base comes from the environment variable named by ``base_url_env``
  (default ``OPENAI_BASE_URL``). The API key is read from the environment variable
  named by ``api_key_env`` (default ``OPENAI_API_KEY``); none is sent when it is unset.
- ``hf:PATH`` or ``hf:PATH@DEVICE`` — a local transformers causal LM: a model
  directory or a ``.gguf`` file; ``DEVICE`` is ``auto`` (default), ``cpu``, ``cuda``,
  ``cuda:N`` or ``mps``.
- ``local:NAME`` or ``local:PATH.gguf`` — a GGUF model run in this process by llama.cpp
  (``pip install 'heedbot[local]'``); ``NAME`` is one of ``heed models list``.

Backend settings that are not part of the spec (timeouts, retries, key variable, dtype)
come from an ``options`` mapping whose keys are the fields of the backend's config
dataclass, so a YAML section maps straight onto them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from planner.backend import BackendError
from skills.registry import Registry

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a chat: who speaks and what they say."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"chat role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if not isinstance(self.content, str):
            raise TypeError(f"chat content must be str, got {type(self.content).__name__}")

    @classmethod
    def system(cls, content: str) -> ChatMessage:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> ChatMessage:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str) -> ChatMessage:
        return cls("assistant", content)

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Completion:
    """What a chat model answered, with its cost.

    Attributes:
        text: the generated text, without the stop string that ended it.
        prompt_tokens: tokens in the prompt.
        completion_tokens: tokens generated.
        latency_s: wall time of the call (model loading excluded).
        model: the model's name (its spec string).
        estimated: True when token counts are whitespace estimates, not the model's.
        finish_reason: why generation ended (``stop``, ``length``), when known.
        cached_tokens: prompt tokens whose evaluation was reused from the previous call
            (a shared prefix), when the backend knows.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    model: str
    estimated: bool = False
    finish_reason: str | None = None
    cached_tokens: int = 0


@runtime_checkable
class ChatModel(Protocol):
    """Anything that turns a list of chat messages into a completion.

    `supports_grammar` says whether `complete` honours a GBNF `grammar` (llama.cpp, or a
    llama.cpp server); a backend without it refuses one rather than ignore it.
    """

    supports_grammar: bool

    @property
    def name(self) -> str:
        """A stable, secret-free name for traces (the spec string)."""
        ...

    def complete(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        grammar: str | None = None,
        cache_prefix: int = 0,
    ) -> Completion:
        """Generate the assistant's next turn; stops at any string in `stop`; decodes only
        replies `grammar` accepts, when given. `cache_prefix` is a hint: the first that
        many messages repeat across calls, so an engine that keeps KV state may keep
        theirs (others ignore it)."""
        ...


class LLMError(BackendError):
    """A chat model failed; the message is one line that says what to do."""


class ContextOverflow(LLMError):
    """The prompt and the reply it may get do not fit the model's context."""


class LLMConfigError(LLMError):
    """A spec, option, path or optional package is wrong or missing."""


class LLMHTTPError(LLMError):
    """An endpoint answered with an HTTP error status.

    Attributes:
        status: the HTTP status code.
        detail: the server's error message, on one line.
    """

    def __init__(self, message: str, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class LLMAuthError(LLMHTTPError):
    """The endpoint refused the API key (HTTP 401 or 403)."""


class LLMUnreachable(LLMError):
    """The endpoint could not be reached (refused, unresolvable, connect timeout)."""


class LLMTimeout(LLMError):
    """The endpoint accepted the request but did not answer in time."""


class LLMResponseError(LLMError):
    """The endpoint or model returned something that is not a valid completion."""


def one_line(text: str, limit: int = 200) -> str:
    """Collapses whitespace to single spaces and truncates to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def estimate_tokens(text: str) -> int:
    """A rough token count: whitespace-separated words."""
    return len(text.split())


def refuse_grammar(model: str, grammar: str | None) -> None:
    """Raises when a grammar is asked of a backend that cannot constrain decoding."""
    if grammar is not None:
        raise LLMConfigError(
            f"{model} can not constrain decoding to a grammar: use local: (llama.cpp) or an "
            "openai: llama.cpp server with the grammar option"
        )


def validate_request(max_tokens: int, temperature: float, stop: Sequence[str] | None) -> list[str]:
    """Checks the arguments of `ChatModel.complete`; returns the stop strings as a list."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if isinstance(stop, str):
        raise TypeError("stop must be a sequence of strings, not a string: wrap it in a list")
    stops = [s for s in (stop or ()) if s]
    return stops


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cuts `text` before the earliest stop string; returns (text, whether one was found)."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


C = TypeVar("C")


def config_from_options(config_type: type[C], options: Mapping[str, Any] | None) -> C:
    """Builds a backend config dataclass from an options mapping, refusing unknown keys."""
    options = dict(options or {})
    fields = {f.name for f in dataclasses.fields(config_type)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - fields)
    if unknown:
        raise LLMConfigError(
            f"unknown option(s) {', '.join(unknown)} for {config_type.__name__}; "
            f"known: {', '.join(sorted(fields))}"
        )
    try:
        return config_type(**options)
    except (TypeError, ValueError) as exc:
        raise LLMConfigError(f"bad {config_type.__name__} option: {one_line(str(exc))}") from exc


class ChatModelBackend(Protocol):
    """What a registered backend provides: a constructor from the TARGET part of a spec."""

    @classmethod
    def from_spec(cls, target: str, options: Mapping[str, Any] | None = None) -> ChatModel: ...


CHAT_MODELS: Registry[type[ChatModelBackend]] = Registry("chat model backend")


def make_chat_model(spec: str, options: Mapping[str, Any] | None = None) -> ChatModel:
    """Builds the chat model a spec names (see the module docstring for the format).

    Args:
        spec: ``BACKEND:TARGET``, e.g. ``openai:MODEL@URL`` or ``hf:PATH[@DEVICE]``.
        options: fields of the backend's config dataclass (timeouts, key variable, ...).

    Raises:
        LLMConfigError: the spec or an option is malformed, or the backend is unknown.
    """
    backend, sep, target = spec.partition(":")
    if not sep or not target:
        raise LLMConfigError(
            f"chat model spec {spec!r} must be BACKEND:TARGET; "
            f"backends: {', '.join(CHAT_MODELS.names())}"
        )
    if backend not in CHAT_MODELS:
        raise LLMConfigError(
            f"unknown chat model backend {backend!r} in {spec!r}; "
            f"backends: {', '.join(CHAT_MODELS.names())}"
        )
    return CHAT_MODELS.get(backend).from_spec(target, options)
