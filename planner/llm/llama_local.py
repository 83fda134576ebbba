"""A chat model run in-process by llama.cpp (``llama-cpp-python``): the fast CPU backend.

The model is loaded once per process and shared by every planner built on the same file.
Each call renders the chat with the model's own template and hands llama.cpp the tokens.
Two caches keep prompt evaluation to what is new:
- llama.cpp keeps the KV state of the previous prompt and evaluates only what follows the
  longest common prefix, so each ReAct step pays only for its newest turns;
- the leading messages a caller marks as repeating (`cache_prefix`: the system prompt,
  the API listing, the worked examples) have their KV state saved at each assistant turn
  boundary, in a bounded LRU, and restored when a later prompt starts the same way even
  after other prompts came between (another task with the same examples); the system
  prompt's state and that of the whole repeating head (with its examples) also go to disk
  for the next process (`kv_states`): a new `heed run` of a kind of task run before starts
  where the last one left off.
`Completion.cached_tokens` says how many prompt tokens a call did not evaluate. A GBNF
grammar constrains decoding when given (`llama_decode`: the grammar is asked about the
model's best few tokens, not the whole vocabulary).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner.llm.base import (
    CHAT_MODELS,
    ChatMessage,
    Completion,
    ContextOverflow,
    LLMConfigError,
    LLMError,
    config_from_options,
    one_line,
    truncate_at_stop,
    validate_request,
)
from planner.llm.catalog import models_dir, resolve_model
from planner.llm.kv_states import PrefixStates, StateFiles
from planner.llm.llama_decode import Grammar, GrammarError, decode

STATES_DIR = "kv-states"  # under the models folder: prompt-head KV states on disk
THREADS_ENV = "HEEDBOT_LLM_THREADS"  # threads per model when n_threads is 0 (eval workers)
INSTALL_HINT = "pip install 'heedbot[local]' (or `make local`; llama.cpp compiles in a few minutes)"


@dataclass
class LlamaLocalConfig:
    """Settings of the llama.cpp backend (the ``options`` of ``make_chat_model``).

    Attributes:
        n_ctx: context length in tokens (prompt and reply together).
        n_threads: CPU threads; 0 means ``$HEEDBOT_LLM_THREADS``, else every core.
        n_batch: prompt tokens evaluated per batch.
        seed: sampling seed (decoding is greedy at temperature 0 anyway).
        prefix_states: most saved prompt-prefix KV states (each ~30 MB for a 1.5B model
            at 1,000 tokens); 0 keeps only llama.cpp's own previous-prompt reuse.
        disk_states: most prompt-head KV states (a system prompt; a system prompt with its
            examples) kept on disk under ``$HEEDBOT_MODELS/kv-states`` for the next process,
            each ~100 MB for a 1.5B model at 3,500 tokens; 0 keeps none.
    """

    n_ctx: int = 8192
    n_threads: int = 0
    n_batch: int = 512
    seed: int = 0
    prefix_states: int = 24
    disk_states: int = 8

    def __post_init__(self) -> None:
        if self.n_ctx < 256:
            raise ValueError(f"n_ctx must be >= 256, got {self.n_ctx}")
        if min(self.n_threads, self.prefix_states, self.disk_states) < 0 or self.n_batch < 1:
            raise ValueError(
                "n_threads, prefix_states and disk_states must be >= 0 and n_batch >= 1"
            )


_MODELS: dict[tuple[str, int, int, int], _Loaded] = {}
_MODELS_LOCK = threading.Lock()


@dataclass
class _Loaded:
    """A loaded model, its chat template (for a reply, and for a prefix of messages), the
    lock that serialises its use and its saved prefix states."""

    llama: Any
    template: Any
    prefix_template: Any
    lock: threading.Lock
    load_s: float
    states: PrefixStates


@atexit.register
def _close_all() -> None:
    """Frees the loaded models before the interpreter tears down the modules their
    finalisers need (else llama-cpp-python prints a traceback at exit)."""
    with _MODELS_LOCK:
        for loaded in _MODELS.values():
            loaded.llama.close()
        _MODELS.clear()


def _load(path: Path, config: LlamaLocalConfig) -> _Loaded:
    """The model at `path`, loaded on first use and then shared within the process."""
    threads = config.n_threads or int(os.environ.get(THREADS_ENV) or 0) or os.cpu_count() or 1
    key = (str(path.resolve()), config.n_ctx, threads, config.n_batch)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _open(path, config, threads)
        return _MODELS[key]


def _open(path: Path, config: LlamaLocalConfig, threads: int) -> _Loaded:
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMConfigError(f"the local backend needs llama-cpp-python: {INSTALL_HINT}")
    import llama_cpp
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    start = time.perf_counter()
    try:
        llama = llama_cpp.Llama(
            str(path),
            n_ctx=config.n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=config.n_batch,
            seed=config.seed,
            verbose=False,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise LLMConfigError(f"llama.cpp cannot load {path}: {one_line(str(exc), 160)}") from exc
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise LLMConfigError(f"{path} has no chat template: use an instruct/chat model")

    def token_text(token: int) -> str:
        return llama.detokenize([token], special=True).decode("utf-8", errors="replace")

    eos, bos = token_text(llama.token_eos()), token_text(llama.token_bos())
    return _Loaded(
        llama,
        Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos),
        Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos, add_generation_prompt=False),
        threading.Lock(),
        time.perf_counter() - start,
        PrefixStates(config.prefix_states, _state_files(path, config)),
    )


def _state_files(path: Path, config: LlamaLocalConfig) -> StateFiles | None:
    """Where prompt-head KV states are kept between processes (None: nowhere)."""
    if config.disk_states == 0:
        return None
    import llama_cpp

    stat = path.stat()
    model_id = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|"
    model_id += f"{llama_cpp.__version__}|{config.n_ctx}"
    return StateFiles(models_dir() / STATES_DIR, model_id, keep=config.disk_states)


@CHAT_MODELS.register("local")
class LlamaLocalModel:
    """A GGUF chat model in this process, through llama.cpp; grammar-constrained on request."""

    supports_grammar = True

    def __init__(self, path: Path, config: LlamaLocalConfig | None = None, label: str = "") -> None:
        self.path = path
        self.config = config or LlamaLocalConfig()
        self._label = label or str(path)
        self._grammars: dict[str, Grammar] = {}
        self._rng = np.random.default_rng(self.config.seed)

    @classmethod
    def from_spec(cls, target: str, options: Mapping[str, Any] | None = None) -> LlamaLocalModel:
        """Builds the model from ``NAME`` (see `heed models list`) or ``PATH.gguf``."""
        config = config_from_options(LlamaLocalConfig, options)
        try:
            path = resolve_model(target)
        except FileNotFoundError as exc:
            raise LLMConfigError(str(exc)) from None
        return cls(path, config, label=target)

    @property
    def name(self) -> str:
        return f"local:{self._label}"

    def __repr__(self) -> str:
        return f"LlamaLocalModel({self.name!r})"

    def load(self) -> float:
        """Loads the model now (once per process); returns the seconds loading took."""
        return _load(self.path, self.config).load_s

    def complete(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        grammar: str | None = None,
        cache_prefix: int = 0,
    ) -> Completion:
        """Generates the next assistant turn, under `grammar` (GBNF) when given; the first
        `cache_prefix` messages repeat across calls and have their KV states kept."""
        stops = validate_request(max_tokens, temperature, stop)
        if not messages:
            raise ValueError("messages must not be empty")
        model = _load(self.path, self.config)
        llama = model.llama
        tokens = self._tokens(model, model.template, messages)
        if len(tokens) + max_tokens > self.config.n_ctx:
            raise ContextOverflow(
                f"the prompt has {len(tokens)} tokens and {max_tokens} more may follow, past "
                f"n_ctx={self.config.n_ctx}: raise n_ctx or shorten the history"
            )
        boundaries = self._boundaries(model, messages, cache_prefix, tokens)
        with model.lock:
            start = time.perf_counter()
            cached = self._prepare(model, tokens, boundaries)
            try:
                rules = self._grammar(llama, grammar) if grammar else None
                self._evaluate(llama, tokens)
                out = decode(llama, max_tokens, stops, rules, temperature, rng=self._rng)
            except (ValueError, RuntimeError) as exc:
                raise LLMError(f"llama.cpp failed: {one_line(str(exc), 160)}") from exc
            latency = time.perf_counter() - start
        text, _ = truncate_at_stop(out.text, stops)
        return Completion(
            text=text,
            prompt_tokens=len(tokens),
            completion_tokens=out.tokens,
            latency_s=latency,
            model=self.name,
            finish_reason=out.finish_reason,
            cached_tokens=cached,
        )

    @staticmethod
    def _evaluate(llama: Any, tokens: list) -> None:
        """Evaluates the prompt past what the context already holds (at least its last
        token, whose logits the first reply token comes from)."""
        current = llama.input_ids[: llama.n_tokens].tolist()
        llama.n_tokens = min(llama.longest_token_prefix(current, tokens), len(tokens) - 1)
        llama.eval(tokens[llama.n_tokens :])

    def _tokens(self, model: _Loaded, template: Any, messages: Sequence[ChatMessage]) -> list:
        try:
            prompt = template(messages=[m.to_dict() for m in messages]).prompt
        except (ValueError, TypeError, KeyError) as exc:
            why = one_line(str(exc))
            raise LLMError(f"the chat template of {self.path} failed: {why}") from exc
        return model.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def _boundaries(
        self, model: _Loaded, messages: Sequence[ChatMessage], count: int, tokens: list
    ) -> list[tuple[int, ...]]:
        """Token prefixes of `tokens` worth a saved state: the repeating messages cut after
        the system turn and after each assistant turn (shared by tasks that share only
        their first examples). None when the template does not render prefixes as such."""
        if count <= 0 or model.states.capacity == 0:
            return []
        cuts = [
            i
            for i in range(1, min(count, len(messages)) + 1)
            if i == 1 or (messages[i - 1].role == "assistant")
        ]
        prefixes = []
        for cut in cuts:
            head = self._tokens(model, model.prefix_template, messages[:cut])
            if tokens[: len(head)] != head:
                return prefixes  # the template renders a prefix differently: stop here
            prefixes.append(tuple(head))
        return prefixes

    @staticmethod
    def _prepare(model: _Loaded, tokens: list, boundaries: list[tuple[int, ...]]) -> int:
        """Puts the best reusable state in the context and evaluates and saves the repeating
        prefixes not stored yet; returns how many prompt tokens need no evaluation."""
        llama, states = model.llama, model.states
        current = llama.input_ids[: llama.n_tokens].tolist()
        reused = llama.longest_token_prefix(current, tokens)
        for head in reversed(boundaries):  # as another process left it: the whole head first
            if len(head) <= reused or states.from_disk(head):
                break
        stored = states.longest(tokens)
        if len(stored) > reused:
            reused = len(stored) if states.restore(llama, stored) else 0
        cached = reused
        for i, prefix in enumerate(boundaries):
            if len(prefix) <= reused:
                continue
            llama.n_tokens = reused  # eval() drops the KV state past n_tokens first
            llama.eval(list(prefix[reused:]))
            reused = len(prefix)
            states.save(llama, prefix, to_disk=i in (0, len(boundaries) - 1))
        return cached

    def _grammar(self, llama: Any, text: str) -> Grammar:
        """The parsed grammar (parsing costs milliseconds; the scene repeats per task)."""
        if text not in self._grammars:
            try:
                self._grammars = {text: Grammar(llama, text)}
            except GrammarError as exc:
                raise LLMError(f"invalid reply grammar: {one_line(str(exc))}") from exc
        return self._grammars[text]
