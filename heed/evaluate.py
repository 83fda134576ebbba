"""`heed eval`: run every episode of a suite, in parallel worker processes if asked, and
summarise success per family and per round."""

from __future__ import annotations

import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from heed.episode import EpisodeResult, RunOptions, run_episode
from planner.chat import make_backend
from sim.suite import Episode, Suite

ProgressCallback = Callable[[EpisodeResult], None]

_worker_backend = None


def _init_worker(llm: str) -> None:
    global _worker_backend  # one backend per worker process, loaded once
    _worker_backend = make_backend(llm)


def _run_in_worker(episode: Episode, options: RunOptions) -> dict[str, Any]:
    return run_episode(episode, _worker_backend, options).to_dict()


def evaluate(
    suite: Suite,
    llm: str,
    options: RunOptions,
    workers: int = 1,
    episodes: Iterable[Episode] | None = None,
    progress: ProgressCallback | None = None,
) -> list[EpisodeResult]:
    """Run `episodes` (default: the whole suite); results come back in suite order."""
    todo = list(episodes if episodes is not None else suite.episodes)
    results: dict[str, EpisodeResult] = {}
    if workers <= 1:
        backend = make_backend(llm)
        for episode in todo:
            result = run_episode(episode, backend, options)
            results[episode.id] = result
            if progress:
                progress(result)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, context, _init_worker, (llm,)) as pool:
            futures = [pool.submit(_run_in_worker, ep, options) for ep in todo]
            for future in as_completed(futures):
                result = EpisodeResult(**future.result())
                results[result.id] = result
                if progress:
                    progress(result)
    return [results[ep.id] for ep in todo]


def _group(results: list[EpisodeResult], key: Callable[[EpisodeResult], Any]) -> dict[Any, dict]:
    groups: dict[Any, list[EpisodeResult]] = defaultdict(list)
    for r in results:
        groups[key(r)].append(r)
    return {k: _stats(v) for k, v in sorted(groups.items())}


def _stats(results: list[EpisodeResult]) -> dict[str, Any]:
    n = len(results)
    return {
        "episodes": n,
        "success_rate": round(sum(r.success for r in results) / n, 4) if n else 0.0,
        "mean_steps": round(sum(r.steps for r in results) / n, 2) if n else 0.0,
        "prompt_tokens": sum(r.prompt_tokens for r in results),
        "completion_tokens": sum(r.completion_tokens for r in results),
        "corrections_per_episode": round(sum(r.corrections for r in results) / n, 3) if n else 0.0,
        "mean_wall_s": round(sum(r.wall_s for r in results) / n, 2) if n else 0.0,
    }


def summarize(results: list[EpisodeResult]) -> dict[str, Any]:
    return {
        "overall": _stats(results),
        "families": _group(results, lambda r: r.family),
        "rounds": _group(results, lambda r: r.round),
    }


def report(suite: Suite, llm: str, results: list[EpisodeResult]) -> dict[str, Any]:
    """The JSON `heed eval` writes; the per-episode keys are read by other tools."""
    keys = (
        "id",
        "round",
        "success",
        "failed_predicates",
        "corrections",
        "questions",
        "steps",
        "prompt_tokens",
        "completion_tokens",
        "wall_s",
        "run_dir",
    )
    return {
        "suite": suite.name,
        "backend": llm,
        "episodes": [
            {**{k: getattr(r, k) for k in keys}, "family": r.family, "status": r.status}
            for r in results
        ],
        "summary": summarize(results),
    }


def select(suite: Suite, patterns: list[str]) -> list[Episode]:
    """Episodes whose id or family matches one of `patterns` (all when none given)."""
    if not patterns:
        return list(suite.episodes)
    chosen = [e for e in suite.episodes if any(p in (e.id, e.family) for p in patterns)]
    if not chosen:
        raise ValueError(f"no episode of {suite.name!r} has id or family {', '.join(patterns)}")
    return chosen
