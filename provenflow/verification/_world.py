"""The user's world as a value: what a violation shows of it, and what a search keys it by.

A factory may return `(flow, context)`: the context is the fake world the tasks change. Its
`repr` is not its value (a `__repr__` may leave attributes out, or print an address), so the
world is described here from what it holds:

- a context with a `snapshot()` method is described by what that returns (the user says what
  the world is; the rest of the object is then not looked at);
- otherwise recursively: None, bools, ints, strs and finite floats as they are; lists in order;
  dicts with their keys sorted (insertion order is not part of a dict's value: `==` ignores it;
  an `OrderedDict` keeps its order, which its `==` does not ignore; a `defaultdict`'s factory is
  code, not described); sets sorted; tuples, sets
  and other kinds JSON has no word for tagged (`{"__tuple__": [...]}`, `{"__set__": [...]}`);
  an object as `{"__class__": <qualified name>, <attribute>: <value>, ...}` (its `__dict__` and
  `__slots__`, attributes sorted); an enum member as `{"__enum__": "Colour.RED"}`; a class as
  `{"__type__": <qualified name>}` (its class attributes are not described: they are outside
  the world); a reference back to an object being described as `{"__cycle__": <levels up>}`.
- what cannot be described by its value is `{"__opaque__": <type's qualified name>}` and makes
  the description incomplete: functions and methods (a closure's state is hidden), modules,
  files, locks, and any object whose class keeps state in C (a `random.Random`, an
  `io.StringIO`, a `sqlite3.Connection`), so also anything holding one (a `threading.Thread`).

`describe_world(context)` returns the description (JSON-able: `json.dumps` takes it) or None
when there is no context. `world_key(context)` returns `(key, complete)`: a hashable key equal
for equal descriptions, and whether the world was described fully. A search may merge two
states on the key only when `complete` is True: an incomplete description may be equal for two
worlds that go on differently.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import json
import math
import pathlib
import types
import uuid
from collections import OrderedDict, defaultdict, deque
from collections.abc import Hashable
from typing import Any

from provenflow.errors import UsageError

__all__ = ["describe_world", "world_key", "world_text"]


def describe_world(context: object) -> object | None:
    """Return the canonical, JSON-able description of `context` (see the module docstring), or
    None when `context` is None. Raises `UsageError` when the context's `snapshot()` raises."""
    if context is None:
        return None
    return _Describer().root(context)


def world_key(context: object) -> tuple[Hashable, bool]:
    """Return `(key, complete)`: a hashable key of `describe_world(context)` (equal exactly for
    equal descriptions) and whether every part of the world could be described by its value.
    `(None, True)` when `context` is None. Raises `UsageError` when `snapshot()` raises."""
    if context is None:
        return None, True
    describer = _Describer()
    description = describer.root(context)
    return _canonical_json(description), describer.complete


def world_text(description: object) -> str:
    """Return a description from `describe_world` as one line of compact JSON."""
    return _canonical_json(description)


