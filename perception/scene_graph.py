"""The scene graph: objects (nodes) and the spatial relations between them (edges).

Nodes are `ObjectState`s with the cameras that saw them, so a graph serves as an
`ObjectSource`. Edges come from `perception.geometry.relations`, the implementation the
success predicates use. `to_text` is what the planner reads, `to_json` what run folders
keep, and `diff` the observation after an action: what moved, appeared, disappeared.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from shapely.geometry import Polygon

from perception import geometry
from skills.objects import ROUND_CATEGORIES, ObjectState, find_object

EMPTY_TEXT = "no objects on the table"
RESTING_Z = 0.005  # an object whose bottom is higher than this is off the table


@dataclass(frozen=True)
class SceneNode(ObjectState):
    """An object of the scene graph: its state and the cameras that saw it.

    Attributes:
        cameras: the cameras that saw it (empty for ground truth).
        hidden: no camera sees it now; tracking keeps it where it was last seen, or where
            the gripper carries it.
    """

    cameras: tuple[str, ...] = ()
    hidden: bool = False

    @property
    def footprint(self) -> Polygon:
        """The object's outline on the table (shapely), as the relations see it."""
        return geometry.footprint(self)

    @classmethod
    def from_state(cls, state: ObjectState, cameras: Sequence[str] = ()) -> SceneNode:
        return cls(
            name=state.name,
            category=state.category,
            color=state.color,
            position=tuple(float(v) for v in state.position),
            size=tuple(float(v) for v in state.size),
            yaw=float(state.yaw),
            upright=state.upright,
            confidence=float(state.confidence),
            cameras=tuple(cameras),
        )

    def to_dict(self) -> dict:
        data = super().to_dict()
        data["cameras"] = list(self.cameras)
        data["hidden"] = self.hidden
        data["footprint"] = [
            [round(x, 4), round(y, 4)] for x, y in self.footprint.exterior.coords[:-1]
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneNode:
        return cls(
            name=data["name"],
            category=data["category"],
            color=data["color"],
            position=tuple(data["position"]),
            size=tuple(data["size"]),
            yaw=data.get("yaw", 0.0),
            upright=data.get("upright", True),
            confidence=data.get("confidence", 1.0),
            cameras=tuple(data.get("cameras", ())),
            hidden=data.get("hidden", False),
        )

    def describe(self) -> str:
        """One line for `SceneGraph.to_text`: kind, position and size in metres (the unit of
        the skill API, so a program can use the numbers as they are) to the centimetre, the
        height only when the object is off the table, one size for a cube, yaw in degrees
        for an oblong footprint. Short on purpose: a planner model reads every token."""
        kind = f"{self.color} {self.category}"
        x, y, z = self.position
        sx, sy, sz = self.size
        label = self.name if self.name.startswith(kind) else f"{self.name}: {kind}"
        where = f"({x:.2f}, {y:.2f})"
        if self.bottom_z > RESTING_Z:
            where = f"({x:.2f}, {y:.2f}, z {z:.2f})"
        sides = {f"{v:.2f}" for v in (sx, sy, sz)}
        size = sides.pop() if len(sides) == 1 else f"{sx:.2f} x {sy:.2f} x {sz:.2f}"
        text = f"{label} at {where}, size {size}"
        if self.category not in ROUND_CATEGORIES and f"{sx:.2f}" != f"{sy:.2f}":
            text += f", yaw {round(math.degrees(self.yaw))}"  # a square's yaw shows nothing
        if not self.upright:
            text += ", tipped over"
        if self.hidden:
            text += ", hidden (last known)"
        return text


Edge = tuple[str, str, str]


@dataclass(frozen=True)
class SceneGraph:
    """Objects and relations at one instant.

    Attributes:
        nodes: the objects, ordered by name.
        edges: every (relation, a, b) that holds, in `geometry.relations`' order.
        stamp: robot-clock seconds of the frames it was built from.
        source: what built it (``ground_truth``, ``segmentation``, ``rgbd``).
    """

    nodes: tuple[SceneNode, ...]
    edges: tuple[Edge, ...] = ()
    stamp: float = 0.0
    source: str = ""

    @classmethod
    def build(
        cls,
        objects: Iterable[ObjectState],
        stamp: float = 0.0,
        source: str = "",
        tol: geometry.RelationTolerances = geometry.TOLERANCES,
    ) -> SceneGraph:
        """A graph of `objects` with their relations computed by `geometry.relations`.

        Raises:
            ValueError: two objects share a name.
        """
        nodes = [o if isinstance(o, SceneNode) else SceneNode.from_state(o) for o in objects]
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"scene graph: object names must be unique, repeated: {dupes}")
        nodes.sort(key=lambda n: n.name)
        return cls(tuple(nodes), tuple(geometry.relations(nodes, tol)), stamp, source)

    # --- ObjectSource ------------------------------------------------------------------
    def objects(self) -> list[ObjectState]:
        """The nodes (they are `ObjectState`s), ordered by name."""
        return list(self.nodes)

    def node(self, name: str) -> SceneNode:
        """The node called `name`; raise `UnknownObjectError` listing the known names."""
        found = find_object(self, name)
        assert isinstance(found, SceneNode)
        return found

    def __len__(self) -> int:
        return len(self.nodes)

    def relations_of(self, name: str) -> list[Edge]:
        """The edges whose subject is `name`."""
        return [e for e in self.edges if e[1] == name]

    # --- views ---------------------------------------------------------------------------
    def to_text(self, relations: Collection[str] | None = None) -> str:
        """Objects (position and size in metres) then relations, one subject per line,
        sorted; `relations` limits which relations are listed (prompts keep only on/in)."""
        if not self.nodes:
            return EMPTY_TEXT
        lines = ["objects (x, y and size in metres, yaw in degrees):"]
        lines += [f"- {n.describe()}" for n in self.nodes]
        shown = [e for e in self.edges if relations is None or e[0] in relations]
        if shown:
            lines.append("relations:")
            for subject, edges in groupby(shown, key=lambda e: e[1]):
                parts = [
                    f"{relation} {', '.join(e[2] for e in group)}"
                    for relation, group in groupby(edges, key=lambda e: e[0])
                ]
                lines.append(f"- {subject}: {'; '.join(parts)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: stamp, source, objects and relations."""
        return {
            "stamp": round(self.stamp, 4),
            "source": self.source,
            "objects": [n.to_dict() for n in self.nodes],
            "relations": [list(e) for e in self.edges],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SceneGraph:
        """The graph `to_json` wrote (relations are recomputed, so they always agree)."""
        nodes = [SceneNode.from_dict(o) for o in data.get("objects", [])]
        return cls.build(nodes, data.get("stamp", 0.0), data.get("source", ""))

    def diff(self, before: SceneGraph) -> SceneDiff:
        """What changed since `before`: moved, appeared and disappeared objects, and the
        relations gained and lost. An object moved unless `geometry.is_unmoved` holds."""
        now = {n.name: n for n in self.nodes}
        old = {n.name: n for n in before.nodes}
        moved = tuple(
            Move(name, old[name].position, now[name].position)
            for name in sorted(now.keys() & old.keys())
            if not geometry.is_unmoved(now[name], old[name])
        )
        new_edges, old_edges = set(self.edges), set(before.edges)
        return SceneDiff(
            moved=moved,
            appeared=tuple(sorted(now.keys() - old.keys())),
            disappeared=tuple(sorted(old.keys() - now.keys())),
            gained=tuple(e for e in self.edges if e not in old_edges),
            lost=tuple(e for e in before.edges if e not in new_edges),
        )


@dataclass(frozen=True)
class Move:
    """An object that moved: its centre before and after, metres."""

    name: str
    start: tuple[float, float, float]
    end: tuple[float, float, float]

    @property
    def distance(self) -> float:
        return math.dist(self.start, self.end)


def _edge_text(edges: Sequence[Edge]) -> str:
    return ", ".join(f"{a} {relation} {b}" for relation, a, b in edges)


@dataclass(frozen=True)
class SceneDiff:
    """The changes between two scene graphs (see `SceneGraph.diff`)."""

    moved: tuple[Move, ...] = ()
    appeared: tuple[str, ...] = ()
    disappeared: tuple[str, ...] = ()
    gained: tuple[Edge, ...] = ()
    lost: tuple[Edge, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.moved or self.appeared or self.disappeared or self.gained or self.lost)

    def to_text(self, relations: Collection[str] | None = None) -> str:
        """One line per kind of change, or ``nothing changed``; `relations` limits which
        relation changes are listed (the planner's Observation shows only on/in)."""
        if not self:
            return "nothing changed"
        lines = []
        for m in self.moved:
            (x0, y0, z0), (x1, y1, z1) = m.start, m.end
            lines.append(
                f"moved: {m.name} by {m.distance:.3f} m, from ({x0:.3f}, {y0:.3f}, "
                f"{z0:.3f}) to ({x1:.3f}, {y1:.3f}, {z1:.3f})"
            )
        if self.appeared:
            lines.append(f"appeared: {', '.join(self.appeared)}")
        if self.disappeared:
            lines.append(f"disappeared: {', '.join(self.disappeared)}")
        gained, lost = (
            [e for e in edges if relations is None or e[0] in relations]
            for edges in (self.gained, self.lost)
        )
        if gained:
            lines.append(f"now: {_edge_text(gained)}")
        if lost:
            lines.append(f"no longer: {_edge_text(lost)}")
        return "\n".join(lines) or "nothing changed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "moved": [
                {
                    "name": m.name,
                    "from": [round(v, 4) for v in m.start],
                    "to": [round(v, 4) for v in m.end],
                    "distance": round(m.distance, 4),
                }
                for m in self.moved
            ],
            "appeared": list(self.appeared),
            "disappeared": list(self.disappeared),
            "gained": [list(e) for e in self.gained],
            "lost": [list(e) for e in self.lost],
        }


