"""Knowledge-base benchmark: add and retrieval latency, recall@5, footprint and open time.

What a size is: a fresh knowledge base (SQLite + FAISS snapshot, default `IndexConfig`)
holding N synthetic task records, written by `KnowledgeBase.add_many` and, for the last
100, one `add` at a time.

Where the vectors come from:

- ``1k``: the real thing. Template statements ("put the small red block in the green
  bowl", "for heavy cylinders, grip with 60 N", ...) embedded by MiniLM inside `add` and
  `add_many`; queries are other template statements, embedded once beforehand.
- ``10k`` and up: embedding that many sentences is out of reach here, so the index part
  gets random unit vectors directly (the records keep template statements that do not
  match them). They are *clustered* like real embeddings: cluster centres are MiniLM
  embeddings of template statements (and mixes of two of them), and each vector is
  ``normalise(centre + 0.6 * gaussian / sqrt(384))``: cosine about 0.86 to its centre,
  0.74 between members, like paraphrases. Queries are fresh draws from random clusters.
- ``uniform`` (with 100k): i.i.d. uniform random unit vectors, index only. In 384-d they
  are all nearly orthogonal, so "nearest" is decided by noise: the adversarial worst case
  for any approximate index, reported to show it, not as a target.

Adding: `add_many` throughput (embedding included at 1k), then single `add` calls with
the vector given (a SQLite commit with ``synchronous=FULL`` plus the index insert); at 1k
also single adds that embed their statement.

What is timed, in a fresh process per size (``--probe``), after a warm-up: opening the
knowledge base (snapshot verification, load, reconciliation with SQLite); the index search
alone (``VectorIndex.search``, k=5, the query already embedded), the store's
`search_vector` (index + SQLite status filter), and fetching the 5 records. RSS is that
process's resident memory after opening, minus before. Recall@5: the share of the exact
top 5 (brute force over the same vectors) that the index returns. Query embedding time:
MiniLM on one uncached sentence, reported beside the search time.

Targets: index search p50 <= 2 ms at 100k; open <= 1 s at 100k.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss
import numpy as np

from benchmarks.common import (
    Column,
    Verdict,
    console,
    finish,
    now,
    progress,
    table,
    verdict_table,
)
from memory.index import HNSW, IndexConfig, VectorIndex
from memory.records import TASK, Context, KnowledgeRecord, ObjectContext, Provenance
from memory.store import KnowledgeBase

SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}
DEFAULT_SIZES = "1k,100k"
QUICK_SIZES = "1k,10k"
SINGLE_ADDS = 100
QUERIES = 200
CENTRE_TEXTS = 1_000
MEMBERS_PER_CLUSTER = 50
SIGMA = 0.6
EF_SWEEP = (32, 64, 96, 128, 256)
K = 5
TARGET_SEARCH_MS = 2.0
TARGET_OPEN_S = 1.0
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "memory.json"

COLORS = ["red", "green", "blue", "yellow", "gray", "orange", "purple", "white"]
SIZES_WORDS = ["small", "large", "heavy", "light", "tall", "flat"]
CATEGORIES = ["block", "bowl", "cylinder", "bar", "zone", "cup", "box"]
TEMPLATES = [
    "{c1} objects go in the {c2} {cat2}",
    "for {s} {cat}s, grip with {n} N",
    "put the {s} {c1} {cat} in the {c2} {cat2}",
    "stack the {c1} {cat} on the {c2} {cat2}",
    "move slowly when carrying a {s} {cat}",
    "never push the {c1} {cat} off the table",
    "approach {s} {cat}s from the side",
    "keep the {c1} {cat} left of the {c2} {cat2}",
    "open the gripper to {n} mm for {s} {cat}s",
    "place {c1} {cat}s near the {c2} {cat2}, not on it",
]


# -- data -----------------------------------------------------------------------------------


def template_texts(n: int, rng: np.random.Generator) -> list[str]:
    """`n` statements drawn from the templates (repeats possible)."""
    out = []
    for _ in range(n):
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        out.append(
            template.format(
                c1=rng.choice(COLORS),
                c2=rng.choice(COLORS),
                s=rng.choice(SIZES_WORDS),
                cat=rng.choice(CATEGORIES),
                cat2=rng.choice(CATEGORIES),
                n=int(rng.integers(2, 16)) * 5,
            )
        )
    return out


def make_records(texts: Sequence[str], tag: str) -> list[KnowledgeRecord]:
    """Task records for `texts`, made unique by a serial number in the statement."""
    context = Context("tidy up the table", (ObjectContext("block", "red", (0.04, 0.04, 0.04)),))
    return [
        KnowledgeRecord(
            TASK,
            f"{text} (#{tag}{i})",
            {"rule": "note", "serial": i},
            context,
            Provenance(f"bench-{i}", text, "2025-01-01T00:00:00Z"),
        )
        for i, text in enumerate(texts)
    ]


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def cluster_centres(embedder: Any, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` centres: MiniLM embeddings of template statements, then mixes of two."""
    base = embedder.encode_batch(template_texts(min(count, CENTRE_TEXTS), rng))
    if count <= len(base):
        return base
    a, b = rng.integers(len(base), size=(2, count - len(base)))
    w = rng.uniform(0.3, 0.7, size=(count - len(base), 1)).astype(np.float32)
    return np.concatenate([base, unit(w * base[a] + (1 - w) * base[b])])


