"""An immutable capture of an exception that survives persistence.

A task that raises leaves a `Failure`: the exception's qualified type name and the names along
its MRO (so `check` works after a reload, when the class may not even be importable), its
message, its formatted traceback and the failure that caused it (`__cause__`, or `__context__`
unless it was suppressed with `raise ... from None`). While the exception is live the Failure
keeps it (`exception`), so `reraise` raises the very object the task raised; the live exception
takes no part in equality, hashing or `repr`.

`to_dict` gives a JSON-safe dict, `from_dict` reads one back and refuses a bad one with
`RecordFieldError` (a `RecordError`) naming the field. A reloaded Failure has no live exception:
its `reraise` raises `RecordedFailure`, which names the original type and message, holds the
Failure, and chains the recorded causes as `__cause__`.

This module imports nothing of provenflow but `provenflow.errors`, and does no I/O.
"""

from __future__ import annotations

import traceback as traceback_module
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from provenflow.errors import ProvenflowError, RecordFieldError

__all__ = ["Failure", "RecordedFailure"]

DICT_VERSION = 1
"""The version written by `Failure.to_dict`; `from_dict` refuses any other."""

_RECORD = "failure"


def qualified_name(cls: type) -> str:
    """Return `module.qualname` of a class, e.g. `builtins.ValueError`."""
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class Failure:
    """An immutable capture of one exception (and, through `cause`, of its chain).

    Build one with `Failure.from_exception(exc)` or `Failure.from_dict(d)`. Attributes:
    `type_name` (qualified, "builtins.ValueError"), `type_names` (qualified names along the MRO,
    most derived first, down to `builtins.BaseException`), `message` (`str(exc)`), `traceback`
    (formatted text of this exception alone, without its chain), `cause` (the Failure of
    `__cause__` or `__context__`, or None) and `exception` (the live exception, None after a
    reload; not compared, hashed or shown).
    """

    type_name: str
    type_names: tuple[str, ...]
    message: str
    traceback: str
    cause: Failure | None = None
    exception: BaseException | None = field(default=None, compare=False, hash=False, repr=False)

    @classmethod
    def from_exception(cls, exc: BaseException) -> Failure:
        """Return the Failure of `exc` and of the exceptions that caused it.

        The chain follows `__cause__`, else `__context__` unless `__suppress_context__` is set;
        it stops at an exception already seen, so a cyclic chain terminates.
        """
        chain: list[BaseException] = []
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            chain.append(current)
            current = _cause_of(current)
        failure: Failure | None = None
        for link in reversed(chain):
            failure = cls._capture(link, failure)
        assert failure is not None
        return failure

    @classmethod
    def _capture(cls, exc: BaseException, cause: Failure | None) -> Failure:
        exc_type = type(exc)
        names = tuple(
            qualified_name(klass) for klass in exc_type.__mro__ if issubclass(klass, BaseException)
        )
        text = "".join(
            traceback_module.format_exception(exc_type, exc, exc.__traceback__, chain=False)
        )
        return cls(
            type_name=qualified_name(exc_type),
            type_names=names,
            message=_message_of(exc),
            traceback=text,
            cause=cause,
            exception=exc,
        )

    def check(self, *types_or_names: type[BaseException] | str) -> bool:
        """Return whether this failure's type is, or derives from, any of `types_or_names`.

        Each is an exception class or a qualified name ("builtins.KeyError",
        "myapp.errors.PaymentDeclined"); a name without a dot means a builtin ("KeyError").
        Works after a reload: only the recorded names are compared, nothing is imported.
        """
        for wanted in types_or_names:
            if isinstance(wanted, str):
                name = wanted if "." in wanted else f"builtins.{wanted}"
            else:
                name = qualified_name(wanted)
            if name in self.type_names:
                return True
        return False

    def reraise(self) -> NoReturn:
        """Raise the live exception; after a reload, raise `RecordedFailure` holding this one.

        The RecordedFailure's `__cause__` is the RecordedFailure of `cause`, down the chain.
        """
        if self.exception is not None:
            raise self.exception
        recorded: list[Failure] = []
        current: Failure | None = self
        while current is not None:
            recorded.append(current)
            current = current.cause
        error: RecordedFailure | None = None
        for failure in reversed(recorded):
            wrapper = RecordedFailure(failure)
            wrapper.__cause__ = error
            error = wrapper
        assert error is not None
        raise error

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of this failure (the live exception is left out)."""
        return {
            "version": DICT_VERSION,
            "type_name": self.type_name,
            "type_names": list(self.type_names),
            "message": self.message,
            "traceback": self.traceback,
            "cause": None if self.cause is None else self.cause.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: object) -> Failure:
        """Return the Failure recorded in `data` (as made by `to_dict`), without an exception.

        Raises `RecordFieldError` naming the first missing or bad field (a nested cause's fields
        as `cause.message`, ...).
        """
        layers: list[Mapping[str, Any]] = []
        prefix = ""
        current: object = data
        while current is not None:
            if not isinstance(current, Mapping):
                field_name = prefix.rstrip(".") or "(record)"
                problem = f"expected a mapping, got {type(current).__name__}"
                raise RecordFieldError(_RECORD, field_name, problem)
            _check_fields(current, prefix)
            layers.append(current)
            prefix += "cause."
            current = current.get("cause")
        failure: Failure | None = None
        for layer in reversed(layers):
            failure = cls(
                type_name=layer["type_name"],
                type_names=tuple(layer["type_names"]),
                message=layer["message"],
                traceback=layer["traceback"],
                cause=failure,
            )
        assert failure is not None
        return failure

    @property
    def short_type_name(self) -> str:
        """The type's name without its module: "ValueError"."""
        return self.type_name.rpartition(".")[2]

    def __str__(self) -> str:
        if not self.message:
            return self.short_type_name
        return f"{self.short_type_name}: {self.message}"


class RecordedFailure(ProvenflowError):
    """A failure re-raised after a reload, when the original exception is no longer there.

    `failure` holds the recorded Failure; the message names the original type and message.
    """

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure)

    @property
    def failure(self) -> Failure:
        """The recorded failure this exception stands for."""
        failure: Failure = self.args[0]
        return failure

    def __str__(self) -> str:
        failure = self.failure
        text = f"{failure.type_name}: {failure.message}" if failure.message else failure.type_name
        return f"{text} (recorded failure; the original exception was not kept)"


def _cause_of(exc: BaseException) -> BaseException | None:
    if exc.__cause__ is not None:
        return exc.__cause__
    if exc.__suppress_context__:
        return None
    return exc.__context__


def _message_of(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception as error:  # a broken __str__ must not hide the failure itself
        return f"<str() of the exception raised {type(error).__name__}>"


_STRING_FIELDS = ("type_name", "message", "traceback")


def _check_fields(layer: Mapping[str, Any], prefix: str) -> None:
    version = layer.get("version", None)
    if version != DICT_VERSION:
        problem = "missing" if "version" not in layer else f"unknown version {version!r}"
        raise RecordFieldError(_RECORD, f"{prefix}version", f"{problem} (expected {DICT_VERSION})")
    for name in (*_STRING_FIELDS, "type_names", "cause"):
        if name not in layer:
            raise RecordFieldError(_RECORD, prefix + name, "missing")
    for name in _STRING_FIELDS:
        if not isinstance(layer[name], str):
            problem = f"expected a str, got {type(layer[name]).__name__}"
            raise RecordFieldError(_RECORD, prefix + name, problem)
    names = layer["type_names"]
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise RecordFieldError(_RECORD, f"{prefix}type_names", "expected a list of str")
