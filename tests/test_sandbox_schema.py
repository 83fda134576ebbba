"""Strict argument schemas: what crosses from a program to the robot."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.sandbox.schema import CallRejected, FunctionSpec, Param, validate_call

PICK = FunctionSpec(
    "pick",
    (
        Param("obj", "str"),
        Param("force", "float", optional=True, default=None),
        Param("grasp", "bool", optional=True, default=False),
        Param("tries", "int", optional=True, default=1),
    ),
)
PLACE = FunctionSpec(
    "place",
    (
        Param("target", "str|vec"),
        Param("offset", "vec2", optional=True, default=None),
        Param("pose", "vec3", optional=True, default=None),
        Param("path", "vec", optional=True, default=None, min_len=2, max_len=4),
        Param("meta", "any_json", optional=True, default=None),
    ),
)


def test_binds_positional_and_keyword_and_fills_defaults() -> None:
    assert validate_call(PICK, ["cube"], {"force": 3}) == {
        "obj": "cube", "force": 3.0, "grasp": False, "tries": 1,
    }  # fmt: skip
    bound = validate_call(PLACE, [[0.4, 0.1]], {"offset": (0.0, 0.01)})
    assert bound["target"] == [0.4, 0.1] and bound["offset"] == [0.0, 0.01]
    assert validate_call(PICK, ["cube", None], {})["force"] is None  # None where default is None


@pytest.mark.parametrize(
    ("args", "kwargs", "needle"),
    [
        (["cube"], {"force": math.nan}, "argument 'force' must be a finite number, got nan"),
        (["cube"], {"force": math.inf}, "got inf"),
        (["cube"], {"force": -math.inf}, "got -inf"),
        (["cube"], {"force": "strong"}, "must be a finite number, got 'strong'"),
        (["cube"], {"force": True}, "must be a finite number, got True"),  # bool is no number
        (["cube"], {"force": 10**400}, "too large"),
        (["cube"], {"tries": 1.0}, "must be an integer"),
        (["cube"], {"grasp": 1}, "must be True or False"),
        ([42], {}, "argument 'obj' must be a string, got 42"),
        (["x" * 201], {}, "at most 200 characters"),
        ([], {}, "missing argument 'obj'"),
        (["cube"], {"obj": "ball"}, "got multiple values for argument 'obj'"),
        (["cube"], {"speed": 1.0}, "unexpected argument 'speed'"),
        (["cube"], {"_secret": 1.0}, "unexpected argument '_secret'"),
        (["cube", 1.0, False, 1, "extra"], {}, "takes at most 4 arguments (5 given)"),
    ],
)
def test_pick_refusals(args: list, kwargs: dict, needle: str) -> None:
    with pytest.raises(CallRejected) as info:
        validate_call(PICK, args, kwargs)
    assert needle in str(info.value)
    assert str(info.value).startswith("pick()")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"target": [0.4]}, "must be a name or a list of 2 to 3 finite numbers"),
        ({"target": [0.4, 0.1, 0.0, 0.0]}, "a list of 2 to 3"),
        ({"target": [0.4, math.nan]}, "finite numbers"),
        ({"target": [0.4, "a"]}, "finite numbers"),
        ({"target": [0.4, True]}, "finite numbers"),
        ({"target": {"x": 1}}, "must be a name or"),
        ({"target": "bowl", "offset": [0.1, 0.2, 0.3]}, "'offset' must be a list of 2 finite"),
        ({"target": "bowl", "pose": [0.1, 0.2]}, "'pose' must be a list of 3 finite"),
        ({"target": "bowl", "path": [1.0] * 5}, "'path' must be a list of 2 to 4"),
        ({"target": "bowl", "meta": {"a": [math.inf]}}, "finite number"),
        ({"target": "bowl", "meta": [[[[[[[[[[1]]]]]]]]]]}, "at most"),
        ({"target": "bowl", "meta": list(range(2000))}, "at most 1000 items"),
    ],
)
def test_place_refusals(kwargs: dict, needle: str) -> None:
    with pytest.raises(CallRejected, match=r"^place\(\)") as info:
        validate_call(PLACE, [], kwargs)
    assert needle in str(info.value)


def test_any_json_accepts_plain_data() -> None:
    meta = {"a": [1, 2.5, "x", None, True], "b": {"c": []}}
    assert validate_call(PLACE, ["bowl"], {"meta": meta})["meta"] == meta


def test_specs_refuse_bad_declarations() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        Param("x", "complex")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="identifier"):
        Param("_x", "str")
    with pytest.raises(ValueError, match="duplicate"):
        FunctionSpec("f", (Param("a", "str"), Param("a", "int")))
    with pytest.raises(ValueError, match="identifier"):
        FunctionSpec("__init__")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_is_accepted_exactly_when_finite(value: float) -> None:
    if math.isfinite(value):
        assert validate_call(PICK, ["cube", value], {})["force"] == value
    else:
        with pytest.raises(CallRejected, match="finite number"):
            validate_call(PICK, ["cube", value], {})


@pytest.mark.parametrize(
    ("spec", "kwargs", "needle"),
    [  # what msgspec alone would let through, or say otherwise, is refused as before
        (PICK, {"force": 2**60}, "'force' must be a finite number (too large), got 1152"),
        (PICK, {"tries": 2**54}, "'tries' must be an integer"),
        (PICK, {"grasp": None}, "'grasp' must be True or False, got None"),  # default: False
        (PICK, {"force": b"3"}, "'force' must be a finite number, got b'3'"),
        (PLACE, {"path": [0.1, 2**60]}, "'path' must be a list of 2 to 4 finite numbers"),
        (PLACE, {"offset": "ab"}, "'offset' must be a list of 2 finite numbers, got 'ab'"),
        (PLACE, {"meta": {1: "a"}}, "'meta' must be plain data"),
        (PLACE, {"meta": {"k": b"x"}}, "'meta' must be plain data"),
        (PLACE, {"meta": {"k" * 201: 1}}, "'meta' must be a string of at most 200 characters"),
        (PLACE, {"meta": [2**54]}, "'meta' must be an integer"),
        (PLACE, {"path": {0.1, 0.2}}, "'path' must be a list of 2 to 4 finite numbers"),
        (PLACE, {"meta": {"a": 1}.keys()}, "'meta' must be plain data"),
    ],
)
def test_refusals_msgspec_alone_would_miss(spec: FunctionSpec, kwargs: dict, needle: str) -> None:
    with pytest.raises(CallRejected) as info:
        validate_call(spec, ["cube"], kwargs)
    assert needle in str(info.value)
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


def test_long_values_are_quoted_short() -> None:
    with pytest.raises(CallRejected) as info:
        validate_call(PICK, ["x" * 1000], {})
    assert str(info.value).endswith("got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...")


def test_numbers_come_out_as_floats_and_lists() -> None:
    bound = validate_call(PLACE, [(1, 2)], {"pose": (0, 0.5, 1), "path": [1, 2, 3]})
    assert bound["target"] == [1.0, 2.0] and all(type(v) is float for v in bound["target"])
    assert bound["pose"] == [0.0, 0.5, 1.0] and type(bound["pose"][0]) is float
    assert validate_call(PICK, ["cube", 2**53], {})["force"] == float(2**53)
    assert validate_call(PICK, ["cube"], {"tries": 3})["tries"] == 3


def test_a_strs_parameter_takes_strings_only() -> None:
    spec = FunctionSpec("stack", (Param("objs", "strs", min_len=1, max_len=2, max_chars=5),))
    assert validate_call(spec, [("a", "b")], {}) == {"objs": ["a", "b"]}
    for bad in (["a", 1], [], ["a", "b", "c"], ["abcdef"], "ab", [None], {"a"}):
        with pytest.raises(CallRejected, match=r"'objs' must be a list of 1 to 2 strings"):
            validate_call(spec, [bad], {})
