"""The atom: one named unit of a flow, whose arguments are bound to symbols by name.

Theory of operation. An atom's `execute` declares what it needs by its parameters: each
parameter is an *argument*, bound to a *symbol* of the flow (the same name, unless `rebind`
maps it elsewhere) or to a constant (`inject`). What `execute` returns is published under the
names in `provides`. Parameters with defaults are optional: when nothing provides their symbol
the default is used. `revert` gets the same arguments (filtered to what it accepts) plus the
result and the failures of the flow. Compilation (`compile_flow`) decides where each symbol
comes from; the engine calls `call_execute` / `call_revert` with the argument values.

Everything about an atom is checked when it is built, and a bad definition raises
`AtomDefinitionError` naming the atom: an unknown rebind or inject target, bad provides, `*args`
in execute, a revert that takes an argument execute does not, a non-positive timeout. After
construction an atom does not change, except through `copy`, which makes a new one.

`Atom` is the common base of `Task` and `Retry`; it is not used directly.
"""

from __future__ import annotations

import copy as copy_module
import math
import reprlib
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, NoReturn

from provenflow.errors import AtomDefinitionError, BadResult, UsageError
from provenflow.flows._signature import Signature

__all__ = ["Atom", "Rebind", "select_arguments"]

Rebind = Mapping[str, str] | Sequence[str]
"""A rebind: a mapping argument -> symbol, or symbols for execute's required parameters in
order."""

_OPTIONS = ("name", "provides", "rebind", "inject", "version", "priority", "timeout")


_Binding = tuple[
    tuple[str, ...],
    frozenset[str],
    frozenset[str],
    Mapping[str, str],
    Mapping[str, object],
    frozenset[str],
    frozenset[str],
]
_PLAIN_BINDINGS: dict[Signature, _Binding] = {}
"""The binding of each execute signature without rebind or inject, worked out once: atoms of
one class share it (it is immutable), which keeps building many atoms cheap."""


