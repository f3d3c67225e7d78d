"""A task is given the same value whether or not a crash came between it and its provider.

A producer returns a random JSON-like value (tuples, nested lists, dicts, floats with -0.0,
large ints, unicode, tuples inside dicts, dicts whose key looks like the codec's tag), or the
run's store holds it, and a consumer records what it is given. Once the run goes straight
through; once the process "dies" just before the consumer starts (`CrashingStorage`) and a new
engine resumes the run from the store. Both consumers must be given equal values of identical
types, on memory, SQLite and dir, and a value of the types a store keeps reaches the consumer
as the producer returned it (a tuple stays a tuple). Subclasses (a `str` subclass, an
`OrderedDict`, a named tuple) reach the consumer as the store gives them back, crash or not:
as their base types.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import provenflow as pf
from provenflow.persistence import MemoryStorage, Storage, open_storage
from provenflow.persistence._values import stored_form
from tests.helpers import USER_TYPES, VALUES, Crash, CrashingStorage, same


def producer_then_consumer(value: Any, seen: list[Any], *, from_store: bool = False) -> pf.Flow:
    """`produce` returns `value` (or, `from_store`, provides another name: the value is the
    run's store), and `consume` appends what it is given to `seen`."""

    def consume(value: Any) -> None:
        seen.append(value)

    provides = "unused" if from_store else "value"
    return pf.LinearFlow("values").add(
        pf.task(lambda: value, name="produce", provides=provides),
        pf.task(consume, name="consume"),
    )


def given_after_a_crash(opener: Any, value: Any, *, from_store: bool = False) -> Any:
    """What the consumer is given when the process dies just before it starts and a new engine
    resumes the run from the store (`value` returned by the producer, or given in the run's
    store if `from_store`); checked to be what it is given with no crash."""
    flow_id = uuid.uuid4().hex
    seen: list[Any] = []
    store = {"value": value} if from_store else {}

    def flow(seen: list[Any]) -> pf.Flow:
        return producer_then_consumer(value, seen, from_store=from_store)

    straight = pf.Engine(flow(seen), store, backend=opener(), flow_id=flow_id)
    straight.run()
    writes = [(t.atom, str(t.new_state)) for t in straight.history()]
    before_consumer = writes.index(("consume", "RUNNING")) + 1
    crashed: list[Any] = []
    crashing = CrashingStorage(opener(), crash_at=before_consumer)
    engine = pf.Engine(flow(crashed), store, backend=crashing)
    with pytest.raises(Crash):
        engine.run()
    assert crashed == []  # the consumer never started before the crash
    resumed = pf.Engine.load(flow(crashed), opener(), engine.flow_id)
    resumed.run()
    assert resumed.state == "SUCCESS"
    assert len(seen) == len(crashed) == 1
    assert same(seen[0], crashed[0]), (seen[0], crashed[0])
    return crashed[0]


@pytest.fixture(params=["memory", "sqlite", "dir"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A function that opens a new store object on the same data each time it is called."""
    if request.param == "memory":
        memory = MemoryStorage()
        yield lambda: memory
        return
    url = f"sqlite:///{tmp_path / 'runs.db'}" if request.param == "sqlite" else f"dir://{tmp_path}"
    opened: list[Storage] = []

    def open_one() -> Storage:
        opened.append(open_storage(url))
        return opened[-1]

    yield open_one
    for store in opened:
        close = getattr(store, "close", None)
        if close is not None:
            close()


PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(value=VALUES)
def test_a_consumer_is_given_the_same_value_with_or_without_a_crash(
    opener: Any, value: Any
) -> None:
    given = given_after_a_crash(opener, value)
    assert same(given, value), (given, value)  # the producer's own value, types and all


@PROPERTY
@given(value=USER_TYPES)
def test_subclasses_reach_a_consumer_as_the_store_gives_them_back(opener: Any, value: Any) -> None:
    given = given_after_a_crash(opener, value)
    keeps_anything = isinstance(opener(), MemoryStorage)
    expected = value if keeps_anything else stored_form(value, "run", "produce", "result")
    assert same(given, expected), (given, expected)


@PROPERTY
@given(value=VALUES | USER_TYPES)
def test_a_store_value_is_given_the_same_with_or_without_a_crash(opener: Any, value: Any) -> None:
    given = given_after_a_crash(opener, value, from_store=True)
    keeps_anything = isinstance(opener(), MemoryStorage)
    expected = value if keeps_anything else stored_form(value, "run", None, "store")
    assert same(given, expected), (given, expected)
