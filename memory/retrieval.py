"""Retrieval of knowledge for a new situation: by meaning first, then by the scene.

Scoring (`retrieve`), after DROC's text-then-visual retrieval, with perception attributes
standing in for visual features:

1. ``text_score``: cosine similarity between the query (an instruction, or a skill call
   described as "pick medium gray cylinder") and each stored statement, from the index.
   Only the ``k * CANDIDATE_FACTOR`` nearest statements with ``text_score >= threshold``
   are candidates, so unrelated knowledge stays out however well its objects match.
2. ``object_score`` in [0, 1]: how well the scene's objects match the objects the record
   came from. Each context object is compared with every scene object and the best match
   kept; the record's score is the mean over its context objects. Two objects compare as
   the weighted share of matching attributes: category 0.5, colour 0.3, size 0.2 (size
   similarity is the ratio of the smaller to the larger cube root of box volume);
   attributes a context object lacks are left out of the weights. None when the record
   has no context objects or the scene is empty.
3. ``score = (1 - object_weight) * text_score + object_weight * object_score``, or just
   ``text_score`` when ``object_score`` is None. Candidates are ranked by score (newer
   record first on ties) and the top `k` returned.

`skill_defaults` does not rank by similarity at all: a skill record applies to an object
exactly when its ``applies_to`` constraints hold (see `applies_to_matches`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from memory.records import SKILL, TASK, KnowledgeRecord, ObjectContext, normalise_text, size_class
from memory.store import KnowledgeBase
from skills.objects import ObjectState

TAUGHT_WORD, ORDER_RULE, NEVER_RULE = "meaning", "order", "never"
PLACE_RULE = "destination"
"""The ``rule`` of task records that say what a user's word means, in which order objects
are stacked, and where objects must never go."""

DEFAULT_THRESHOLD = 0.35  # MiniLM cosine; related statements score about 0.4 to 0.9
OBJECT_WEIGHT = 0.3
CANDIDATE_FACTOR = 4
ATTRIBUTE_WEIGHTS = {"category": 0.5, "color": 0.3, "size": 0.2}


@dataclass(frozen=True)
class Retrieved:
    """A record retrieved for a situation, with the parts of its score."""

    record: KnowledgeRecord
    text_score: float
    object_score: float | None
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.record.id,
            "kind": self.record.kind,
            "statement": self.record.statement,
            "text_score": round(self.text_score, 4),
            "object_score": None if self.object_score is None else round(self.object_score, 4),
            "score": round(self.score, 4),
        }


def retrieve(
    kb: KnowledgeBase,
    query_text: str,
    scene_objects: Sequence[ObjectState] = (),
    kind: str | None = None,
    k: int = 5,
    threshold: float = DEFAULT_THRESHOLD,
    object_weight: float = OBJECT_WEIGHT,
) -> list[Retrieved]:
    """The `k` current records most relevant to a query in a scene, best first.

    Args:
        kb: the knowledge base.
        query_text: an instruction, or a skill call description (`describe_call`).
        scene_objects: the objects the robot sees now.
        kind: ``task`` or ``skill`` to keep one kind; None for both.
        k: how many records at most.
        threshold: minimum text similarity of a candidate.
        object_weight: share of the object similarity in the final score.
    """
    if k <= 0:
        return []
    hits = kb.search_vector(kb.embed_query(query_text), k * CANDIDATE_FACTOR, kind)
    hits = [(i, s) for i, s in hits if s >= threshold]
    records = kb.fetch([i for i, _ in hits])
    out = []
    for record_id, text_score in hits:
        record = records.get(record_id)
        if record is None:
            continue
        objects = object_similarity(record.context.objects, scene_objects)
        score = text_score
        if objects is not None:
            score = (1.0 - object_weight) * text_score + object_weight * objects
        out.append(Retrieved(record, text_score, objects, score))
    out.sort(key=lambda r: (r.score, r.record.id or 0), reverse=True)
    return out[:k]


def taught_words(kb: KnowledgeBase, text: str) -> list[Retrieved]:
    """Current records of words the user taught (task rules with a ``phrase``) that occur in
    `text`: found by the word itself, however little the rest of the sentence resembles the
    one it was taught in ("tidy up" in "could you tidy up a bit?")."""
    words = _word_string(text)
    found = []
    for record in kb.current_records(TASK, TAUGHT_WORD):
        phrase = _word_string(str(record.change.get("phrase", "")))
        if phrase.strip() and phrase in words:
            found.append(Retrieved(record, 1.0, None, 1.0))
    return found


def _word_string(text: str) -> str:
    """The words of a text, lower case, single-spaced, with a space at each end."""
    return f" {' '.join(re.findall(r'[a-z0-9]+', normalise_text(text)))} "


def scene_rules(kb: KnowledgeBase, scene: Sequence[ObjectState]) -> list[Retrieved]:
    """Current rules that bind objects of this scene whatever the instruction's words: a
    stacking order (``order``) two of whose items are here, a never-rule (``never``) whose
    objects and forbidden place are both here, a place rule (``destination``) about an
    object here whose place (a region, or an object here) is here ("tidy away the green
    things" needs "green objects go in the top right corner")."""
    found = []
    for record in kb.current_records(TASK, PLACE_RULE):
        said = record.change.get("object") or {}
        covered = [o for o in scene if said and applies_to_matches(said, o)]
        target = record.change.get("target") or {}
        places = [o for o in scene if target and applies_to_matches(target, o)]
        there = record.change.get("region") is not None or any(
            o.name != p.name for o in covered for p in places
        )
        if covered and there:
            found.append(Retrieved(record, 1.0, None, 1.0))
    for record in kb.current_records(TASK, ORDER_RULE):
        items = record.change.get("order") or []
        if sum(any(applies_to_matches(i, o) for o in scene) for i in items) >= 2:
            found.append(Retrieved(record, 1.0, None, 1.0))
    for record in kb.current_records(TASK, NEVER_RULE):
        covered = [o for o in scene if applies_to_matches(record.change.get("object") or {}, o)]
        places = [o for o in scene if applies_to_matches(record.change.get("target") or {}, o)]
        if any(o.name != p.name for o in covered for p in places):
            found.append(Retrieved(record, 1.0, None, 1.0))
    return found


def task_records(
    kb: KnowledgeBase,
    instruction: str,
    scene: Sequence[ObjectState] = (),
    k: int = 5,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Retrieved]:
    """The task knowledge for an instruction: the words it uses that were taught, the rules
    that bind objects of the scene (`scene_rules`), then the `k` records nearest in meaning
    (`retrieve`)."""
    found: dict[int | None, Retrieved] = {}
    for hit in [
        *taught_words(kb, instruction),
        *scene_rules(kb, scene),
        *retrieve(kb, instruction, scene, kind=TASK, k=k, threshold=threshold),
    ]:
        found.setdefault(hit.record.id, hit)
    return list(found.values())


def task_knowledge(
    kb: KnowledgeBase,
    instruction: str,
    scene: Sequence[ObjectState] = (),
    k: int = 5,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[str]:
    """Statements of the task knowledge relevant to an instruction (`task_records`)."""
    return [r.record.statement for r in task_records(kb, instruction, scene, k, threshold)]


def skill_defaults(kb: KnowledgeBase, skill: str, obj: ObjectState) -> dict[str, Any]:
    """Parameter overrides that stored skill knowledge sets for `skill` on `obj`.

    Every current skill record for `skill` whose ``applies_to`` holds for `obj` takes
    part; for each parameter the most specific record (most constraints) wins, and among
    equally specific ones the newest. Empty when no knowledge applies.
    """
    matching = [
        r for r in kb.current_records(SKILL, skill) if applies_to_matches(r.applies_to, obj)
    ]
    matching.sort(key=lambda r: (len(r.applies_to), r.id or 0))
    params: dict[str, Any] = {}
    for record in matching:
        params.update(record.change["params"])
    return params


def describe_call(skill: str, obj: ObjectState) -> str:
    """A skill call in words for text retrieval, e.g. ``pick medium gray cylinder``."""
    return f"{skill} {size_class(obj.size)} {obj.color} {obj.category}".strip()


def applies_to_matches(applies_to: dict[str, Any], obj: ObjectState) -> bool:
    """Whether every constraint holds for the object (no constraints: any object).

    Keys are ``category``, ``color``, ``name`` (compared case-insensitively) and ``size``
    (a `size_class` label); a value may be a list, any of which matches.
    """
    for key, wanted in applies_to.items():
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        actual = size_class(obj.size) if key == "size" else getattr(obj, key, None)
        if actual is None or normalise_text(str(actual)) not in {
            normalise_text(str(v)) for v in values
        }:
            return False
    return True


def in_scope(record: KnowledgeRecord, objects: Sequence[ObjectState]) -> bool:
    """Whether a task record's object scope holds for one of `objects` (those a plan acted
    on): "red blocks go in the green bowl" acted on for a red can is outside its scope.
    Taught words, plan fixes and rules that keep a place for some objects ("only white
    things go in the black bowl" binds everything else) hold anywhere."""
    change = record.change
    if change.get("rule") == "order":
        scopes = list(change.get("order") or ())
    elif "object" in change and not change.get("only"):
        scopes = [change["object"]]
    else:
        return True
    return any(applies_to_matches(scope, obj) for scope in scopes for obj in objects)


def object_similarity(
    context: Sequence[ObjectContext], scene: Sequence[ObjectState]
) -> float | None:
    """Mean over context objects of their best attribute match in the scene (see above)."""
    if not context or not scene:
        return None
    return sum(max(attribute_similarity(c, s) for s in scene) for c in context) / len(context)


def attribute_similarity(context: ObjectContext, obj: ObjectState) -> float:
    """Weighted share of matching attributes between a context object and a scene object."""
    parts: list[tuple[float, float]] = [
        (ATTRIBUTE_WEIGHTS["category"], float(_same(context.category, obj.category)))
    ]
    if context.color:
        parts.append((ATTRIBUTE_WEIGHTS["color"], float(_same(context.color, obj.color))))
    if context.size:
        parts.append((ATTRIBUTE_WEIGHTS["size"], _size_similarity(context.size, obj.size)))
    return sum(w * v for w, v in parts) / sum(w for w, _ in parts)


def _same(a: str, b: str) -> bool:
    return normalise_text(a) == normalise_text(b)


def _size_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    la, lb = (max(x[0] * x[1] * x[2], 1e-12) ** (1.0 / 3.0) for x in (a, b))
    return min(la, lb) / max(la, lb)
