"""Tests of retry histories (`provenflow.flows._history`)."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from provenflow.errors import RecordFieldError, UsageError
from provenflow.failure import Failure
from provenflow.flows import Attempt, History


def failure_of(exc: BaseException) -> Failure:
    try:
        raise exc
    except BaseException as caught:
        return Failure.from_exception(caught)


def test_an_empty_history() -> None:
    history = History()
    assert len(history) == 0
    assert list(history) == []
    assert history.last is None
    assert dict(history.failures) == {}
    assert history.values == ()
    assert not history.caused_by(Exception)


def test_attempts_and_failures_accumulate_immutably() -> None:
    boom = failure_of(ValueError("boom"))
    empty = History()
    one = empty.with_attempt(1)
    failed = one.with_failures({"charge": boom})
    two = failed.with_attempt(2)
    assert len(empty) == 0
    assert len(one) == 1
    assert dict(one.failures) == {}
    assert failed.last == Attempt(1, {"charge": boom})
    assert dict(failed.failures) == {"charge": boom}
    assert two.values == (1, 2)
    assert dict(two.failures) == {}
    assert two[0].failures["charge"] is boom
    assert two[-1].value == 2
    assert two[:1] == failed
    assert two.caused_by(ValueError)
    assert two.caused_by("builtins.ValueError")
    assert not two.caused_by(KeyError)


def test_failures_merge_into_the_last_attempt() -> None:
    first = failure_of(ValueError("a"))
    second = failure_of(KeyError("b"))
    history = History().with_attempt("x").with_failures({"a": first}).with_failures({"b": second})
    assert dict(history.failures) == {"a": first, "b": second}


def test_failures_need_an_attempt() -> None:
    with pytest.raises(UsageError, match=r"^a history with no attempt cannot record failures$"):
        History().with_failures({})


def test_attempt_failures_are_read_only() -> None:
    attempt = Attempt(1, {})
    with pytest.raises(TypeError):
        attempt.failures["x"] = failure_of(ValueError())  # type: ignore[index]


def test_a_history_holds_only_attempts() -> None:
    with pytest.raises(UsageError, match=r"^a History holds Attempt objects, got 3$"):
        History([3])  # type: ignore[list-item]


def test_histories_compare_by_content_and_are_unhashable() -> None:
    assert History().with_attempt(1) == History([Attempt(1)])
    assert History() != History().with_attempt(1)
    assert History() != []
    with pytest.raises(TypeError):
        hash(History())


def test_list_round_trip_is_json_safe() -> None:
    boom = failure_of(ValueError("boom"))
    history = History().with_attempt(1).with_failures({"charge": boom}).with_attempt(2)
    data = history.to_list()
    assert json.loads(json.dumps(data)) == data
    assert data[0]["value"] == 1
    assert data[0]["failures"]["charge"]["message"] == "boom"
    assert data[1] == {"value": 2, "failures": {}}
    reloaded = History.from_list(json.loads(json.dumps(data)))
    assert reloaded == history
    assert reloaded.failures == {}
    assert reloaded[0].failures["charge"].exception is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"value": 1}, "retry history record: field '(record)': expected a list, got dict"),
        ([3], "retry history record: field '[0]': expected a mapping, got int"),
        ([{"failures": {}}], "retry history record: field '[0].value': missing"),
        ([{"value": 1}], "retry history record: field '[0].failures': missing"),
        (
            [{"value": 1, "failures": []}],
            "retry history record: field '[0].failures': expected a mapping",
        ),
        (
            [{"value": 1, "failures": {"a": {"version": 1}}}],
            "retry history record: field '[0].failures.a.type_name': missing",
        ),
    ],
)
def test_from_list_names_the_bad_entry(data: Any, message: str) -> None:
    with pytest.raises(RecordFieldError) as caught:
        History.from_list(data)
    assert str(caught.value) == message


def test_histories_pickle() -> None:

    history = History().with_attempt(1).with_failures({"a": failure_of(ValueError("boom"))})
    copy = pickle.loads(pickle.dumps(history))
    assert copy == history
    with pytest.raises(TypeError):
        copy[0].failures["b"] = failure_of(ValueError())  # type: ignore[index]
