"""Perception benchmark: detectors against the simulator's ground truth on seeded scenes.

What a scene is: `heed.perceive.random_scene(seed)` for seeds 0..N-1: 3 to 7 objects of
the library (block, bar, cylinder, bowl, zone) in random palette colours laid out by
`sim.layout`; in some scenes a block or cylinder is stacked on a block or bar, or an
object is put in a bowl (touching objects get different colours). The arm is at home,
where it hides part of the table from the top camera. Both cameras (top and front,
640x480) are rendered once per scene and every detector reads the same frames.

How detections meet ground truth: greedily by cost (3-D centre distance plus half the L1
size difference), within 3 cm in the plane and 5 cm of cost; names are not used (ground
truth names are user-given). Recall = matched / true objects, precision = matched /
detections. Position error: 3-D centre distance. Size error: largest per-axis error, the
footprint's extents sorted. Yaw error: modulo the footprint's symmetry, rectangles only.
Relation accuracy: over every ordered pair of true objects and every scene-graph relation
(`perception.geometry.RELATIONS`), whether the relation computed on the detections agrees
with the one computed on ground truth (a missed object holds no relation).

Speed: milliseconds of `Detector.detect` per frame pair on one core (OpenCV limited to
one thread); rendering is timed apart and not included.

Targets (RGB-D detector): recall >= 98 %, category and colour accuracy >= 97 %, median
position error <= 5 mm, relation accuracy >= 97 %, <= 30 ms per frame pair.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
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
from heed.perceive import random_scene
from perception import geometry
from perception.detector import Detection, make_detector
from skills.objects import ROUND_CATEGORIES, ObjectState

DETECTORS = ("segmentation", "rgbd")
CAMERAS = ("top", "front")
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "perception.json"
QUICK_SCENES = 20
MATCH_XY = 0.03
MATCH_COST = 0.05
TARGETS = {
    "recall": 0.98,
    "category": 0.97,
    "color": 0.97,
    "position_mm": 5.0,
    "relations": 0.97,
    "ms": 30.0,
}
TARGET_DETECTOR = "rgbd"


# --- matching and errors -----------------------------------------------------------------
def _sorted_size(size: Sequence[float]) -> tuple[float, float, float]:
    a, b = sorted(size[:2], reverse=True)
    return (a, b, size[2])


def match(
    truth: Sequence[ObjectState], found: Sequence[Detection]
) -> list[tuple[ObjectState, Detection]]:
    """Greedy matching by centre distance plus half the size difference, within the gates."""
    pairs = []
    for i, t in enumerate(truth):
        for j, d in enumerate(found):
            if math.dist(t.position[:2], d.position[:2]) > MATCH_XY:
                continue
            size = sum(
                abs(a - b) for a, b in zip(_sorted_size(t.size), _sorted_size(d.size), strict=True)
            )
            cost = math.dist(t.position, d.position) + 0.5 * size
            if cost <= MATCH_COST:
                pairs.append((cost, i, j))
    pairs.sort()
    used_t: set[int] = set()
    used_d: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_t and j not in used_d:
            used_t.add(i)
            used_d.add(j)
            out.append((truth[i], found[j]))
    return out


def yaw_error(t: ObjectState, d: Detection) -> float | None:
    """Yaw error in degrees modulo the footprint's symmetry; None for round objects."""
    if t.category in ROUND_CATEGORIES or d.category in ROUND_CATEGORIES:
        return None
    square = abs(t.size[0] - t.size[1]) < 1e-3
    period = math.pi / 2 if square else math.pi
    # The detection's yaw is along its long side; the truth's along its x extent.
    truth_long = t.yaw if t.size[0] >= t.size[1] else t.yaw + math.pi / 2
    return math.degrees(abs(math.remainder(d.yaw - truth_long, period)))


def as_state(name: str, d: Detection) -> ObjectState:
    return ObjectState(name, d.category, d.color, d.position, d.size, d.yaw, True, d.confidence)


