"""Episode suites: a valid suite round-trips; every malformed one names file, episode, problem."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from memory.records import MAX_STATEMENT_CHARS
from perception.predicates import Predicate
from sim.objects import ObjectSpec
from sim.suite import (
    MAX_INSTRUCTION_CHARS,
    Answer,
    EpisodeDefaults,
    ObjectEntry,
    SuiteError,
    UserRule,
    load_suite,
    parse_suite,
    read_suite_yaml,
)
from skills.errors import HeedError

REPO = Path(__file__).resolve().parents[1]
SOURCE = "suites/x.yaml"

VALID_YAML = """
name: tiny
defaults: {max_steps: 6, max_corrections: 2}
episodes:
  - id: red-in-blue
    seed: 0
    objects:
      - {name: red block, type: block, color: red}
      - {name: blue bowl, type: bowl, color: blue}
      - {name: yellow block, type: block, color: yellow, pose: [0.55, 0.10]}
      - {name: heavy can, type: cylinder, color: gray, mass: 1.2, friction: 0.3}
      - {name: long bar, type: bar, color: black, pose: [0.4, -0.2, 1.57], size: [0.2, 0.03, 0.03]}
    instruction: put the red block in the blue bowl
    success:
      - in: [red block, blue bowl]
      - unmoved: [yellow block]
    round: 2
    expect: success
    max_steps: 10
    user:
      - violated: {in: [red block, green bowl]}
        say: no, it should go in the green bowl
    answers:
      - {match: bowl, say: the green one}
  - id: refuse-purple
    seed: 3
    objects:
      - {name: red block, type: block, color: red}
      - {name: green bowl, type: bowl, color: green}
    instruction: put the purple block in the bowl
    expect: refuse
    success:
      - unmoved: [red block, green bowl]
