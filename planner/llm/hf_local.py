"""A chat model run in-process by transformers, from a model directory or a GGUF file.

The model loads on the first call (or on `load()`) and stays cached. Decoding is greedy
at temperature 0. Stop strings end generation as soon as one appears and are cut from
the text, as OpenAI-compatible servers do.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.llm.base import (
    CHAT_MODELS,
    ChatMessage,
    Completion,
    LLMConfigError,
    LLMError,
    config_from_options,
    one_line,
    refuse_grammar,
    truncate_at_stop,
    validate_request,
)

if TYPE_CHECKING:
    import torch

DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
DTYPES = ("auto", "float32", "bfloat16", "float16")
INSTALL_HINT = "pip install 'heedbot[hf]'"


@dataclass
class HFLocalConfig:
    """Settings of the local transformers backend (the ``options`` of ``make_chat_model``).

    Attributes:
        device: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps``;
            a ``@DEVICE`` in the spec overrides it.
        dtype: ``auto`` (bfloat16 or float16 on GPU, float32 on CPU) or a dtype name.
        trust_remote_code: let transformers run code shipped with the model directory.
    """

    device: str = "auto"
    dtype: str = "auto"
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if not DEVICE_RE.match(self.device):
            raise ValueError(f"device must be auto, cpu, mps, cuda or cuda:N, got {self.device!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")


class StopOnStrings:
    """A transformers stopping criterion: true once the generated text holds a stop string.

    It decodes only the tokens generated after the prompt, so a stop string inside the
    prompt never triggers it.
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_len: int) -> None:
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        self.prompt_len = prompt_len

    def __call__(self, input_ids: torch.Tensor, scores: Any = None, **kwargs: Any) -> torch.Tensor:
        import torch

        done = [
            any(s in self.tokenizer.decode(row[self.prompt_len :]) for s in self.stops)
            for row in input_ids
        ]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def parse_hf_target(target: str) -> tuple[str, str | None]:
    """Splits ``PATH[@DEVICE]`` into the path and the device (None when not given)."""
    path, sep, device = target.rpartition("@")
    if sep and DEVICE_RE.match(device):
        return path, device
    return target, None


