"""Tasks: atoms that do one thing (`execute`) and can undo it (`revert`).

Write a task as a subclass of `Task` with an `execute` method, or turn a function into one with
`@task`. `execute`'s parameters are its requirements; what it returns is published under
`provides`. `revert` (optional) gets the same arguments it accepts, plus `result` (what execute
returned, or the Failure if it raised) and `flow_failures` (atom name -> Failure), and undoes
what execute did. `async def` execute (and revert) are supported; then `call_execute` and
`call_revert` return awaitables.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, overload

from provenflow.errors import AtomDefinitionError, UsageError
from provenflow.flows._atom import Atom, Rebind
from provenflow.flows._progress import report_progress
from provenflow.flows._signature import Signature, function_signature, method_signature

__all__ = ["FunctionTask", "Task", "task"]


class Task(Atom):
    """One action of a flow, with `execute` and optionally `revert`.

    Subclass it and define `execute(self, <requirements>)`; the return value is published
    under `provides`. Define `revert(self, <same or fewer>, result, flow_failures)` to undo it;
    it may take fewer arguments, or `**kwargs`. Example::

        class Charge(Task):
            def execute(self, order_id, amount):
                return payments.charge(order_id, amount)     # -> "charge_id"

            def revert(self, result, **_):
                payments.refund(result)

        charge = Charge(provides="charge_id", rebind={"amount": "total"})

    Constructor keywords: `name` (default: the class's qualified name), `provides` (a name,
    or a tuple of names to unpack a returned sequence), `rebind` (argument -> symbol, or a
    list of symbols for the parameters in order), `inject` (argument -> constant), `version`,
    `priority`, `timeout` (seconds). Raises `AtomDefinitionError` naming the task when any is
    bad, when the class has no execute, or when execute takes `*args`.
    """

    kind = "task"
    _revert_extras = ("result", "flow_failures")

    def _execute_signature(self) -> Signature | str:
        signature = method_signature(type(self), "execute", 0)
        if signature is None:
            return "its class defines no execute method (write def execute(self, ...))"
        return signature

    def _revert_signature(self) -> Signature | str | None:
        if type(self).revert is Task.revert:
            return None
        return method_signature(type(self), "revert", 0)

    def revert(self, *args: Any, **kwargs: Any) -> Any:
        """Undo what execute did; the default does nothing. Override it in a subclass."""
        return None

    def call_execute(self, args: Mapping[str, object]) -> Any:
        """Call execute with the arguments it accepts from `args` (argument name -> value).

        Returns what execute returns (an awaitable when `is_async`). Raises `UsageError` when a
        required argument is missing from `args`; whatever execute raises propagates.
        """
        execute: Callable[..., Any] = getattr(self, "execute")  # noqa: B009 (defined by subclasses)
        return execute(**self._execute_keywords(args))

    def call_revert(
        self, args: Mapping[str, object], result: object, flow_failures: Mapping[str, object]
    ) -> Any:
        """Call revert with what it accepts of `args`, `result` and `flow_failures`.

        Returns what revert returns (an awaitable when `is_async`, also for the default no-op
        revert); whatever revert raises propagates.
        """
        keywords = self._revert_keywords(args, {"result": result, "flow_failures": flow_failures})
        if keywords is None:
            return self._nothing()
        return self.revert(**keywords)

    def update_progress(self, fraction: float) -> None:
        """Report progress as a fraction of the work, clamped to [0, 1].

        It goes to the callback the runner installed with `reporting_progress`; outside one it
        is dropped. Raises `UsageError` when `fraction` is not a real number (bool or NaN).
        """
        report_progress(f"task {self.name!r}", fraction)


class FunctionTask(Task):
    """A task made from a function (and optionally a revert function); see `task`."""

    def __init__(
        self,
        function: Callable[..., Any],
        name: str | None = None,
        *,
        revert: Callable[..., Any] | None = None,
        provides: str | tuple[str, ...] | None = None,
        rebind: Rebind | None = None,
        inject: Mapping[str, object] | None = None,
        version: str = "1.0",
        priority: int = 0,
        timeout: float | None = None,
    ) -> None:
        for role, given in (("execute", function), ("revert", revert)):
            if given is not None and (not callable(given) or inspect.isclass(given)):
                raise AtomDefinitionError(
                    "task",
                    name or type(self).__qualname__,
                    f"task() wraps a function as {role}, got {given!r} "
                    "(for a class, subclass Task instead)",
                )
        self.function = function
        self.revert_function = revert
        super().__init__(
            name,
            provides=provides,
            rebind=rebind,
            inject=inject,
            version=version,
            priority=priority,
            timeout=timeout,
        )

    def _default_name(self) -> str:
        return str(getattr(self.function, "__name__", type(self).__qualname__))

    def _execute_signature(self) -> Signature | str:
        return function_signature(self.function, role="execute")

    def _revert_signature(self) -> Signature | str | None:
        if self.revert_function is None:
            return None
        return function_signature(self.revert_function, role="revert")

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the functions by reference, also a module-level `@task` function.

        A decorated function's module attribute is this task, not the function, so pickle
        cannot find the function by name; it is recorded as (module, qualified name) instead
        and looked up again, through the task found there, when unpickled.
        """
        state = super().__getstate__()
        state["function"] = _reference(self.function)
        state["revert_function"] = _reference(self.revert_function)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.function = _dereference(state["function"])
        self.revert_function = _dereference(state["revert_function"])

    def call_execute(self, args: Mapping[str, object]) -> Any:
        """Call the function with the arguments it accepts from `args`; see `Task`."""
        return self.function(**self._execute_keywords(args))

    def call_revert(
        self, args: Mapping[str, object], result: object, flow_failures: Mapping[str, object]
    ) -> Any:
        """Call the revert function (if any) as `Task.call_revert` calls revert."""
        keywords = self._revert_keywords(args, {"result": result, "flow_failures": flow_failures})
        if keywords is None or self.revert_function is None:
            return self._nothing()
        return self.revert_function(**keywords)