def _canonical_json(description: object) -> str:
    return json.dumps(description, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_MAX_DEPTH = 200
"""Deeper than this, a value is opaque (and the description incomplete)."""

_SCALARS = (
    decimal.Decimal,
    fractions.Fraction,
    complex,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    datetime.tzinfo,
    uuid.UUID,
    pathlib.PurePath,
    range,
)
"""Immutable values without attributes to walk: described by their class and `str`."""

_BUILTIN_BASES = frozenset(
    {
        object,
        bool,
        int,
        float,
        str,
        bytes,
        bytearray,
        list,
        tuple,
        dict,
        set,
        frozenset,
        OrderedDict,
        defaultdict,
        deque,
        BaseException,
        types.SimpleNamespace,
    }
)
"""C classes whose state this module describes itself (their subclasses' attributes too)."""

_TAGS = frozenset(
    {
        "__class__",
        "__value__",
        "__tuple__",
        "__set__",
        "__frozenset__",
        "__items__",
        "__enum__",
        "__type__",
        "__cycle__",
        "__opaque__",
        "__float__",
        "__bytes__",
        "__bytearray__",
    }
)


class _Describer:
    """One description: `complete` turns False at the first value that cannot be described."""

    def __init__(self) -> None:
        self.complete = True
        self.stack: list[int] = []

    def root(self, context: object) -> object:
        snapshot = getattr(context, "snapshot", None)
        if callable(snapshot) and not isinstance(context, type):
            try:
                taken = snapshot()
            except Exception as error:
                raise UsageError(
                    f"the world's snapshot() raised {type(error).__name__}: {error} "
                    f"(it must return the world's state as plain values)"
                ) from error
            return self.value(taken)
        return self.value(context)

    def value(self, value: object) -> object:  # noqa: PLR0911 (one return per kind of value)
        """The description of `value` (see the module docstring)."""
        if type(value) in _ATOMS:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, enum.Enum):
            return {"__enum__": f"{type(value).__qualname__}.{value.name}"}
        if isinstance(value, type):
            return {"__type__": value.__qualname__}
        if isinstance(value, _SCALARS):
            return {"__class__": type(value).__qualname__, "__value__": str(value)}
        if isinstance(value, (bytes, bytearray)) and type(value) in _PLAIN:
            return {f"__{type(value).__name__}__": value.hex()}
        if id(value) in self.stack:
            return {"__cycle__": len(self.stack) - self.stack.index(id(value))}
        if len(self.stack) >= _MAX_DEPTH or _keeps_hidden_state(type(value)):
            return self.opaque(value)
        self.stack.append(id(value))
        try:
            return self.composite(value)
        finally:
            self.stack.pop()

    def opaque(self, value: object) -> object:
        self.complete = False
        return {"__opaque__": type(value).__qualname__}

    def composite(self, value: object) -> object:
        """A container, an exception or an object (its builtin part, then its attributes)."""
        kind = type(value)
        builtin = self.builtin(value)
        if builtin is not _NOT_BUILTIN and kind in _PLAIN:
            return builtin
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
            pairs = zip(value._fields, value, strict=True)
            return {"__class__": kind.__qualname__, **{n: self.value(v) for n, v in pairs}}
        described: dict[str, object] = {"__class__": kind.__qualname__}
        if builtin is not _NOT_BUILTIN:
            described["__value__"] = builtin
        if isinstance(value, BaseException):
            described["args"] = self.value(value.args)
        for name, attribute in sorted(_attributes(value).items()):
            described[name] = self.value(attribute)
        return described

    def builtin(self, value: object) -> object:  # noqa: PLR0911 (one return per kind)
        """The description of the builtin value `value` is (of its builtin class), or
        `_NOT_BUILTIN`."""
        for scalar in _SCALAR_BUILTINS:
            if isinstance(value, scalar):
                return self.value(scalar(value))
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, deque):
            return {"__class__": "deque", "__value__": [self.value(item) for item in value]}
        if isinstance(value, tuple):
            return {"__tuple__": [self.value(item) for item in value]}
        if isinstance(value, (set, frozenset)):
            tag = "__frozenset__" if isinstance(value, frozenset) else "__set__"
            return {tag: _sorted([self.value(item) for item in value])}
        if isinstance(value, dict):
            return self.mapping(value, ordered=isinstance(value, OrderedDict))
        return _NOT_BUILTIN

    def mapping(self, value: dict[Any, Any], *, ordered: bool) -> object:
        """A dict: a JSON object when its keys are strs that are not tags, else `__items__`
        pairs; sorted by key unless `ordered`."""
        pairs = [(self.value(key), self.value(item)) for key, item in value.items()]
        plain = all(type(key) is str and key not in _TAGS for key, _ in pairs)
        if not ordered:
            pairs.sort(key=_first if plain else lambda pair: _canonical_json(pair[0]))
        if plain:
            return dict(pairs)
        return {"__items__": [[key, item] for key, item in pairs]}


def _sorted(described: list[object]) -> list[object]:
    """Descriptions in one canonical order: by value when all are ints or all strs (each
    described as itself), else by their JSON."""
    kinds = set(map(type, described))
    if kinds in ({int}, {str}):
        return sorted(described)  # type: ignore[type-var]  # all ints or all strs
    return sorted(described, key=_canonical_json)


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


_NOT_BUILTIN = object()
_ATOMS = frozenset({type(None), bool, int, str})
"""Values described as themselves."""
_PLAIN = frozenset({type(None), bool, int, str, float, bytes, bytearray, list, tuple, dict, set})
_PLAIN |= {frozenset, deque}
_SCALAR_BUILTINS: tuple[type[Any], ...] = (bool, int, str, float, bytes, bytearray)


def _attributes(value: object) -> dict[str, object]:
    """The instance attributes of `value`: its `__dict__` and its set `__slots__`."""
    found = dict(getattr(value, "__dict__", {}))
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in {"__dict__", "__weakref__"} and hasattr(value, name):
                found[name] = getattr(value, name)
    return found


def _keeps_hidden_state(cls: type) -> bool:
    """Whether instances of `cls` keep state this module cannot see: some class of its MRO,
    other than the builtins described here, is written in C (it defines C methods, C getters
    or C fields that are not `__slots__`) and makes its instances larger than its base's."""
    hidden = _HIDDEN.get(cls)
    if hidden is None:
        hidden = _HIDDEN[cls] = any(map(_written_in_c, cls.__mro__))
    return hidden


def _written_in_c(cls: type) -> bool:
    """Whether `cls` is a C class that adds fields to its instances (a C class that only adds
    methods, like `typing.Generic`, keeps nothing hidden)."""
    if cls in _BUILTIN_BASES or (issubclass(cls, BaseException) and cls.__module__ == "builtins"):
        return False
    base = cls.__base__ or object
    if cls.__basicsize__ <= base.__basicsize__ and cls.__itemsize__ <= base.__itemsize__:
        return False
    slots = cls.__dict__.get("__slots__", ())
    slots = (slots,) if isinstance(slots, str) else slots
    for name, member in cls.__dict__.items():
        if isinstance(member, _C_METHODS):
            return True
        if isinstance(member, types.GetSetDescriptorType) and name not in _OWN_GETTERS:
            return True
        if isinstance(member, types.MemberDescriptorType) and name not in slots:
            return True
    return False


_C_METHODS = (
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.ClassMethodDescriptorType,
)
_OWN_GETTERS = frozenset({"__dict__", "__weakref__"})
_HIDDEN: dict[type, bool] = {}