PROMPT_RELATIONS = ("on", "in")
"""Relations prompts and Observations list; the others follow from the positions."""


def _orders(nodes: Sequence[ObjectState], label: str) -> list[str]:
    """`label`'s objects from left to right and from the robot outwards."""
    left_to_right = sorted(nodes, key=lambda n: (-n.position[1], n.name))
    near_to_far = sorted(nodes, key=lambda n: (n.position[0], n.name))
    return [
        f"{label} from left to right: {', '.join(n.name for n in left_to_right)}",
        f"{label} from nearest the robot to farthest: {', '.join(n.name for n in near_to_far)}",
    ]


def scene_text(objects: Iterable[ObjectState]) -> str:
    """The scene as a planner reads it: objects in metres, on/in relations, then the
    objects from left to right and from the robot outwards, all of them (when there are
    several kinds) and each kind of two or more (superlatives and ordinals - "the leftmost
    block", "second from the right", "closest to me" - read off a list, no arithmetic)."""
    graph = SceneGraph.build(objects)
    text = graph.to_text(PROMPT_RELATIONS)
    if len(graph.nodes) < 2:
        return text
    kinds: dict[str, list[ObjectState]] = {}
    for node in graph.nodes:
        kinds.setdefault(node.category, []).append(node)
    lines = [text, *(_orders(graph.nodes, "order") if len(kinds) > 1 else [])]
    for kind, nodes in sorted(kinds.items()):
        if len(nodes) >= 2:
            lines += _orders(nodes, f"{kind}s")
    return "\n".join(lines)


def scene_changes(before: Iterable[ObjectState], after: Iterable[ObjectState]) -> list[str]:
    """What changed between two scenes, one line per kind of change, for an Observation."""
    diff = SceneGraph.build(after).diff(SceneGraph.build(before))
    return [line for line in diff.to_text(PROMPT_RELATIONS).splitlines() if line.strip()]