def relation_agreement(
    truth: Sequence[ObjectState], pairs: Sequence[tuple[ObjectState, Detection]]
) -> tuple[int, int, Counter]:
    """(agreeing, total) over ordered true pairs x relations, and per-relation counts."""
    detected = {t.name: as_state(t.name, d) for t, d in pairs}
    agree = total = 0
    counts: Counter = Counter()
    tol = geometry.TOLERANCES
    for a in truth:
        for b in truth:
            if a.name == b.name:
                continue
            da, db = detected.get(a.name), detected.get(b.name)
            for relation, holds in geometry.RELATIONS.items():
                real = holds(a, b, tol)
                seen = da is not None and db is not None and holds(da, db, tol)
                agree += real == seen
                total += 1
                counts[(relation, real, seen)] += 1
    return agree, total, counts


# --- per-detector accumulation -----------------------------------------------------------
@dataclass
class Tally:
    """Everything measured for one detector over all scenes."""

    truth: int = 0
    found: int = 0
    matched: int = 0
    position_mm: list[float] = field(default_factory=list)
    size_mm: list[float] = field(default_factory=list)
    yaw_deg: list[float] = field(default_factory=list)
    category_ok: int = 0
    color_ok: int = 0
    relations_ok: int = 0
    relations_total: int = 0
    relation_counts: Counter = field(default_factory=Counter)
    detect_ms: list[float] = field(default_factory=list)
    by_category: Counter = field(default_factory=Counter)
    confusions: Counter = field(default_factory=Counter)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, seed: int, truth: Sequence[ObjectState], found: Sequence[Detection], ms: float
    ) -> None:
        pairs = match(truth, found)
        self.truth += len(truth)
        self.found += len(found)
        self.matched += len(pairs)
        self.detect_ms.append(ms)
        for t in truth:
            self.by_category[(t.category, "truth")] += 1
        for t, d in pairs:
            self.by_category[(t.category, "matched")] += 1
            self.position_mm.append(1000 * math.dist(t.position, d.position))
            errs = [
                abs(a - b) for a, b in zip(_sorted_size(t.size), _sorted_size(d.size), strict=True)
            ]
            self.size_mm.append(1000 * max(errs))
            if (yaw := yaw_error(t, d)) is not None:
                self.yaw_deg.append(yaw)
            self.category_ok += t.category == d.category
            self.color_ok += t.color == d.color
            if t.category != d.category:
                self.confusions[f"category {t.category}->{d.category}"] += 1
            if t.color != d.color:
                self.confusions[f"colour {t.color}->{d.color}"] += 1
        matched_names = {t.name for t, _ in pairs}
        for t in truth:
            if t.name not in matched_names:
                self.misses.append({"seed": seed, "missed": t.to_dict()})
        matched_dets = {id(d) for _, d in pairs}
        for d in found:
            if id(d) not in matched_dets:
                self.misses.append(
                    {
                        "seed": seed,
                        "extra": {
                            "category": d.category,
                            "color": d.color,
                            "position": [round(v, 4) for v in d.position],
                        },
                    }
                )
        ok, total, counts = relation_agreement(truth, pairs)
        self.relations_ok += ok
        self.relations_total += total
        self.relation_counts.update(counts)

    # --- summaries -----------------------------------------------------------------------
    def ratio(self, num: int, den: int) -> float:
        return num / den if den else float("nan")

    def summary(self) -> dict[str, Any]:
        def stats(values: list[float]) -> dict[str, float]:
            if not values:
                return {"median": float("nan"), "p95": float("nan"), "mean": float("nan")}
            arr = np.asarray(values)
            return {
                "median": round(float(np.median(arr)), 3),
                "p95": round(float(np.percentile(arr, 95)), 3),
                "mean": round(float(arr.mean()), 3),
            }

        per_relation = {}
        for relation in geometry.RELATIONS:
            tp = self.relation_counts[(relation, True, True)]
            fn = self.relation_counts[(relation, True, False)]
            fp = self.relation_counts[(relation, False, True)]
            per_relation[relation] = {
                "true": tp + fn,
                "recall": round(self.ratio(tp, tp + fn), 4),
                "precision": round(self.ratio(tp, tp + fp), 4),
            }
        categories = sorted({c for c, _ in self.by_category})
        return {
            "objects": self.truth,
            "detections": self.found,
            "matched": self.matched,
            "recall": round(self.ratio(self.matched, self.truth), 4),
            "precision": round(self.ratio(self.matched, self.found), 4),
            "position_mm": stats(self.position_mm),
            "size_mm": stats(self.size_mm),
            "yaw_deg": stats(self.yaw_deg),
            "category_accuracy": round(self.ratio(self.category_ok, self.matched), 4),
            "color_accuracy": round(self.ratio(self.color_ok, self.matched), 4),
            "relation_accuracy": round(self.ratio(self.relations_ok, self.relations_total), 5),
            "relation_pairs": self.relations_total,
            "per_relation": per_relation,
            "recall_by_category": {
                c: round(
                    self.ratio(self.by_category[(c, "matched")], self.by_category[(c, "truth")]),
                    4,
                )
                for c in categories
            },
            "detect_ms": stats(self.detect_ms),
            "confusions": dict(self.confusions.most_common()),
            "misses": self.misses[:50],
        }