def resolve_device(device: str) -> str:
    """Turns ``auto`` into the best device present; other names pass through."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """The torch dtype to load weights in."""
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _require(module: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise LLMConfigError(f"{why} needs the {module} package: {INSTALL_HINT}")


@CHAT_MODELS.register("hf")
class HFLocalModel:
    """A local causal LM with a chat template, loaded lazily and cached."""

    supports_grammar = False

    def __init__(self, path: str | Path, config: HFLocalConfig | None = None) -> None:
        self.path = Path(path).expanduser()
        self.config = config or HFLocalConfig()
        if not self.path.exists():
            raise LLMConfigError(f"no model at {self.path}: give a model directory or a .gguf file")
        self.is_gguf = self.path.is_file() and self.path.suffix.lower() == ".gguf"
        if self.path.is_file() and not self.is_gguf:
            raise LLMConfigError(f"{self.path} is a file but not .gguf: give its directory instead")
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self.device: str | None = None
        self.load_s: float | None = None

    @classmethod
    def from_spec(cls, target: str, options: Mapping[str, Any] | None = None) -> HFLocalModel:
        """Builds the model from ``PATH`` or ``PATH@DEVICE``."""
        path, device = parse_hf_target(target)
        opts = dict(options or {})
        if device is not None:
            opts["device"] = device
        return cls(path, config_from_options(HFLocalConfig, opts))

    @property
    def name(self) -> str:
        suffix = "" if self.config.device == "auto" else f"@{self.config.device}"
        return f"hf:{self.path}{suffix}"

    def __repr__(self) -> str:
        return f"HFLocalModel({self.name!r}, loaded={self._model is not None})"

    def load(self) -> None:
        """Loads tokenizer and weights now (a no-op once loaded); `load_s` records the time."""
        with self._lock:
            if self._model is None:
                self._load()

    def _load(self) -> None:
        start = time.perf_counter()
        _require("transformers", "the hf backend")
        if self.is_gguf:
            _require("gguf", "loading a .gguf file")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = resolve_device(self.config.device)
        dtype = resolve_dtype(self.config.dtype, device)
        directory, extra = (
            (self.path.parent, {"gguf_file": self.path.name}) if self.is_gguf else (self.path, {})
        )
        extra["trust_remote_code"] = self.config.trust_remote_code
        use_map = device != "cpu" and importlib.util.find_spec("accelerate") is not None
        try:
            tokenizer = AutoTokenizer.from_pretrained(directory, **extra)
            if getattr(tokenizer, "chat_template", None) is None:
                raise LLMConfigError(
                    f"{self.path} has no chat template: use an instruct/chat model or add "
                    "a chat_template.jinja to it"
                )
            model = AutoModelForCausalLM.from_pretrained(
                directory, dtype=dtype, **({"device_map": device} if use_map else {}), **extra
            )
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise LLMConfigError(
                f"transformers cannot load {self.path}: {one_line(str(exc), 160)}"
            ) from exc
        if not use_map:
            model = model.to(device)
        model.eval()
        self._model, self._tokenizer, self.device = model, tokenizer, device
        self.load_s = time.perf_counter() - start

    def _encode(self, messages: Sequence[ChatMessage]) -> Any:
        """Applies the chat template; folds a system turn into the first user turn if the
        template refuses the system role."""
        from jinja2 import TemplateError

        turns = [m.to_dict() for m in messages]
        kwargs = {"add_generation_prompt": True, "return_dict": True, "return_tensors": "pt"}
        try:
            try:
                return self._tokenizer.apply_chat_template(turns, **kwargs)
            except TemplateError:
                if len(turns) < 2 or turns[0]["role"] != "system":
                    raise
                system, first = turns[0], turns[1]
                merged = {
                    "role": first["role"],
                    "content": f"{system['content']}\n\n{first['content']}",
                }
                return self._tokenizer.apply_chat_template([merged, *turns[2:]], **kwargs)
        except (TemplateError, ValueError, TypeError, KeyError) as exc:
            raise LLMError(
                f"the chat template of {self.path} failed: {one_line(str(exc), 160)}"
            ) from exc

    def complete(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        grammar: str | None = None,
        cache_prefix: int = 0,
    ) -> Completion:
        """Generates the next assistant turn (loading the model on the first call)."""
        refuse_grammar(self.name, grammar)
        stops = validate_request(max_tokens, temperature, stop)
        if not messages:
            raise ValueError("messages must not be empty")
        self.load()
        import torch
        from transformers import StoppingCriteriaList

        start = time.perf_counter()
        inputs = self._encode(messages)
        inputs = {k: v.to(self._model.device) for k, v in inputs.items()}
        prompt_len = int(inputs["input_ids"].shape[1])
        criteria = StoppingCriteriaList([StopOnStrings(self._tokenizer, stops, prompt_len)])
        with torch.inference_mode():
            output = self._model.generate(
                **inputs,
                generation_config=self._generation_config(max_tokens, temperature),
                stopping_criteria=criteria if stops else None,
            )
        generated = output[0, prompt_len:]
        raw = self._tokenizer.decode(generated, skip_special_tokens=True)
        text, stopped = truncate_at_stop(raw, stops)
        n_generated = int(generated.shape[0])
        finish = "length" if n_generated >= max_tokens and not stopped else "stop"
        return Completion(
            text=text,
            prompt_tokens=prompt_len,
            completion_tokens=n_generated,
            latency_s=time.perf_counter() - start,
            model=self.name,
            finish_reason=finish,
        )

    def _generation_config(self, max_tokens: int, temperature: float) -> Any:
        """The model's generation config with this call's length and decoding mode."""
        gen = copy.deepcopy(self._model.generation_config)
        gen.max_new_tokens = max_tokens
        gen.max_length = None
        gen.do_sample = temperature > 0
        if gen.do_sample:
            gen.temperature = temperature
        else:
            gen.temperature, gen.top_p, gen.top_k = None, None, None
        eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
        turn_end = self._tokenizer.eos_token_id  # chat templates end a turn with it
        if turn_end is not None and turn_end not in eos:
            gen.eos_token_id = [e for e in eos if e is not None] + [turn_end]
        if gen.pad_token_id is None:
            pad = self._tokenizer.pad_token_id
            gen.pad_token_id = pad if pad is not None else self._tokenizer.eos_token_id
        return gen
