"""The embedder interface the knowledge base needs, and float32 vector helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

EMBED_BATCH = 256


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors; `memory.embedder.MiniLMEmbedder` is the real one.

    Attributes:
        name: model name, stored with the vectors so another model is never mixed in.
        dimension: length of each vector.
    """

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) float32 unit vectors."""
        ...


def embed_texts(embedder: Embedder, texts: Sequence[str], batch: int = EMBED_BATCH) -> np.ndarray:
    """Embed many texts, in batches through ``encode_batch`` when the embedder has it."""
    bulk = getattr(embedder, "encode_batch", None) or embedder.embed
    parts = [bulk(list(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    out = np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), np.float32)
    return as_unit_rows(out, embedder.dimension)


def as_unit_rows(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """C-contiguous float32 (n, dimension) rows scaled to unit length (zero rows stay zero).

    Raises:
        ValueError: wrong shape, or a value that is not finite.
    """
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != dimension:
        raise ValueError(f"vectors must have shape (n, {dimension}), not {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("vectors hold NaN or infinite values")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def to_blob(vector: np.ndarray) -> bytes:
    """Little-endian float32 bytes of one vector, as SQLite stores it."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blobs(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    """(n, dimension) float32 rows from `to_blob` bytes; ValueError if a blob is damaged."""
    if not blobs:
        return np.zeros((0, dimension), np.float32)
    joined = b"".join(blobs)
    if len(joined) != len(blobs) * dimension * 4:
        raise ValueError(f"stored vectors are not all {dimension}-d float32")
    return np.frombuffer(joined, dtype="<f4").astype(np.float32).reshape(len(blobs), dimension)
