"""The user's world saved by value and put back in place: what lets a search branch from
snapshots when the flow's code keeps state.

A search with snapshots (`_search.Search.with_snapshots`) builds the flow and its context
once and lets every explored state go on from a copy of the path, so all paths share the same
atoms and the same context: the objects the user's code changes. Before a path goes on, the
world must be as that path left it. `capture(roots)` saves it: every mutable object reachable
from the roots (the context, and the flow's atoms with the functions they call), each with a
shallow copy of what it holds; `restore(saved)` writes those contents back **into the same
objects**, so a closure or an atom that holds a reference to one of them sees its old value
again, as a path replayed from the start would have seen it.

- a context with both `snapshot()` and `restore(value)` methods is saved with `snapshot()` and
  put back with `restore(copy.deepcopy(value))` (the user says what the world is);
- lists, dicts (ordered, default), sets, deques and bytearrays: their items; objects: their
  `__dict__` and `__slots__`; functions: their closure cells (also a `nonlocal` counter) and
  the mutable defaults they hold; bound methods: their object; tuples, frozensets and the
  read-only views of mappings are walked, not saved (they cannot change);
- a class built by a call (a factory's own task class: its `__qualname__` says `<locals>`):
  its attributes, and the closures of its methods (a method that uses a set the factory made);
- numbers, strs, bytes, enum members, modules and classes defined in a module are not saved:
  they cannot change, or (modules, a module's classes, a function's globals) they are outside
  what a factory builds, which a path replayed from the start does not rebuild either.

What cannot be saved by value makes `capture` raise `Unsaveable`: an object whose class keeps
state in C (a lock, a file, a `random.Random`, a generator), as `_world` tells it. The search
then replays every path from the start instead.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import inspect
import types
from collections import deque
from collections.abc import Iterable
from typing import Any

from provenflow.flows import Atom, Task
from provenflow.verification._world import _SCALARS, _keeps_hidden_state

__all__ = ["Saved", "Unsaveable", "capture", "restore"]


class Unsaveable(Exception):  # a signal to the search, which then replays
    """The world holds something that cannot be saved by value; the message says what."""


class Saved:
    """The world's contents at one point (immutable once made: `restore` copies out of it)."""

    __slots__ = ("custom", "entries")

    def __init__(self, entries: list[tuple[Any, str, Any]], custom: list[tuple[Any, Any]]):
        self.entries = entries
        """(object, kind, what it held), for every mutable object reached."""
        self.custom = custom
        """(context, its `snapshot()`), for each root that saves and restores itself."""


def capture(roots: Iterable[object]) -> Saved:
    """Return what the objects reachable from `roots` hold (see the module docstring). Raises
    `Unsaveable` when some of it cannot be saved by value, and what a root's `snapshot()`
    raises."""
    walker = _Walker()
    walked = []
    for root in roots:
        if not isinstance(root, Atom) and _restores_itself(root):
            walker.custom.append((root, root.snapshot()))  # type: ignore[attr-defined]
            walker.seen.add(id(root))
        else:
            walked.append(root)
    walker.walk(walked)
    return Saved(walker.entries, walker.custom)


def restore(saved: Saved) -> None:
    """Put every object `saved` holds back as it was then, in place (see the module
    docstring). Raises what a root's `restore()` raises."""
    for target, kind, held in saved.entries:
        _RESTORE[kind](target, held)
    for root, value in saved.custom:
        root.restore(copy.deepcopy(value))


def _restores_itself(root: object) -> bool:
    return callable(getattr(root, "snapshot", None)) and callable(getattr(root, "restore", None))


_EMPTY = object()
"""The content of a closure cell that holds nothing yet."""

_LEAVES: tuple[type, ...] = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    range,
    types.ModuleType,
    types.BuiltinFunctionType,
    types.CodeType,
    enum.Enum,
    *_SCALARS,
    inspect.Parameter,
    inspect.Signature,
)
"""Values that cannot change (or are outside the world): not saved, not walked. A parameter
or a signature describes a function's arguments and is never changed after it is made."""


class _Walker:
    def __init__(self) -> None:
        self.entries: list[tuple[Any, str, Any]] = []
        self.custom: list[tuple[Any, Any]] = []
        self.seen: set[int] = set()

    def walk(self, roots: list[object]) -> None:
        """Save `roots` and what they reach; raise `Unsaveable` at what cannot be saved."""
        stack = roots
        entries, seen, kinds = self.entries, self.seen, _KINDS
        while stack:
            value = stack.pop()
            kind = type(value)
            steps = kinds.get(kind, _UNKNOWN)
            if steps is None or id(value) in seen:
                continue
            if steps is _UNKNOWN:
                steps = kinds[kind] = _steps_of(kind)
                if steps is None:
                    continue
            seen.add(id(value))
            for name in steps:
                _STEPS[name](value, entries, stack)


