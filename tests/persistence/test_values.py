"""How a value is kept (`provenflow.persistence._values`): types kept, tags, normalisation."""

from __future__ import annotations

import enum
import sys
from collections import OrderedDict, namedtuple
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenflow.errors import UnstorableValue
from provenflow.persistence._json import dumps, loads
from provenflow.persistence._values import stored_form
from tests.helpers import USER_TYPES, VALUES, same


class Colour(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


Point = namedtuple("Point", "x y")


@given(VALUES)
def test_every_value_the_codec_keeps_reads_back_identical(value: Any) -> None:
    assert stored_form(value, "run", "atom", "result") is value  # nothing to normalise
    assert same(loads(dumps(value), "here"), value)


@given(USER_TYPES)
def test_the_normal_form_reads_back_identical(value: Any) -> None:
    normal = stored_form(value, "run", "atom", "result")
    assert same(loads(dumps(normal), "here"), normal)
    assert same(loads(dumps(value), "here"), normal)  # as the store writes the value itself


def test_subclasses_are_normalised_to_their_base_types() -> None:
    value = {
        "colour": Colour.RED,
        "size": Size.BIG,
        "point": Point(1, 2.5),
        "ordered": OrderedDict(b=[Colour.RED]),
        Colour.RED: "a key",
    }
    normal = stored_form(value, "run", "atom", "result")
    assert same(
        normal,
        {"colour": "red", "size": 3, "point": (1, 2.5), "ordered": {"b": ["red"]}, "red": "a key"},
    )
    plain = {"a": [1, (2, "3")], "b": {"c": None}}
    assert stored_form(plain, "run", "atom", "result") is plain  # no copy when none is needed


def test_a_tuple_is_written_as_a_tag_and_a_tag_like_dict_is_escaped() -> None:
    assert dumps((1, [2])) == '{"$tuple":[1,[2]]}'
    assert dumps({"$tuple": [1]}) == '{"$dict":[["$tuple",[1]]]}'
    assert dumps({"$tuple": [1], "other": 2}) == '{"$tuple":[1],"other":2}'  # not a tag
    assert same(loads('{"$dict":[["$dict",[["a",1]]]]}', "here"), {"$dict": [["a", 1]]})


def test_data_written_before_tuples_were_tagged_still_loads() -> None:
    old = '{"pair":[1,2],"history":[{"value":[1,2]}],"$tuple":5}'
    assert same(loads(old, "here"), {"pair": [1, 2], "history": [{"value": [1, 2]}], "$tuple": 5})
    assert same(loads('{"$tuple":"not a list"}', "here"), {"$tuple": "not a list"})
    assert same(loads('{"$dict":[["a"]]}', "here"), {"$dict": [["a"]]})


@pytest.mark.parametrize(
    ("value", "where", "problem"),
    [
        ({"text": "a\ud800b"}, "result['text']", "lone surrogate"),
        ({"\udfff": 1}, "result['\\udfff']", "lone surrogate"),
        ([10 ** (sys.get_int_max_str_digits() + 1)], "result[0]", "digits"),
    ],
)
def test_values_a_store_could_not_write_or_read_back_are_refused(
    value: Any, where: str, problem: str
) -> None:
    with pytest.raises(UnstorableValue, match=problem) as caught:
        stored_form(value, "run", "atom", "result")
    assert caught.value.args[2] == where


@given(st.integers(min_value=-(2**5000), max_value=2**5000))
def test_long_ints_under_the_limit_are_kept(number: int) -> None:
    assert loads(dumps(stored_form(number, "r", "a", "f")), "here") == number
