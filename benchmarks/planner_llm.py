"""The planner with real language models, side by side: success, steps, tokens, model time
per step and self-debugging rescues, on a suite (or some of it).

Each backend named with ``--llm`` runs the same episodes in this one process, one after the
other, its model loaded once. Per step the model's latency is recorded; the summary gives
p50 and p95 per backend and, with two or more, each one's p50 against the first's.
Not part of CI: a 1.5B model on two CPU cores needs seconds per step with llama.cpp and a
minute with transformers. Get the model with ``heed models pull qwen2.5-coder-1.5b``.

Run: ``python -m benchmarks.planner_llm --llm local:qwen2.5-coder-1.5b
--llm hf:$HOME/.cache/heedbot/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --limit 5``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.common import Column, Verdict, console, finish, now, table, verdict_table
from heed.episode import EpisodeResult, RunOptions
from heed.evaluate import evaluate, select
from sim.suite import load_suite

SUCCESS_TARGET = 0.85
P50_TARGET_S = 5.0
SPEEDUP_TARGET = 5.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


def summary(results: list[EpisodeResult]) -> dict:
    """Success, steps, tokens and per-step model time of one backend's episodes."""
    steps = [s for r in results for s in r.step_model_s]
    n = len(results)
    return {
        "episodes": n,
        "success_rate": round(sum(r.success for r in results) / n, 4) if n else 0.0,
        "mean_steps": round(sum(r.steps for r in results) / n, 2) if n else 0.0,
        "model_s": round(sum(r.model_s for r in results), 2),
        "prompt_tokens": sum(r.prompt_tokens for r in results),
        "cached_tokens": sum(r.cached_tokens for r in results),
        "completion_tokens": sum(r.completion_tokens for r in results),
        "step_model_s_p50": round(percentile(steps, 50), 3),
        "step_model_s_p95": round(percentile(steps, 95), 3),
        "steps_measured": len(steps),
        "rescued": sum(r.rescued for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Planner success and model time per step with real LLM backends, side "
        "by side on the same episodes.",
        epilog="Example: python -m benchmarks.planner_llm --llm local:qwen2.5-coder-1.5b "
        "--llm hf:/models/qwen.gguf --limit 5",
    )
    parser.add_argument(
        "--llm",
        action="append",
        required=True,
        help="backend spec, repeatable: local:NAME|PATH.gguf, hf:PATH[@DEVICE], "
        "openai:MODEL@URL; the first is the reference for speed ratios",
    )
    parser.add_argument(
        "--suite",
        type=Path,
        default=Path("suites/tabletop.yaml"),
        help="suite to run (default: %(default)s)",
    )
    parser.add_argument(
        "--only", action="append", default=[], help="episode id or family (repeatable)"
    )
    parser.add_argument(
        "--limit", type=int, default=0, help="run only the first N chosen episodes (0: all)"
    )
    parser.add_argument(
        "--objects", default="segmentation", help="object source (default: %(default)s)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("benchmarks/results/planner_llm.json"),
        help="where to write the results (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    started, out = now(), console()
    suite = load_suite(args.suite)
    episodes = select(suite, args.only)
    if args.limit > 0:
        episodes = episodes[: args.limit]
    options = RunOptions(objects=args.objects, runs_dir=Path("runs/planner_llm"))
    per_backend: dict[str, list[EpisodeResult]] = {}
    for spec in args.llm:

        def show(result: EpisodeResult, spec: str = spec) -> None:
            steps = ", ".join(f"{s:.1f}" for s in result.step_model_s)
            out.print(
                f"{'ok  ' if result.success else 'FAIL'} {spec} {result.id}: {result.steps} "
                f"step(s), model s per step [{steps}], rescued {result.rescued}"
            )

        per_backend[spec] = evaluate(suite, spec, options, episodes=episodes, progress=show)
    summaries = {spec: summary(results) for spec, results in per_backend.items()}
    reference = summaries[args.llm[0]]["step_model_s_p50"]
    rows = []
    for spec, s in summaries.items():
        ratio = s["step_model_s_p50"] / reference if reference else 0.0
        rows.append(
            [
                spec,
                str(s["episodes"]),
                f"{s['success_rate']:.0%}",
                f"{s['mean_steps']:.2f}",
                f"{s['step_model_s_p50']:.2f}",
                f"{s['step_model_s_p95']:.2f}",
                f"{ratio:.1f}x",
                f"{s['prompt_tokens']} ({s['cached_tokens']} cached)",
                str(s["completion_tokens"]),
                str(s["rescued"]),
            ]
        )
    out.print(
        table(
            f"{suite.name}: {len(episodes)} episode(s) per backend",
            [
                Column("backend", False),
                Column("episodes"),
                Column("success"),
                Column("steps"),
                Column("model s/step p50"),
                Column("p95"),
                Column("p50 vs first"),
                Column("prompt tokens"),
                Column("completion tokens"),
                Column("rescued"),
            ],
            rows,
        )
    )
    verdicts = []
    for spec, s in summaries.items():
        verdicts.append(
            Verdict(
                f"{spec}: success >= {SUCCESS_TARGET:.0%}",
                f"{s['success_rate']:.0%} of {s['episodes']}",
                s["success_rate"] >= SUCCESS_TARGET,
            )
        )
        if spec.startswith("local:"):
            verdicts.append(
                Verdict(
                    f"{spec}: model time p50 <= {P50_TARGET_S:g} s per step",
                    f"p50 {s['step_model_s_p50']:.2f} s, p95 {s['step_model_s_p95']:.2f} s "
                    f"over {s['steps_measured']} steps",
                    s["step_model_s_p50"] <= P50_TARGET_S,
                )
            )
        if spec != args.llm[0] and reference:
            speedup = s["step_model_s_p50"] / reference
            verdicts.append(
                Verdict(
                    f"{args.llm[0]} >= {SPEEDUP_TARGET:g}x faster per step than {spec}",
                    f"{speedup:.1f}x (p50 {reference:.2f} s vs {s['step_model_s_p50']:.2f} s)",
                    speedup >= SPEEDUP_TARGET,
                )
            )
        verdicts.append(
            Verdict(f"{spec}: self-debugging", f"{s['rescued']} failed steps rescued", None)
        )
    out.print(verdict_table(verdicts))
    body = {
        "suite": suite.name,
        "episodes": [e.id for e in episodes],
        "backends": {
            spec: {
                "summary": summaries[spec],
                "episodes": [
                    {
                        k: getattr(r, k)
                        for k in (
                            "id",
                            "family",
                            "success",
                            "status",
                            "steps",
                            "model_s",
                            "step_model_s",
                            "prompt_tokens",
                            "cached_tokens",
                            "completion_tokens",
                            "rescued",
                            "failed_predicates",
                            "run_dir",
                        )
                    }
                    for r in results
                ],
            }
            for spec, results in per_backend.items()
        },
    }
    return finish(out, args.json, "planner_llm", started, body, verdicts)


if __name__ == "__main__":
    raise SystemExit(main())