_UNKNOWN: tuple[str, ...] = ("unknown",)
_KINDS: dict[type, tuple[str, ...] | None] = {}
"""What saving a value of each type takes (`_steps_of`), found once per type; None: nothing."""


def _steps_of(kind: type) -> tuple[str, ...] | None:  # noqa: PLR0911 (one return per kind)
    """The steps (`_STEPS`) that save a value of type `kind` and go on to what it holds; None
    for a value that cannot change."""
    if issubclass(kind, _LEAVES):
        return None
    if issubclass(kind, type):
        return ("class",)
    if kind in (staticmethod, classmethod, property):
        return ("descriptor",)
    if kind is types.MappingProxyType:
        return ("proxy",)
    if kind is types.FunctionType:
        return ("function",)
    if kind is types.MethodType:
        return ("method",)
    if kind in _PLAIN:
        return (_PLAIN[kind],)
    if _keeps_hidden_state(kind):
        return ("unsaveable",)
    base = next((step for plain, step in _PLAIN.items() if issubclass(kind, plain)), None)
    own = "atom" if issubclass(kind, Atom) else "object"
    return (base, own) if base is not None else (own,)


_PLAIN: dict[type, str] = {
    dict: "dict",
    list: "list",
    set: "set",
    deque: "deque",
    bytearray: "bytearray",
    tuple: "items",
    frozenset: "items",
}
"""The builtin containers: what each takes, for the type and its subclasses."""


_SCALAR_TYPES = frozenset({type(None), bool, int, float, str, bytes})
"""Types whose values hold nothing to walk: a container of only these is saved without
walking its items one by one (told at C speed)."""


def _walk(items: Any, stack: list[Any]) -> None:
    """Go on to `items`, unless all of them are scalars."""
    if not _SCALAR_TYPES.issuperset(map(type, items)):
        stack.extend(items)


def _save_dict(value: Any, entries: list[Any], stack: list[Any]) -> None:
    entries.append((value, "dict", tuple(value.items())))
    _walk(value.keys(), stack)
    _walk(value.values(), stack)


def _save_items(kind: str) -> Any:
    def save(value: Any, entries: list[Any], stack: list[Any]) -> None:
        entries.append((value, kind, _COPY[kind](value)))
        _walk(value, stack)

    return save


def _walk_items(value: Any, entries: list[Any], stack: list[Any]) -> None:
    _walk(value, stack)


def _walk_proxy(value: Any, entries: list[Any], stack: list[Any]) -> None:
    stack.extend(value.values())


def _save_bytearray(value: Any, entries: list[Any], stack: list[Any]) -> None:
    entries.append((value, "bytearray", bytes(value)))


def _save_function(value: Any, entries: list[Any], stack: list[Any]) -> None:
    """A function's closure cells (a `nonlocal` rebinds one) and its defaults."""
    for cell in value.__closure__ or ():
        try:
            held = cell.cell_contents
        except ValueError:
            held = _EMPTY
        entries.append((cell, "cell", held))
        stack.append(held)
    stack.extend(value.__defaults__ or ())
    stack.extend((value.__kwdefaults__ or {}).values())


def _walk_method(value: Any, entries: list[Any], stack: list[Any]) -> None:
    stack.extend((value.__self__, value.__func__))


def _save_class(value: Any, entries: list[Any], stack: list[Any]) -> None:
    """A class built by a call (a factory's own class, its `__qualname__` says `<locals>`): its
    attributes, and the closures of its methods. A class defined in a module is outside the
    world: a path replayed from the start does not rebuild it either."""
    if "<locals>" not in value.__qualname__:
        return
    own = {k: v for k, v in value.__dict__.items() if not (k.startswith("__") and k.endswith("__"))}
    entries.append((value, "class", own))
    stack.extend(own.values())
    stack.extend(v for v in value.__dict__.values() if type(v) in _METHODS)
    stack.extend(value.__bases__)


_METHODS = (types.FunctionType, staticmethod, classmethod, property)


def _walk_descriptor(value: Any, entries: list[Any], stack: list[Any]) -> None:
    if isinstance(value, property):
        stack.extend((value.fget, value.fset, value.fdel))
    else:
        stack.append(value.__func__)


def _save_object(value: Any, entries: list[Any], stack: list[Any]) -> None:
    stack.append(type(value))
    attributes = _attributes(value)
    if attributes is not None:
        entries.append((value, "attributes", attributes))
        stack.extend(held for held in attributes[1].values() if held is not _EMPTY)
        stack.extend(attributes[0].values())


