"""The FAISS vector index: inner product over unit vectors, row ids as vector ids.

Two layouts, both inside an ``IndexIDMap2`` so vector ids are the SQLite row ids:

- ``flat`` (``IndexFlatIP``): exact; removes deleted ids outright. Used while the store
  holds fewer than `IndexConfig.hnsw_threshold` vectors (10 000 by default, where one
  exact query costs about 1 ms on one core).
- ``hnsw`` (``IndexHNSWFlat``, inner-product metric): approximate, about 0.5 ms per query
  at 100 000 vectors. FAISS HNSW cannot remove vectors, so deleted ids stay in the graph as
  *dead* ids that searches skip (they over-fetch to make up for them); once dead ids are
  more than `IndexConfig.compact_dead_fraction` of the graph, `needs_rebuild` says so and
  the store rebuilds the index from SQLite at its next save.

The layout is chosen when the index is (re)built: a flat index that grows past the
threshold becomes HNSW at the next rebuild, and an HNSW index whose live vectors fall below
half the threshold becomes flat again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import faiss
import numpy as np

FLAT = "flat"
HNSW = "hnsw"
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class IndexConfig:
    """Index layout and search settings.

    Attributes:
        hnsw_threshold: vectors from which a (re)built index is HNSW rather than flat.
        hnsw_m: HNSW graph degree (links per node per layer).
        ef_construction: HNSW candidate list size while inserting.
        ef_search: HNSW candidate list size while searching (raised to k when k is larger).
        compact_dead_fraction: dead share of an HNSW graph that calls for a rebuild.
    """

    hnsw_threshold: int = 10_000
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 96
    compact_dead_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.hnsw_threshold < 1 or self.hnsw_m < 4 or self.ef_search < 1:
            raise ValueError("hnsw_threshold >= 1, hnsw_m >= 4 and ef_search >= 1, please")
        if not 0.0 < self.compact_dead_fraction < 1.0:
            raise ValueError("compact_dead_fraction must lie strictly between 0 and 1")

    def layout_for(self, count: int) -> str:
        """The layout a rebuild of `count` vectors gets."""
        return HNSW if count >= self.hnsw_threshold else FLAT


class VectorIndex:
    """An ``IndexIDMap2`` plus the ids deleted from it but still in an HNSW graph."""

    def __init__(self, index: faiss.IndexIDMap2, config: IndexConfig) -> None:
        self._index = index
        self.config = config
        self.dead: set[int] = set()
        self._dead_array: np.ndarray | None = None
        inner = faiss.downcast_index(index.index)
        self.layout = HNSW if isinstance(inner, faiss.IndexHNSW) else FLAT

    @classmethod
    def empty(cls, dimension: int, layout: str, config: IndexConfig) -> VectorIndex:
        if layout == HNSW:
            inner = faiss.IndexHNSWFlat(dimension, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = config.ef_construction
            inner.hnsw.efSearch = config.ef_search
        else:
            inner = faiss.IndexFlatIP(dimension)
        return cls(faiss.IndexIDMap2(inner), config)

    @classmethod
    def build(
        cls, ids: np.ndarray, vectors: np.ndarray, dimension: int, config: IndexConfig
    ) -> VectorIndex:
        """A new index of the layout `config` picks for this many vectors."""
        index = cls.empty(dimension, config.layout_for(len(ids)), config)
        index.add(ids, vectors)
        return index

    @classmethod
    def from_bytes(cls, payload: np.ndarray, config: IndexConfig) -> VectorIndex:
        """Inverse of `to_bytes`; ValueError when the bytes are not an ID-mapped index.

        FAISS reads the buffer through a callback, straight into the index's own arrays:
        `faiss.deserialize_index` would first copy the whole buffer (40 % slower at 100k).
        """
        view = memoryview(payload).cast("B")
        position = 0

        def read(size: int) -> bytes:
            nonlocal position
            chunk = view[position : position + size]
            position += len(chunk)
            return chunk.tobytes()

        try:
            index = faiss.read_index(faiss.PyCallbackIOReader(read, READ_CHUNK))
        except RuntimeError as error:
            raise ValueError(f"unreadable FAISS index: {str(error).splitlines()[0]}") from None
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"expected an IndexIDMap2, found {type(index).__name__}")
        return cls(index, config)

    def to_bytes(self) -> np.ndarray:
        """The index serialised by FAISS (uint8 array); dead ids are not part of it."""
        return faiss.serialize_index(self._index)

    @property
    def dimension(self) -> int:
        return self._index.d

    @property
    def size(self) -> int:
        """Vectors in the index, dead ones included."""
        return self._index.ntotal

    @property
    def live_count(self) -> int:
        return self.size - len(self.dead)

    def ids(self) -> np.ndarray:
        """Every id in the index (int64), dead ones included."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def live_ids(self) -> np.ndarray:
        ids = self.ids()
        return ids[~np.isin(ids, self.dead_array())] if self.dead else ids

    def dead_array(self) -> np.ndarray:
        """The dead ids as a sorted int64 array (cached until the next change)."""
        if self._dead_array is None:
            self._dead_array = np.array(sorted(self.dead), dtype=np.int64)
        return self._dead_array

    def mark_dead(self, ids: Iterable[int]) -> None:
        """Record ids of an HNSW graph as dead (they stay in the graph, searches skip them)."""
        self.dead.update(int(i) for i in ids)
        self._dead_array = None

    def vectors(self, ids: Iterable[int]) -> np.ndarray:
        """The stored vectors of `ids` (KeyError-like RuntimeError from FAISS if absent)."""
        return np.stack([self._index.reconstruct(int(i)) for i in ids])

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add unit vectors under `ids` (ids must not be in the index yet)."""
        id_array = np.ascontiguousarray(np.asarray(ids, dtype=np.int64))
        if len(id_array):
            self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), id_array)

    def remove(self, ids: Iterable[int]) -> None:
        """Take ids out of search results: removed from a flat index, marked dead in HNSW."""
        id_list = [int(i) for i in ids]
        if not id_list:
            return
        if self.layout == FLAT:
            self._index.remove_ids(np.asarray(id_list, dtype=np.int64))
        else:
            ids = self.ids()
            self.mark_dead(ids[np.isin(ids, id_list)].tolist())

    @property
    def dead_fraction(self) -> float:
        return len(self.dead) / self.size if self.size else 0.0

    def needs_rebuild(self) -> bool:
        """True when a rebuild would change the layout or drop enough dead vectors."""
        if self.layout == FLAT:
            return self.live_count >= self.config.hnsw_threshold
        return (
            self.dead_fraction > self.config.compact_dead_fraction
            or self.live_count < self.config.hnsw_threshold // 2
        )

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to `k` nearest live (scores, ids) for one unit query vector, best first.

        Over-fetches by the dead share of the graph and searches again, wider, when dead ids
        still crowd out live ones.
        """
        total = self.size
        if total == 0 or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        query = np.ascontiguousarray(query, np.float32).reshape(1, -1)
        fetch = min(total, k if not self.dead else int(k / (1.0 - self.dead_fraction)) + 8)
        while True:
            scores, ids = self.search_raw(query, fetch)
            keep = ids >= 0
            if self.dead:
                keep &= ~np.isin(ids, self.dead_array())
            scores, ids = scores[keep], ids[keep]
            if len(ids) >= k or fetch >= total:
                return scores[:k], ids[:k]
            fetch = min(total, fetch * 4)

    def search_raw(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The index's own top-k for one query (dead ids included, -1 for missing)."""
        k = min(k, self.size)
        params = None
        if self.layout == HNSW:
            params = faiss.SearchParametersHNSW(efSearch=max(self.config.ef_search, k))
        with _one_thread():
            scores, ids = self._index.search(query.reshape(1, -1), k, params=params)
        return scores[0], ids[0]


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run FAISS without OpenMP workers for one query.

    A one-query search gains nothing from threads, and on a busy machine every parallel
    region waits for a descheduled worker: about 11 ms instead of 0.4 ms per HNSW query at
    10k vectors on the 2-core development machine under load. The thread count is a
    per-thread OpenMP setting, restored afterwards, so bulk adds keep every core.
    """
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)
