"""Knowledge records: what a correction taught, the scene it came from, and where it came from.

A record is either ``task`` knowledge (what to do: preferences and plan fixes, e.g. "red
objects go in the green bowl") or ``skill`` knowledge (parameter adjustments of a skill on a
kind of object, e.g. "for heavy cylinders, grip with 60 N"). Skill records carry a fixed
``change`` shape that `memory.retrieval.skill_defaults` reads::

    {"skill": "pick", "params": {"force": 60.0}, "applies_to": {"category": "cylinder"}}

``applies_to`` constrains the object with any of `OBJECT_KEYS`; a value is a string or a
list of strings (any of them matches); ``size`` is a `size_class` label. Task records keep
a free-form ``change``; the convention ``{"rule": ..., "object": {...}, ...}`` gives them a
conflict slot (see `KnowledgeRecord.slot`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from skills.errors import quote
from skills.objects import ObjectState
from skills.params import PARAM_DEFAULTS

TASK = "task"
SKILL = "skill"
PROGRAM = "program"  # a verified (instruction, program, goal), replayed for similar ones
KINDS = (TASK, SKILL, PROGRAM)
OBJECT_KEYS = ("category", "color", "size", "name")
SIZE_CLASSES = ("small", "medium", "large")
# Largest bounding-box extent (metres) below which an object is small / medium; the sim's
# 4 cm block is small, the 9 cm cylinder and 12 cm bar medium, the 17 cm bowl large.
SIZE_LIMITS = (0.06, 0.13)
# A statement is at most this long: enough for any instruction (a remembered program's
# statement is its instruction, at most `sim.suite.MAX_INSTRUCTION_CHARS`).
MAX_STATEMENT_CHARS = 2000
MAX_DEPTH = 32  # how deeply lists and objects may nest in a record read from JSON


def utc_now() -> str:
    """The current time as ISO 8601 UTC with seconds, e.g. ``2025-05-01T12:00:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def size_class(size: tuple[float, float, float] | list[float]) -> str:
    """``small``, ``medium`` or ``large`` from a bounding box's largest extent."""
    extent = max(size)
    if extent < SIZE_LIMITS[0]:
        return "small"
    return "medium" if extent < SIZE_LIMITS[1] else "large"


@dataclass(frozen=True)
class ObjectContext:
    """The perceived attributes of one object of the scene a record came from.

    Attributes:
        category: object type, e.g. ``cylinder``.
        color: palette colour name, empty when unknown.
        size: bounding-box extent (sx, sy, sz) in metres, None when unknown.
        name: the object's name in that scene, e.g. ``gray cylinder``.
    """

    category: str
    color: str = ""
    size: tuple[float, float, float] | None = None
    name: str = ""

    @classmethod
    def from_state(cls, state: ObjectState) -> ObjectContext:
        """The attributes of a perceived or ground-truth object state."""
        return cls(state.category, state.color, tuple(state.size), state.name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"category": self.category, "color": self.color, "name": self.name}
        out["size"] = [round(v, 4) for v in self.size] if self.size else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectContext:
        size = data.get("size")
        if size is not None and (len(size) != 3 or not all(_positive(v) for v in size)):
            raise ValueError(
                f"object size must be three positive extents in metres, not {quote(size)}"
            )
        return cls(
            category=str(data.get("category", "")),
            color=str(data.get("color", "")),
            size=tuple(float(v) for v in size) if size else None,
            name=str(data.get("name", "")),
        )


@dataclass(frozen=True)
class Context:
    """The situation a correction was given in.

    Attributes:
        instruction: the instruction the robot was carrying out.
        objects: the objects in the scene (or those the correction is about).
    """

    instruction: str = ""
    objects: tuple[ObjectContext, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"instruction": self.instruction, "objects": [o.to_dict() for o in self.objects]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Context:
        objects = tuple(ObjectContext.from_dict(o) for o in data.get("objects", ()))
        return cls(str(data.get("instruction", "")), objects)


@dataclass(frozen=True)
class Provenance:
    """Where a record came from.

    Attributes:
        episode: id of the episode or run folder the correction was given in.
        correction: the correction as the person said it.
        time: when it was given, ISO 8601 UTC.
    """

    episode: str = ""
    correction: str = ""
    time: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"episode": self.episode, "correction": self.correction, "time": self.time}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        return cls(*(str(data.get(k, "")) for k in ("episode", "correction", "time")))


