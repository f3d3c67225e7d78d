"""What every backend guarantees (memory, sqlite, dir, postgresql): the storage protocol.

Each test runs on each backend, on fresh data. Values used here are ones every backend gives
back equal (no tuples inside results: the durable ones return lists); what only the durable
backends promise is in `test_durable.py`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import provenflow as pf
from provenflow.errors import StaleVersion, UnknownRun, UsageError
from provenflow.persistence import RunInfo, Transition
from tests.persistence._samples import (
    RUN,
    failure_with_cause,
    loaded,
    running,
    start,
    succeeded,
)
from tests.persistence.conftest import Backend


def test_a_created_run_loads_back_with_no_transitions(backend: Backend) -> None:
    store = backend.open()
    assert store.create(RUN) == 0
    info, transitions, version = store.load("run-1")
    assert info == RUN
    assert (transitions, version) == ([], 0)


def test_create_refuses_an_existing_id_and_keeps_the_first(backend: Backend) -> None:
    store = backend.open()
    store.create(RUN)
    store.record("run-1", [start()], 0)
    with pytest.raises(UsageError, match="run-1"):
        store.create(RunInfo("run-1", "other", ()))
    info, transitions, version = store.load("run-1")
    assert (info, transitions, version) == (RUN, [start()], 1)


def test_an_unknown_run_is_refused_by_load_and_record(backend: Backend) -> None:
    store = backend.open()
    with pytest.raises(UnknownRun, match="nope") as caught:
        store.load("nope")
    assert caught.value.args == ("nope", store.url)
    with pytest.raises(UnknownRun, match="nope"):
        store.record("nope", [start()], 0)
    assert store.runs() == []


def test_record_appends_batches_oldest_first(backend: Backend) -> None:
    store = backend.open()
    store.create(RUN)
    first = [start(), running("charge")]
    second = [succeeded("charge", {"charge_id": "ch_1", "amounts": [1, 2.5, None, True]})]
    assert store.record("run-1", first, 0) == 2
    assert store.record("run-1", second, 2) == 3
    assert loaded(store) == ([*first, *second], 3)


def test_results_failures_and_histories_round_trip(backend: Backend) -> None:
    store = backend.open()
    store.create(RUN)
    failure = failure_with_cause()
    history = (
        {"value": 1, "failures": {"charge": failure.to_dict()}},
        {"value": "x", "failures": {}},
    )
    batch = [
        start(),
        running("charge"),
        Transition("charge", "task", "RUNNING", "fail", "FAILURE", 1, 4.25, None, failure),
        Transition("again", "retry", "PENDING", "start", "RUNNING", 1, 5.0, None, None, history),
        succeeded("other", {"nested": {"deep": [[1], {"k": "ü" * 3}]}, "big": 2**70}),
    ]
    store.record("run-1", batch, 0)
    transitions, _ = loaded(backend.open())
    assert transitions == batch
    recorded = transitions[2].failure
    assert recorded is not None
    assert recorded.check(ValueError) and recorded.cause is not None
    assert recorded.cause.check(KeyError)
    assert recorded.traceback == failure.traceback
    assert transitions[3].history == history
    assert transitions[0].at == 1.0 and transitions[2].attempt == 1


def test_a_stale_version_is_refused_and_nothing_is_written(backend: Backend) -> None:
    store = backend.open()
    store.create(RUN)
    store.record("run-1", [start(), running("charge")], 0)
    for expected in (0, 1, 3, 10):
        with pytest.raises(StaleVersion) as caught:
            store.record("run-1", [succeeded("charge", 1)], expected)
        assert caught.value.args == ("run-1", expected, 2)
    assert loaded(store) == ([start(), running("charge")], 2)


def test_an_empty_batch_checks_the_version_and_writes_nothing(backend: Backend) -> None:
    store = backend.open()
    store.create(RUN)
    assert store.record("run-1", [], 0) == 0
    store.record("run-1", [start()], 0)
    with pytest.raises(StaleVersion):
        store.record("run-1", [], 0)
    assert loaded(store) == ([start()], 1)


def test_two_store_objects_cannot_both_advance_a_run(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    first.create(RUN)
    _, _, version = second.load("run-1")
    assert first.record("run-1", [start()], version) == 1
    with pytest.raises(StaleVersion) as caught:
        second.record("run-1", [start(at=9.0)], version)
    assert caught.value.args == ("run-1", 0, 1)
    transitions, version = loaded(second)
    assert (transitions, version) == ([start()], 1)
    assert second.record("run-1", [running("charge")], version) == 2
    with pytest.raises(StaleVersion):
        first.record("run-1", [running("charge", at=9.0)], 1)
    assert loaded(first) == ([start(), running("charge")], 2)


def test_racing_threads_advance_each_version_once(backend: Backend) -> None:
    writers, rounds = 4, 15
    shared = backend.open()  # two threads share one store object; two have their own
    stores = [shared, shared, backend.open(), backend.open()]
    stores[0].create(RUN)
    barrier = threading.Barrier(writers, timeout=60)
    won: list[list[int]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []

    def write(me: int) -> None:
        try:
            for version in range(rounds):
                barrier.wait()
                step = running(f"atom{version}", attempt=me)
                try:
                    stores[me].record("run-1", [step], version)
                    won[me].append(version)
                except StaleVersion as stale:
                    assert stale.args == ("run-1", version, version + 1)
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=write, args=(me,)) for me in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(v for versions in won for v in versions) == list(range(rounds))
    transitions, version = loaded(stores[0])
    assert version == rounds
    winners = {v: me for me, versions in enumerate(won) for v in versions}
    assert [t.attempt for t in transitions] == [winners[v] for v in range(rounds)]


def test_runs_lists_each_run_with_its_flow_state(backend: Backend) -> None:
    store = backend.open()
    assert store.runs() == []
    runs = [RunInfo(f"run-{n}", "order", ()) for n in (1, 2, 3)]
    for run in runs:
        store.create(run)
    store.record("run-2", [start()], 0)
    store.record("run-3", [start(), running("charge")], 0)
    ends = Transition(None, "flow", "RUNNING", "succeed", "SUCCESS", 0, 4.0)
    store.record("run-3", [succeeded("charge", 1), ends], 2)
    listed = backend.open().runs()
    assert listed == [(runs[0], "PENDING"), (runs[1], "RUNNING"), (runs[2], "SUCCESS")]


def test_load_of_a_ten_thousand_transition_run_is_fast(backend: Backend) -> None:
    store = backend.open()
    store.create(RUN)
    version = store.record("run-1", [start()], 0)
    for base in range(0, 5000, 250):
        batch = []
        for n in range(base, base + 250):
            batch += [running(f"a{n}"), succeeded(f"a{n}", {"n": n, "name": f"a{n}"})]
        version = store.record("run-1", batch, version)
    reader = backend.open()
    began = time.perf_counter()
    _, transitions, version = reader.load("run-1")
    elapsed = time.perf_counter() - began
    assert version == len(transitions) == 10_001
    assert transitions[-1].result == {"n": 4999, "name": "a4999"}
    assert elapsed < 1.0, f"load of 10,001 transitions took {elapsed:.3f} s"


def test_an_engine_runs_and_resumes_on_the_backend(backend: Backend) -> None:
    calls: list[str] = []

    def build() -> pf.Flow:
        @pf.task(provides="total")
        def price() -> int:
            calls.append("price")
            return 42

        @pf.task(provides="receipt")
        def charge(total: int) -> dict[str, Any]:
            calls.append("charge")
            return {"charged": total, "items": ["a", "b"]}

        return pf.LinearFlow("order").add(price, charge)

    engine = pf.Engine(build(), backend=backend.open())
    assert engine.run() == {"total": 42, "receipt": {"charged": 42, "items": ["a", "b"]}}
    again = pf.Engine.load(build(), backend.open(), engine.flow_id)
    assert again.state == "SUCCESS"
    assert again.results() == engine.results()
    assert again.history() == engine.history()
    assert [(t.atom, t.event) for t in again.history() if t.atom == "charge"] == [
        ("charge", "start"),
        ("charge", "succeed"),
    ]
    assert calls == ["price", "charge"]