# --- the run -----------------------------------------------------------------------------
def run(scenes: int, detectors: Sequence[str], first_seed: int = 0) -> dict[str, Any]:
    """Render each scene once, run every detector on the same frames, tally the results."""
    built = {name: make_detector(name) for name in detectors}
    tallies = {name: Tally() for name in detectors}
    render_ms: list[float] = []
    objects = arranged = 0
    with progress() as bar:
        task = bar.add_task("scenes", total=scenes)
        for seed in range(first_seed, first_seed + scenes):
            with random_scene(seed) as env:
                truth = env.objects()
                t0 = time.perf_counter()
                frames = {c: env.robot.camera(c) for c in CAMERAS}
                render_ms.append(1000 * (time.perf_counter() - t0) / len(CAMERAS))
                state = env.robot.state()
            objects += len(truth)
            arranged += sum(1 for t in truth if t.bottom_z > 0.005)
            for name, detector in built.items():
                if seed == first_seed:
                    detector.detect(frames, state)  # warm-up: calibration caches, lookup tables
                t0 = time.perf_counter()
                found = detector.detect(frames, state)
                ms = 1000 * (time.perf_counter() - t0)
                tallies[name].add(seed, truth, found, ms)
            bar.advance(task)
            bar.refresh()
    return {
        "scenes": scenes,
        "objects": objects,
        "objects_on_or_in_another": arranged,
        "render_ms_per_frame": round(float(np.median(render_ms)), 2),
        "detectors": {name: t.summary() for name, t in tallies.items()},
    }


# --- output ------------------------------------------------------------------------------
def _pct(v: float) -> str:
    return f"{100 * v:.2f} %"


def results_table(result: dict[str, Any]):
    columns = [
        Column("detector", numeric=False),
        Column("recall"),
        Column("precision"),
        Column("pos med / p95 (mm)"),
        Column("size med / p95 (mm)"),
        Column("yaw med (deg)"),
        Column("category"),
        Column("colour"),
        Column("relations"),
        Column("ms / frame pair (med / p95)"),
    ]
    rows = []
    for name, s in result["detectors"].items():
        rows.append(
            [
                name,
                _pct(s["recall"]),
                _pct(s["precision"]),
                f"{s['position_mm']['median']:.2f} / {s['position_mm']['p95']:.2f}",
                f"{s['size_mm']['median']:.2f} / {s['size_mm']['p95']:.2f}",
                f"{s['yaw_deg']['median']:.2f}",
                _pct(s["category_accuracy"]),
                _pct(s["color_accuracy"]),
                _pct(s["relation_accuracy"]),
                f"{s['detect_ms']['median']:.1f} / {s['detect_ms']['p95']:.1f}",
            ]
        )
    title = (
        f"perception: {result['scenes']} scenes, {result['objects']} objects "
        f"({result['objects_on_or_in_another']} on or in another); rendering "
        f"{result['render_ms_per_frame']:.0f} ms per frame, not counted"
    )
    return table(title, columns, rows)


