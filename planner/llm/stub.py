"""A scripted chat model: a test double, named as one, for planner tests and dry runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from planner.llm.base import (
    ChatMessage,
    Completion,
    LLMError,
    estimate_tokens,
    refuse_grammar,
    truncate_at_stop,
    validate_request,
)

Reply = str | Callable[[Sequence[ChatMessage]], str]


class StubChatModel:
    """Answers with scripted replies in order; records every request in `calls` (and the
    grammar each was asked under in `grammars`).

    A reply is a string or a function of the messages. Stop strings cut the reply as a
    real backend would. Token counts are whitespace estimates. With `supports_grammar`
    it takes grammars (without checking the reply against them); else it refuses them.
    """

    def __init__(
        self, replies: Sequence[Reply], name: str = "stub", supports_grammar: bool = False
    ) -> None:
        self._replies = list(replies)
        self._name = name
        self.supports_grammar = supports_grammar
        self.calls: list[list[ChatMessage]] = []
        self.grammars: list[str | None] = []

    @property
    def name(self) -> str:
        return self._name

    def complete(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        grammar: str | None = None,
        cache_prefix: int = 0,
    ) -> Completion:
        """Returns the next scripted reply; raises LLMError when the script is used up."""
        if not self.supports_grammar:
            refuse_grammar(self._name, grammar)
        stops = validate_request(max_tokens, temperature, stop)
        if len(self.calls) >= len(self._replies):
            raise LLMError(f"{self._name} has no reply left after {len(self._replies)} calls")
        reply = self._replies[len(self.calls)]
        self.calls.append(list(messages))
        self.grammars.append(grammar)
        text = reply(messages) if callable(reply) else reply
        text, _ = truncate_at_stop(text, stops)
        return Completion(
            text=text,
            prompt_tokens=sum(estimate_tokens(m.content) for m in messages),
            completion_tokens=estimate_tokens(text),
            latency_s=0.0,
            model=self._name,
            estimated=True,
            finish_reason="stop",
        )
