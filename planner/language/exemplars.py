"""Nearest exemplar by meaning: which labelled example sentence a text is closest to.

Patterns read the common phrasings; for the rest, MiniLM embeddings compare a text with a
few example sentences per label (an intent, a kind of correction) and take the nearest
one if it is close enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from memory.embedder import EmbedderUnavailable, MiniLMEmbedder, default_embedder


class ExemplarMatcher:
    """The label of the exemplar nearest to a text (cosine), or None below `threshold` or
    without an embedder. The exemplars are embedded once, on first use."""

    def __init__(
        self,
        exemplars: Mapping[str, Sequence[str]],
        threshold: float,
        embedder: MiniLMEmbedder | None = None,
    ) -> None:
        self._labels = [label for label, sentences in exemplars.items() for _ in sentences]
        self._sentences = [s for sentences in exemplars.values() for s in sentences]
        self.threshold = threshold
        self._embedder = embedder
        self._vectors: np.ndarray | None = None

    def nearest(self, text: str) -> str | None:
        try:
            embedder = self._embedder or default_embedder()
            if self._vectors is None:
                self._vectors = embedder.embed(self._sentences)
            scores = self._vectors @ embedder.embed([text])[0]
        except EmbedderUnavailable:
            return None
        best = int(np.argmax(scores))
        return self._labels[best] if scores[best] >= self.threshold else None