@overload
def task(
    function: Callable[..., Any],
    /,
    *,
    name: str | None = None,
    provides: str | tuple[str, ...] | None = None,
    revert: Callable[..., Any] | None = None,
    rebind: Rebind | None = None,
    inject: Mapping[str, object] | None = None,
    version: str = "1.0",
    priority: int = 0,
    timeout: float | None = None,
) -> FunctionTask: ...


@overload
def task(
    function: None = None,
    /,
    *,
    name: str | None = None,
    provides: str | tuple[str, ...] | None = None,
    revert: Callable[..., Any] | None = None,
    rebind: Rebind | None = None,
    inject: Mapping[str, object] | None = None,
    version: str = "1.0",
    priority: int = 0,
    timeout: float | None = None,
) -> Callable[[Callable[..., Any]], FunctionTask]: ...


def task(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    provides: str | tuple[str, ...] | None = None,
    revert: Callable[..., Any] | None = None,
    rebind: Rebind | None = None,
    inject: Mapping[str, object] | None = None,
    version: str = "1.0",
    priority: int = 0,
    timeout: float | None = None,
) -> FunctionTask | Callable[[Callable[..., Any]], FunctionTask]:
    """Make a `Task` from a function: `@task`, `@task(provides="x")` or `task(fn, ...)`.

    The function is execute: its parameters are the requirements, its return value is
    published under `provides`. `revert` is an optional function taking the same arguments (or
    fewer, or `**kwargs`) plus `result` and `flow_failures`. The name defaults to the
    function's name. `async def` functions make async tasks. Returns a `FunctionTask` (used
    bare or with a function) or a decorator (used with keywords only). Raises
    `AtomDefinitionError` as `Task` does.
    """

    def wrap(wrapped: Callable[..., Any]) -> FunctionTask:
        return FunctionTask(
            wrapped,
            name,
            revert=revert,
            provides=provides,
            rebind=rebind,
            inject=inject,
            version=version,
            priority=priority,
            timeout=timeout,
        )

    if function is None:
        return wrap
    return wrap(function)


@dataclass(frozen=True)
class _TaskFunction:
    """A pickled reference to the function a module-level `@task` wraps."""

    module: str
    qualname: str


def _reference(function: Any) -> Any:
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return function
    found = _lookup(sys.modules.get(module), qualname)
    if isinstance(found, FunctionTask) and found.function is function:
        return _TaskFunction(module, qualname)
    return function


def _dereference(reference: Any) -> Any:
    if not isinstance(reference, _TaskFunction):
        return reference
    found = _lookup(importlib.import_module(reference.module), reference.qualname)
    if not isinstance(found, FunctionTask):
        raise UsageError(
            f"cannot unpickle the task function {reference.module}.{reference.qualname}: "
            f"it is no longer a @task there (found {found!r})"
        )
    return found.function


def _lookup(owner: object, qualname: str) -> object:
    for part in qualname.split("."):
        owner = getattr(owner, part, None)
    return owner
