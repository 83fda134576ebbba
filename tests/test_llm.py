"""Chat-model layer: messages, specs, the registry, the stub, and the OpenAI-compatible
backend against a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from planner.llm import (
    CHAT_MODELS,
    ChatMessage,
    ChatModel,
    HFLocalModel,
    LLMAuthError,
    LLMConfigError,
    LLMError,
    LLMHTTPError,
    LLMResponseError,
    LLMTimeout,
    LLMUnreachable,
    OpenAICompatConfig,
    OpenAICompatModel,
    StubChatModel,
    make_chat_model,
)
from planner.llm.base import one_line, truncate_at_stop
from planner.llm.hf_local import parse_hf_target
from planner.llm.openai_compat import MAX_BODY_BYTES
from skills.errors import HeedError
from skills.registry import Registry

KEY_ENV = "HEEDBOT_TEST_LLM_KEY"
MESSAGES = [ChatMessage.system("You control a robot."), ChatMessage.user("pick the cube")]


def chat_body(text: str = "Thought: ok", usage: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "cmpl-1",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 17, "completion_tokens": 3, "total_tokens": 20}
    return body


@dataclass
class Scripted:
    """One scripted answer of the fake endpoint."""

    status: int = 200
    body: bytes | dict[str, Any] = field(default_factory=chat_body)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_length: bool = True  # False: the body ends when the connection closes


class FakeEndpoint:
    """An OpenAI-compatible server on 127.0.0.1 that plays a script and records requests."""

    def __init__(self) -> None:
        self.script: list[Scripted] = []
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                endpoint.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(raw)}
                )
                step = endpoint.script.pop(0) if len(endpoint.script) > 1 else endpoint.script[0]
                if step.delay_s:
                    endpoint.release.wait(step.delay_s)
                body = step.body if isinstance(step.body, bytes) else json.dumps(step.body).encode()
                self.send_response(step.status)
                self.send_header("Content-Type", "application/json")
                if step.content_length:
                    self.send_header("Content-Length", str(len(body)))
                for key, value in step.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Keeps test output quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    server = FakeEndpoint()
    server.script = [Scripted()]
    server.thread.start()
    yield server
    server.close()


def fast_config(**overrides: Any) -> OpenAICompatConfig:
    settings: dict[str, Any] = {
        "api_key_env": KEY_ENV,
        "connect_timeout_s": 1.0,
        "read_timeout_s": 2.0,
        "backoff_s": 0.001,
        "max_backoff_s": 0.002,
    }
    return OpenAICompatConfig(**(settings | overrides))


@pytest.fixture
def model(endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch) -> OpenAICompatModel:
    monkeypatch.setenv(KEY_ENV, "sk-test-secret")
    return OpenAICompatModel("tiny-chat", endpoint.url, fast_config())


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- messages, helpers, specs, registry -------------------------------------------------


def test_chat_message_checks_role_and_serialises() -> None:
    assert ChatMessage.user("hi").to_dict() == {"role": "user", "content": "hi"}
    with pytest.raises(ValueError, match="chat role"):
        ChatMessage("robot", "hi")  # type: ignore[arg-type]


def test_errors_are_heed_errors() -> None:
    for error in (LLMAuthError, LLMUnreachable, LLMTimeout, LLMResponseError, LLMConfigError):
        assert issubclass(error, LLMError)
    assert issubclass(LLMError, HeedError)
    assert issubclass(LLMAuthError, LLMHTTPError)


def test_one_line_and_truncate_at_stop() -> None:
    assert one_line("a\n  b\tc") == "a b c"
    assert one_line("x" * 300, 10) == "x" * 9 + "…"
    assert truncate_at_stop("abc\nObservation: x", ["Observation:", "\n"]) == ("abc", True)
    assert truncate_at_stop("abc", ["zz"]) == ("abc", False)


def test_backends_registered_and_duplicates_refused() -> None:
    assert {"openai", "hf"} <= set(CHAT_MODELS.names())
    registry: Registry[type] = Registry("chat model backend")
    registry.register("x")(OpenAICompatModel)
    with pytest.raises(ValueError, match="duplicate"):
        registry.register("x")(HFLocalModel)


def test_openai_spec_with_colon_in_model_name() -> None:
    chat = make_chat_model("openai:qwen2.5:7b@http://127.0.0.1:11434/v1/")
    assert isinstance(chat, OpenAICompatModel)
    assert chat.model == "qwen2.5:7b"
    assert chat.base_url == "http://127.0.0.1:11434/v1"
    assert chat.name == "openai:qwen2.5:7b@http://127.0.0.1:11434/v1"
    assert isinstance(chat, ChatModel)


def test_openai_spec_full_path_and_base_url_env(monkeypatch: pytest.MonkeyPatch) -> None:
    chat = make_chat_model("openai:m@http://127.0.0.1:8000/v1/chat/completions")
    assert chat.name == "openai:m@http://127.0.0.1:8000/v1"
    monkeypatch.setenv("HEEDBOT_TEST_BASE", "http://127.0.0.1:9/v1")
    chat = make_chat_model("openai:m", {"base_url_env": "HEEDBOT_TEST_BASE"})
    assert chat.name == "openai:m@http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("spec", "options", "match"),
    [
        ("openai", None, "BACKEND:TARGET"),
        ("nope:x", None, "unknown chat model backend 'nope'"),
        ("openai:m", {"base_url_env": "HEEDBOT_TEST_UNSET"}, "names no endpoint"),
        ("openai:m@http://127.0.0.1:1/v1", {"read_timeout": 3}, "unknown option"),
        ("openai:m@http://127.0.0.1:1/v1", {"max_tries": 0}, "max_tries"),
        ("openai:@http://127.0.0.1:1/v1", None, "needs a model name"),
        ("openai:m@ftp://127.0.0.1/v1", None, "must be an http:// or https:// URL"),
        ("openai:m@http://127.0.0.1:99999/v1", None, "and a valid port"),
        ("hf:/nonexistent/model@cpu", None, "no model at /nonexistent/model"),
        ("hf:/nonexistent/model", {"device": "tpu"}, "device must be"),
    ],
)
def test_bad_specs_raise_config_errors(
    spec: str, options: dict[str, Any] | None, match: str
) -> None:
    with pytest.raises(LLMConfigError) as info:
        make_chat_model(spec, options)
    assert match in str(info.value) and "\n" not in str(info.value)


def test_hf_target_parsing() -> None:
    assert parse_hf_target("/m/dir@cuda") == ("/m/dir", "cuda")
    assert parse_hf_target("/m/model.gguf@cuda:1") == ("/m/model.gguf", "cuda:1")
    assert parse_hf_target("/m/user@host/dir") == ("/m/user@host/dir", None)
    assert parse_hf_target("/m/dir") == ("/m/dir", None)


def test_hf_refuses_a_file_that_is_not_gguf(tmp_path: Any) -> None:
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"")
    with pytest.raises(LLMConfigError, match=r"not \.gguf"):
        make_chat_model(f"hf:{weights}")


def test_stub_plays_script_and_records_calls() -> None:
    stub = StubChatModel(["Thought: a\nObservation: b", lambda msgs: f"n={len(msgs)}"])
    first = stub.complete(MESSAGES, stop=["Observation:"])
    assert first.text == "Thought: a\n" and first.estimated
    assert stub.complete(MESSAGES).text == "n=2"
    assert len(stub.calls) == 2
    with pytest.raises(LLMError, match="no reply left"):
        stub.complete(MESSAGES)


def test_complete_validates_arguments() -> None:
    stub = StubChatModel(["x"])
    with pytest.raises(TypeError, match="not a string"):
        stub.complete(MESSAGES, stop="\n")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tokens"):
        stub.complete(MESSAGES, max_tokens=0)


# --- OpenAI-compatible backend ------------------------------------------------------------


def test_completion_with_usage(model: OpenAICompatModel, endpoint: FakeEndpoint) -> None:
    result = model.complete(MESSAGES, max_tokens=64)
    assert result.text == "Thought: ok"
    assert (result.prompt_tokens, result.completion_tokens) == (17, 3)
    assert not result.estimated and result.finish_reason == "stop"
    assert result.latency_s > 0 and result.model == model.name
    (request,) = endpoint.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-secret"
    sent = request["json"]
    assert sent["model"] == "tiny-chat" and sent["max_tokens"] == 64
    assert sent["temperature"] == 0.0 and "stop" not in sent
    assert sent["messages"][1] == {"role": "user", "content": "pick the cube"}


def test_stop_strings_and_extra_body_are_sent(
    endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    extra = {"chat_template_kwargs": {"enable_thinking": False}}
    chat = OpenAICompatModel(
        "m", endpoint.url, fast_config(extra_body=extra, max_tokens_field="max_completion_tokens")
    )
    chat.complete(MESSAGES, max_tokens=8, stop=["Observation:", "\n\n"])
    sent = endpoint.requests[0]["json"]
    assert sent["stop"] == ["Observation:", "\n\n"]
    assert sent["max_completion_tokens"] == 8 and "max_tokens" not in sent
    assert sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert "Authorization" not in endpoint.requests[0]["headers"]


def test_a_grammar_goes_to_a_server_that_takes_one_and_is_refused_otherwise(
    endpoint: FakeEndpoint,
) -> None:
    endpoint.script = [Scripted(), Scripted()]
    grammar = 'root ::= "done()"'
    takes = OpenAICompatModel("m", endpoint.url, fast_config(grammar=True))
    assert takes.supports_grammar
    takes.complete(MESSAGES, grammar=grammar)
    assert endpoint.requests[0]["json"]["grammar"] == grammar
    plain = OpenAICompatModel("m", endpoint.url, fast_config())
    with pytest.raises(LLMConfigError, match="can not constrain decoding"):
        plain.complete(MESSAGES, grammar=grammar)
    plain.complete(MESSAGES)
    assert "grammar" not in endpoint.requests[1]["json"]


def test_missing_usage_is_estimated(model: OpenAICompatModel, endpoint: FakeEndpoint) -> None:
    endpoint.script = [Scripted(body=chat_body("pick red cube", usage=False))]
    result = model.complete(MESSAGES)
    assert result.estimated
    assert result.completion_tokens == 3 and result.prompt_tokens == 7


def test_content_parts_are_joined(model: OpenAICompatModel, endpoint: FakeEndpoint) -> None:
    body = chat_body()
    body["choices"][0]["message"]["content"] = [
        {"type": "text", "text": "Thought: "},
        {"type": "text", "text": "go"},
    ]
    endpoint.script = [Scripted(body=body)]
    assert model.complete(MESSAGES).text == "Thought: go"


def test_a_reply_body_over_the_bound_is_refused_unread(
    model: OpenAICompatModel, endpoint: FakeEndpoint
) -> None:
    endpoint.script = [Scripted(body=b"x" * (MAX_BODY_BYTES + 10))]
    with pytest.raises(LLMResponseError, match="over 1048576 bytes"):
        model.complete(MESSAGES)


def test_a_streamed_reply_over_the_bound_is_refused(
    model: OpenAICompatModel, endpoint: FakeEndpoint
) -> None:
    endpoint.script = [Scripted(body=b"x" * (MAX_BODY_BYTES + 10), content_length=False)]
    with pytest.raises(LLMResponseError, match="over 1048576 bytes"):
        model.complete(MESSAGES)
    endpoint.script = [Scripted(body=chat_body(), content_length=False)]
    assert model.complete(MESSAGES).text == "Thought: ok"


def test_401_raises_auth_error_without_retry(
    model: OpenAICompatModel, endpoint: FakeEndpoint
) -> None:
    endpoint.script = [Scripted(401, {"error": {"message": "Incorrect API key provided"}})]
    with pytest.raises(LLMAuthError) as info:
        model.complete(MESSAGES)
    message = str(info.value)
    assert message.startswith("the endpoint refused the API key (HTTP 401): set " + KEY_ENV)
    assert "Incorrect API key provided" in message
    assert "sk-test-secret" not in message and "sk-test-secret" not in repr(model)
    assert info.value.status == 401
    assert len(endpoint.requests) == 1


def test_401_without_key_says_one_is_needed(
    endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    endpoint.script = [Scripted(401, b"")]
    with pytest.raises(LLMAuthError, match="wants an API key"):
        OpenAICompatModel("m", endpoint.url, fast_config()).complete(MESSAGES)


def test_a_key_no_header_can_carry_is_refused_unsent(
    endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-secret\nsecond line")
    with pytest.raises(LLMConfigError, match=f"\\${KEY_ENV} holds characters") as info:
        OpenAICompatModel("m", endpoint.url, fast_config()).complete(MESSAGES)
    assert "sk-test-secret" not in str(info.value)
    assert not endpoint.requests


def test_500_twice_then_success(model: OpenAICompatModel, endpoint: FakeEndpoint) -> None:
    endpoint.script = [Scripted(500, b"boom"), Scripted(502, b"bad gateway"), Scripted()]
    assert model.complete(MESSAGES).text == "Thought: ok"
    assert len(endpoint.requests) == 3


def test_5xx_every_try_names_status_and_tries(
    model: OpenAICompatModel, endpoint: FakeEndpoint
) -> None:
    endpoint.script = [Scripted(503, {"error": "model is loading"})]
    with pytest.raises(LLMHTTPError, match=r"HTTP 503 after 3 tries: model is loading"):
        model.complete(MESSAGES)
    assert len(endpoint.requests) == 3


def test_429_honours_small_retry_after(endpoint: FakeEndpoint) -> None:
    waits: list[float] = []
    chat = OpenAICompatModel("m", endpoint.url, fast_config(), sleep=waits.append)
    endpoint.script = [Scripted(429, b"slow down", {"Retry-After": "2"}), Scripted()]
    assert chat.complete(MESSAGES).text == "Thought: ok"
    assert waits == [2.0]


def test_429_with_long_retry_after_gives_up_at_once(
    model: OpenAICompatModel, endpoint: FakeEndpoint
) -> None:
    endpoint.script = [
        Scripted(429, {"error": {"message": "rate limited"}}, {"Retry-After": "600"})
    ]
    with pytest.raises(LLMHTTPError, match=r"after 1 try \(server asks to retry after 600 s\)"):
        model.complete(MESSAGES)
    assert len(endpoint.requests) == 1


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_not_retried(
    model: OpenAICompatModel, endpoint: FakeEndpoint, status: int
) -> None:
    detail = "The model `tiny-chat` does not exist.\n" + "details " * 100
    endpoint.script = [Scripted(status, {"error": {"message": detail}})]
    with pytest.raises(LLMHTTPError) as info:
        model.complete(MESSAGES)
    message = str(info.value)
    assert f"HTTP {status}" in message and "does not exist" in message
    assert "\n" not in message and len(message) < 400
    assert info.value.status == status
    assert isinstance(info.value, LLMAuthError) == (status == 403)
    assert len(endpoint.requests) == 1


def test_connection_refused_is_unreachable_after_retries() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    chat = OpenAICompatModel("m", url, fast_config())
    start = time.perf_counter()
    with pytest.raises(LLMUnreachable) as info:
        chat.complete(MESSAGES)
    assert time.perf_counter() - start < 2.0
    assert str(info.value) == (
        f"cannot reach {url} after 3 tries: connection refused — is the server running?"
    )


def test_slow_server_times_out_without_retry(endpoint: FakeEndpoint) -> None:
    endpoint.script = [Scripted(delay_s=5.0)]
    chat = OpenAICompatModel("m", endpoint.url, fast_config(read_timeout_s=0.2))
    start = time.perf_counter()
    with pytest.raises(LLMTimeout, match=r"no answer within 0.2 s"):
        chat.complete(MESSAGES)
    assert time.perf_counter() - start < 2.0
    assert len(endpoint.requests) == 1


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b'{"choices": []}', r"without choices\[0\].message"),
        (b'{"object": "list", "data": []}', r"got: data, object"),
        (b'{"error": {"message": "context length exceeded"}}', "context length exceeded"),
        (b'{"choices": [{"message": {"content": null}}]}', "without text content"),
    ],
)
def test_malformed_responses(
    model: OpenAICompatModel, endpoint: FakeEndpoint, body: bytes, match: str
) -> None:
    endpoint.script = [Scripted(body=body)]
    with pytest.raises(LLMResponseError, match=match):
        model.complete(MESSAGES)
    assert len(endpoint.requests) == 1


def test_import_does_not_load_transformers() -> None:
    code = (
        "import sys, planner.llm; sys.exit('transformers' in sys.modules or 'torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
