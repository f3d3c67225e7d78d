"""How a durable store keeps a value (a task's result, a retry's history, the run's store) as JSON.

The promise: a value comes back from a store exactly as the engine handed it on, whether or not
a crash came in between. A task returning `(1, 2)` gives the next task a tuple, and after a
crash and a resume the store gives back a tuple too. Two parts keep it:

- The codec keeps every type it accepts. `str`, `int`, finite `float` (-0.0 included), `bool`,
  `None`, `list` and `dict` with `str` keys are JSON's own. A tuple, which JSON lacks, is
  written as the one-key object `{"$tuple": [items]}`; a dict of the user's whose only key is
  `"$tuple"` or `"$dict"` is written as `{"$dict": [[key, value]]}`, so that it is never
  mistaken for a tag. Reading turns exactly these shapes back (`loads`'s object hook), and does
  nothing else: the store names no type to build and runs no code. Data written before tuples
  were tagged still loads (their tuples as lists); only a dict of that time whose single key
  was `"$tuple"` (a list) or `"$dict"` (a list of pairs) would now read as the tag.
- What JSON cannot tell apart is normalised once, on the way in (`stored_form`): a subclass of
  these types comes back as its base type (a `StrEnum` member as its `str`, an `IntEnum` as its
  `int`, an `OrderedDict` as a `dict`, a named tuple as a `tuple`), so the engine hands every
  consumer the normalised value, the one a store gives back after a crash.

Refused, with `UnstorableValue` naming the run, the atom, the place in the value
(`result['items'][2]`) and its type: dict keys that are not `str` (JSON would turn `{1: "a"}`
into `{"1": "a"}`), NaN and the infinities, a `str` holding a lone surrogate (not Unicode; the
stores keep UTF-8), an `int` longer than the interpreter converts to text
(`sys.get_int_max_str_digits()`), sets, bytes, dates, any other object, a container that
contains itself, and nesting deeper than the interpreter can walk.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from provenflow.errors import UnstorableValue

__all__ = ["DICT_TAG", "TUPLE_TAG", "check_value", "stored_form", "tagged", "untagged"]

TUPLE_TAG = "$tuple"
"""The key of the one-key object a tuple is written as: `{"$tuple": [items]}`."""
DICT_TAG = "$dict"
"""The key of the one-key object that escapes a dict whose only key is a tag."""
_TAGS = frozenset((TUPLE_TAG, DICT_TAG))
_SCALARS = frozenset((str, int, float, bool, type(None)))
_LONG_INT_BITS = 13_000
"""Ints of fewer bits always convert to text (under the default limit of 4300 digits)."""


class _Refused(Exception):
    def __init__(self, path: list[object], type_name: str, problem: str) -> None:
        super().__init__(list(path), type_name, problem)
        self.path = list(path)
        self.type_name = type_name
        self.problem = problem


def check_value(value: object, flow_id: str, atom: str | None, field: str) -> None:
    """Check that `value` can be stored as JSON and read back as `stored_form` gives it.

    Raises `UnstorableValue` naming the run, the atom, the place in the value and its type.
    """
    stored_form(value, flow_id, atom, field)


def stored_form(value: object, flow_id: str, atom: str | None, field: str) -> Any:
    """Return `value` as a durable store gives it back: `value` itself when it holds only the
    exact types the codec keeps, else a copy with each subclass turned into its base type.

    Raises `UnstorableValue` naming the run, the atom, the place in the value and its type.
    """
    if value is None or type(value) is bool or (type(value) is str and str.isascii(value)):
        return value
    try:
        return _normal(value, [], set())
    except _Refused as refused:
        raise UnstorableValue(
            flow_id, atom, field + _render(refused.path), refused.type_name, refused.problem
        ) from None
    except RecursionError:
        raise UnstorableValue(
            flow_id, atom, field, _type_name(value), "it is nested too deeply to store"
        ) from None


def _normal(value: object, path: list[object], active: set[int]) -> Any:
    if value is None or type(value) is bool:
        return value
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, int):
        return _integer(value, path)
    if isinstance(value, float):
        number = float.__float__(value)
        if not math.isfinite(number):
            raise _Refused(path, "float", f"{value!r} is not a finite number (JSON has no NaN)")
        return number
    if isinstance(value, list | tuple | dict):
        if id(value) in active:
            raise _Refused(path, _type_name(value), "it contains itself")
        active.add(id(value))
        normal = _mapping(value, path, active) if isinstance(value, dict) else None
        if normal is None:
            normal = _sequence(value, path, active)  # type: ignore[arg-type]
        active.discard(id(value))
        return normal
    raise _Refused(path, _type_name(value), "JSON cannot hold it")


def _text(value: str, path: list[object]) -> str:
    text = str.__str__(value)  # the str itself, or a plain copy of a subclass's
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            problem = "it holds a lone surrogate, which is not Unicode (the store keeps UTF-8)"
            raise _Refused(path, _type_name(value), problem) from None
    return text


def _integer(value: int, path: list[object]) -> int:
    number = int.__int__(value)  # the int itself, or a plain copy of a subclass's
    if number.bit_length() > _LONG_INT_BITS:
        try:
            str(number)
        except ValueError:
            limit = sys.get_int_max_str_digits()
            problem = f"it has more than {limit} digits (see sys.set_int_max_str_digits)"
            raise _Refused(path, _type_name(value), problem) from None
    return number


def _mapping(value: dict[Any, Any], path: list[object], active: set[int]) -> dict[str, Any]:
    changed = type(value) is not dict
    items = []
    for key, item in value.items():
        path.append(key)
        if not isinstance(key, str):
            raise _Refused(path, _type_name(key), "a dict key must be a str")
        name = _text(key, path)
        normal = _normal(item, path, active)
        path.pop()
        changed = changed or name is not key or normal is not item
        items.append((name, normal))
    return dict(items) if changed else value


def _sequence(value: list[Any] | tuple[Any, ...], path: list[object], active: set[int]) -> Any:
    changed = type(value) not in (list, tuple)
    items = []
    for index, item in enumerate(value):
        path.append(index)
        normal = _normal(item, path, active)
        path.pop()
        changed = changed or normal is not item
        items.append(normal)
    if not changed:
        return value
    return tuple(items) if isinstance(value, tuple) else items


def tagged(value: Any) -> Any:
    """Return `value` (checked by `stored_form`) with its tuples as `{"$tuple": [...]}` and its
    tag-like dicts escaped, ready for `json`: `value` itself when it holds neither.

    On the hot path of every write: scalars are passed over without a call, and a container is
    copied only when something in it changes.
    """
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is dict or (cls is not list and isinstance(value, dict)):
        return _tagged_dict(value)
    if isinstance(value, tuple):
        return {TUPLE_TAG: [tagged(item) for item in value]}
    if isinstance(value, list):
        return _tagged_list(value)
    return value


def _tagged_dict(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) == 1 and next(iter(value)) in _TAGS:
        return {DICT_TAG: [[key, tagged(item)] for key, item in value.items()]}
    copy: dict[str, Any] | None = None
    for key, item in value.items():
        if type(item) in _SCALARS:
            continue
        new = tagged(item)
        if new is not item:
            if copy is None:
                copy = dict(value)
            copy[key] = new
    return value if copy is None else copy


def _tagged_list(value: list[Any]) -> list[Any]:
    items: list[Any] | None = None
    for index, item in enumerate(value):
        if type(item) in _SCALARS:
            continue
        new = tagged(item)
        if new is not item:
            if items is None:
                items = list(value)
            items[index] = new
    return value if items is None else items


def untagged(data: dict[str, Any]) -> Any:
    """The object hook of `json.loads`: turn a tag written by `tagged` back into its value.

    Only `{"$tuple": [...]}` and `{"$dict": [[str, value], ...]}` are read as tags (their items
    were decoded already); every other object is returned as it is.
    """
    if len(data) != 1:
        return data
    if TUPLE_TAG in data:
        items = data[TUPLE_TAG]
        return tuple(items) if isinstance(items, list) else data
    pairs = data.get(DICT_TAG)
    if isinstance(pairs, list) and all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) for pair in pairs
    ):
        return dict(pairs)
    return data


def _render(path: list[object]) -> str:
    return "".join(f"[{step!r}]" for step in path)


def _type_name(value: object) -> str:
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
