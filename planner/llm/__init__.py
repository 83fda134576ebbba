"""Chat-model layer: the `ChatModel` protocol, its backends and reply parsing.

``make_chat_model("local:NAME")``, ``make_chat_model("openai:MODEL@URL")`` or
``make_chat_model("hf:PATH[@DEVICE]")`` builds a backend; see `planner.llm.base` for the
spec format. Importing this package registers the backends without importing llama.cpp,
torch or transformers (each backend loads its engine lazily).
"""

from planner.llm import hf_local, llama_local, openai_compat
from planner.llm.base import (
    CHAT_MODELS,
    ChatMessage,
    ChatModel,
    Completion,
    ContextOverflow,
    LLMAuthError,
    LLMConfigError,
    LLMError,
    LLMHTTPError,
    LLMResponseError,
    LLMTimeout,
    LLMUnreachable,
    make_chat_model,
)
from planner.llm.hf_local import HFLocalConfig, HFLocalModel
from planner.llm.llama_local import LlamaLocalConfig, LlamaLocalModel
from planner.llm.openai_compat import OpenAICompatConfig, OpenAICompatModel
from planner.llm.parsing import ParsedReply, extract_code, extract_thought, parse_reply, strip_think
from planner.llm.stub import StubChatModel

__all__ = [
    "CHAT_MODELS",
    "ChatMessage",
    "ChatModel",
    "Completion",
    "ContextOverflow",
    "HFLocalConfig",
    "HFLocalModel",
    "LLMAuthError",
    "LLMConfigError",
    "LLMError",
    "LLMHTTPError",
    "LLMResponseError",
    "LLMTimeout",
    "LLMUnreachable",
    "LlamaLocalConfig",
    "LlamaLocalModel",
    "OpenAICompatConfig",
    "OpenAICompatModel",
    "ParsedReply",
    "StubChatModel",
    "extract_code",
    "extract_thought",
    "hf_local",
    "llama_local",
    "make_chat_model",
    "openai_compat",
    "parse_reply",
    "strip_think",
]
