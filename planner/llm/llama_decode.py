"""Decoding under a GBNF grammar that asks the grammar about the best few tokens first.

llama-cpp-python's sampler chain runs the grammar over the whole vocabulary (152k tokens
for Qwen) before every token it picks; with a reply grammar of scene names and API calls
that cost a few hundred milliseconds per token on a 2-core CPU, more than the model itself.
The model's best candidate is nearly always allowed, so this loop offers the grammar only
the `SHORTLIST` best tokens and falls back to the whole vocabulary when none of them is
allowed (as llama.cpp's own server does). The choice is the same as masking the whole
vocabulary: the best allowed token when greedy; otherwise a draw, at the temperature, among
the best `top_k` allowed tokens that are at least `MIN_P` as likely as the best.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SHORTLIST = 40  # tokens offered to the grammar before the whole vocabulary is
MIN_P = 0.05  # a sampled token is at least this likely relative to the best one
TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class GrammarError(ValueError):
    """llama.cpp could not parse a GBNF grammar."""


class Grammar:
    """A parsed GBNF grammar: llama.cpp's grammar sampler, reset before each reply."""

    def __init__(self, llama: Any, text: str) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self.text = text
        self.sampler = llama_cpp.llama_sampler_init_grammar(
            llama._model.vocab, text.encode("utf-8"), b"root"
        )
        if not self.sampler:
            raise GrammarError("llama.cpp rejected the grammar (see its log for the line)")

    def allowed(self, ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """A mask of which `ids` the grammar allows next."""
        data = np.zeros(len(ids), dtype=TOKEN_DATA)
        data["id"], data["logit"] = ids, logits
        array = self._lib.llama_token_data_array(
            data=data.ctypes.data_as(self._lib.llama_token_data_p),
            size=len(ids),
            selected=-1,
            sorted=False,
        )
        self._lib.llama_sampler_apply(self.sampler, ctypes.byref(array))
        return np.isfinite(data["logit"])

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self.sampler, token)

    def reset(self) -> None:
        self._lib.llama_sampler_reset(self.sampler)

    def close(self) -> None:
        if self.sampler:
            self._lib.llama_sampler_free(self.sampler)
            self.sampler = None

    def __del__(self) -> None:
        self.close()


@dataclass
class Decoded:
    """What one reply decoded to: its text, tokens and why it ended."""

    text: str
    tokens: int
    finish_reason: str  # "stop" (end of text, a stop string) or "length"


def _candidates(logits: np.ndarray, grammar: Grammar | None, keep: int) -> np.ndarray:
    """The best `keep` tokens the grammar allows, best first: from the shortlist when any
    of it is allowed, else from the whole vocabulary."""
    top = np.argpartition(logits, -SHORTLIST)[-SHORTLIST:]
    top = top[np.argsort(-logits[top], kind="stable")]
    if grammar is None:
        return top[:keep]
    ok = grammar.allowed(top, logits[top])
    if ok.sum() >= keep:
        return top[ok][:keep]
    every = np.arange(len(logits), dtype=np.intc)
    ok = grammar.allowed(every, logits)
    allowed = every[ok]
    return allowed[np.argsort(-logits[allowed], kind="stable")][:keep]


def decode(
    llama: Any,
    max_tokens: int,
    stops: Sequence[str],
    grammar: Grammar | None = None,
    temperature: float = 0.0,
    top_k: int = 40,
    rng: np.random.Generator | None = None,
) -> Decoded:
    """Continues the prompt already evaluated in `llama`'s context, token by token."""
    import llama_cpp

    vocab, n_vocab = llama._model.vocab, llama.n_vocab()
    if grammar is not None:
        grammar.reset()
    rng = rng or np.random.default_rng(0)
    keep = 1 if temperature == 0 else max(1, top_k)
    out, text, finish = [], "", "length"
    for _ in range(max_tokens):
        pointer = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(n_vocab,)).copy()
        best = _candidates(logits, grammar, keep)
        if len(best) == 0:  # the grammar allows nothing: it is complete
            finish = "stop"
            break
        if temperature == 0:
            token = int(best[0])
        else:
            best = best[logits[best] >= logits[best[0]] + np.log(MIN_P)]
            weights = np.exp((logits[best] - logits[best[0]]) / temperature)
            token = int(rng.choice(best, p=weights / weights.sum()))
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            finish = "stop"
            break
        if grammar is not None:
            grammar.accept(token)
        out.append(token)
        text = llama.detokenize(out).decode("utf-8", errors="ignore")
        if any(s in text for s in stops):
            finish = "stop"
            break
        llama.eval([token])
    return Decoded(text, len(out), finish)