@dataclass(frozen=True)
class KnowledgeRecord:
    """One piece of knowledge distilled from a correction.

    Attributes:
        kind: ``task`` or ``skill``.
        statement: the knowledge in plain words; this is what retrieval embeds.
        change: the structured change it implies (see the module docstring).
        context: the instruction and objects it came from.
        provenance: episode, correction text and time.
        created_at: when it was stored, ISO 8601 UTC.
        id: row id, assigned by the store (None before it is stored).
        superseded_by: id of the record that replaced this one, if any.
        deleted: whether it was deleted (a store never returns deleted records).
    """

    kind: str
    statement: str
    change: dict[str, Any]
    context: Context = field(default_factory=Context)
    provenance: Provenance = field(default_factory=Provenance)
    created_at: str = field(default_factory=utc_now)
    id: int | None = None
    superseded_by: int | None = None
    deleted: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            kinds = ", ".join(KINDS)
            raise ValueError(f"record kind must be one of {kinds}, not {quote(self.kind)}")
        if not isinstance(self.statement, str) or not self.statement.strip():
            raise ValueError("a knowledge record needs a non-empty statement")
        if not isinstance(self.change, dict):
            raise ValueError(f"record change must be a JSON object, not {type(self.change)}")
        try:
            json.dumps(self.change, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"record change is not plain JSON: {error}") from None
        if self.kind == SKILL:
            _check_skill_change(self.change)

    @property
    def current(self) -> bool:
        """Neither deleted nor superseded: what retrieval may return."""
        return not self.deleted and self.superseded_by is None

    @property
    def applies_to(self) -> dict[str, Any]:
        """The object constraints of a skill record (empty: any object)."""
        return dict(self.change.get("applies_to") or {})

    @property
    def subject(self) -> str:
        """The skill a skill record adjusts, or a task record's ``rule`` (may be empty)."""
        return str(self.change.get("skill" if self.kind == SKILL else "rule", ""))

    @property
    def content_key(self) -> str:
        """Hash of kind, normalised statement and canonical change: equal for duplicates."""
        body = [self.kind, normalise_text(self.statement), _canonical(self.change)]
        return _digest(body)

    @property
    def slot(self) -> str | None:
        """What the record decides, for finding contradictions; None when unknown.

        Two current records with the same slot and different content contradict each
        other: for skills, the same skill, object constraints and parameter names; for
        task rules, the same ``rule`` and ``object`` (or ``phrase``: a taught word).
        """
        if self.kind == SKILL:
            params = sorted(self.change["params"])
            return _digest([SKILL, self.subject, _canonical(self.applies_to), params])
        if self.kind == PROGRAM:  # a newer program for the same instruction replaces it
            return _digest([PROGRAM, normalise_text(self.statement)])
        if "rule" in self.change and "phrase" in self.change:  # a word means one thing
            return _digest([TASK, _canonical(self.change["rule"]), self.change["phrase"]])
        if self.change.get("rule") == "order":  # a new order of the same objects wins
            items = sorted(json.dumps(_canonical(i), sort_keys=True) for i in self.change["order"])
            return _digest([TASK, "order", self.change.get("way", ""), items])
        if self.change.get("rule") == "never":  # many places may each be forbidden
            keys = ("rule", "object", "target", "relation")
            return _digest([TASK, *(_canonical(self.change.get(k)) for k in keys)])
        if "rule" in self.change and "object" in self.change:
            rule, target = self.change["rule"], self.change["object"]
            return _digest([TASK, _canonical(rule), _canonical(target)])
        return None

    def with_id(self, record_id: int) -> KnowledgeRecord:
        return replace(self, id=record_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "statement": self.statement,
            "change": self.change,
            "context": self.context.to_dict(),
            "provenance": self.provenance.to_dict(),
            "created_at": self.created_at,
            "superseded_by": self.superseded_by,
            "deleted": self.deleted,
            "content_key": self.content_key,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KnowledgeRecord:
        """Inverse of `to_dict`; raises ValueError (one line) for a malformed record or one
        the store would refuse (`check_record`)."""
        if not isinstance(data, dict):
            raise ValueError(f"a knowledge record must be a JSON object, not {type(data).__name__}")
        if _nests_deeper(data, MAX_DEPTH):
            raise ValueError(f"knowledge record nests deeper than {MAX_DEPTH} levels")
        missing = [k for k in ("kind", "statement", "change") if k not in data]
        if missing:
            raise ValueError(f"knowledge record lacks {', '.join(missing)}")
        try:
            record = cls(
                kind=data["kind"],
                statement=data["statement"],
                change=data["change"],
                context=Context.from_dict(data.get("context") or {}),
                provenance=Provenance.from_dict(data.get("provenance") or {}),
                created_at=str(data.get("created_at") or utc_now()),
                id=_optional_int(data.get("id")),
                superseded_by=_optional_int(data.get("superseded_by")),
                deleted=bool(data.get("deleted", False)),
            )
        except (TypeError, AttributeError) as error:
            raise ValueError(f"malformed knowledge record: {error}") from None
        check_record(record)
        return record

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> KnowledgeRecord:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not a JSON record: {error}") from None
        except RecursionError:
            raise ValueError(f"not a record: it nests deeper than {MAX_DEPTH} levels") from None
        return cls.from_dict(data)


def check_record(record: KnowledgeRecord) -> None:
    """Refuse what the knowledge base must not store, whichever way it comes in: a statement
    over `MAX_STATEMENT_CHARS`, or skill parameters the skill does not take or takes in
    another range. ValueError names the record (its statement, cut short) and the field."""
    problem = ""
    if len(record.statement) > MAX_STATEMENT_CHARS:
        problem = f"statement has {len(record.statement)} characters, over {MAX_STATEMENT_CHARS}"
    elif record.kind == SKILL:
        problem = _skill_params_problem(record.change["skill"], record.change["params"])
    if problem:
        raise ValueError(f"record {quote(record.statement, 40)}: {problem}")


def normalise_text(text: str) -> str:
    """Case-, width- and spacing-insensitive form of a statement, final punctuation dropped."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"\s+", " ", folded).strip().rstrip(".!;").strip()


def _skill_params_problem(skill: str, params: dict[str, Any]) -> str:
    """Why a skill record's parameters can not be given to the skill ('' when they can)."""
    if skill not in PARAM_DEFAULTS:
        return f"change.skill {quote(skill)} takes no stored parameters; skills: " + ", ".join(
            PARAM_DEFAULTS
        )
    try:
        PARAM_DEFAULTS[skill]().updated(**params)
    except (TypeError, ValueError) as error:
        return f"change.params: {error}"
    return ""


def _nests_deeper(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels deep (checked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if level == limit:
                return True
            stack.extend((v, level + 1) for v in item)
    return False


def _check_skill_change(change: dict[str, Any]) -> None:
    if not isinstance(change.get("skill"), str) or not change["skill"]:
        raise ValueError('a skill record\'s change needs "skill": the skill name, e.g. "pick"')
    params = change.get("params")
    if not isinstance(params, dict) or not params:
        raise ValueError('a skill record\'s change needs "params": e.g. {"force": 60.0}')
    applies_to = change.get("applies_to") or {}
    if not isinstance(applies_to, dict):
        raise ValueError('"applies_to" must map object attributes to values')
    unknown = sorted(set(applies_to) - set(OBJECT_KEYS))
    if unknown:
        raise ValueError(
            f"applies_to keys {unknown} are not object attributes; use {', '.join(OBJECT_KEYS)}"
        )
    sizes = applies_to.get("size")
    for size in [sizes] if isinstance(sizes, str) else sizes or []:
        if size not in SIZE_CLASSES:
            raise ValueError(
                f"applies_to size {quote(size)} must be one of {', '.join(SIZE_CLASSES)}"
            )


def _canonical(value: Any) -> Any:
    """Value with case-folded strings and integral floats as ints, for content hashing."""
    if isinstance(value, dict):
        return {str(k).casefold(): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, str):
        return normalise_text(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
