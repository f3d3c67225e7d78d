"""A retry's history: what each attempt provided and which atoms failed in it.

The engine keeps one `History` per retry. Each run of the retry appends an `Attempt` with the
value its execute returned (`with_attempt`); each failure in its subflow during that attempt is
added to the last attempt (`with_failures`). Histories are immutable: both return a new one.
`to_list` / `History.from_list` give and read a JSON-safe list (values must themselves be
JSON-safe to be stored; failures are written with `Failure.to_dict`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, overload

from provenflow.errors import RecordFieldError, UsageError
from provenflow.failure import Failure

__all__ = ["Attempt", "History"]

_RECORD = "retry history"


@dataclass(frozen=True)
class Attempt:
    """One attempt of a retry: the `value` it provided and the `failures` (atom -> Failure)."""

    value: object
    failures: Mapping[str, Failure] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failures", MappingProxyType(dict(self.failures)))

    def __reduce__(self) -> tuple[type[Attempt], tuple[object, dict[str, Failure]]]:
        return Attempt, (self.value, dict(self.failures))


class History:
    """An immutable sequence of `Attempt`s, oldest first.

    Supports `len`, iteration and indexing. `last` is the latest attempt (None before the
    first), `failures` its failures (empty before the first), `values` every provided value.
    """

    __slots__ = ("_attempts",)

    def __init__(self, attempts: Iterable[Attempt] = ()) -> None:
        self._attempts = tuple(attempts)
        for attempt in self._attempts:
            if not isinstance(attempt, Attempt):
                raise UsageError(f"a History holds Attempt objects, got {attempt!r}")

    def __len__(self) -> int:
        return len(self._attempts)

    def __iter__(self) -> Iterator[Attempt]:
        return iter(self._attempts)

    @overload
    def __getitem__(self, index: int) -> Attempt: ...
    @overload
    def __getitem__(self, index: slice) -> History: ...
    def __getitem__(self, index: int | slice) -> Attempt | History:
        if isinstance(index, slice):
            return History(self._attempts[index])
        return self._attempts[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return self._attempts == other._attempts

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"History({list(self._attempts)!r})"

    def __reduce__(self) -> tuple[type[History], tuple[tuple[Attempt, ...]]]:
        return History, (self._attempts,)

    @property
    def last(self) -> Attempt | None:
        """The latest attempt, or None when no attempt has run yet."""
        return self._attempts[-1] if self._attempts else None

    @property
    def failures(self) -> Mapping[str, Failure]:
        """The failures of the latest attempt (atom name -> Failure); empty before the first."""
        return self._attempts[-1].failures if self._attempts else MappingProxyType({})

    @property
    def values(self) -> tuple[object, ...]:
        """The value each attempt provided, oldest first."""
        return tuple(attempt.value for attempt in self._attempts)

    def caused_by(self, *types_or_names: type[BaseException] | str) -> bool:
        """Return whether any failure of any attempt matches (see `Failure.check`)."""
        return any(
            failure.check(*types_or_names)
            for attempt in self._attempts
            for failure in attempt.failures.values()
        )

    def with_attempt(self, value: object) -> History:
        """Return this history with a new attempt that provided `value` and has no failures."""
        return History((*self._attempts, Attempt(value)))

    def with_failures(self, failures: Mapping[str, Failure]) -> History:
        """Return this history with `failures` added to the latest attempt's.

        Raises `UsageError` when there is no attempt yet; this history is unchanged.
        """
        if not self._attempts:
            raise UsageError("a history with no attempt cannot record failures")
        last = self._attempts[-1]
        merged = Attempt(last.value, {**last.failures, **failures})
        return History((*self._attempts[:-1], merged))

    def to_list(self) -> list[dict[str, Any]]:
        """Return a JSON-safe list: {"value": ..., "failures": {atom: failure dict}} each."""
        return [
            {
                "value": attempt.value,
                "failures": {name: f.to_dict() for name, f in attempt.failures.items()},
            }
            for attempt in self._attempts
        ]

    @classmethod
    def from_list(cls, data: object) -> History:
        """Return the history recorded in `data` (as made by `to_list`).

        Raises `RecordFieldError` naming the bad entry ("[1].failures", "[0].failures.b.message").
        """
        if not isinstance(data, list | tuple):
            raise RecordFieldError(
                _RECORD, "(record)", f"expected a list, got {type(data).__name__}"
            )
        return cls(_attempt_from(index, entry) for index, entry in enumerate(data))


def _attempt_from(index: int, entry: object) -> Attempt:
    where = f"[{index}]"
    if not isinstance(entry, Mapping):
        raise RecordFieldError(_RECORD, where, f"expected a mapping, got {type(entry).__name__}")
    for key in ("value", "failures"):
        if key not in entry:
            raise RecordFieldError(_RECORD, f"{where}.{key}", "missing")
    failures = entry["failures"]
    if not isinstance(failures, Mapping):
        raise RecordFieldError(_RECORD, f"{where}.failures", "expected a mapping")
    loaded: dict[str, Failure] = {}
    for name, recorded in failures.items():
        try:
            loaded[str(name)] = Failure.from_dict(recorded)
        except RecordFieldError as error:
            field_name = f"{where}.failures.{name}.{error.field}"
            raise RecordFieldError(_RECORD, field_name, str(error.args[2])) from error
    return Attempt(entry["value"], loaded)