"""


def valid() -> dict:
    data = yaml.safe_load(VALID_YAML)
    # the first episode's user rule names a green bowl: put one in its scene
    data["episodes"][0]["objects"].append({"name": "green bowl", "type": "bowl", "color": "green"})
    return data


def test_valid_suite_parses_every_field():
    suite = parse_suite(valid(), SOURCE)
    assert (suite.name, suite.path) == ("tiny", SOURCE)
    assert suite.defaults == EpisodeDefaults(max_steps=6, max_corrections=2, round=1)
    first, second = suite.episodes
    assert first.id == "red-in-blue"
    assert first.seed == 0
    assert first.instruction == "put the red block in the blue bowl"
    assert first.objects[2] == ObjectEntry("yellow block", "block", "yellow", pose=(0.55, 0.10))
    assert first.objects[4].pose == (0.4, -0.2, 1.57)
    assert first.success == (
        Predicate("in", ("red block", "blue bowl")),
        Predicate("unmoved", ("yellow block",)),
    )
    assert (first.round, first.expect, first.max_steps, first.max_corrections) == (
        2,
        "success",
        10,
        2,
    )
    assert first.user == (
        UserRule(
            Predicate("in", ("red block", "green bowl")), "no, it should go in the green bowl"
        ),
    )
    assert first.answers == (Answer("bowl", "the green one"),)
    assert (second.round, second.expect, second.max_steps, second.max_corrections) == (
        1,
        "refuse",
        6,
        2,
    )
    assert (second.user, second.answers) == ((), ())


def test_object_entries_become_specs():
    objects = parse_suite(valid(), SOURCE).episodes[0].objects
    assert objects[0].to_spec() == ObjectSpec(
        "red block", "block", "red", (0.04, 0.04, 0.04), 0.08, 0.8
    )
    assert objects[3].to_spec().mass == 1.2
    assert objects[3].to_spec().friction == 0.3
    assert objects[4].to_spec().size == (0.2, 0.03, 0.03)


def test_suite_round_trips_through_dict_and_yaml():
    suite = parse_suite(valid(), SOURCE)
    assert parse_suite(suite.to_dict(), SOURCE) == suite
    assert parse_suite(yaml.safe_load(yaml.safe_dump(suite.to_dict())), SOURCE) == suite


def test_load_suite_reads_a_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(valid()))
    suite = load_suite(path)
    assert suite.path == str(path)
    assert suite == parse_suite(valid(), str(path))


def test_episode_lookup():
    suite = parse_suite(valid(), SOURCE)
    assert suite.episode("refuse-purple").seed == 3
    with pytest.raises(
        SuiteError, match=r"no episode 'nope'; episodes: red-in-blue, refuse-purple"
    ):
        suite.episode("nope")


def test_defaults_fall_back_when_absent():
    data = valid()
    del data["defaults"]
    suite = parse_suite(data, SOURCE)
    assert suite.defaults == EpisodeDefaults(8, 3, 1)
    assert suite.episodes[1].max_steps == 8
    assert suite.episodes[1].max_corrections == 3


def test_default_round_applies_to_episodes():
    data = valid()
    data["defaults"]["round"] = 3
    assert [e.round for e in parse_suite(data, SOURCE).episodes] == [2, 3]


Mutation = Callable[[dict], None]


def _first(data: dict) -> dict:
    return data["episodes"][0]


def _set(path: tuple, value) -> Mutation:
    def mutate(data: dict) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _drop(path: tuple) -> Mutation:
    def mutate(data: dict) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


E0 = ("episodes", 0)
OBJ0 = (*E0, "objects", 0)

EPISODE_ERRORS = [
    (_set((*E0, "colour"), "red"), "unknown key 'colour' in the episode; allowed: answers"),
    (_set((*OBJ0, "colour"), "red"), "unknown key 'colour' in objects #1; allowed: color"),
    (_set((*E0, "user", 0, "when"), 1), "unknown key 'when' in user #1"),
    (_set((*E0, "answers", 0, "reply"), "x"), "unknown key 'reply' in answers #1"),
    (_drop((*E0, "seed")), "missing required field 'seed' in the episode"),
    (_drop((*E0, "success")), "missing required field 'success'"),
    (_drop((*OBJ0, "color")), "missing required field 'color' in objects #1"),
    (_drop((*E0, "user", 0, "say")), "missing required field 'say' in user #1"),
    (_set((*OBJ0, "type"), "sphere"), "object 'red block' type must be one of bar, block, "),
    (_set((*OBJ0, "color"), "teal"), "object 'red block' color must be one of blue, red, "),
    (_set((*OBJ0, "name"), "blue bowl"), "duplicate object name 'blue bowl'"),
    (_set((*OBJ0, "name"), ""), "objects #1 name must be non-empty text"),
    (
        _set((*E0, "success", 0), {"in": ["red block", "purple bowl"]}),
        "success #1: object 'purple bowl' in predicate 'in' is not in the scene "
        "(objects: blue bowl, green bowl, heavy can, long bar, red block, yellow block)",
    ),
    (
        _set((*E0, "user", 0, "violated"), {"on": ["red block"]}),
        r"user #1 violated: predicate 'on' takes [a, b]",
    ),
    (_set((*E0, "success", 1), {"inside": ["red block"]}), "success #2: unknown predicate"),
    (_set((*E0, "success"), []), "success must be a list of at least 1 item(s)"),
    (_set((*E0, "objects"), []), "objects must be a list of at least 1 item(s)"),
    (_set((*E0, "objects", 0), "red block"), "objects #1 must be a mapping"),
    (_set((*E0, "user"), {"violated": {}}), "user must be a list"),
    (_set((*E0, "seed"), -1), "seed must be a whole number >= 0, got -1"),
    (_set((*E0, "seed"), "0"), "seed must be a whole number >= 0, got '0'"),
    (_set((*E0, "seed"), True), "seed must be a whole number >= 0, got True"),
    (_set((*E0, "round"), 0), "round must be a whole number >= 1, got 0"),
    (_set((*E0, "max_steps"), 0), "max_steps must be a whole number >= 1"),
    (_set((*E0, "max_corrections"), -1), "max_corrections must be a whole number >= 0"),
    (_set((*E0, "expect"), "maybe"), "expect must be one of success, refuse, got 'maybe'"),
    (_set((*E0, "instruction"), " "), "instruction must be non-empty text"),
    (_set((*E0, "instruction"), "go " * 700), "instruction has 2100 characters, over 2000"),
    (_set((*E0, "instruction"), ["x" * 10**6]), "instruction must be non-empty text, got ['xx"),
    (_set((*E0, "answers", 0, "say"), 3), "answers #1 say must be non-empty text, got 3"),
    (_set((*OBJ0, "pose"), [0.8, 0.0]), "object 'red block' pose x 0.8 is outside the workspace"),
    (_set((*OBJ0, "pose"), [0.5, -0.31]), "pose y -0.31 is outside the workspace: [-0.3, 0.3]"),
    (_set((*OBJ0, "pose"), [0.5]), "pose must be a list of 2 or 3 numbers, got [0.5]"),
    (_set((*OBJ0, "pose"), [0.5, "a"]), "pose must be a finite number, got 'a'"),
    (_set((*OBJ0, "size"), [0.1, 0.1]), "size must be a list of 3 numbers"),
    (_set((*OBJ0, "size"), [0.1, 0.1, 2.0]), "object 'red block': size [0.1, 0.1, 2.0] must be"),
    (_set((*OBJ0, "mass"), 500), "object 'red block': mass 500.0 is outside [0, 100]"),
    (_set((*OBJ0, "friction"), float("inf")), "object 'red block' friction must be a finite"),
]


@pytest.mark.parametrize(("mutate", "problem"), EPISODE_ERRORS)
def test_malformed_episode_names_file_episode_and_problem(mutate, problem):
    data = valid()
    mutate(data)
    with pytest.raises(SuiteError) as info:
        parse_suite(data, SOURCE)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}: episode 'red-in-blue': ")
    assert problem in message
    assert "\n" not in message and len(message) < 300
    assert isinstance(info.value, HeedError)


@pytest.mark.parametrize(
    ("mutate", "label", "problem"),
    [
        (_set((*E0, "id"), "red in blue"), "episode #1", "id must be letters, digits"),
        (_drop((*E0, "id")), "episode #1", "missing required field 'id'"),
        (_set(("episodes", 1), "oops"), "episode #2", "the episode must be a mapping"),
        (
            _set(("episodes", 1, "id"), "red-in-blue"),
            "episode 'red-in-blue'",
            "duplicate episode id",
        ),
    ],
)
def test_episode_without_usable_id_is_named_by_position(mutate, label, problem):
    data = valid()
    mutate(data)
    with pytest.raises(SuiteError, match=rf"^{SOURCE}: {label}: .*{problem}"):
        parse_suite(data, SOURCE)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (
            _set(("title",), "x"),
            "unknown key 'title' in the suite; allowed: defaults, episodes, name",
        ),
        (_drop(("name",)), "missing required field 'name' in the suite"),
        (_set(("episodes",), []), "episodes must be a non-empty list"),
        (_set(("defaults", "max_steps"), 0), "defaults max_steps must be a whole number >= 1"),
        (_set(("defaults", "round"), 0), "defaults round must be a whole number >= 1"),
        (_set(("defaults", "seed"), 0), "unknown key 'seed' in defaults"),
    ],
)
def test_malformed_suite_level(mutate, problem):
    data = valid()
    mutate(data)
    with pytest.raises(SuiteError) as info:
        parse_suite(data, SOURCE)
    assert str(info.value).startswith(f"{SOURCE}: {problem}")


@pytest.mark.parametrize("data", [None, [], "name: x"])
def test_suite_must_be_a_mapping(data):
    with pytest.raises(SuiteError, match=rf"^{SOURCE}: the suite must be a mapping"):
        parse_suite(data, SOURCE)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nepisodes:\n  - id: [unclosed\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid YAML at line 4")
    assert "\n" not in message


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\nepisodes: []\n")
    with pytest.raises(SuiteError, match=r"latin1\.yaml: not UTF-8 text \(byte 0xe9 at offset 9\)"):
        load_suite(path)


def test_yaml_aliases_that_expand_too_far_are_refused_in_a_short_line(tmp_path):
    """Under 1 KB, 9**7 strings once expanded: before, a 39 MB error line."""
    lines = ["name:", "  - &a [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"  - &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in itertools.pairwise("abcdefg")]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join([*lines, "episodes: []"]) + "\n")
    assert path.stat().st_size < 1024
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.endswith("bomb.yaml: invalid YAML: aliases expand to more than 10000 nodes")
    assert len(message) < 200
    shared = "x: &a [1, 2]\ny: [*a, *a]\n"  # aliases that stay small are fine
    assert read_suite_yaml(shared) == {"x": [1, 2], "y": [[1, 2], [1, 2]]}


def test_numbers_are_read_as_yaml_1_2_reads_them():
    text = "a: 1e-3\nb: 1.0e3\nc: -2E+2\nd: 1\ne: 1.5\nf: .5\ng: on\nh: 1_000\n"
    assert read_suite_yaml(text) == {
        "a": 0.001,
        "b": 1000.0,
        "c": -200.0,
        "d": 1,
        "e": 1.5,
        "f": 0.5,
        "g": "on",
        "h": 1000,
    }
    text = VALID_YAML.replace("mass: 1.2, friction: 0.3", "mass: 12e-1, friction: 3e-1")
    data = read_suite_yaml(text)
    data["episodes"][0]["user"] = []
    can = parse_suite(data, SOURCE).episodes[0].objects[3]
    assert (can.mass, can.friction) == (1.2, 0.3)
    assert MAX_INSTRUCTION_CHARS <= MAX_STATEMENT_CHARS  # a program's statement is its order


def test_missing_file(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(SuiteError, match=r"absent\.yaml: cannot read the suite"):
        load_suite(path)


def test_tabletop_basic_suite_loads():
    suite = load_suite(REPO / "suites" / "tabletop-basic.yaml")
    assert suite.name == "tabletop-basic"
    assert len(suite.episodes) >= 6
    assert suite.episode("red-in-blue").success[0] == Predicate("in", ("red block", "blue bowl"))
    assert any(e.user and e.answers for e in suite.episodes)
    refusals = [e for e in suite.episodes if e.expect == "refuse"]
    assert refusals
    for episode in refusals:
        unmoved = [p for p in episode.success if p.kind == "unmoved"]
        assert unmoved and set(unmoved[0].args) == {o.name for o in episode.objects}
    for episode in suite.episodes:
        assert [o.to_spec() for o in episode.objects]
    assert parse_suite(suite.to_dict(), suite.path) == suite
