"""A chat model served by any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, hosted APIs).

Transport: ``httpx``, one client per call (its connection serves the retries), separate
connect and read timeouts, the reply streamed and refused past ``MAX_BODY_BYTES``;
bounded retries with exponential backoff and jitter on connection errors, 408, 429 and
5xx, honouring a short ``Retry-After``; no retry on other 4xx. TLS checks against the
system's CA store (as the standard library does); proxy environment variables and
``.netrc`` are not used.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from planner.llm.base import (
    CHAT_MODELS,
    ChatMessage,
    Completion,
    LLMAuthError,
    LLMConfigError,
    LLMHTTPError,
    LLMResponseError,
    LLMTimeout,
    LLMUnreachable,
    config_from_options,
    estimate_tokens,
    one_line,
    refuse_grammar,
    validate_request,
)

RETRY_STATUSES = frozenset({408, 429})
MAX_BODY_BYTES = 1 << 20  # a chat completion of a few hundred tokens is a few KiB
_MODEL_AT_URL = re.compile(r"^(?P<model>.*?)@(?P<url>[A-Za-z][A-Za-z0-9+.-]*://.*)$")


@dataclass
class OpenAICompatConfig:
    """Settings of an OpenAI-compatible backend (the ``options`` of ``make_chat_model``).

    Attributes:
        api_key_env: environment variable holding the API key; unset means no key is sent.
        base_url_env: environment variable holding the API base when the spec has no ``@URL``.
        connect_timeout_s: limit for opening the connection (and the TLS handshake).
        read_timeout_s: limit for the server's answer once the request is sent.
        max_tries: attempts in all, the first included.
        backoff_s: delay before the second try; doubles each try, with jitter.
        max_backoff_s: ceiling of one backoff delay.
        max_retry_after_s: a Retry-After up to this is honoured; a longer one ends retrying.
        max_tokens_field: request field for the token limit (``max_completion_tokens``
            for endpoints that want it).
        extra_body: extra request fields, e.g. ``{"top_p": 1.0}`` or vLLM's
            ``{"chat_template_kwargs": {"enable_thinking": False}}``.
        grammar: the server takes a GBNF ``grammar`` field (llama.cpp's server does), so
            replies are constrained to the planner's reply grammar.
    """

    api_key_env: str = "OPENAI_API_KEY"
    base_url_env: str = "OPENAI_BASE_URL"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 120.0
    max_tries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 10.0
    max_tokens_field: str = "max_tokens"
    extra_body: dict[str, Any] = field(default_factory=dict)
    grammar: bool = False

    def __post_init__(self) -> None:
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("connect_timeout_s and read_timeout_s must be > 0")
        if self.max_tries < 1:
            raise ValueError(f"max_tries must be >= 1, got {self.max_tries}")
        if self.backoff_s < 0 or self.max_backoff_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("backoff_s, max_backoff_s and max_retry_after_s must be >= 0")
        if not self.api_key_env:
            raise ValueError("api_key_env must name an environment variable")


class _Transient(Exception):
    """A failure worth another try; `reason` is one line for the final error."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


def normalize_base_url(url: str) -> str:
    """Checks an API base URL and drops a trailing slash or ``/chat/completions``."""
    url = url.strip().rstrip("/")
    url = url.removesuffix("/chat/completions")
    parts = urlsplit(url)
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number in 0-65535
        valid = False
    if not valid:
        raise LLMConfigError(
            f"endpoint {url!r} must be an http:// or https:// URL with a host (and a valid port)"
        )
    return url


def _root_cause(exc: BaseException) -> BaseException:
    """The exception at the bottom of a chain (httpx wraps httpcore's, which wraps the
    socket's)."""
    while (below := exc.__cause__ or exc.__context__) is not None:
        exc = below
    return exc


def _connection_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused — is the server running?"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({one_line(str(exc), 80)})"
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "the server closed the connection"
    return one_line(str(exc) or type(exc).__name__, 120)


def _server_message(body: bytes) -> str:
    """The error message a server put in its body (OpenAI, Ollama, FastAPI shapes)."""
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return one_line(text)
    if isinstance(data, dict):
        for key in ("error", "detail", "message"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message", value)
            if value:
                return one_line(str(value))
    return one_line(text)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: treat as absent


def _message_text(content: Any) -> str | None:
    """The text of a response message's content (a string, or a list of text parts)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return None


@CHAT_MODELS.register("openai")
class OpenAICompatModel:
    """A chat model behind an OpenAI-compatible ``POST {base}/chat/completions``."""

    def __init__(
        self,
        model: str,
        base_url: str,
        config: OpenAICompatConfig | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not model:
            raise LLMConfigError("the OpenAI-compatible backend needs a model name")
        self.model = model
        self.base_url = normalize_base_url(base_url)
        self.config = config or OpenAICompatConfig()
        self._sleep = sleep
        self._rng = random.Random()
        self._url = self.base_url + "/chat/completions"

    @classmethod
    def from_spec(cls, target: str, options: Mapping[str, Any] | None = None) -> OpenAICompatModel:
        """Builds the model from ``MODEL@URL`` (or ``MODEL`` with the base URL env var)."""
        config = config_from_options(OpenAICompatConfig, options)
        with_url = _MODEL_AT_URL.match(target)
        if with_url:
            return cls(with_url["model"], with_url["url"], config)
        base = os.environ.get(config.base_url_env, "")
        if not base:
            raise LLMConfigError(
                f"spec 'openai:{target}' names no endpoint: write openai:MODEL@URL "
                f"(e.g. openai:{target}@http://127.0.0.1:8000/v1) or set {config.base_url_env}"
            )
        return cls(target, base, config)

    @property
    def supports_grammar(self) -> bool:
        return self.config.grammar

    @property
    def name(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def __repr__(self) -> str:
        return f"OpenAICompatModel({self.name!r}, key from ${self.config.api_key_env})"

    def complete(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        grammar: str | None = None,
        cache_prefix: int = 0,
    ) -> Completion:
        """Asks the endpoint for the next assistant turn (under `grammar` when given and the
        endpoint takes one).

        Raises:
            LLMAuthError: HTTP 401/403.
            LLMHTTPError: another HTTP error, or 408/429/5xx on every try.
            LLMUnreachable: no connection after ``max_tries`` tries.
            LLMTimeout: no answer within ``read_timeout_s``.
            LLMResponseError: the answer is not a chat completion.
        """
        if not self.supports_grammar:
            refuse_grammar(self.name, grammar)
        stops = validate_request(max_tokens, temperature, stop)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            self.config.max_tokens_field: max_tokens,
            "temperature": temperature,
            "stream": False,
        }
        if stops:
            body["stop"] = stops
        if grammar is not None:
            body["grammar"] = grammar
        body.update(self.config.extra_body)
        start = time.perf_counter()
        with self._client() as client:
            reply = self._post_with_retries(client, body)
        latency = time.perf_counter() - start
        return self._parse(reply.body, messages, latency)

    def _client(self) -> httpx.Client:
        """A client for one call: no proxies from the environment, the system's CA store."""
        config = self.config
        return httpx.Client(
            timeout=httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s),
            verify=ssl.create_default_context(),
            trust_env=False,
        )

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "identity",  # MAX_BODY_BYTES then bounds the bytes on the wire
            "User-Agent": "heedbot",
        }
        key = os.environ.get(self.config.api_key_env, "").strip()
        if not (key.isascii() and key.isprintable()):  # the HTTP library would quote it
            raise LLMConfigError(
                f"${self.config.api_key_env} holds characters an HTTP header can not carry "
                "(a line break, or a non-ASCII letter): set it to the key alone"
            )
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post_with_retries(self, client: httpx.Client, body: dict[str, Any]) -> _Reply:
        tries = self.config.max_tries
        for attempt in range(1, tries + 1):
            try:
                return self._post_once(client, body)
            except _Transient as exc:
                delay = self._backoff(attempt)
                too_long = exc.retry_after is not None and (
                    exc.retry_after > self.config.max_retry_after_s
                )
                if attempt == tries or too_long:
                    raise self._final_error(exc, attempt) from None
                if exc.retry_after is not None:
                    delay = exc.retry_after
                self._sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _backoff(self, attempt: int) -> float:
        base = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** (attempt - 1))
        return base * self._rng.uniform(0.5, 1.0)

    def _final_error(self, exc: _Transient, attempt: int) -> Exception:
        tries = f"{attempt} tr{'y' if attempt == 1 else 'ies'}"
        if exc.status is None:
            return LLMUnreachable(f"cannot reach {self.base_url} after {tries}: {exc.reason}")
        wait = ""
        if exc.retry_after is not None and exc.retry_after > self.config.max_retry_after_s:
            wait = f" (server asks to retry after {exc.retry_after:g} s)"
        return LLMHTTPError(
            f"{self.base_url} answered HTTP {exc.status} after {tries}{wait}: {exc.reason}",
            exc.status,
            exc.reason,
        )

    def _post_once(self, client: httpx.Client, body: dict[str, Any]) -> _Reply:
        try:
            with client.stream("POST", self._url, json=body, headers=self._headers()) as response:
                reply = _Reply(response.status_code, response.headers, self._read(response))
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise LLMTimeout(
                f"{self.base_url} sent no answer within {self.config.read_timeout_s:g} s "
                "(raise read_timeout_s or lower max_tokens)"
            ) from exc
        except httpx.TransportError as exc:
            cause = _root_cause(exc)
            if isinstance(cause, ssl.SSLError):  # a certificate problem will not fix itself
                raise LLMUnreachable(
                    f"cannot reach {self.base_url}: TLS failed ({one_line(str(cause), 120)})"
                ) from exc
            raise _Transient(_connection_reason(cause)) from exc
        except httpx.RequestError as exc:  # a body that does not decode (gzip, ...)
            raise LLMResponseError(
                f"{self.base_url} sent a reply that can not be read: {one_line(str(exc), 120)}"
            ) from exc
        self._check_status(reply)
        return reply

    def _read(self, response: httpx.Response) -> bytes:
        """The body, refused unread past ``MAX_BODY_BYTES`` (as declared, or as it streams)."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise self._too_long()
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise self._too_long()
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_long(self) -> LLMResponseError:
        return LLMResponseError(
            f"{self.base_url} sent a reply over {MAX_BODY_BYTES} bytes; lower "
            "max_tokens, or check that base_url is a chat completions endpoint"
        )

    def _check_status(self, reply: _Reply) -> None:
        status = reply.status
        if 200 <= status < 300:
            return
        detail = _server_message(reply.body)
        if status in (401, 403):
            key_env = self.config.api_key_env
            sent = "Authorization" in self._headers()
            what = "refused the API key" if sent else "wants an API key"
            raise LLMAuthError(
                f"the endpoint {what} (HTTP {status}): set {key_env} or --llm-key-env"
                + (f" [server: {detail}]" if detail else ""),
                status,
                detail,
            )
        if status in RETRY_STATUSES or status >= 500:
            raise _Transient(detail or f"HTTP {status}", status, _retry_after(reply.headers))
        raise LLMHTTPError(
            f"{self.base_url} answered HTTP {status}: {detail or 'no message'}", status, detail
        )

    def _parse(self, body: bytes, messages: Sequence[ChatMessage], latency: float) -> Completion:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise LLMResponseError(
                f"{self.base_url} answered with something that is not JSON: "
                f"{one_line(repr(body), 80)}"
            ) from None
        if isinstance(data, dict) and data.get("error") and not data.get("choices"):
            raise LLMResponseError(
                f"{self.base_url} answered an error: {_server_message(body)}"
            ) from None
        try:
            choice = data["choices"][0]
            text = _message_text(choice["message"].get("content"))
        except (KeyError, IndexError, TypeError, AttributeError):
            keys = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
            raise LLMResponseError(
                f"{self.base_url} answered without choices[0].message (got: {keys})"
            ) from None
        if text is None:
            raise LLMResponseError(f"{self.base_url} answered a message without text content")
        usage = data.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        estimated = not (isinstance(prompt_tokens, int) and isinstance(completion_tokens, int))
        if estimated:
            prompt_tokens = sum(estimate_tokens(m.content) for m in messages)
            completion_tokens = estimate_tokens(text)
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency,
            model=self.name,
            estimated=estimated,
            finish_reason=choice.get("finish_reason"),
        )
