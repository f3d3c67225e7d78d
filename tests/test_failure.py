"""Tests of `provenflow.failure`: capture, checks, re-raising, and the dict round trip."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from provenflow.errors import ProvenflowError, RecordError, RecordFieldError, UsageError
from provenflow.failure import Failure, RecordedFailure


class PaymentDeclinedError(ValueError):
    pass


def _raise(exc: BaseException) -> Failure:
    try:
        raise exc
    except BaseException as caught:
        return Failure.from_exception(caught)


def _chained() -> Failure:
    try:
        try:
            raise KeyError("card")
        except KeyError as inner:
            raise PaymentDeclinedError("declined") from inner
    except PaymentDeclinedError as outer:
        return Failure.from_exception(outer)


def test_captures_type_names_message_and_traceback() -> None:
    failure = _raise(ValueError("boom"))
    assert failure.type_name == "builtins.ValueError"
    assert failure.type_names == (
        "builtins.ValueError",
        "builtins.Exception",
        "builtins.BaseException",
    )
    assert failure.message == "boom"
    assert failure.traceback.startswith("Traceback (most recent call last):")
    assert failure.traceback.rstrip().endswith("ValueError: boom")
    assert failure.cause is None
    assert isinstance(failure.exception, ValueError)


def test_str_is_short_type_and_message() -> None:
    assert str(_raise(ValueError("boom"))) == "ValueError: boom"
    assert str(_raise(ValueError())) == "ValueError"


def test_a_user_exception_has_its_qualified_name() -> None:
    failure = _raise(PaymentDeclinedError("no"))
    assert failure.type_name == "tests.test_failure.PaymentDeclinedError"
    assert failure.type_names[1] == "builtins.ValueError"
    assert str(failure) == "PaymentDeclinedError: no"


def test_explicit_cause_is_captured() -> None:
    failure = _chained()
    assert failure.cause is not None
    assert failure.cause.type_name == "builtins.KeyError"
    assert failure.cause.message == "'card'"
    assert "PaymentDeclinedError" not in failure.cause.traceback


def test_implicit_context_is_captured_unless_suppressed() -> None:
    try:
        try:
            raise KeyError("a")
        except KeyError:
            raise ValueError("b")  # noqa: B904 (the implicit context is what is tested)
    except ValueError as exc:
        assert Failure.from_exception(exc).cause is not None
    try:
        try:
            raise KeyError("a")
        except KeyError:
            raise ValueError("b") from None
    except ValueError as exc:
        assert Failure.from_exception(exc).cause is None


def test_a_cyclic_chain_terminates() -> None:
    first = ValueError("first")
    second = KeyError("second")
    first.__cause__ = second
    second.__cause__ = first
    failure = Failure.from_exception(first)
    assert failure.cause is not None
    assert failure.cause.cause is None


def test_a_broken_str_does_not_hide_the_failure() -> None:
    class BrokenStrError(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    assert _raise(BrokenStrError()).message == "<str() of the exception raised RuntimeError>"


def test_check_by_type_qualified_name_and_builtin_name() -> None:
    failure = _raise(PaymentDeclinedError("no"))
    assert failure.check(ValueError)
    assert failure.check(PaymentDeclinedError)
    assert failure.check("builtins.ValueError")
    assert failure.check("ValueError")
    assert failure.check("tests.test_failure.PaymentDeclinedError")
    assert failure.check(KeyError, Exception)
    assert not failure.check(KeyError)
    assert not failure.check("PaymentDeclinedError")  # not a builtin: give the qualified name
    assert not failure.check()


def test_equality_ignores_the_live_exception() -> None:
    failure = _raise(ValueError("boom"))
    reloaded = Failure.from_dict(failure.to_dict())
    assert reloaded == failure
    assert hash(reloaded) == hash(failure)
    assert reloaded.exception is None
    assert "exception=" not in repr(failure)


def test_reraise_raises_the_live_exception() -> None:
    failure = _raise(ValueError("boom"))
    with pytest.raises(ValueError, match=r"^boom$") as caught:
        failure.reraise()
    assert caught.value is failure.exception


def test_reraise_after_reload_raises_recorded_failure_with_its_chain() -> None:
    reloaded = Failure.from_dict(json.loads(json.dumps(_chained().to_dict())))
    with pytest.raises(RecordedFailure) as caught:
        reloaded.reraise()
    error = caught.value
    assert isinstance(error, ProvenflowError)
    assert error.failure == reloaded
    assert str(error) == (
        "tests.test_failure.PaymentDeclinedError: declined "
        "(recorded failure; the original exception was not kept)"
    )
    assert isinstance(error.__cause__, RecordedFailure)
    assert error.__cause__.failure == reloaded.cause
    assert str(error.__cause__).startswith("builtins.KeyError: 'card' ")


def test_recorded_failure_without_message_names_the_type() -> None:
    reloaded = Failure.from_dict(_raise(ValueError()).to_dict())
    assert str(RecordedFailure(reloaded)) == (
        "builtins.ValueError (recorded failure; the original exception was not kept)"
    )


def test_recorded_failure_pickles() -> None:
    error = RecordedFailure(Failure.from_dict(_chained().to_dict()))
    copy = pickle.loads(pickle.dumps(error))
    assert copy.failure == error.failure
    assert str(copy) == str(error)


def test_to_dict_is_json_safe_and_round_trips() -> None:
    failure = _chained()
    data = failure.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["version"] == 1
    assert data["type_name"] == "tests.test_failure.PaymentDeclinedError"
    assert data["cause"]["type_name"] == "builtins.KeyError"
    assert data["cause"]["cause"] is None
    assert Failure.from_dict(data) == failure


def _valid() -> dict[str, Any]:
    return _chained().to_dict()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("message"), "failure record: field 'message': missing"),
        (lambda d: d.pop("cause"), "failure record: field 'cause': missing"),
        (lambda d: d.pop("type_names"), "failure record: field 'type_names': missing"),
        (
            lambda d: d.pop("version"),
            "failure record: field 'version': missing (expected 1)",
        ),
        (
            lambda d: d.update(version=2),
            "failure record: field 'version': unknown version 2 (expected 1)",
        ),
        (
            lambda d: d.update(traceback=3),
            "failure record: field 'traceback': expected a str, got int",
        ),
        (
            lambda d: d.update(type_names=["a", 1]),
            "failure record: field 'type_names': expected a list of str",
        ),
        (
            lambda d: d.update(cause="KeyError"),
            "failure record: field 'cause': expected a mapping, got str",
        ),
        (
            lambda d: d["cause"].pop("type_name"),
            "failure record: field 'cause.type_name': missing",
        ),
    ],
)
def test_from_dict_names_the_bad_field(mutate: Any, message: str) -> None:
    data = _valid()
    mutate(data)
    with pytest.raises(RecordFieldError) as caught:
        Failure.from_dict(data)
    assert str(caught.value) == message
    assert isinstance(caught.value, RecordError)
    assert not isinstance(caught.value, UsageError)


def test_from_dict_refuses_a_non_mapping() -> None:
    with pytest.raises(RecordFieldError, match=r"^failure record: field '\(record\)': expected"):
        Failure.from_dict(["not", "a", "dict"])


def test_record_field_error_pickles() -> None:
    error = RecordFieldError("failure", "message", "missing")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.field == "message"


def test_failure_is_frozen() -> None:
    failure = _raise(ValueError("boom"))
    with pytest.raises(AttributeError):
        failure.message = "other"  # type: ignore[misc]