class Atom:
    """The common base of `Task` and `Retry`: a named unit whose arguments are bound by name.

    Attributes (read by compilation and the engine; never changed after construction):
    `name`, `version`, `priority` (higher runs first among ready atoms), `timeout` (seconds or
    None), `provides` (symbol names), `requires` (symbols needed, after rebind, minus injected
    arguments), `optional` (symbols of parameters with defaults), `rebind` (argument -> symbol
    for every argument not injected), `inject` (argument -> constant), `is_async`.
    """

    kind: ClassVar[str] = "atom"
    """What the atom is, in messages and compiled nodes: "task" or "retry"."""

    _revert_extras: ClassVar[tuple[str, ...]] = ()
    """Arguments the engine gives revert besides execute's (result, flow_failures)."""

    name: str
    version: str
    priority: int
    timeout: float | None
    provides: tuple[str, ...]
    requires: frozenset[str]
    optional: frozenset[str]
    rebind: Mapping[str, str]
    inject: Mapping[str, object]
    is_async: bool

    def __init__(
        self,
        name: str | None = None,
        *,
        provides: str | tuple[str, ...] | None = None,
        rebind: Rebind | None = None,
        inject: Mapping[str, object] | None = None,
        version: str = "1.0",
        priority: int = 0,
        timeout: float | None = None,
    ) -> None:
        options = {
            "name": name,
            "provides": provides,
            "rebind": rebind,
            "inject": inject,
            "version": version,
            "priority": priority,
            "timeout": timeout,
        }
        self._configure(options)

    # Hooks for subclasses.

    def _default_name(self) -> str:
        return type(self).__qualname__

    def _execute_signature(self) -> Signature | str:
        raise NotImplementedError

    def _revert_signature(self) -> Signature | str | None:
        return None

    def _check_more(self) -> None:
        """Check what a subclass adds (a retry's on_failure); raise AtomDefinitionError."""

    # Construction.

    def _configure(self, options: dict[str, Any]) -> None:
        self._options = options
        given_name = options["name"]
        self._named = given_name is not None
        self.name = self._default_name() if given_name is None else given_name
        if not isinstance(self.name, str) or not self.name:
            self.name = self._default_name()
            self._refuse(f"name must be a non-empty str, got {given_name!r}")
        self.version = self._checked_version(options["version"])
        self.priority = self._checked_priority(options["priority"])
        self.timeout = self._checked_timeout(options["timeout"])
        self.provides, self._unpack = self._checked_provides(options["provides"])
        signature = self._execute_signature()
        if isinstance(signature, str):
            self._refuse(signature)
        self._signature = signature
        self.is_async = signature.is_async
        self._bind(signature, options["rebind"], options["inject"])
        self._check_revert()
        self._check_more()

    def _refuse(self, problem: str) -> NoReturn:
        raise AtomDefinitionError(self.kind, self.name, problem)

    def _checked_version(self, version: object) -> str:
        if not isinstance(version, str):
            self._refuse(f"version must be a str, got {version!r}")
        return version

    def _checked_priority(self, priority: object) -> int:
        if isinstance(priority, bool) or not isinstance(priority, int):
            self._refuse(f"priority must be an int, got {priority!r}")
        return priority

    def _checked_timeout(self, timeout: object) -> float | None:
        if timeout is None:
            return None
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            self._refuse(f"timeout must be a positive number of seconds or None, got {timeout!r}")
        return float(timeout)

    def _checked_provides(self, provides: object) -> tuple[tuple[str, ...], bool]:
        if provides is None:
            return (), False
        if isinstance(provides, str):
            names: tuple[object, ...] = (provides,)
        elif isinstance(provides, tuple):
            names = provides
        else:
            self._refuse(f"provides must be a str or a tuple of str, got {provides!r}")
        seen: dict[str, None] = {}
        for symbol in names:
            if not isinstance(symbol, str):
                self._refuse(f"provides must be a str or a tuple of str, got {provides!r}")
            if not symbol:
                self._refuse("provides names the empty symbol ''")
            if symbol in seen:
                self._refuse(f"provides names {symbol!r} twice")
            seen[symbol] = None
        return tuple(seen), isinstance(provides, tuple)

    def _bind(self, signature: Signature, rebind: object, inject: object) -> None:
        if rebind is None and inject is None:
            binding = _PLAIN_BINDINGS.get(signature)
            if binding is None:
                binding = _PLAIN_BINDINGS[signature] = self._binding(signature, None, None)
        else:
            binding = self._binding(signature, rebind, inject)
        (
            self._arguments,
            self._required_arguments,
            self._optional_arguments,
            self.rebind,
            self.inject,
            self.requires,
            self.optional,
        ) = binding

    def _binding(self, signature: Signature, rebind: object, inject: object) -> _Binding:
        """Work out arguments, symbols and requirements; the result is immutable (shareable)."""
        parameters = ", ".join(signature.names) or "none"
        rebound = self._checked_rebind(signature, rebind, parameters)
        injected = self._checked_inject(signature, inject, parameters)
        extra = [arg for arg in (*rebound, *injected) if arg not in signature.names]
        arguments = (*signature.names, *dict.fromkeys(extra))
        required = frozenset(arg for arg in arguments if arg in signature.required or arg in extra)
        optional_arguments = frozenset(
            arg for arg in arguments if arg not in required and arg not in injected
        )
        symbols = {arg: rebound.get(arg, arg) for arg in arguments if arg not in injected}
        requires = frozenset(symbol for arg, symbol in symbols.items() if arg in required)
        optional = (
            frozenset(symbol for arg, symbol in symbols.items() if arg in optional_arguments)
            - requires
        )
        return (
            arguments,
            required,
            optional_arguments,
            MappingProxyType(symbols),
            MappingProxyType(injected),
            requires,
            optional,
        )

    def _checked_rebind(
        self, signature: Signature, rebind: object, parameters: str
    ) -> dict[str, str]:
        if rebind is None:
            return {}
        if isinstance(rebind, list | tuple):
            required = [name for name in signature.names if name in signature.required]
            if len(rebind) > len(required):
                self._refuse(
                    f"rebind lists {len(rebind)} symbols, but execute has only {len(required)} "
                    f"required parameters ({', '.join(required) or 'none'}); rebind optional "
                    "ones with a mapping"
                )
            pairs = dict(zip(required, rebind, strict=False))
        elif isinstance(rebind, Mapping):
            pairs = dict(rebind)
        else:
            self._refuse(
                "rebind must be a mapping (argument -> symbol) or a list/tuple of symbols, "
                f"got {rebind!r}"
            )
        for arg, symbol in pairs.items():
            if not isinstance(arg, str) or not signature.accepts(arg):
                self._refuse(
                    f"rebind names {arg!r}, which is not a parameter of execute "
                    f"(parameters: {parameters})"
                )
            if not isinstance(symbol, str) or not symbol:
                self._refuse(f"rebind maps {arg!r} to {symbol!r}, which is not a symbol name")
        return pairs

    def _checked_inject(
        self, signature: Signature, inject: object, parameters: str
    ) -> dict[str, object]:
        if inject is None:
            return {}
        if not isinstance(inject, Mapping):
            self._refuse(f"inject must be a mapping (argument -> value), got {inject!r}")
        for arg in inject:
            if not isinstance(arg, str) or not signature.accepts(arg):
                self._refuse(
                    f"inject names {arg!r}, which is not a parameter of execute "
                    f"(parameters: {parameters})"
                )
        return dict(inject)

    def _check_revert(self) -> None:
        signature = self._revert_signature()
        if isinstance(signature, str):
            self._refuse(signature)
        self._revert = signature
        if signature is None:
            return
        self._check_companion(signature, "revert", self._revert_extras)
        if signature.is_async != self.is_async:
            self._refuse(
                "execute and revert must both be async def or both plain def "
                f"(execute is {_flavour(self.is_async)}, revert is {_flavour(signature.is_async)})"
            )

    def _check_companion(self, signature: Signature, role: str, extras: tuple[str, ...]) -> None:
        """Refuse a `role` method (revert, on_failure) needing an argument it cannot get."""
        for arg in extras:
            if arg in signature.names and arg in self._arguments:
                self._refuse(
                    f"execute's parameter {arg!r} has the name of an argument the engine gives "
                    f"{role}; rename it (rebind can keep the symbol {arg!r})"
                )
        for arg in sorted(signature.required - set(self._arguments) - set(extras)):
            given = ", ".join(("execute's arguments", *extras))
            self._refuse(f"{role} takes {arg!r}, which execute does not ({role} gets {given})")

    # What the engine uses.

    def arguments(self) -> tuple[str, ...]:
        """Return the names of execute's arguments, in order (a retry's history excluded).

        Arguments that `**kwargs` takes because `rebind` or `inject` named them come last.
        """
        return self._arguments

    def call_execute(self, args: Mapping[str, object]) -> Any:
        """Call execute with the arguments it accepts from `args` (argument name -> value).

        Injected arguments missing from `args` are taken from `inject`. Returns what execute
        returns (an awaitable when `is_async`). Raises `UsageError` when a
        required argument is missing; whatever execute raises propagates. See `Task`, `Retry`.
        """
        raise NotImplementedError

    def call_revert(
        self, args: Mapping[str, object], result: object, flow_failures: Mapping[str, object]
    ) -> Any:
        """Call revert with what it accepts of `args`, `result` and `flow_failures`.

        Returns what revert returns (an awaitable when `is_async`, also for the default no-op
        revert); whatever revert raises propagates. See `Task`, `Retry`.
        """
        raise NotImplementedError

    def revert_inputs(
        self, args: Mapping[str, object], result: object, flow_failures: Mapping[str, object]
    ) -> dict[str, object]:
        """Return everything `call_revert` would hand the user's revert for these, by name: the
        arguments and extras (result, flow_failures) it accepts, and a retry's `history`;
        empty for the default revert, which is handed nothing. (A model checker keys a revert
        about to run by this: two reverts handed the same run alike.)"""
        if self._revert is None:
            return {}
        given = {"result": result, "flow_failures": flow_failures}
        extras = {name: given[name] for name in self._revert_extras}
        inputs = self._revert_keywords(args, extras) or {}
        if "history" in args:
            inputs["history"] = args["history"]
        return inputs

    def provided(self, result: object) -> dict[str, object]:
        """Return the symbols `result` provides: {name: result}, or unpacked for a tuple.

        Raises `BadResult` naming the atom, the names and what was returned, when `provides`
        is a tuple and `result` is not a sequence (a str is not one) of as many values.
        """
        if not self.provides:
            return {}
        if not self._unpack:
            return {self.provides[0]: result}
        wanted = len(self.provides)
        problem = f"execute must return a sequence of {wanted} values"
        if isinstance(result, str | bytes | bytearray) or not isinstance(result, Sequence):
            returned = f"{reprlib.repr(result)} ({type(result).__name__})"
            raise BadResult(self.kind, self.name, self.provides, returned, problem)
        if len(result) != wanted:
            returned = f"{len(result)} values: {reprlib.repr(result)}"
            raise BadResult(self.kind, self.name, self.provides, returned, problem)
        return dict(zip(self.provides, result, strict=True))

    def _execute_keywords(self, args: Mapping[str, object]) -> dict[str, object]:
        if self.inject:
            args = {**self.inject, **args}
        for arg in self._required_arguments:
            if arg not in args:
                raise UsageError(
                    f"{self.kind} {self.name!r}: execute needs argument {arg!r}, which was "
                    f"not given (given: {', '.join(args) or 'none'})"
                )
        return select_arguments(args, self._signature)

    def _revert_keywords(
        self, args: Mapping[str, object], extras: Mapping[str, object]
    ) -> dict[str, object] | None:
        signature = self._revert
        if signature is None:
            return None
        if self.inject:
            args = {**self.inject, **args}
        keywords = select_arguments(args, signature)
        keywords.update((k, v) for k, v in extras.items() if signature.accepts(k))
        return keywords

    def _nothing(self) -> object:
        """What calling the default (no-op) revert returns: None, or an awaitable of None."""
        return _async_none() if self.is_async else None

    def copy(self, **overrides: Any) -> Atom:
        """Return a new atom like this one with some constructor options changed.

        Options: name, provides, rebind, inject, version, priority, timeout. The copy belongs
        to no flow yet. Raises `UsageError` for another keyword and `AtomDefinitionError` when
        the new options are bad; this atom is unchanged either way.
        """
        unknown = sorted(set(overrides) - set(_OPTIONS))
        if unknown:
            raise UsageError(
                f"{self.kind} {self.name!r}: copy() takes {', '.join(_OPTIONS)}; "
                f"got {', '.join(repr(key) for key in unknown)}"
            )
        duplicate = copy_module.copy(self)
        duplicate._configure({**self._options, **overrides})
        return duplicate

    def __getstate__(self) -> dict[str, Any]:
        """Return the state to pickle (read-only mappings as dicts), for process executors."""
        state = dict(self.__dict__)
        state["rebind"] = dict(self.rebind)
        state["inject"] = dict(self.inject)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.rebind = MappingProxyType(dict(state["rebind"]))
        self.inject = MappingProxyType(dict(state["inject"]))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def select_arguments(args: Mapping[str, object], signature: Signature) -> dict[str, object]:
    """Return the entries of `args` that a callable with `signature` accepts."""
    if signature.var_keyword:
        return dict(args)
    return {name: args[name] for name in signature.names if name in args}


def _flavour(is_async: bool) -> str:
    return "async def" if is_async else "plain def"


async def _async_none() -> None:
    return None