def clustered(n: int, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`n` unit vectors scattered around randomly chosen centres (see the docstring)."""
    out = np.empty((n, centres.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        noise = rng.standard_normal((stop - start, centres.shape[1]), dtype=np.float32)
        picks = centres[rng.integers(len(centres), size=stop - start)]
        out[start:stop] = unit(picks + SIGMA * noise / np.sqrt(centres.shape[1]))
    return out


def exact_top(vectors: np.ndarray, queries: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Ids of the exact top K of every query (brute force, all threads)."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    _, rows = flat.search(queries, K)
    return ids[rows]


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1e3
    return {f"p{p}": round(float(np.percentile(ms, p)), 4) for p in (50, 95, 99)}


# -- building (this process) ------------------------------------------------------------


def build(size: str, folder: Path, embedder: Any, rng: np.random.Generator) -> dict[str, Any]:
    """Fill a knowledge base of `size`; write queries and exact answers next to it."""
    n = SIZES[size]
    real = n <= 1_000
    records = make_records(template_texts(n, rng), "r")
    vectors = None
    if not real:
        centres = cluster_centres(embedder, max(1, n // MEMBERS_PER_CLUSTER), rng)
        vectors = clustered(n, centres, rng)
        queries = clustered(QUERIES, centres, rng)
    else:
        queries = embedder.encode_batch(template_texts(QUERIES, rng))
    bulk = n - SINGLE_ADDS
    out: dict[str, Any] = {"size": size, "records": n, "vectors": "minilm" if real else "clustered"}
    with KnowledgeBase.open(folder, embedder) as kb:
        t0 = time.perf_counter()
        ids = kb.add_many(records[:bulk], None if real else vectors[:bulk])
        out["add_many_s"] = round(time.perf_counter() - t0, 2)
        out["add_many_per_s"] = round(bulk / out["add_many_s"])
        if real:  # half the single adds embed their statement, half get it embedded before
            embedded_first = SINGLE_ADDS // 2
            timed = [timed_add(kb, records[i], None, ids) for i in range(bulk, n - embedded_first)]
            out["add_with_embedding_ms"] = percentiles(timed)
            bulk = n - embedded_first
            vectors = embedder.encode_batch([r.statement for r in records[bulk:]])
            vectors = np.concatenate([np.zeros((bulk, vectors.shape[1]), np.float32), vectors])
        out["add_ms"] = percentiles(
            [timed_add(kb, records[i], vectors[i], ids) for i in range(bulk, n)]
        )
        t0 = time.perf_counter()
        kb.save()
        out["save_s"] = round(time.perf_counter() - t0, 2)
        out["layout"] = kb.index_layout
        if real:
            vectors = kb.index.vectors(ids)
    out["snapshot_bytes"] = (folder / "index.snap").stat().st_size
    out["db_bytes"] = sum(p.stat().st_size for p in folder.glob("knowledge.sqlite3*"))
    np.save(folder.parent / "queries.npy", queries)
    np.save(folder.parent / "truth.npy", exact_top(vectors, queries, np.asarray(ids)))
    return out


def timed_add(
    kb: KnowledgeBase, record: KnowledgeRecord, vector: np.ndarray | None, ids: list[int]
) -> float:
    """Seconds of one `add` (embedding included when `vector` is None); appends the id."""
    t0 = time.perf_counter()
    ids.append(kb.add(record, vector=vector))
    return time.perf_counter() - t0


def uniform_index(n: int, rng: np.random.Generator) -> dict[str, Any]:
    """Recall and speed of a bare default index over i.i.d. uniform unit vectors."""
    vectors = unit(rng.standard_normal((n, 384), dtype=np.float32))
    queries = unit(rng.standard_normal((QUERIES, 384), dtype=np.float32))
    ids = np.arange(1, n + 1, dtype=np.int64)
    t0 = time.perf_counter()
    index = VectorIndex.build(ids, vectors, 384, IndexConfig())
    built = time.perf_counter() - t0
    truth = exact_top(vectors, queries, ids)
    return {
        "size": f"{n // 1000}k",
        "records": n,
        "vectors": "uniform",
        "layout": index.layout,
        "build_s": round(built, 2),
        "search": sweep(index, queries, truth),
    }


def query_embedding_ms(embedder: Any, rng: np.random.Generator) -> dict[str, Any]:
    """MiniLM on one sentence at a time, uncached, with torch's default threads and with one.

    One sentence is too little work to share out: on a busy machine the extra threads
    mostly wait for each other.
    """
    import torch

    texts = template_texts(70, rng)
    embedder.encode_batch(texts[:5])
    threads = torch.get_num_threads()
    out: dict[str, Any] = {"torch_threads": threads}
    for label, count, part in (("default", threads, texts[5:35]), ("one_thread", 1, texts[35:])):
        torch.set_num_threads(count)
        times = []
        for text in part:
            t0 = time.perf_counter()
            embedder.encode_batch([text])
            times.append(time.perf_counter() - t0)
        out[label] = percentiles(times)
    torch.set_num_threads(threads)
    return out


# -- probing (a fresh process) ------------------------------------------------------------


def sweep(index: VectorIndex, queries: np.ndarray, truth: np.ndarray) -> list[dict[str, Any]]:
    """Latency and recall@K of the index search, at the configured ef then each of EF_SWEEP."""
    configs = [index.config]
    if index.layout == HNSW:
        configs += [replace(index.config, ef_search=ef) for ef in EF_SWEEP]
    rows = []
    original = index.config
    for config in configs:
        index.config = config
        for q in queries[:10]:
            index.search(q, K)
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            _, ids = index.search(q, K)
            times.append(time.perf_counter() - t0)
            found.append(ids)
        recall = np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
        ef = config.ef_search if index.layout == HNSW else None
        rows.append({"ef_search": ef, "recall": round(float(recall), 4), **percentiles(times)})
    index.config = original
    return rows


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def probe(folder: Path) -> dict[str, Any]:
    """Open the knowledge base and time its searches (run in a fresh process)."""
    from memory.embedder import default_embedder

    queries = np.load(folder.parent / "queries.npy")
    truth = np.load(folder.parent / "truth.npy")
    before = rss_mb()
    t0 = time.perf_counter()
    kb = KnowledgeBase.open(folder, default_embedder(), writable=False)
    opened = time.perf_counter() - t0
    out = {"open_s": round(opened, 3), "rss_mb": round(rss_mb() - before, 1)}
    out["notices"] = kb.notices
    out["search"] = sweep(kb.index, queries, truth)
    store, fetch = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = kb.search_vector(q, K)
        t1 = time.perf_counter()
        kb.fetch([i for i, _ in hits])
        store.append(t1 - t0)
        fetch.append(time.perf_counter() - t1)
    out["search_vector_ms"] = percentiles(store)
    out["fetch_ms"] = percentiles(fetch)
    kb.close()
    return out


def run_probe(folder: Path, repeats: int) -> dict[str, Any]:
    """`probe` in fresh processes; open time is the median of `repeats` opens."""
    results = []
    for _ in range(repeats):
        command = [sys.executable, "-m", "benchmarks.memory", "--probe", str(folder)]
        done = subprocess.run(
            command, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
        )
        results.append(json.loads(done.stdout))
    first = results[0]
    first["open_s_all"] = [r["open_s"] for r in results]
    first["open_s"] = statistics.median(first["open_s_all"])
    return first


# -- report -----------------------------------------------------------------------------


def size_table(rows: list[dict[str, Any]]) -> Any:
    columns = [
        Column("size", numeric=False),
        Column("vectors", numeric=False),
        Column("layout", numeric=False),
        Column("add_many /s"),
        Column("add p50 ms"),
        Column("save s"),
        Column("open s"),
        Column("RSS MB"),
        Column("snapshot MB"),
        Column("search p50 ms"),
        Column("p95 ms"),
        Column("+SQLite p50 ms"),
        Column("recall@5"),
    ]
    cells = []
    for r in rows:
        search = r["search"][0]
        cells.append(
            [
                r["size"],
                r["vectors"],
                r["layout"],
                str(r.get("add_many_per_s", "")),
                f"{r['add_ms']['p50']:.2f}" if "add_ms" in r else "",
                f"{r['save_s']:.2f}" if "save_s" in r else "",
                f"{r['open_s']:.3f}" if "open_s" in r else "",
                f"{r['rss_mb']:.0f}" if "rss_mb" in r else "",
                f"{r['snapshot_bytes'] / 1e6:.1f}" if "snapshot_bytes" in r else "",
                f"{search['p50']:.3f}",
                f"{search['p95']:.3f}",
                f"{r['search_vector_ms']['p50']:.3f}" if "search_vector_ms" in r else "",
                f"{search['recall']:.3f}",
            ]
        )
    return table("Knowledge base by size (k=5)", columns, cells)


def sweep_table(rows: list[dict[str, Any]]) -> Any:
    columns = [Column("size", numeric=False), Column("vectors", numeric=False), Column("ef")]
    columns += [Column("p50 ms"), Column("p99 ms"), Column("recall@5")]
    cells = [
        [
            r["size"],
            r["vectors"],
            str(s["ef_search"]),
            f"{s['p50']:.3f}",
            f"{s['p99']:.3f}",
            f"{s['recall']:.3f}",
        ]
        for r in rows
        if r["layout"] == HNSW
        for s in r["search"][1:]
    ]
    return table("HNSW efSearch sweep (index search only)", columns, cells)


def verdicts(rows: list[dict[str, Any]], embed_ms: dict[str, Any]) -> list[Verdict]:
    out = []
    at = {r["size"]: r for r in rows if r["vectors"] != "uniform"}
    if "100k" in at:
        r = at["100k"]
        s = r["search"][0]
        out.append(
            Verdict(
                f"index search p50 <= {TARGET_SEARCH_MS} ms at 100k (query embedded beforehand)",
                f"{s['p50']:.3f} ms (p95 {s['p95']:.3f}), recall@5 {s['recall']:.3f}",
                s["p50"] <= TARGET_SEARCH_MS,
            )
        )
        out.append(
            Verdict(
                f"open <= {TARGET_OPEN_S} s at 100k",
                f"{r['open_s']:.3f} s (median of {r['open_s_all']})",
                r["open_s"] <= TARGET_OPEN_S,
            )
        )
    out.append(
        Verdict(
            "query embedding (MiniLM, one uncached sentence)",
            f"{embed_ms['default']['p50']:.1f} ms p50 with {embed_ms['torch_threads']} torch "
            f"threads, {embed_ms['one_thread']['p50']:.1f} ms with 1",
            None,
        )
    )
    if "1k" in at:
        added = at["1k"]["add_with_embedding_ms"]["p50"]
        out.append(Verdict("add at 1k, MiniLM embedding included", f"{added:.1f} ms p50", None))
    for r in rows:
        if r["size"] == "1m" and r["vectors"] != "uniform":
            s = r["search"][0]
            out.append(
                Verdict(
                    "1M records (no target)",
                    f"search p50 {s['p50']:.3f} ms, recall@5 {s['recall']:.3f}, "
                    f"open {r['open_s']:.2f} s, RSS {r['rss_mb']:.0f} MB",
                    None,
                )
            )
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory",
        description=__doc__.split("\n\n")[0],
        epilog="Examples:\n  python -m benchmarks.memory --quick\n"
        "  python -m benchmarks.memory --sizes 1k,100k,1m",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated sizes among {', '.join(SIZES)} (default: %(default)s; "
        "1m takes several minutes to build)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke test: sizes {QUICK_SIZES}, one open each"
    )
    parser.add_argument(
        "--no-uniform", action="store_true", help="skip the uniform-vector index at 100k"
    )
    parser.add_argument("--opens", type=int, default=3, help="opens timed per size (median)")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default: %(default)s)")
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help="write every number here (default: benchmarks/results/memory.json)",
    )
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.opens = QUICK_SIZES, 1
    args.size_list = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in args.size_list if s not in SIZES]
    if unknown or not args.size_list:
        parser.error(f"unknown sizes {unknown}; choose among {', '.join(SIZES)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe:
        sys.stdout.write(json.dumps(probe(args.probe)) + "\n")
        return 0
    from memory.embedder import default_embedder

    started, t0 = now(), time.perf_counter()
    rng = np.random.default_rng(args.seed)
    embedder = default_embedder()
    embed_ms = query_embedding_ms(embedder, rng)
    rows = []
    with progress() as bar, tempfile.TemporaryDirectory(prefix="heedbot-bench-") as tmp:
        task = bar.add_task("sizes", total=len(args.size_list))
        bar.refresh()
        for size in args.size_list:
            folder = Path(tmp) / size / "memory"
            folder.parent.mkdir(parents=True)
            row = build(size, folder, embedder, rng)
            row.update(run_probe(folder, args.opens))
            rows.append(row)
            if size == "100k" and not args.no_uniform:
                rows.append(uniform_index(SIZES[size], rng))
            bar.advance(task)
            bar.refresh()
    out = console()
    out.print(size_table(rows))
    if any(r["layout"] == HNSW for r in rows):
        out.print(sweep_table(rows))
    checks = verdicts(rows, embed_ms)
    out.print(verdict_table(checks))
    body = {
        "settings": {
            "sizes": args.size_list,
            "k": K,
            "queries": QUERIES,
            "single_adds": SINGLE_ADDS,
            "index_config": asdict(IndexConfig()),
            "sigma": SIGMA,
            "members_per_cluster": MEMBERS_PER_CLUSTER,
            "faiss_threads": faiss.omp_get_max_threads(),
            "seed": args.seed,
        },
        "duration_s": round(time.perf_counter() - t0, 2),
        "query_embedding_ms": embed_ms,
        "sizes": rows,
    }
    return finish(out, args.json, "memory", started, body, checks)


if __name__ == "__main__":
    sys.exit(main())
