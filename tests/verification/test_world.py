"""The world as a value: `describe_world` and `world_key` (`provenflow/verification/_world.py`)."""

from __future__ import annotations

import copy
import enum
import json
import random
import tempfile
import threading
from collections import OrderedDict, defaultdict, namedtuple
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenflow.errors import UsageError
from provenflow.verification._world import describe_world, world_key, world_text


class Shop:
    """A fake world: stock, charges and a log."""

    def __init__(self) -> None:
        self.stock = 3
        self.charges: set[int] = set()
        self.log: list[str] = []

    def __repr__(self) -> str:
        return "Shop()"  # hides every attribute: the description must not rely on it


def test_no_context_is_none_and_complete() -> None:
    assert describe_world(None) is None
    assert world_key(None) == (None, True)


def test_an_object_is_its_class_and_its_attributes_sorted_recursively() -> None:
    shop = Shop()
    shop.charges.update({9, 2, 5})
    shop.log.append("reserved")
    assert describe_world(shop) == {
        "__class__": "Shop",
        "charges": {"__set__": [2, 5, 9]},
        "log": ["reserved"],
        "stock": 3,
    }
    assert world_key(shop)[1] is True


def test_the_key_follows_the_value_not_the_repr() -> None:
    first, second = Shop(), Shop()
    assert repr(first) == repr(second)
    assert world_key(first) == world_key(second)
    second.charges.add(1)
    assert world_key(first)[0] != world_key(second)[0]
    second.charges.discard(1)
    assert world_key(first) == world_key(second)


def test_insertion_order_of_sets_and_dicts_is_not_part_of_the_value() -> None:
    assert world_key({3, 1, 2}) == world_key({1, 2, 3})
    assert world_key({"b": 1, "a": 2}) == world_key({"a": 2, "b": 1})
    assert describe_world({"b": 1, "a": 2}) == {"a": 2, "b": 1}
    assert list(describe_world({"b": 1, "a": 2})) == ["a", "b"]  # type: ignore[call-overload]


def test_an_ordered_dict_keeps_its_order_and_its_class() -> None:
    assert world_key(OrderedDict(a=1, b=2)) != world_key(OrderedDict(b=2, a=1))
    assert world_key(OrderedDict(a=1)) != world_key({"a": 1})
    assert describe_world(OrderedDict(b=2, a=1)) == {
        "__class__": "OrderedDict",
        "__value__": {"b": 2, "a": 1},
    }


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (1, True),
        (1, 1.0),
        (1, "1"),
        ([1, 2], (1, 2)),
        ({1}, frozenset({1})),
        ({1}, [1]),
        ({"a": 1}, {"a": 1, "b": None}),
        (None, {}),
        (float("nan"), float("inf")),
        (b"ab", bytearray(b"ab")),
    ],
)
def test_values_python_calls_equal_or_alike_have_different_keys(first: Any, second: Any) -> None:
    assert world_key(first)[0] != world_key(second)[0]


def test_a_dict_key_that_is_not_a_plain_string_gives_items() -> None:
    assert describe_world({2: "b", 1: "a"}) == {"__items__": [[1, "a"], [2, "b"]]}
    # A string key spelled like a tag cannot pass for one.
    assert describe_world({"__set__": [1]}) == {"__items__": [["__set__", [1]]]}
    assert world_key({"__set__": [1]})[0] != world_key({1})[0]


class Colour(enum.Enum):
    RED = "red"


@dataclass(slots=True)
class Point:
    x: int
    y: int


T = TypeVar("T")


