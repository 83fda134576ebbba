"""Pure helper functions a program may call; they run inside the worker.

Only chosen functions are exposed, never a module: a handful of `math` functions and
constants, and small numpy/shapely wrappers that take and return plain Python values
(floats, lists), so no numpy or shapely object ever reaches a program. Add a helper with
`@helper`; the name is the function's name, and a duplicate is an error. Each wrapper
checks its inputs and bounds its work (lists of at most `MAX_ITEMS` numbers).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import shapely

HELPERS: dict[str, Any] = {}  # name -> function or constant; filled below, read-only after
MAX_ITEMS = 10_000


def add_helper(name: str, item: Any) -> None:
    """Register a helper function or constant; a duplicate name is an error."""
    if name in HELPERS:
        raise ValueError(f"duplicate sandbox helper {name!r}: each name registers once")
    if not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"sandbox helper name {name!r} must be an identifier without '_'")
    HELPERS[name] = item


def helper(fn: Callable) -> Callable:
    """Decorator: register `fn` as a helper under its own name."""
    add_helper(fn.__name__, fn)
    return fn


for _fn in (math.sqrt, math.sin, math.cos, math.tan, math.asin, math.acos, math.atan,
            math.atan2, math.hypot, math.radians, math.degrees, math.floor, math.ceil,
            math.exp, math.log, math.isclose):  # fmt: skip
    add_helper(_fn.__name__, _fn)
add_helper("pi", math.pi)


def _numbers(values: Any, what: str = "values") -> np.ndarray:
    if not isinstance(values, list | tuple) or not 0 < len(values) <= MAX_ITEMS:
        raise ValueError(f"{what} must be a list of 1 to {MAX_ITEMS} numbers")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        raise ValueError(f"{what} must contain only numbers")
    return np.asarray(values, dtype=float)


def _point(p: Any, what: str) -> np.ndarray:
    array = _numbers(p, what)
    if array.size not in (2, 3):
        raise ValueError(f"{what} must be a point [x, y] or [x, y, z]")
    return array


def _points(points: Any, what: str = "points") -> np.ndarray:
    if not isinstance(points, list | tuple) or not 0 < len(points) <= MAX_ITEMS:
        raise ValueError(f"{what} must be a list of points [x, y]")
    return np.array([_point(p, what)[:2] for p in points])


@helper
def mean(values: list[float]) -> float:
    """Mean of a list of numbers."""
    return float(np.mean(_numbers(values)))


@helper
def median(values: list[float]) -> float:
    """Median of a list of numbers."""
    return float(np.median(_numbers(values)))


@helper
def clip(value: float | list[float], low: float, high: float) -> float | list[float]:
    """Limit a number (or each number of a list) to [low, high]."""
    lo, hi = _numbers([low, high], "low and high")
    if isinstance(value, list | tuple):
        return np.clip(_numbers(value), lo, hi).tolist()
    return float(np.clip(_numbers([value], "value")[0], lo, hi))


@helper
def linspace(start: float, stop: float, num: int) -> list[float]:
    """`num` evenly spaced numbers from start to stop (at most 1000)."""
    if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= 1000:
        raise ValueError("num must be an integer from 1 to 1000")
    a, b = _numbers([start, stop], "start and stop")
    return np.linspace(a, b, num).tolist()


@helper
def dist(a: list[float], b: list[float]) -> float:
    """Euclidean distance between two points [x, y] or [x, y, z] (of the same size)."""
    pa, pb = _point(a, "a"), _point(b, "b")
    if pa.size != pb.size:
        raise ValueError("a and b must have the same number of coordinates")
    return float(np.linalg.norm(pa - pb))


@helper
def norm(v: list[float]) -> float:
    """Length of a vector."""
    return float(np.linalg.norm(_numbers(v, "v")))


@helper
def centroid(points: list[list[float]]) -> list[float]:
    """Mean [x, y] of a list of points."""
    return _points(points).mean(axis=0).tolist()


@helper
def polygon_contains(polygon: list[list[float]], point: list[float]) -> bool:
    """Whether point [x, y] lies inside the polygon given by its corners [[x, y], ...]."""
    corners = _points(polygon, "polygon")
    if len(corners) < 3:
        raise ValueError("polygon needs at least 3 corners")
    return bool(shapely.Polygon(corners).contains(shapely.Point(_point(point, "point")[:2])))


@helper
def polygon_area(polygon: list[list[float]]) -> float:
    """Area of the polygon given by its corners [[x, y], ...], in square metres."""
    corners = _points(polygon, "polygon")
    if len(corners) < 3:
        raise ValueError("polygon needs at least 3 corners")
    return float(shapely.Polygon(corners).area)


def warm_up() -> None:
    """Call every wrapper once, so lazy imports happen before the worker is confined."""
    square = [[0, 0], [1, 0], [1, 1], [0, 1]]
    mean([1, 2])
    median([1, 2])
    clip([1, 5], 0, 2)
    linspace(0, 1, 3)
    dist([0, 0], [1, 1])
    norm([3, 4])
    centroid(square)
    polygon_contains(square, [0.5, 0.5])
    polygon_area(square)


def helper_listing(names: Sequence[str] | None = None) -> str:
    """Helpers as a prompt shows them: "name(args) -> returns  # doc", one per line."""
    lines = []
    for name in names if names is not None else sorted(HELPERS):
        item = HELPERS[name]
        if not callable(item):
            lines.append(f"{name} = {item!r}")
            continue
        doc = (inspect.getdoc(item) or "").splitlines()[0]
        try:
            signature = str(inspect.signature(item)).replace("'", "")
        except ValueError:
            signature = "(...)"
        lines.append(f"{name}{signature}  # {doc}")
    return "\n".join(lines)
