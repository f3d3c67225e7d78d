"""What the durable backends (sqlite, dir, postgresql) promise beyond the protocol.

Values are JSON: a value JSON cannot hold is refused before anything is written, naming the
atom, the place and the type; tuples come back as lists; failures come back without a live
exception. A transition that is not an edge of its lifecycle's table is refused on the way in,
and the data outlives the store object that wrote it.
"""

from __future__ import annotations

import datetime
import enum
import math
from collections import OrderedDict
from typing import Any

import pytest

from provenflow.errors import UnrecordableTransition, UnstorableValue, UsageError
from provenflow.failure import RecordedFailure
from provenflow.fsm import task
from provenflow.persistence import AtomInfo, RunInfo, Transition
from tests.persistence._samples import (
    RUN,
    failure_with_cause,
    loaded,
    running,
    start,
    succeeded,
)
from tests.persistence.conftest import Backend


def circular() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


class Colour(enum.Enum):
    RED = 1


REFUSED = [
    pytest.param(object(), "result", "object", id="object"),
    pytest.param({"a": {1: "x"}}, "result['a'][1]", "int", id="int-key"),
    pytest.param({("a",): 1}, "result[('a',)]", "tuple", id="tuple-key"),
    pytest.param([1, {2, 3}], "result[1]", "set", id="set"),
    pytest.param(b"bytes", "result", "bytes", id="bytes"),
    pytest.param(math.nan, "result", "float", id="nan"),
    pytest.param({"x": [math.inf]}, "result['x'][0]", "float", id="inf"),
    pytest.param(datetime.date(2024, 1, 2), "result", "datetime.date", id="date"),
    pytest.param(Colour.RED, "result", "tests.persistence.test_durable.Colour", id="enum"),
    pytest.param(circular(), "result[1]", "list", id="circular"),
]


@pytest.mark.parametrize(("value", "where", "type_name"), REFUSED)
def test_a_result_json_cannot_hold_is_refused_and_nothing_is_written(
    durable: Backend, value: Any, where: str, type_name: str
) -> None:
    store = durable.open()
    store.create(RUN)
    store.record("run-1", [start(), running("charge")], 0)
    batch = [succeeded("charge", value), start(at=5.0)]
    with pytest.raises(UnstorableValue) as caught:
        store.record("run-1", batch, 2)
    error = caught.value
    assert (error.atom, error.where, error.type_name) == ("charge", where, type_name)
    assert "atom 'charge'" in str(error) and "nothing was written" in str(error)
    assert isinstance(error, UsageError)
    assert loaded(durable.open()) == ([start(), running("charge")], 2)


def test_a_history_json_cannot_hold_is_refused(durable: Backend) -> None:
    store = durable.open()
    store.create(RUN)
    history = ({"value": datetime.datetime(2024, 1, 1), "failures": {}},)
    step = Transition("again", "retry", "PENDING", "start", "RUNNING", 1, 1.0, None, None, history)
    with pytest.raises(UnstorableValue) as caught:
        store.record("run-1", [step], 0)
    assert caught.value.where == "history[0]['value']"
    assert caught.value.type_name == "datetime.datetime"
    assert loaded(store) == ([], 0)


def test_a_store_json_cannot_hold_is_refused_at_create(durable: Backend) -> None:
    store = durable.open()
    with pytest.raises(UnstorableValue, match="the run's store") as caught:
        store.create(RunInfo("run-9", "f", (), {"when": {1, 2}}))
    assert caught.value.atom is None and caught.value.where == "store['when']"
    assert store.runs() == []