class Box(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item = item


Pair = namedtuple("Pair", "left right")


def test_kinds_json_has_no_word_for_are_tagged() -> None:
    assert describe_world(Colour.RED) == {"__enum__": "Colour.RED"}
    assert describe_world(Point(1, 2)) == {"__class__": "Point", "x": 1, "y": 2}
    assert describe_world(Pair(1, [2])) == {"__class__": "Pair", "left": 1, "right": [2]}
    assert describe_world(Box(5)) == {"__class__": "Box", "item": 5}
    assert describe_world(ValueError("no stock", 3)) == {
        "__class__": "ValueError",
        "args": {"__tuple__": ["no stock", 3]},
    }
    assert describe_world(int) == {"__type__": "int"}
    assert describe_world(float("-inf")) == {"__float__": "-inf"}
    assert describe_world(defaultdict(list, a=[1])) == {
        "__class__": "defaultdict",
        "__value__": {"a": [1]},
    }
    assert all(world_key(v)[1] for v in (Colour.RED, Point(1, 2), Box(1), ValueError()))


def test_a_reference_back_says_how_many_levels_up() -> None:
    shop = Shop()
    shop.log = [shop]  # type: ignore[list-item]
    assert describe_world(shop) == {
        "__class__": "Shop",
        "charges": {"__set__": []},
        "log": [{"__cycle__": 2}],
        "stock": 3,
    }
    assert world_key(shop)[1] is True


def test_the_same_object_twice_is_described_twice_not_as_a_cycle() -> None:
    shared = [1]
    assert describe_world({"a": shared, "b": shared}) == {"a": [1], "b": [1]}


def _closure() -> Any:
    count = 0

    def bump() -> int:
        nonlocal count
        count += 1
        return count

    return bump


@pytest.mark.parametrize(
    ("hidden", "kind"),
    [
        (_closure(), "function"),
        (threading.Lock(), "lock"),
        (random.Random(1), "Random"),
        (Shop().__init__, "method"),
    ],
)
def test_what_hides_its_state_is_opaque_and_the_key_incomplete(hidden: Any, kind: str) -> None:
    shop = Shop()
    shop.log = [hidden]  # type: ignore[list-item]
    assert describe_world(shop) == {
        "__class__": "Shop",
        "charges": {"__set__": []},
        "log": [{"__opaque__": kind}],
        "stock": 3,
    }
    assert world_key(shop)[1] is False
    assert world_key(Shop())[1] is True


def test_an_open_file_is_opaque() -> None:
    with tempfile.TemporaryFile() as file:
        assert world_key({"file": file}) == ('{"file":{"__opaque__":"BufferedRandom"}}', False)


def test_anything_holding_a_lock_is_incomplete() -> None:
    assert world_key(threading.Condition())[1] is False


class Ledger:
    """A world that says what it is: `snapshot()`."""

    def __init__(self) -> None:
        self.entries = {"a": 1}
        self.lock = threading.Lock()  # not part of the world's value

    def snapshot(self) -> object:
        return sorted(self.entries.items())


def test_a_snapshot_method_is_the_description() -> None:
    ledger = Ledger()
    assert describe_world(ledger) == [{"__tuple__": ["a", 1]}]
    assert world_key(ledger) == ('[{"__tuple__":["a",1]}]', True)


def test_a_snapshot_that_raises_is_a_usage_error_naming_it() -> None:
    class Broken:
        def snapshot(self) -> object:
            raise KeyError("gone")

    with pytest.raises(UsageError, match=r"the world's snapshot\(\) raised KeyError: 'gone'"):
        world_key(Broken())


def test_a_class_with_a_snapshot_method_is_not_asked_for_one() -> None:
    assert describe_world(Ledger) == {"__type__": "Ledger"}


def test_world_text_is_one_line_of_compact_json() -> None:
    shop = Shop()
    assert world_text(describe_world(shop)) == (
        '{"__class__":"Shop","charges":{"__set__":[]},"log":[],"stock":3}'
    )


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.frozensets(st.integers() | st.text(max_size=2), max_size=3)
        | st.dictionaries(st.text(max_size=2) | st.integers(), inner, max_size=3)
    ),
    max_leaves=10,
)


def _same(first: Any, second: Any) -> bool:
    """Equal, with the same types all the way down (1 is not True, nan is nan)."""
    if type(first) is not type(second):
        return False
    if isinstance(first, float):
        return repr(first) == repr(second)
    if isinstance(first, (list, tuple)):
        return len(first) == len(second) and all(map(_same, first, second))
    if isinstance(first, dict):
        return first.keys() == second.keys() and all(_same(first[k], second[k]) for k in first)
    return bool(first == second)


@given(plain, plain)
def test_equal_keys_only_for_the_same_value(first: Any, second: Any) -> None:
    key, complete = world_key(first)
    assert complete
    assert key is None if first is None else json.loads(key) == describe_world(first)
    assert world_key(copy.deepcopy(first)) == (key, True)
    if key == world_key(second)[0]:
        assert _same(first, second)