def _save_atom(value: Any, entries: list[Any], stack: list[Any]) -> None:
    """An atom: all its attributes are saved, but only those its class adds to the library's
    own (its name, bindings, signature: never changed once built) are walked."""
    kind = type(value)
    slots = _SLOTS.get(kind)
    if slots is None:
        slots = _SLOTS[kind] = _slot_names(kind)
    if slots:
        _save_object(value, entries, stack)  # an atom with slots of its own: walked whole
        return
    stack.append(kind)
    held = dict(value.__dict__)
    entries.append((value, "attributes", (held, {})))
    stack.extend(held[name] for name in held.keys() - _DEFINITION)


def _unsaveable(value: Any, entries: list[Any], stack: list[Any]) -> None:
    raise Unsaveable(
        f"the world holds a {type(value).__qualname__}, which keeps state that cannot be saved "
        "by value"
    )


_COPY: dict[str, Any] = {"list": tuple, "set": frozenset, "deque": tuple}
_STEPS: dict[str, Any] = {
    "dict": _save_dict,
    "list": _save_items("list"),
    "set": _save_items("set"),
    "deque": _save_items("deque"),
    "items": _walk_items,
    "proxy": _walk_proxy,
    "bytearray": _save_bytearray,
    "function": _save_function,
    "method": _walk_method,
    "object": _save_object,
    "atom": _save_atom,
    "class": _save_class,
    "descriptor": _walk_descriptor,
    "unsaveable": _unsaveable,
}


class _Probe(Task):
    def execute(self) -> None:
        """Nothing: an atom with only the library's own attributes."""


_DEFINITION = frozenset(vars(_Probe())) | {"_on_failure_signature"}
"""The attributes the library gives every atom (its definition), which no run changes."""


def _attributes(value: object) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """An object's `__dict__` (copied) and its `__slots__` (`_EMPTY` for one not set); None
    when it has neither."""
    instance = getattr(value, "__dict__", None)
    kind = type(value)
    names = _SLOTS.get(kind)
    if names is None:
        names = _SLOTS[kind] = _slot_names(kind)
    slots = {name: getattr(value, name, _EMPTY) for name in names}
    if instance is None and not slots:
        return None
    return (dict(instance) if instance is not None else {}, slots)


def _slot_names(kind: type) -> tuple[str, ...]:
    """The `__slots__` of `kind` and its bases (but `__dict__` and `__weakref__`)."""
    found: list[str] = []
    for cls in kind.__mro__:
        names = cls.__dict__.get("__slots__", ())
        for name in (names,) if isinstance(names, str) else names:
            if name not in {"__dict__", "__weakref__"}:
                found.append(name)
    return tuple(found)


_SLOTS: dict[type, tuple[str, ...]] = {}


def _dict(target: dict[Any, Any], held: tuple[tuple[Any, Any], ...]) -> None:
    target.clear()
    target.update(held)


def _list(target: list[Any], held: tuple[Any, ...]) -> None:
    target[:] = held


def _set(target: set[Any], held: frozenset[Any]) -> None:
    target.clear()
    target.update(held)


def _deque(target: deque[Any], held: tuple[Any, ...]) -> None:
    target.clear()
    target.extend(held)


def _bytearray(target: bytearray, held: bytes) -> None:
    target[:] = held


def _cell(target: types.CellType, held: Any) -> None:
    if held is _EMPTY:
        with contextlib.suppress(ValueError):  # empty already
            del target.cell_contents
    else:
        target.cell_contents = held


def _object(target: Any, held: tuple[dict[str, Any], dict[str, Any]]) -> None:
    instance, slots = held
    if instance or hasattr(target, "__dict__"):
        state = target.__dict__
        state.clear()
        state.update(instance)
    for name, value in slots.items():
        if value is not _EMPTY:
            object.__setattr__(target, name, value)
        elif hasattr(target, name):  # set since: unset again
            object.__delattr__(target, name)


def _class(target: type, held: dict[str, Any]) -> None:
    for name in [k for k in target.__dict__ if k not in held]:
        if not (name.startswith("__") and name.endswith("__")):
            delattr(target, name)
    for name, value in held.items():
        if target.__dict__.get(name, _EMPTY) is not value:
            setattr(target, name, value)


_RESTORE: dict[str, Any] = {
    "class": _class,
    "dict": _dict,
    "list": _list,
    "set": _set,
    "deque": _deque,
    "bytearray": _bytearray,
    "cell": _cell,
    "attributes": _object,
}
