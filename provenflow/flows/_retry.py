"""Retry controllers: atoms that guard a subflow and decide what a failure in it means.

A retry is attached to a flow (`LinearFlow(name, retry=Times(3))`) and runs before everything
in it. Each run is an *attempt*: `execute(history, ...)` returns the value this attempt provides
(the attempt number, the next value to try). When an atom of the subflow fails, the engine asks
`decide(history, args)`, which calls the controller's `on_failure` and checks the answer:

- `Decision.RETRY`: revert the subflow and run it again (the retry first, with a longer history);
- `Decision.REVERT`: revert the subflow, then let the enclosing scope decide;
- `Decision.REVERT_ALL`: revert the whole flow.

The built-ins follow TaskFlow: `Times`, `ForEach`, `ParameterizedForEach`, `AlwaysRevert`,
`AlwaysRevertAll`. The history passed to `execute` holds the earlier attempts; the history
passed to `on_failure` (and `revert`) also holds the current one, with its failures.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping
from enum import StrEnum, unique
from typing import Any, TypedDict, Unpack

from provenflow.errors import AtomDefinitionError, BadDecision, NoValuesLeft, UsageError
from provenflow.flows._atom import Atom, Rebind, select_arguments
from provenflow.flows._history import History
from provenflow.flows._signature import Signature, method_signature

__all__ = [
    "AlwaysRevert",
    "AlwaysRevertAll",
    "AtomOptions",
    "Decision",
    "ForEach",
    "ParameterizedForEach",
    "Retry",
    "Times",
]


@unique
class Decision(StrEnum):
    """What a retry decides when an atom of its subflow fails."""

    RETRY = "RETRY"
    REVERT = "REVERT"
    REVERT_ALL = "REVERT_ALL"


class AtomOptions(TypedDict, total=False):
    """The constructor keywords every atom takes."""

    name: str | None
    provides: str | tuple[str, ...] | None
    rebind: Rebind | None
    inject: Mapping[str, object] | None
    version: str
    priority: int
    timeout: float | None


class Retry(Atom):
    """The base of retry controllers; subclass it for a custom policy.

    Define `execute(self, history, <requirements>)`, returning the value this attempt provides
    (published under `provides`), and `on_failure(self, history, <same or fewer>)`, returning a
    `Decision`. Optionally define `revert(self, history, <same or fewer>, flow_failures)`.
    `history` is a `History`: in execute the earlier attempts, in on_failure and revert the
    current one too, with its failures. on_failure must be a plain `def` and is pure: it
    decides, it does no work. Example: retry a timeout up to three times, give up on anything
    else::

        class RetryTimeouts(Retry):
            def execute(self, history):
                return len(history) + 1                    # the attempt number

            def on_failure(self, history):
                if len(history) < 3 and all(
                    failure.check(TimeoutError) for failure in history.failures.values()
                ):
                    return Decision.RETRY
                return Decision.REVERT

        flow = LinearFlow("upload", retry=RetryTimeouts(provides="attempt")).add(...)

    An unnamed retry takes the name "<flow>_retry" when it is first attached to a flow, and
    keeps it.
    """

    kind = "retry"
    _revert_extras = ("flow_failures",)

    def _execute_signature(self) -> Signature | str:
        signature = method_signature(type(self), "execute", 1)
        if signature is None:
            return "its class defines no execute method (write def execute(self, history, ...))"
        return signature

    def _revert_signature(self) -> Signature | str | None:
        if type(self).revert is Retry.revert:
            return None
        return method_signature(type(self), "revert", 1)

    def _check_more(self) -> None:
        signature = method_signature(type(self), "on_failure", 1)
        if signature is None:
            self._refuse(
                "its class defines no on_failure method "
                "(write def on_failure(self, history, ...) returning a Decision)"
            )
        if isinstance(signature, str):
            self._refuse(signature)
        if signature.is_async:
            self._refuse("on_failure must be a plain def: it decides, it does no work")
        self._check_companion(signature, "on_failure", ())
        self._on_failure_signature = signature

    def revert(self, history: History, *args: Any, **kwargs: Any) -> Any:
        """Undo what execute did; the default does nothing. Override it in a subclass."""
        return None

    def call_execute(self, args: Mapping[str, object], history: History | None = None) -> Any:
        """Call execute with `history` and the arguments it accepts from `args`.

        The history may also come as `args["history"]`; one of the two is required (a retry
        never runs without its history). Returns what execute returns (an awaitable when
        `is_async`). Raises `UsageError` when the history or a required argument is missing.
        """
        history, args = self._split_history(args, history, "call_execute")
        execute: Any = getattr(self, "execute")  # noqa: B009 (defined by subclasses)
        return execute(history, **self._execute_keywords(args))

    def call_revert(
        self,
        args: Mapping[str, object],
        result: object,
        flow_failures: Mapping[str, object],
        history: History | None = None,
    ) -> Any:
        """Call revert with `history` and what it accepts of `args` and `flow_failures`.

        `result` is accepted for symmetry with tasks and not passed (a retry's revert gets the
        history instead). The history comes as for `call_execute`. Returns what revert returns
        (an awaitable when `is_async`, also for the default no-op revert).
        """
        history, args = self._split_history(args, history, "call_revert")
        keywords = self._revert_keywords(args, {"flow_failures": flow_failures})
        if keywords is None:
            return self._nothing()
        return self.revert(history, **keywords)

    def decide(self, history: History, args: Mapping[str, object]) -> Decision:
        """Return on_failure's decision for `history` (which includes the current attempt).

        Raises `BadDecision` (naming the retry, what it returned and the allowed decisions)
        when on_failure returns anything but a `Decision`; whatever on_failure raises
        propagates.
        """
        history, args = self._split_history(args, history, "decide")
        arguments = {**self.inject, **args}
        self._execute_keywords(arguments)  # checks that every required argument is there
        on_failure: Any = getattr(self, "on_failure")  # noqa: B009 (defined by subclasses)
        decision = on_failure(history, **select_arguments(arguments, self._on_failure_signature))
        if not isinstance(decision, Decision):
            allowed = tuple(f"Decision.{member.name}" for member in Decision)
            raise BadDecision(self.name, reprlib.repr(decision), allowed)
        return decision

    def _split_history(
        self, args: Mapping[str, object], history: History | None, method: str
    ) -> tuple[History, Mapping[str, object]]:
        if "history" in args:
            given = args["history"]
            args = {key: value for key, value in args.items() if key != "history"}
            if history is None and isinstance(given, History):
                history = given
        if not isinstance(history, History):
            raise UsageError(
                f"retry {self.name!r}: {method} needs the retry's History "
                f"(pass history=..., got {history!r})"
            )
        return history, args


class _GivesUp(Retry):
    """A retry that, when it stops retrying, reverts its subflow or (revert_all) the flow."""

    def __init__(self, *, revert_all: bool = False, **options: Unpack[AtomOptions]) -> None:
        self.revert_all = bool(revert_all)
        super().__init__(**options)

    def _give_up(self) -> Decision:
        return Decision.REVERT_ALL if self.revert_all else Decision.REVERT


class Times(_GivesUp):
    """Run the subflow up to `attempts` times in all; provides the attempt number (1, 2, ...).

    After the last attempt fails: REVERT, or REVERT_ALL with `revert_all=True`.
    """

    def __init__(
        self, attempts: int = 1, *, revert_all: bool = False, **options: Unpack[AtomOptions]
    ) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise AtomDefinitionError(
                "retry",
                options.get("name") or type(self).__qualname__,
                f"attempts must be an int of at least 1, got {attempts!r}",
            )
        self.attempts = attempts
        super().__init__(revert_all=revert_all, **options)

    def execute(self, history: History) -> int:
        """Return the number of this attempt: 1 for the first."""
        return len(history) + 1

    def on_failure(self, history: History) -> Decision:
        """RETRY while fewer than `attempts` attempts have run, then give up."""
        return Decision.RETRY if len(history) < self.attempts else self._give_up()


def _remaining(values: Iterable[object], tried: Iterable[object]) -> list[object]:
    """Return `values` without one occurrence of each tried value (a multiset difference)."""
    remaining = list(values)
    for value in tried:
        try:
            remaining.remove(value)
        except ValueError:
            continue
    return remaining


class ForEach(_GivesUp):
    """Try the subflow with each of `values` in turn; provides the value of this attempt.

    Duplicates are tried as often as they appear. When every value failed: REVERT (or
    REVERT_ALL with `revert_all=True`). An empty collection is refused when built.
    """

    def __init__(
        self, values: Iterable[object], *, revert_all: bool = False, **options: Unpack[AtomOptions]
    ) -> None:
        self.values = tuple(values)
        if not self.values:
            raise AtomDefinitionError(
                "retry",
                options.get("name") or type(self).__qualname__,
                "ForEach needs at least one value to try",
            )
        super().__init__(revert_all=revert_all, **options)

    def execute(self, history: History) -> object:
        """Return the first value not tried yet; raises `NoValuesLeft` when there is none."""
        remaining = _remaining(self.values, history.values)
        if not remaining:
            raise NoValuesLeft(self.name, reprlib.repr(list(self.values)))
        return remaining[0]

    def on_failure(self, history: History) -> Decision:
        """RETRY while a value is left to try, then give up."""
        return Decision.RETRY if _remaining(self.values, history.values) else self._give_up()


class ParameterizedForEach(_GivesUp):
    """Like `ForEach`, with the values taken from the symbol `values` (rebind it to rename).

    Example: `ParameterizedForEach(rebind={"values": "mirrors"}, provides="mirror")`.
    """

    def execute(self, history: History, values: Iterable[object]) -> object:
        """Return the first of `values` not tried yet; raises `NoValuesLeft` when none is."""
        remaining = _remaining(values, history.values)
        if not remaining:
            raise NoValuesLeft(self.name, reprlib.repr(list(values)))
        return remaining[0]

    def on_failure(self, history: History, values: Iterable[object]) -> Decision:
        """RETRY while one of `values` is left to try, then give up."""
        return Decision.RETRY if _remaining(values, history.values) else self._give_up()


class AlwaysRevert(Retry):
    """Never retry: on a failure, revert the subflow and let the enclosing scope decide."""

    def execute(self, history: History) -> None:
        """Provide nothing."""
        return None

    def on_failure(self, history: History) -> Decision:
        """Always REVERT."""
        return Decision.REVERT


class AlwaysRevertAll(Retry):
    """Never retry: on a failure, revert the whole flow."""

    def execute(self, history: History) -> None:
        """Provide nothing."""
        return None

    def on_failure(self, history: History) -> Decision:
        """Always REVERT_ALL."""
        return Decision.REVERT_ALL
