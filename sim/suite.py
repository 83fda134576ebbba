"""Episode suites: YAML files listing scenes, instructions and what counts as success.

A suite file looks like::

    name: tabletop-basic
    defaults: {max_steps: 8, max_corrections: 3, round: 1}
    episodes:
      - id: red-in-blue
        seed: 0
        objects:
          - {name: red block, type: block, color: red}
          - {name: blue bowl, type: bowl, color: blue, pose: [0.55, 0.10]}
        instruction: put the red block in the blue bowl
        success:
          - in: [red block, blue bowl]

Episodes take `max_steps`, `max_corrections` and `round` from `defaults` unless they set
their own. Anything malformed (a file that is not UTF-8, bad YAML or aliases that expand
too far, an unknown key at any level, a missing or mistyped field, an instruction over
`MAX_INSTRUCTION_CHARS`, an unknown object type or colour, a duplicate name, a pose
outside the workspace, a bad predicate) raises `SuiteError` with a one-line message
naming the file, the episode and the problem; offending values are quoted cut short.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from perception.predicate_yaml import read_predicate_yaml as read_suite_yaml
from perception.predicates import Predicate, parse_predicate
from sim.objects import OBJECT_TYPES, ObjectSpec
from skills.errors import HeedError, quote
from skills.frames import WORKSPACE_X, WORKSPACE_Y
from skills.palette import PALETTE

EXPECTS = ("success", "refuse")
MAX_INSTRUCTION_CHARS = 2000  # the longest instruction, in a suite or given to `heed run`
_EPISODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
T = TypeVar("T")


class SuiteError(HeedError):
    """A suite is malformed or lacks an episode; the message names the file and episode."""


@dataclass(frozen=True)
class EpisodeDefaults:
    """Values episodes take unless they set their own."""

    max_steps: int = 8
    max_corrections: int = 3
    round: int = 1


@dataclass(frozen=True)
class ObjectEntry:
    """One object of an episode's scene.

    Attributes:
        name: unique name in the scene.
        type: registered object type (`sim.objects.OBJECT_TYPES`).
        color: palette colour (`skills.palette.PALETTE`).
        pose: (x, y) or (x, y, yaw) in the table frame; None to let the world place it.
        size: bounding-box override (sx, sy, sz), metres; None for the type's default.
        mass: kilograms; None for the type's default.
        friction: lateral friction; None for the type's default.
    """

    name: str
    type: str
    color: str
    pose: tuple[float, ...] | None = None
    size: tuple[float, float, float] | None = None
    mass: float | None = None
    friction: float | None = None

    def to_spec(self) -> ObjectSpec:
        """The `ObjectSpec` the world builds this object from."""
        return OBJECT_TYPES.get(self.type).spec(
            self.name, self.color, self.size, self.mass, self.friction
        )

    def to_dict(self) -> dict:
        """The YAML form, without the fields left to defaults."""
        data = {k: v for k, v in asdict(self).items() if v is not None}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


@dataclass(frozen=True)
class UserRule:
    """What the simulated teleoperator says when `violated` (a predicate that should hold)
    does not hold."""

    violated: Predicate
    say: str


@dataclass(frozen=True)
class Answer:
    """What the simulated teleoperator answers to a question containing `match`."""

    match: str
    say: str


@dataclass(frozen=True)
class Episode:
    """One scene, one instruction and the predicates that must all hold at the end.

    Attributes:
        id: unique in the suite; letters, digits, ``-``, ``_`` and ``.``.
        seed: seeds the world's random placement of objects without a pose.
        objects: the scene.
        instruction: what the user asks.
        success: predicates that must all hold at the end.
        round: evaluation round the episode belongs to (>= 1).
        expect: ``success`` (carry the instruction out) or ``refuse`` (decline it).
        user: the simulated teleoperator's corrections.
        answers: the simulated teleoperator's answers to questions.
        max_steps: most planner steps.
        max_corrections: most corrections the teleoperator gives.
        family: the instruction family for per-family reports; by default the id without
            its trailing number (``stack-03`` -> ``stack``).
    """

    id: str
    seed: int
    objects: tuple[ObjectEntry, ...]
    instruction: str
    success: tuple[Predicate, ...]
    round: int = 1
    expect: str = "success"
    user: tuple[UserRule, ...] = ()
    answers: tuple[Answer, ...] = ()
    max_steps: int = 8
    max_corrections: int = 3
    family: str = ""

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", re.sub(r"[-_.]?\d+$", "", self.id) or self.id)

    def to_dict(self) -> dict:
        """The YAML form, every field spelled out."""
        return {
            "id": self.id,
            "family": self.family,
            "seed": self.seed,
            "objects": [o.to_dict() for o in self.objects],
            "instruction": self.instruction,
            "success": [p.to_raw() for p in self.success],
            "round": self.round,
            "expect": self.expect,
            "user": [{"violated": r.violated.to_raw(), "say": r.say} for r in self.user],
            "answers": [{"match": a.match, "say": a.say} for a in self.answers],
            "max_steps": self.max_steps,
            "max_corrections": self.max_corrections,
        }


@dataclass(frozen=True)
class Suite:
    """A named list of episodes read from `path`."""

    name: str
    path: str
    defaults: EpisodeDefaults
    episodes: tuple[Episode, ...]

    def episode(self, episode_id: str) -> Episode:
        """The episode called `episode_id`; raise `SuiteError` listing the known ids."""
        for episode in self.episodes:
            if episode.id == episode_id:
                return episode
        known = ", ".join(e.id for e in self.episodes)
        raise SuiteError(f"{self.path}: no episode {quote(episode_id)}; episodes: {known}")

    def to_dict(self) -> dict:
        """The YAML form, as `parse_suite` reads it."""
        return {
            "name": self.name,
            "defaults": asdict(self.defaults),
            "episodes": [e.to_dict() for e in self.episodes],
        }


def _fields(raw: object, what: str, required: Sequence[str], optional: Sequence[str]) -> dict:
    """`raw` as a mapping with all of `required`, and nothing beyond `optional`."""
    if not isinstance(raw, dict):
        raise ValueError(f"{what} must be a mapping, got {quote(raw)}")
    allowed = [*required, *optional]
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        allowed_keys = ", ".join(sorted(allowed))
        raise ValueError(f"unknown key {quote(unknown[0])} in {what}; allowed: {allowed_keys}")
    missing = [k for k in required if k not in raw]
    if missing:
        raise ValueError(f"missing required field {quote(missing[0])} in {what}")
    return raw


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be non-empty text, got {quote(value)}")
    return value


def check_instruction(value: object, what: str = "instruction") -> str:
    """An instruction: non-empty text of at most `MAX_INSTRUCTION_CHARS` characters."""
    text = _text(value, what)
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise ValueError(
            f"{what} has {len(text)} characters, over {MAX_INSTRUCTION_CHARS}: "
            "say it in fewer words"
        )
    return text


def _integer(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be a whole number >= {minimum}, got {quote(value)}")
    return value


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {quote(value)}")
    return float(value)


def _choice(value: object, what: str, options: Sequence[str]) -> str:
    if value not in options:
        raise ValueError(f"{what} must be one of {', '.join(options)}, got {quote(value)}")
    return value


def _items(
    value: object, what: str, parse: Callable[[object, str], T], min_len: int = 0
) -> tuple[T, ...]:
    """Parse each item of the list `value`; items are labelled "what #1", "what #2", ..."""
    if not isinstance(value, list) or len(value) < min_len:
        least = f" of at least {min_len} item(s)" if min_len else ""
        raise ValueError(f"{what} must be a list{least}, got {quote(value)}")
    return tuple(parse(item, f"{what} #{i + 1}") for i, item in enumerate(value))


def _numbers(value: object, what: str, lengths: Sequence[int]) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) not in lengths:
        counts = " or ".join(map(str, lengths))
        raise ValueError(f"{what} must be a list of {counts} numbers, got {quote(value)}")
    return tuple(_number(v, what) for v in value)


def _pose(value: object, what: str) -> tuple[float, ...]:
    """(x, y) or (x, y, yaw), with x and y inside the workspace."""
    pose = _numbers(value, what, (2, 3))
    for axis, value, (low, high) in zip("xy", pose, (WORKSPACE_X, WORKSPACE_Y), strict=False):
        if not low <= value <= high:
            raise ValueError(f"{what} {axis} {value} is outside the workspace: [{low}, {high}]")
    return pose


def _size(value: object, what: str) -> tuple[float, ...]:
    return _numbers(value, what, (3,))


def _optional(data: dict, key: str, parse: Callable[[object, str], T], what: str) -> T | None:
    return parse(data[key], f"{what} {key}") if key in data else None


def _object(raw: object, what: str) -> ObjectEntry:
    data = _fields(raw, what, ("name", "type", "color"), ("pose", "size", "mass", "friction"))
    name = _text(data["name"], f"{what} name")
    what = f"object {quote(name)}"
    entry = ObjectEntry(
        name=name,
        type=_choice(data["type"], f"{what} type", OBJECT_TYPES.names()),
        color=_choice(data["color"], f"{what} color", list(PALETTE)),
        pose=_optional(data, "pose", _pose, what),
        size=_optional(data, "size", _size, what),
        mass=_optional(data, "mass", _number, what),
        friction=_optional(data, "friction", _number, what),
    )
    entry.to_spec()  # checks size, mass and friction ranges
    return entry


def _objects(value: object) -> tuple[ObjectEntry, ...]:
    entries = _items(value, "objects", _object, min_len=1)
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate object name {quote(duplicates[0])}")
    return entries


def _predicate_parser(types: dict[str, str]) -> Callable[[object, str], Predicate]:
    def parse(raw: object, what: str) -> Predicate:
        try:
            return parse_predicate(raw, types)
        except ValueError as err:
            raise ValueError(f"{what}: {err}") from err

    return parse


def _user_parser(types: dict[str, str]) -> Callable[[object, str], UserRule]:
    parse_violated = _predicate_parser(types)

    def parse(raw: object, what: str) -> UserRule:
        data = _fields(raw, what, ("violated", "say"), ())
        return UserRule(
            parse_violated(data["violated"], f"{what} violated"),
            _text(data["say"], f"{what} say"),
        )

    return parse


def _answer(raw: object, what: str) -> Answer:
    data = _fields(raw, what, ("match", "say"), ())
    return Answer(_text(data["match"], f"{what} match"), _text(data["say"], f"{what} say"))


def _episode(raw: object, defaults: EpisodeDefaults) -> Episode:
    data = _fields(
        raw,
        "the episode",
        ("id", "seed", "objects", "instruction", "success"),
        ("round", "expect", "user", "answers", "max_steps", "max_corrections", "family"),
    )
    objects = _objects(data["objects"])
    types = {o.name: o.type for o in objects}
    return Episode(
        id=_identifier(data["id"], "id"),
        seed=_integer(data["seed"], "seed", 0),
        objects=objects,
        instruction=check_instruction(data["instruction"]),
        success=_items(data["success"], "success", _predicate_parser(types), min_len=1),
        round=_integer(data.get("round", defaults.round), "round", 1),
        expect=_choice(data.get("expect", "success"), "expect", EXPECTS),
        user=_items(data.get("user", []), "user", _user_parser(types)),
        answers=_items(data.get("answers", []), "answers", _answer),
        max_steps=_integer(data.get("max_steps", defaults.max_steps), "max_steps", 1),
        max_corrections=_integer(
            data.get("max_corrections", defaults.max_corrections), "max_corrections", 0
        ),
        family=_identifier(data["family"], "family") if "family" in data else "",
    )


def _defaults(raw: object) -> EpisodeDefaults:
    data = _fields(raw, "defaults", (), ("max_steps", "max_corrections", "round"))
    base = EpisodeDefaults()
    return EpisodeDefaults(
        max_steps=_integer(data.get("max_steps", base.max_steps), "defaults max_steps", 1),
        max_corrections=_integer(
            data.get("max_corrections", base.max_corrections), "defaults max_corrections", 0
        ),
        round=_integer(data.get("round", base.round), "defaults round", 1),
    )


def _is_identifier(value: object) -> bool:
    return isinstance(value, str) and _EPISODE_ID.fullmatch(value) is not None


def _identifier(value: object, what: str) -> str:
    if not _is_identifier(value):
        raise ValueError(
            f"{what} must be letters, digits, '-', '_' or '.', starting with a letter or "
            f"digit, got {quote(value)}"
        )
    return value


def _episode_label(raw: object, index: int) -> str:
    """ "episode 'id'" when the entry has a usable id, else "episode #n"."""
    ident = raw.get("id") if isinstance(raw, dict) else None
    return f"episode {quote(ident)}" if _is_identifier(ident) else f"episode #{index + 1}"


def parse_suite(data: object, source: str) -> Suite:
    """Build a `Suite` from parsed YAML; `source` names the file in messages.

    Raises:
        SuiteError: anything malformed, with a one-line message naming `source`, the
            episode and the problem.
    """
    try:
        top = _fields(data, "the suite", ("name", "episodes"), ("defaults",))
        name = _text(top["name"], "name")
        defaults = _defaults(top.get("defaults", {}))
        if not isinstance(top["episodes"], list) or not top["episodes"]:
            raise ValueError(f"episodes must be a non-empty list, got {quote(top['episodes'])}")
    except ValueError as err:
        raise SuiteError(f"{source}: {err}") from err
    episodes: list[Episode] = []
    for index, raw in enumerate(top["episodes"]):
        label = _episode_label(raw, index)
        try:
            episode = _episode(raw, defaults)
        except ValueError as err:
            raise SuiteError(f"{source}: {label}: {err}") from err
        if any(e.id == episode.id for e in episodes):
            raise SuiteError(f"{source}: {label}: duplicate episode id (entry #{index + 1})")
        episodes.append(episode)
    return Suite(name, source, defaults, tuple(episodes))


def load_suite(path: str | Path) -> Suite:
    """Read and parse the suite file at `path`.

    Raises:
        SuiteError: the file cannot be read, is not valid YAML, or is malformed.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise SuiteError(f"{path}: cannot read the suite: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise SuiteError(
            f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); "
            "save the suite as UTF-8"
        ) from None
    try:
        data = read_suite_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err) or "cannot parse"
        raise SuiteError(f"{path}: invalid YAML{where}: {problem}") from err
    except RecursionError:
        raise SuiteError(f"{path}: invalid YAML: it nests too deeply") from None
    return parse_suite(data, str(path))
