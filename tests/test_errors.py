"""The exception tree: one base class, a docstring each, and every error pickles."""

from __future__ import annotations

import inspect
import pickle
import typing
from collections.abc import Iterable

import pytest

from provenflow import errors
from provenflow.errors import (
    IllegalTransition,
    InternalError,
    LifecycleDefinitionError,
    ProvenflowError,
    RecordError,
    StorageError,
    UsageError,
)
from provenflow.fsm import build_lifecycle, task


def _exception_classes() -> list[type[Exception]]:
    """Return every exception class defined in `provenflow.errors`, by name."""
    return sorted(
        (
            cls
            for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == errors.__name__
        ),
        key=lambda cls: cls.__name__,
    )


CLASSES = _exception_classes()


def sample_arguments(cls: type[Exception]) -> tuple[object, ...]:
    """Return constructor arguments for `cls`, made up from its `__init__` annotations.

    A class that keeps `Exception.__init__` gets one message. Raises LookupError for an
    annotation this helper cannot fill, so a new kind of argument fails loudly here.
    """
    if issubclass(cls, BaseExceptionGroup):
        return ("2 atoms failed", [ValueError("card declined"), KeyError("seat")])
    if not any("__init__" in vars(klass) for klass in cls.__mro__ if klass in CLASSES):
        return (f"{cls.__name__}: something to say",)
    hints = typing.get_type_hints(cls.__init__, globalns=vars(errors))
    parameters = list(inspect.signature(cls.__init__).parameters)[1:]
    return tuple(_sample(name, hints[name]) for name in parameters)


def _sample(name: str, annotation: object) -> object:
    if annotation in (str, str | None):
        return f"<{name}>"
    if annotation in (int, int | None):
        return 3
    if annotation is float:
        return 1_000.5
    if annotation in (tuple[str, ...], Iterable[str]):
        return ("first", "second")
    raise LookupError(f"no sample for parameter {name!r}: {annotation}")


def test_every_error_is_exported() -> None:
    assert {cls.__name__ for cls in CLASSES} <= set(errors.__all__)
    assert ProvenflowError in CLASSES


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_derives_from_provenflow_error(cls: type[Exception]) -> None:
    assert issubclass(cls, ProvenflowError)


def test_the_three_kinds_of_trouble_are_distinct() -> None:
    assert issubclass(LifecycleDefinitionError, UsageError)
    assert not issubclass(IllegalTransition, UsageError)
    kinds = (UsageError, RecordError, InternalError, StorageError)
    for kind in kinds:
        assert [other for other in kinds if issubclass(kind, other)] == [kind]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_has_a_one_line_summary_docstring(cls: type[Exception]) -> None:
    doc = cls.__dict__.get("__doc__")
    assert doc, f"{cls.__name__} has no docstring of its own"
    lines = inspect.cleandoc(doc).splitlines()
    summary = lines[0]
    assert summary.endswith(".")
    assert len(summary) <= 100
    # Anything after the summary line is set off by a blank line (PEP 257).
    assert len(lines) == 1 or lines[1] == ""


def comparable(value: object) -> object:
    """Return `value` with exceptions (equal only to themselves) replaced by type and args."""
    if isinstance(value, BaseException):
        return (type(value), comparable(value.args))
    if isinstance(value, list | tuple):
        return tuple(comparable(item) for item in value)
    return value


def roundtrip(error: Exception) -> Exception:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert comparable(copy.args) == comparable(error.args)
    assert str(copy) == str(error)
    return copy


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_pickles_with_its_attributes(cls: type[Exception]) -> None:
    error = cls(*sample_arguments(cls))
    copy = roundtrip(error)
    properties = [name for name, _ in inspect.getmembers(cls, inspect.isdatadescriptor)]
    for name in properties:
        if not name.startswith("__"):
            assert comparable(getattr(copy, name)) == comparable(getattr(error, name)), name


def test_lifecycle_definition_error_pickles_with_its_attributes() -> None:
    error = LifecycleDefinitionError("toy", "state LEFT", "cannot reach a terminal state")
    copy = roundtrip(error)
    assert isinstance(copy, LifecycleDefinitionError)
    assert (copy.lifecycle, copy.entry, copy.problem) == (
        "toy",
        "state LEFT",
        "cannot reach a terminal state",
    )
    assert str(copy) == "lifecycle 'toy': state LEFT: cannot reach a terminal state"


@pytest.mark.parametrize(
    ("entity", "flow", "message"),
    [
        (
            "charge_card",
            "order-7",
            "task 'charge_card' in flow 'order-7': cannot 'revert' from PENDING"
            " (allowed: ignore, start)",
        ),
        (
            "charge_card",
            None,
            "task 'charge_card': cannot 'revert' from PENDING (allowed: ignore, start)",
        ),
        (
            None,
            "order-7",
            "task in flow 'order-7': cannot 'revert' from PENDING (allowed: ignore, start)",
        ),
        (None, None, "task: cannot 'revert' from PENDING (allowed: ignore, start)"),
    ],
    ids=["entity-and-flow", "no-flow", "no-entity", "neither"],
)
def test_illegal_transition_pickles_with_its_attributes(
    entity: str | None, flow: str | None, message: str
) -> None:
    error = IllegalTransition(
        "task", entity, "PENDING", "revert", [task.Event.IGNORE, task.Event.START], flow
    )
    copy = roundtrip(error)
    assert isinstance(copy, IllegalTransition)
    assert (copy.lifecycle, copy.entity, copy.state, copy.event, copy.allowed, copy.flow) == (
        "task",
        entity,
        "PENDING",
        "revert",
        ("ignore", "start"),
        flow,
    )
    assert str(copy) == message


def test_illegal_transition_from_a_terminal_state_pickles() -> None:
    error = IllegalTransition("task", "charge_card", "REVERT_FAILURE", "reset", (), "order-7")
    copy = roundtrip(error)
    assert isinstance(copy, IllegalTransition)
    assert copy.allowed == ()
    assert str(copy) == (
        "task 'charge_card' in flow 'order-7': cannot 'reset' from REVERT_FAILURE"
        " (allowed: none, REVERT_FAILURE is terminal)"
    )


def test_an_illegal_transition_raised_by_a_lifecycle_pickles() -> None:
    with pytest.raises(IllegalTransition) as caught:
        task.LIFECYCLE.apply(task.State.SUCCESS, task.Event.START, "charge_card", "order-7")
    copy = roundtrip(caught.value)
    assert isinstance(copy, IllegalTransition)
    assert copy.allowed == ("revert",)


def test_a_lifecycle_definition_error_raised_by_a_build_pickles() -> None:
    with pytest.raises(LifecycleDefinitionError) as caught:
        build_lifecycle(
            "toy",
            states=task.State,
            events=task.Event,
            initial=task.State.PENDING,
            terminal=[],
            rows={},
        )
    copy = roundtrip(caught.value)
    assert isinstance(copy, LifecycleDefinitionError)
    assert (copy.entry, copy.problem) == (
        "terminal states",
        "none declared (a lifecycle needs at least one)",
    )
