"""Reading what a user's method accepts: the parameters an atom's arguments are bound to.

An atom's requirements come from the signature of its `execute`; its `revert` (and a retry's
`on_failure`) receive the same arguments, filtered to what they accept. `read_signature` turns a
callable into a `Signature`, or into a problem sentence when the callable cannot take arguments
by name (`*args`, positional-only parameters, no readable signature). Results are cached per
class method and per function, so building 100,000 atoms of one class reads one signature.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Signature", "function_signature", "method_signature", "read_signature"]

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@dataclass(frozen=True)
class Signature:
    """What a callable accepts by name, after the leading parameters the engine supplies.

    `names`: the parameters passable by name, in order. `required`: those without a default.
    `var_keyword`: it takes `**kwargs`. `is_async`: it is an `async def`.
    """

    names: tuple[str, ...]
    required: frozenset[str]
    var_keyword: bool
    is_async: bool

    def accepts(self, name: str) -> bool:
        """Return whether an argument called `name` can be passed."""
        return self.var_keyword or name in self.names


def read_signature(
    function: Callable[..., Any], *, skip: int, role: str, drop_self: bool = False
) -> Signature | str:
    """Return the signature of `function` without its first `skip` positional parameters.

    With `drop_self`, the first parameter (`self` of a method read from its class) is dropped
    first. Returns a problem sentence (naming `role`, e.g. "execute") instead when the callable
    has no readable signature, has fewer than `skip` leading positional parameters (the retry's
    history), takes `*args`, or has a positional-only parameter after the skipped ones.
    """
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError) as error:
        return f"cannot read the signature of {role}: {error}"
    if drop_self:
        if not parameters or parameters[0].kind is inspect.Parameter.KEYWORD_ONLY:
            return f"{role} must take self as its first parameter"
        if parameters[0].kind is not inspect.Parameter.VAR_POSITIONAL:
            parameters = parameters[1:]
    for index in range(skip):
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if index >= len(parameters) or parameters[index].kind not in kinds:
            return f"{role} must take the history as its first parameter"
    names: list[str] = []
    required: set[str] = set()
    var_keyword = False
    for parameter in parameters[skip:]:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return (
                f"{role} takes *{parameter.name}, which cannot be bound to symbols; "
                "name each parameter"
            )
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            return (
                f"{role}'s parameter {parameter.name!r} is positional-only; "
                "arguments are passed by name"
            )
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
            continue
        names.append(parameter.name)
        if parameter.default is inspect.Parameter.empty:
            required.add(parameter.name)
    return Signature(
        names=tuple(names),
        required=frozenset(required),
        var_keyword=var_keyword,
        is_async=inspect.iscoroutinefunction(function),
    )


def function_signature(function: Callable[..., Any], *, role: str) -> Signature | str:
    """Return `read_signature(function, skip=0)`, cached per function when it is hashable."""
    try:
        return _cached_function_signature(function, role)
    except TypeError:  # an unhashable callable object: read it every time
        return read_signature(function, skip=0, role=role)


@functools.lru_cache(maxsize=4096)
def _cached_function_signature(function: Callable[..., Any], role: str) -> Signature | str:
    return read_signature(function, skip=0, role=role)


def method_signature(cls: type, attribute: str, skip: int) -> Signature | str | None:
    """Return the signature of method `attribute` of `cls`, without `self` and `skip` more.

    Returns None when `cls` has no such attribute. Static and class methods are read as they
    are called (without `self`). Cached per (class, attribute, skip).
    """
    return _cached_method_signature(cls, attribute, skip)


@functools.lru_cache(maxsize=4096)
def _cached_method_signature(cls: Any, attribute: str, skip: int) -> Signature | str | None:
    static = inspect.getattr_static(cls, attribute, None)
    if static is None:
        return None
    function = getattr(cls, attribute)
    if not callable(function):
        return f"{attribute} is not a method"
    binds_self = not isinstance(static, staticmethod | classmethod)
    return read_signature(function, skip=skip, role=attribute, drop_self=binds_self)
