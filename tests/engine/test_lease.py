"""The engine and its run's lease: taken before anything runs, renewed, given back, taken over.

The memory store's clock is replaced by a `FakeClock` where a test needs a lease to expire:
moving it is how an engine's lease runs out while its process is paused.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest

import provenflow as pf
from provenflow.engine._loop import run_info
from provenflow.failure import Failure
from provenflow.flows import compile_flow
from provenflow.persistence import MemoryStorage, Owner, Transition, open_storage
from tests.helpers import Crash, Journal, make_task

OTHER = Owner("elsewhere", 4242, "0" * 32)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def one_task(journal: Journal) -> pf.Flow:
    return pf.LinearFlow("f").add(make_task(journal, "a", provides="x", value=1))


def flow_t(old: str, event: str, new: str) -> Transition:
    return Transition(None, "flow", old, event, new, 0, 1.0)


def task_t(old: str, event: str, new: str, result: Any = None) -> Transition:
    failure = Failure.from_exception(ValueError("boom")) if new == "FAILURE" else None
    return Transition("a", "task", old, event, new, 1, 1.0, result, failure)


RECORDS: dict[str, list[Transition]] = {
    "PENDING": [],
    "RUNNING": [flow_t("PENDING", "start", "RUNNING"), task_t("PENDING", "start", "RUNNING")],
    "SUSPENDING": [
        flow_t("PENDING", "start", "RUNNING"),
        task_t("PENDING", "start", "RUNNING"),
        flow_t("RUNNING", "suspend", "SUSPENDING"),
    ],
    "SUSPENDED": [
        flow_t("PENDING", "start", "RUNNING"),
        flow_t("RUNNING", "suspend", "SUSPENDING"),
        flow_t("SUSPENDING", "suspended", "SUSPENDED"),
    ],
    "REVERTING": [
        flow_t("PENDING", "start", "RUNNING"),
        task_t("PENDING", "start", "RUNNING"),
        flow_t("RUNNING", "fail", "REVERTING"),
    ],
}
"""A run of `one_task` left in each state that is not terminal, as a dead engine left it."""


@pytest.mark.parametrize("state", list(RECORDS))
def test_an_expired_lease_is_taken_over_and_the_takeover_recorded(state: str) -> None:
    clock = FakeClock()
    storage = MemoryStorage(clock=clock)
    journal = Journal()
    compiled = compile_flow(one_task(journal))
    storage.create(run_info(compiled, "r", {}, None))
    storage.record("r", RECORDS[state], 0)
    storage.take_lease("r", OTHER, 10.0)  # the engine that left the run, and its lease
    clock.now += 10.0
    engine = pf.Engine.load(one_task(journal), storage, "r")
    engine.run()
    assert engine.state == ("REVERTED" if state == "REVERTING" else "SUCCESS")
    history = engine.history()
    taken = history[len(RECORDS[state])]
    assert (taken.atom, taken.old_state, taken.event, taken.new_state) == (
        None, state, "taken_over", state,
    )  # fmt: skip
    assert taken.result == {
        "owner": OTHER.id,
        "pid": OTHER.pid,
        "host": OTHER.host,
        "token": 1,
        "expired_at": 1_010.0,
        "new_token": 2,
    }
    assert [t.event for t in history].count("taken_over") == 1
    lease = storage.leases()[0]["r"]
    assert (lease.owner, lease.token, lease.held) == (engine.owner, 2, False)


def test_an_ended_run_taken_over_records_nothing() -> None:
    clock = FakeClock()
    storage = MemoryStorage(clock=clock)
    journal = Journal()
    engine = pf.Engine(one_task(journal), backend=storage)
    engine.run()
    storage.take_lease(engine.flow_id, OTHER, 10.0)
    clock.now += 10.0
    again = pf.Engine.load(one_task(journal), storage, engine.flow_id)
    again.run()
    assert "taken_over" not in [t.event for t in again.history()]
    assert journal.actions("execute") == ["a"]


def test_a_live_lease_refuses_a_second_engine_before_it_runs_anything() -> None:
    storage = MemoryStorage()
    journal = Journal()
    engine = pf.Engine(one_task(journal), backend=storage)
    storage.take_lease(engine.flow_id, OTHER, 30.0)
    with pytest.raises(pf.RunOwned, match="owned by engine 00000000 \\(pid 4242 on elsewhere\\)"):
        engine.run()
    assert (engine.history(), journal.actions("execute"), engine.state) == ([], [], "PENDING")
    storage.release_lease(engine.flow_id, OTHER, 1)
    assert engine.run() == {"x": 1}  # a refused engine is not stopped: it may try again
    assert "taken_over" not in [t.event for t in engine.history()]


def test_an_engine_whose_lease_was_taken_over_writes_nothing_more() -> None:
    clock = FakeClock()
    storage = MemoryStorage(clock=clock)
    journal = Journal()
    successor: list[pf.Engine] = []

    def paused_then_overtaken() -> int:
        clock.now += 60.0  # this engine was paused past its lease; another took the run over
        successor.append(pf.Engine.load(flow(lambda: 2), storage, engine.flow_id))
        successor[0].run()
        return 1

    def flow(execute: Any) -> pf.Flow:
        return pf.LinearFlow("f").add(pf.task(execute, name="a"), make_task(journal, "b"))

    engine = pf.Engine(flow(paused_then_overtaken), backend=storage, lease_ttl=10.0)
    with pytest.raises(pf.LeaseLost, match=r"lease \(token 1\) was taken over"):
        engine.run()
    history = engine.history()
    events = [(t.atom, t.event) for t in history]
    assert events.count((None, "taken_over")) == 1
    assert events.count(("a", "succeed")) == 1  # the successor's: the old engine's was refused
    assert next(t.result for t in history if t.atom == "a" and t.event == "succeed") == 2
    assert journal.actions("execute") == ["b"]  # b ran once, by the successor
    assert successor[0].state == "SUCCESS"


def test_a_lost_lease_stops_the_engine_at_its_next_step() -> None:
    storage = MemoryStorage()
    journal = Journal()
    engine = pf.Engine(pf.LinearFlow("f").add(make_task(journal, "a"), make_task(journal, "b")),
                       backend=storage)  # fmt: skip
    steps = engine.run_iter()
    assert next(steps) == "RESUMING"
    assert engine._lease is not None
    engine._lease.lost = pf.LeaseLost(engine.flow_id, 1, None, "taken over")
    with pytest.raises(pf.LeaseLost):
        next(steps)
    assert journal.actions("execute") == []


def test_the_lease_is_renewed_while_a_task_runs_longer_than_it() -> None:
    storage = MemoryStorage()
    expiries: list[float] = []
    done = threading.Event()

    def slow() -> None:
        deadline = time.monotonic() + 20
        while len(set(expiries)) < 3 and time.monotonic() < deadline:
            expiries.append(storage.leases()[0][engine.flow_id].expires_at)
            time.sleep(0.02)
        done.set()

    engine = pf.Engine(pf.LinearFlow("f").add(pf.task(slow, name="slow")), backend=storage,
                       lease_ttl=0.3)  # fmt: skip
    engine.run()
    assert done.is_set() and len(set(expiries)) >= 3, expiries  # renewed twice at least
    assert expiries == sorted(expiries)
    lease = storage.leases()[0][engine.flow_id]
    assert lease.held is False  # given back at the end


@pytest.mark.parametrize("outcome", ["suspended", "failed", "crashed"])
def test_the_lease_is_given_back_when_run_returns_or_raises(outcome: str) -> None:
    storage = MemoryStorage()
    engine: pf.Engine

    def stop() -> None:
        if outcome == "suspended":
            engine.suspend()
        elif outcome == "failed":
            raise ValueError("boom")
        else:
            raise Crash("a simulated death that unwinds the stack")

    engine = pf.Engine(pf.LinearFlow("f").add(pf.task(stop, name="a")), backend=storage)
    with contextlib.suppress(ValueError, Crash):
        engine.run()
    assert storage.leases()[0][engine.flow_id].held is False
    grant = storage.take_lease(engine.flow_id, OTHER, 30.0)  # at once: it was given back
    assert (grant.lease.token, grant.taken_over) == (2, None)


@pytest.mark.parametrize("ttl", [0, -1.0, "30", True])
def test_a_bad_lease_ttl_is_refused(ttl: Any) -> None:
    with pytest.raises(pf.UsageError, match="lease_ttl must be a positive number of seconds"):
        pf.Engine(pf.LinearFlow("f").add(pf.task(lambda: None, name="a")), lease_ttl=ttl)


def test_every_write_of_an_engine_carries_its_token(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    journal = Journal()
    engine = pf.Engine(one_task(journal), backend=url)
    tokens: list[int | None] = []
    inner = engine.storage
    original = inner.record

    def spy(flow_id: str, transitions: Any, expected: int, token: int | None = None) -> int:
        tokens.append(token)
        return original(flow_id, transitions, expected, token)

    inner.record = spy  # type: ignore[method-assign]
    engine.run()
    assert tokens and set(tokens) == {1}
    assert open_storage(url).leases()[0][engine.flow_id].token == 1