def relation_table(result: dict[str, Any]):
    columns = [Column("relation", numeric=False), Column("true pairs")]
    names = list(result["detectors"])
    for name in names:
        columns += [Column(f"{name} recall"), Column(f"{name} precision")]
    rows = []
    for relation in geometry.RELATIONS:
        first = result["detectors"][names[0]]["per_relation"][relation]
        row = [relation, str(first["true"])]
        for name in names:
            r = result["detectors"][name]["per_relation"][relation]
            row += [_pct(r["recall"]), _pct(r["precision"])]
        rows.append(row)
    return table("relations on positives (per relation)", columns, rows)


def verdicts(result: dict[str, Any]) -> list[Verdict]:
    s = result["detectors"].get(TARGET_DETECTOR)
    if s is None:
        return []
    t = TARGETS
    return [
        Verdict(f"rgbd recall >= {t['recall']:.0%}", _pct(s["recall"]), s["recall"] >= t["recall"]),
        Verdict(
            f"rgbd category accuracy >= {t['category']:.0%}",
            _pct(s["category_accuracy"]),
            s["category_accuracy"] >= t["category"],
        ),
        Verdict(
            f"rgbd colour accuracy >= {t['color']:.0%}",
            _pct(s["color_accuracy"]),
            s["color_accuracy"] >= t["color"],
        ),
        Verdict(
            f"rgbd median position error <= {t['position_mm']:g} mm",
            f"{s['position_mm']['median']:.2f} mm (p95 {s['position_mm']['p95']:.2f})",
            s["position_mm"]["median"] <= t["position_mm"],
        ),
        Verdict(
            f"rgbd relation accuracy >= {t['relations']:.0%}",
            _pct(s["relation_accuracy"]),
            s["relation_accuracy"] >= t["relations"],
        ),
        Verdict(
            f"rgbd <= {t['ms']:g} ms per 640x480 frame pair, one core",
            f"{s['detect_ms']['median']:.1f} ms median (p95 {s['detect_ms']['p95']:.1f})",
            s["detect_ms"]["median"] <= t["ms"],
        ),
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.perception",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--scenes", type=int, default=200, metavar="N", help="scenes, seeds 0..N-1 (default: 200)"
    )
    parser.add_argument("--first-seed", type=int, default=0, metavar="S", help="first seed")
    parser.add_argument(
        "--detector",
        action="append",
        choices=list(DETECTORS),
        help="run only this detector; repeat for several (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK_SCENES} scenes")
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help="results file (default: benchmarks/results/perception.json)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.scenes = QUICK_SCENES
    if args.scenes < 1:
        parser.error("--scenes needs at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cv2.setNumThreads(1)  # "one core": OpenCV would otherwise spread over every CPU
    started, t0 = now(), time.perf_counter()
    result = run(args.scenes, args.detector or list(DETECTORS), args.first_seed)
    out = console()
    out.print(results_table(result))
    out.print(relation_table(result))
    checks = verdicts(result)
    if checks:
        out.print(verdict_table(checks))
    body = {
        "settings": {
            "scenes": args.scenes,
            "first_seed": args.first_seed,
            "cameras": CAMERAS,
            "opencv_threads": 1,
            "targets": TARGETS,
        },
        "duration_s": round(time.perf_counter() - t0, 2),
        **result,
    }
    return finish(out, args.json, "perception", started, body, checks)


if __name__ == "__main__":
    sys.exit(main())
