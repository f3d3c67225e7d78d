"""An engine whose run was cut short in the middle is stopped (`provenflow.engine._stop`).

Each of these checks one way a call is cut short (a failed write, a listener that raises,
`run_iter()` closed early) or one way it is not (a run that ended, a refused second call), on
the memory store. tests/crash/test_write_faults.py cuts every write of whole runs on the
durable stores and checks that the run, loaded again, ends consistent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import provenflow as pf
from provenflow.errors import EngineStopped, StaleVersion, StorageUnavailable
from provenflow.persistence import MemoryStorage, Transition
from tests.helpers import FaultyStorage, Journal, Untouchable, make_task


def three_steps(journal: Journal) -> pf.Flow:
    return pf.LinearFlow("f").add(
        make_task(journal, "a", provides="x"),
        make_task(journal, "b", requires=("x",), provides="y"),
        make_task(journal, "c", requires=("y",)),
    )


def steps(storage: MemoryStorage, flow_id: str) -> list[tuple[str | None, str, str]]:
    return [(t.atom, str(t.event), str(t.new_state)) for t in storage.load(flow_id)[1]]


def cut_engine(fail_at: int, fault: Exception) -> tuple[pf.Engine, FaultyStorage, Journal]:
    """An engine over a three-step flow whose store's `fail_at`-th write raises `fault`,
    after its `run()` raised that fault."""
    journal = Journal()
    storage = FaultyStorage(MemoryStorage(), fail_at, fault)
    engine = pf.Engine(three_steps(journal), backend=storage)
    with pytest.raises(type(fault)) as raised:
        engine.run()
    assert raised.value is fault
    return engine, storage, journal


def test_state_is_never_success_when_the_last_write_fails() -> None:
    fault = StaleVersion("f", 6, 7)
    engine, storage, _ = cut_engine(7, fault)  # c's and the flow's succeed are the 7th write
    assert steps(storage.inner, engine.flow_id)[-1] == ("c", "start", "RUNNING")
    assert engine.state == "UNKNOWN"
    assert engine.atom_state("c") == "UNKNOWN"
    with pytest.raises(pf.UsageError, match="has no atom 'd'"):
        engine.atom_state("d")


def test_run_again_after_a_failed_write_is_refused_and_changes_nothing() -> None:
    fault = StorageUnavailable("memory://", "cannot record transitions: disk full")
    engine, storage, journal = cut_engine(3, fault)  # a's result is the 3rd write
    recorded = storage.inner.load(engine.flow_id)
    done = list(journal.entries)
    assert done == [("execute", "a")]
    with pytest.raises(EngineStopped) as refused:
        engine.run()
    assert refused.value.__cause__ is fault
    assert refused.value.flow_id == engine.flow_id
    assert refused.value.url == "memory://"
    assert str(refused.value) == (
        f"run {engine.flow_id!r}: a write to memory:// failed (StorageUnavailable: storage "
        "memory://: cannot record transitions: disk full); this engine is stopped, since what "
        "it holds may differ from the store: load the run again (Engine.load(flow, backend, "
        "flow_id) or Engine.resume(backend, flow_id)) and run that engine"
    )
    assert storage.writes == 3
    assert storage.inner.load(engine.flow_id) == recorded
    assert journal.entries == done
    assert engine.state == "UNKNOWN"


@pytest.mark.parametrize(
    "go_on",
    [
        lambda engine: engine.run(),
        lambda engine: next(engine.run_iter()),
        lambda engine: asyncio.run(engine.run_async()),
        lambda engine: engine.results(),
    ],
    ids=["run", "run_iter", "run_async", "results"],
)
def test_every_way_of_going_on_is_refused(go_on: Callable[[pf.Engine], Any]) -> None:
    engine, storage, journal = cut_engine(2, RuntimeError("the store's own bug"))
    assert isinstance(engine.stopped, EngineStopped)
    assert "a write to memory:// failed (RuntimeError: the store's own bug)" in str(engine.stopped)
    inner, storage.inner = storage.inner, Untouchable()  # not even read
    for _ in range(2):
        with pytest.raises(EngineStopped, match="this engine is stopped"):
            go_on(engine)
    storage.inner = inner
    assert storage.writes == 2
    assert journal.entries == []  # the fault came before a's execute


def test_the_run_loaded_again_goes_on_from_what_the_store_holds() -> None:
    engine, storage, journal = cut_engine(3, StorageUnavailable("memory://", "gone"))
    flow = three_steps(journal)
    loaded = pf.Engine.load(flow, storage.inner, engine.flow_id)
    assert loaded.state == "RUNNING"
    assert loaded.run() == {"x": "a", "y": "b"}
    assert journal.actions("execute") == ["a", "a", "b", "c"]  # a's result was never recorded
    events = [(atom, event) for atom, event, _ in steps(storage.inner, engine.flow_id)]
    assert events[2:4] == [(None, "crash_recovered"), ("a", "crash_recovered")]
    assert loaded.state == "SUCCESS"


class Raising:
    """A listener that raises when it hears of `atom` entering `state`."""

    def __init__(self, atom: str, state: str) -> None:
        self.atom, self.state = atom, state

    def on_transition(self, transition: Transition) -> None:
        if (transition.atom, transition.new_state) == (self.atom, self.state):
            raise KeyError(f"listener broke on {self.atom} {self.state}")


def test_an_exception_out_of_the_loop_stops_the_engine_without_a_false_crash_recovered() -> None:
    journal = Journal()
    storage = MemoryStorage()
    engine = pf.Engine(three_steps(journal), backend=storage, listeners=[Raising("a", "SUCCESS")])
    with pytest.raises(KeyError, match="listener broke"):
        engine.run()
    recorded = steps(storage, engine.flow_id)
    with pytest.raises(EngineStopped, match=r"cut short in the middle \(KeyError: "):
        engine.run()
    assert steps(storage, engine.flow_id) == recorded
    assert "crash_recovered" not in [event for _, event, _ in recorded]
    assert journal.actions("execute") == ["a"]


def test_run_iter_closed_in_the_middle_stops_the_engine() -> None:
    journal = Journal()
    storage = MemoryStorage()
    engine = pf.Engine(three_steps(journal), backend=storage)
    states = engine.run_iter()
    for state in states:
        if state == "WAITING":
            break  # a has run; its outcome was never analysed
    states.close()
    assert engine.state == "UNKNOWN"
    recorded = steps(storage, engine.flow_id)
    with pytest.raises(EngineStopped, match=r"run_iter\(\) was closed before the run ended"):
        engine.run()
    assert steps(storage, engine.flow_id) == recorded
    loaded = pf.Engine.load(three_steps(journal), storage, engine.flow_id)
    loaded.run()
    assert loaded.state == "SUCCESS"


def test_run_iter_closed_after_the_outcome_leaves_the_engine_going() -> None:
    journal = Journal()
    engine = pf.Engine(three_steps(journal))
    states = engine.run_iter()
    for state in states:
        if state == "SUCCESS":
            break
    states.close()
    assert engine.stopped is None
    assert engine.state == "SUCCESS"
    assert engine.run() == {"x": "a", "y": "b"}
    assert journal.actions("execute") == ["a", "b", "c"]


def test_a_second_call_refused_while_running_does_not_stop_the_engine() -> None:
    journal = Journal()
    engines: list[pf.Engine] = []
    refused: list[BaseException] = []

    @pf.task
    def again() -> None:
        try:
            engines[0].run()
        except pf.UsageError as error:
            refused.append(error)

    engines.append(pf.Engine(pf.LinearFlow("f").add(again, make_task(journal, "after"))))
    engines[0].run()
    assert [str(error) for error in refused] == [
        f"engine for run {engines[0].flow_id!r} is already running"
    ]
    assert engines[0].stopped is None
    assert engines[0].state == "SUCCESS"


def test_an_interrupted_task_stops_the_engine_and_the_reload_runs_it_again() -> None:
    journal = Journal()
    interrupted: list[bool] = []

    @pf.task
    def b() -> None:
        journal("execute", "b")
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt

    def flow() -> pf.Flow:
        return pf.LinearFlow("f").add(make_task(journal, "a"), b)

    storage = MemoryStorage()
    engine = pf.Engine(flow(), backend=storage)
    with pytest.raises(KeyboardInterrupt):
        engine.run()
    assert engine.state == "UNKNOWN"
    with pytest.raises(EngineStopped, match=r"cut short in the middle \(KeyboardInterrupt\)"):
        engine.run()
    assert steps(storage, engine.flow_id)[-1] == ("b", "start", "RUNNING")
    loaded = pf.Engine.load(flow(), storage, engine.flow_id)
    loaded.run()
    assert journal.actions("execute") == ["a", "b", "b"]
    assert steps(storage, engine.flow_id)[-3:] == [
        ("b", "crash_recovered", "RUNNING"),
        ("b", "succeed", "SUCCESS"),
        (None, "succeed", "SUCCESS"),
    ]


def test_an_engine_whose_run_was_taken_over_is_stopped_and_never_says_success() -> None:
    now = [1_000.0]
    storage = MemoryStorage(clock=lambda: now[0])
    journal = Journal()
    successor: list[pf.Engine] = []

    def last() -> None:  # the first engine pauses past its lease; another takes the run over
        journal("execute", "c")
        if not successor:
            now[0] += 60.0
            successor.append(pf.Engine.load(flow(), storage, first.flow_id))
            successor[0].run()

    def flow() -> pf.Flow:
        return pf.LinearFlow("f").add(make_task(journal, "a"), pf.task(last, name="c"))

    first = pf.Engine(flow(), backend=storage, lease_ttl=10.0)
    with pytest.raises(pf.LeaseLost):
        first.run()  # its last write, c's and the flow's succeed, is refused
    assert successor[0].state == "SUCCESS"
    assert first.state == "UNKNOWN"  # not the SUCCESS it could not record
    recorded = steps(storage, first.flow_id)
    with pytest.raises(EngineStopped, match=r"a write to memory:// failed \(LeaseLost: "):
        first.run()
    assert steps(storage, first.flow_id) == recorded
    assert journal.actions("execute") == ["a", "c", "c"]
