"""The planner with a real language model on the built-in suite (or some families of it).

Reports success, steps, tokens and seconds per episode, and how often self-debugging
rescued a failed step (a failed step followed by a successful one). Not part of CI: with
Qwen2.5-Coder-1.5B on two CPU cores an episode takes minutes. Get the model with
``../shared/tools/get-qwen2.5-coder-1.5b.sh DIR``.

Run: ``python -m benchmarks.planner_llm --llm hf:DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
--only place --only stack --only spatial``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common import Column, Verdict, console, finish, now, table, verdict_table
from heed.episode import RunOptions
from heed.evaluate import evaluate, report, select
from sim.suite import load_suite

TARGET = 0.80
TARGET_FAMILIES = ("place", "stack", "spatial")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Planner success, steps, tokens and time with a real LLM backend.",
        epilog="Example: python -m benchmarks.planner_llm --llm hf:/models/qwen.gguf --only place",
    )
    parser.add_argument(
        "--llm", required=True, help="backend spec: hf:PATH[@DEVICE] or openai:MODEL@URL"
    )
    parser.add_argument(
        "--suite",
        type=Path,
        default=Path("suites/tabletop.yaml"),
        help="suite to run (default: %(default)s)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="episode id or family to run (repeatable; default: the families "
        f"with a target: {', '.join(TARGET_FAMILIES)})",
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
    episodes = select(suite, args.only or list(TARGET_FAMILIES))
    options = RunOptions(objects=args.objects, runs_dir=Path("runs/planner_llm"))

    def show(result: object) -> None:
        out.print(
            f"{'ok  ' if result.success else 'FAIL'} {result.id}: {result.steps} steps, "
            f"{result.prompt_tokens}+{result.completion_tokens} tokens, "
            f"{result.wall_s:.0f} s, rescued {result.rescued}"
        )

    results = evaluate(suite, args.llm, options, episodes=episodes, progress=show)
    data = report(suite, args.llm, results)
    rows = [
        [
            r.id,
            "yes" if r.success else "no",
            str(r.steps),
            str(r.prompt_tokens),
            str(r.completion_tokens),
            f"{r.wall_s:.1f}",
            str(r.rescued),
        ]
        for r in results
    ]
    out.print(
        table(
            f"{suite.name} with {args.llm}",
            [
                Column("episode", False),
                Column("success", False),
                Column("steps"),
                Column("prompt tok"),
                Column("completion tok"),
                Column("wall s"),
                Column("rescued"),
            ],
            rows,
        )
    )
    rescued = sum(r.rescued for r in results)
    verdicts = [
        Verdict(
            f"success >= {TARGET:.0%} in {family}",
            f"{stats['success_rate']:.0%} of {stats['episodes']}",
            stats["success_rate"] >= TARGET,
        )
        for family, stats in data["summary"]["families"].items()
        if family in TARGET_FAMILIES
    ]
    verdicts.append(Verdict("self-debugging rescues", f"{rescued} failed steps rescued", None))
    out.print(verdict_table(verdicts))
    data["rescued"] = {r.id: r.rescued for r in results}
    return finish(out, args.json, "planner_llm", started, data, verdicts)


if __name__ == "__main__":
    raise SystemExit(main())