def test_tuples_come_back_as_tuples_and_subclasses_as_their_base(durable: Backend) -> None:
    store = durable.open()
    store.create(RUN)
    result = {
        "pair": (1, (2, "3"), [()]),
        "ordered": OrderedDict(b=1, a=2),
        "state": task.State.RUNNING,
        "tag-like": {"$tuple": [1]},
        "escape-like": {"$dict": [["a", 1]]},
    }
    history = ({"value": (1, 2), "failures": {}},)
    retry = Transition("again", "retry", "PENDING", "start", "RUNNING", 1, 1.0, None, None, history)
    store.record("run-1", [succeeded("charge", result), retry], 0)
    transitions, _ = loaded(durable.open())
    back = transitions[0].result
    assert back == {
        "pair": (1, (2, "3"), [()]),
        "ordered": {"b": 1, "a": 2},
        "state": "RUNNING",
        "tag-like": {"$tuple": [1]},
        "escape-like": {"$dict": [["a", 1]]},
    }
    assert type(back["pair"]) is tuple and type(back["pair"][1]) is tuple
    assert type(back["tag-like"]) is dict and type(back["escape-like"]) is dict
    assert type(back["ordered"]) is dict and type(back["state"]) is str
    assert list(back["ordered"]) == ["b", "a"]
    assert transitions[1].history == ({"value": (1, 2), "failures": {}},)
    assert type(transitions[1].history) is tuple


def test_a_failure_comes_back_recorded_without_its_exception(durable: Backend) -> None:
    store = durable.open()
    store.create(RUN)
    failure = failure_with_cause()
    step = Transition("charge", "task", "RUNNING", "fail", "FAILURE", 1, 1.0, None, failure)
    store.record("run-1", [start(), running("charge"), step], 0)
    recorded = loaded(durable.open())[0][2].failure
    assert recorded is not None and recorded.exception is None
    assert recorded.to_dict() == failure.to_dict()
    with pytest.raises(RecordedFailure, match=r"builtins\.ValueError: declined") as caught:
        recorded.reraise()
    assert isinstance(caught.value.__cause__, RecordedFailure)


def test_loaded_states_and_events_are_the_lifecycle_enums(durable: Backend) -> None:
    store = durable.open()
    store.create(RUN)
    store.record("run-1", [running("charge")], 0)
    (step,), _ = loaded(store)
    assert step.old_state is task.State.PENDING and step.new_state is task.State.RUNNING
    assert step.event is task.Event.START


BAD_TRANSITIONS = [
    pytest.param(
        Transition("a", "saga", "PENDING", "start", "RUNNING"), "unknown lifecycle 'saga'", id="lc"
    ),
    pytest.param(
        Transition("a", "task", "PENDING", "launch", "RUNNING"),
        "unknown task event 'launch'",
        id="event",
    ),
    pytest.param(
        Transition("a", "task", "WAITING", "start", "RUNNING"),
        "unknown task state 'WAITING'",
        id="state",
    ),
    pytest.param(
        Transition("a", "task", "PENDING", "succeed", "SUCCESS"),
        "PENDING --succeed--> SUCCESS is not an edge of the task lifecycle",
        id="edge",
    ),
    pytest.param(
        Transition("a", "task", "PENDING", "start", "RUNNING", at=math.nan),
        "at must be a finite number",
        id="at",
    ),
]


@pytest.mark.parametrize(("transition", "problem"), BAD_TRANSITIONS)
def test_a_transition_outside_the_tables_is_refused(
    durable: Backend, transition: Transition, problem: str
) -> None:
    store = durable.open()
    store.create(RUN)
    with pytest.raises(UnrecordableTransition, match=problem) as caught:
        store.record("run-1", [start(), transition], 0)
    assert caught.value.args[:2] == ("run-1", 2)
    assert loaded(store) == ([], 0)


def test_runs_outlive_the_store_object_that_wrote_them(durable: Backend) -> None:
    writer = durable.open()
    run = RunInfo("odd/id ../ü.", "f", (AtomInfo("a", "task", "1"),), {"k": [1]}, None)
    writer.create(run)
    writer.record(run.flow_id, [start()], 0)
    close = getattr(writer, "close", None)
    if close is not None:
        close()
    reader = durable.open()
    assert reader.load(run.flow_id) == (run, [start()], 1)
    assert reader.runs() == [(run, "RUNNING")]
