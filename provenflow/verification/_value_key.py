"""A value as a hashable key that is equal exactly when two values are equal by value.

The model checker merges two states only when their keys are equal, so a value's key must
never be equal for values that can lead on differently. `value_key(value)`:

- None, a str and a `Failure` (immutable, equal by value) are their own key; so is `MISSING`;
- a bool, an int or a float is its repr (so 1, True and 1.0 stay apart: as dict keys and in
  tuples Python holds them equal);
- a list, a tuple or a dict of such values, to any depth, is its repr (written at C speed; it
  tells a tuple from a list, and a dict's order is kept: two dicts in another order are kept
  apart, which never merges states that differ);
- a set, a frozenset, a retry's `History` and containers holding other values are taken apart
  and keyed part by part;
- anything else is described by value with the world's describer (`world_key`: its class and
  attributes, or what its `snapshot()` returns). What cannot be described by value (a function,
  an object keeping state in C) has no key: `value_key` returns a `Uncaptured` marker, equal
  only to itself, so a state holding it is never merged with another.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from itertools import count
from typing import Any

from provenflow.failure import Failure
from provenflow.flows import History
from provenflow.verification._world import world_key

__all__ = ["MISSING", "OWN_KEY", "Uncaptured", "history_key", "plain_key", "value_key"]


class _Missing:
    """No value at all (which is not a value of None)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()

_SERIALS = count()


class Uncaptured:
    """The key of a value that cannot be captured by value: equal only to itself.

    `what` says what it was (for the report: states were not merged on it).
    """

    __slots__ = ("serial", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self.serial = next(_SERIALS)

    def __hash__(self) -> int:
        # from a serial number, not the id: a search that keeps only fingerprints of keys
        # (`_fingerprint`) frees the marker, and a new one could be given the same id
        return hash(("uncaptured", self.serial))

    def __repr__(self) -> str:
        return f"<not captured: {self.what}>"


OWN_KEY = frozenset({type(None), str, Failure, _Missing})
"""Types whose values are their own key."""
_OWN = OWN_KEY
_SCALARS = frozenset({bool, int, float})
_PLAIN = _OWN | _SCALARS


def value_key(value: Any) -> Hashable:
    """Return the key of `value` (see the module docstring)."""
    kind = type(value)
    if kind in _OWN:
        return value  # type: ignore[no-any-return]
    if kind in _SCALARS or (kind in _CONTAINERS and _plain(value)):
        return repr(value)
    return _structured(value)


def plain_key(value: Any) -> str | None:
    """The repr of a plain value (None, a bool, int, float or str, or lists, tuples and dicts
    of them to any depth), which tells it from any other value; None for any other value."""
    return repr(value) if _plain(value) else None


def history_key(history: History) -> Hashable:
    """Return the key of a retry's `History`: each attempt's value and failures, in order."""
    return tuple(
        (value_key(attempt.value), tuple(sorted(attempt.failures.items()))) for attempt in history
    )


def _plain(value: Any) -> bool:
    """Whether `value` is None, a bool, int, float or str, or a list, tuple or dict of such
    values (keys included) to any depth: its repr then tells it from any other value."""
    kind = type(value)
    if kind in _PLAIN and kind is not Failure and kind is not _Missing:
        return True
    if kind is list or kind is tuple:
        return all(map(_plain, value))
    if kind is dict:
        return all(map(_plain, value)) and all(map(_plain, value.values()))
    return False


def _structured(value: Any) -> Hashable:
    """The key of a value that is not plain: its parts keyed one by one, by kind."""
    kind = type(value)
    take_apart = _TAKE_APART.get(kind)
    if take_apart is not None:
        return (kind.__name__, take_apart(value))
    if isinstance(value, History):
        return ("History", history_key(value))
    key, complete = world_key(value)
    if not complete:
        return Uncaptured(f"a value of type {kind.__qualname__}")
    return (kind.__qualname__, key)


def _items(value: dict[Any, Any]) -> tuple[Hashable, ...]:
    return tuple((value_key(k), value_key(v)) for k, v in value.items())


_TAKE_APART: dict[type, Callable[[Any], Hashable]] = {
    list: lambda value: tuple(map(value_key, value)),
    tuple: lambda value: tuple(map(value_key, value)),
    dict: _items,
    set: lambda value: frozenset(map(value_key, value)),
    frozenset: lambda value: frozenset(map(value_key, value)),
}
_CONTAINERS = frozenset({list, tuple, dict})
