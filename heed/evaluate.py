"""`heed eval`: run every episode of a suite, in parallel worker processes if asked, and
summarise success per family and per round.

With a knowledge base the episodes run one after another in round order, so what one
episode's corrections teach is there for the next; `rounds_report` compares that with a
no-memory baseline round by round.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from heed.episode import EpisodeResult, RunOptions, run_episode
from memory.store import KnowledgeBase
from planner.backend import PlannerBackend
from planner.events import Event
from planner.factory import make_backend
from planner.llm.llama_local import THREADS_ENV
from sim.suite import Episode, Suite

ProgressCallback = Callable[[EpisodeResult], None]

_worker_backend = None


def _init_worker(llm: str, threads: int) -> None:
    global _worker_backend  # one backend per worker process, loaded once
    os.environ.setdefault(THREADS_ENV, str(threads))
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
    memory: Path | None = None,
) -> list[EpisodeResult]:
    """Run `episodes` (default: the whole suite); results come back in suite order, or in
    round order with a knowledge base at `memory` (kept across the episodes)."""
    todo = list(episodes if episodes is not None else suite.episodes)
    if memory is not None:
        with KnowledgeBase.open(memory) as kb:
            return run_in_order(todo, make_backend(llm), options, kb, progress=progress)
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
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        threads = max(1, cores // workers)  # the workers' models share the cores
        with ProcessPoolExecutor(workers, context, _init_worker, (llm, threads)) as pool:
            futures = [pool.submit(_run_in_worker, ep, options) for ep in todo]
            for future in as_completed(futures):
                result = EpisodeResult(**future.result())
                results[result.id] = result
                if progress:
                    progress(result)
    return [results[ep.id] for ep in todo]


def run_in_order(
    episodes: Sequence[Episode],
    backend: PlannerBackend,
    options: RunOptions,
    kb: KnowledgeBase,
    subscribers: Iterable[Callable[[Event], None]] = (),
    progress: ProgressCallback | None = None,
) -> list[EpisodeResult]:
    """Episodes one after another in round order (stable), sharing one knowledge base."""
    results = []
    for episode in sorted(episodes, key=lambda e: e.round):
        result = run_episode(episode, backend, options, subscribers, kb=kb)
        results.append(result)
        if progress:
            progress(result)
    return results


def rounds_report(memory: list[EpisodeResult], baseline: list[EpisodeResult]) -> dict[str, Any]:
    """Per round: success and corrections per episode with memory and without, and the
    ratios the corrections targets are stated in."""
    with_memory = _group(memory, lambda r: r.round) if memory else {}
    without = _group(baseline, lambda r: r.round) if baseline else {}
    rounds = sorted(set(with_memory) | set(without))
    out: dict[str, Any] = {
        "rounds": {
            str(n): {"memory": with_memory.get(n), "baseline": without.get(n)} for n in rounds
        }
    }
    if memory and rounds:
        first = with_memory.get(rounds[0], {}).get("corrections_per_episode", 0.0)
        later = _stats([r for r in memory if r.round != rounds[0]])["corrections_per_episode"]
        out["later_vs_first_round"] = round(later / first, 4) if first else None
        if baseline and rounds[0] in without:
            base = without[rounds[0]]["corrections_per_episode"]
            out["first_round_vs_baseline"] = round(first / base, 4) if base else None
        out["final_success"] = _stats(memory)["success_rate"]
    return out


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
        "model_s": round(sum(r.model_s for r in results), 3),
        "corrections_per_episode": round(sum(r.corrections for r in results) / n, 3) if n else 0.0,
        "mean_wall_s": round(sum(r.wall_s for r in results) / n, 2) if n else 0.0,
        "false_success_rate": round(sum(r.false_success for r in results) / n, 4) if n else 0.0,
        "self_checks": dict(Counter(r.self_check for r in results)),
        "repeated_questions": sum(r.repeated_questions for r in results),
        "knowledge_applied_share": round(sum(r.knowledge_applied > 0 for r in results) / n, 4)
        if n
        else 0.0,
        "knowledge_outside_scope": sum(r.knowledge_outside_scope for r in results),
        "served_by": dict(Counter(level for r in results for level in r.served_by)),
        "from_memory": round(sum(r.served_by[:1] == ["memory"] for r in results) / n, 4)
        if n
        else 0.0,
        "mean_plan_s": round(
            sum(sum(r.step_plan_s) for r in results) / max(1, sum(r.steps for r in results)), 6
        ),
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
        "retrieved",
        "learned",
        "skill_defaults",
        "model_s",
        "step_model_s",
        "cached_tokens",
        "rescued",
        "self_check",
        "goal",
        "unmet",
        "served_by",
        "step_plan_s",
        "repeated_questions",
        "knowledge_applied",
        "knowledge_outside_scope",
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
