"""The engine's semantics, as DESIGN.md states them, on every executor where they apply."""

from __future__ import annotations

import concurrent.futures as cf
import threading
from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import CaptureListener
from tests.helpers import Journal, make_task

EXECUTORS = ["serial", "threads"]


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_linear_flow_passes_values_and_records_every_transition(executor: str) -> None:
    @pf.task(provides="x")
    def first() -> int:
        return 2

    @pf.task(provides="y")
    def second(x: int) -> int:
        return x * 10

    @pf.task(provides="z")
    def third(x: int, y: int, base: int) -> int:
        return x + y + base

    flow = pf.LinearFlow("numbers").add(first, second, third)
    engine = pf.Engine(flow, store={"base": 100}, executor=executor)
    assert engine.run() == {"x": 2, "y": 20, "z": 122}
    assert engine.state == "SUCCESS"
    assert [engine.atom_state(n) for n in ("first", "second", "third")] == ["SUCCESS"] * 3
    steps = [(t.atom, t.event, t.new_state) for t in engine.history()]
    assert steps == [
        (None, "start", "RUNNING"),
        ("first", "start", "RUNNING"),
        ("first", "succeed", "SUCCESS"),
        ("second", "start", "RUNNING"),
        ("second", "succeed", "SUCCESS"),
        ("third", "start", "RUNNING"),
        ("third", "succeed", "SUCCESS"),
        (None, "succeed", "SUCCESS"),
    ]
    assert all(t.attempt == 1 for t in engine.history() if t.atom is not None)


def test_run_returns_every_provided_name() -> None:
    @pf.task(provides=("a", "b"))
    def pair() -> tuple[int, int]:
        return 1, 2

    assert pf.run(pf.LinearFlow("f").add(pair)) == {"a": 1, "b": 2}


def test_failure_reverts_everything_that_started_in_reverse_order(executor: str) -> None:
    journal = Journal()
    flow = pf.LinearFlow("order").add(
        make_task(journal, "reserve"),
        make_task(journal, "charge"),
        make_task(journal, "ship", fail=True),
        make_task(journal, "notify"),
    )
    engine = pf.Engine(flow, executor=executor)
    with pytest.raises(ValueError, match="ship failed"):
        engine.run()
    assert engine.state == "REVERTED"
    assert journal.actions("execute") == ["reserve", "charge", "ship"]
    assert journal.actions("revert") == ["ship", "charge", "reserve"]
    assert engine.atom_state("notify") == "PENDING"
    assert engine.results() == {}


def test_revert_receives_the_result_or_the_failure_and_the_flow_failures() -> None:
    seen: dict[str, Any] = {}

    def undo_ok(result: Any, flow_failures: Any) -> None:
        seen["ok"] = (result, dict(flow_failures))

    def undo_bad(result: Any, flow_failures: Any) -> None:
        seen["bad"] = result

    ok = pf.task(lambda: "done", name="ok", revert=undo_ok)

    def boom() -> None:
        raise KeyError("missing")

    bad = pf.task(boom, name="bad", revert=undo_bad)
    with pytest.raises(KeyError):
        pf.run(pf.LinearFlow("f").add(ok, bad))
    result, failures = seen["ok"]
    assert result == "done"
    assert set(failures) == {"bad"}
    assert failures["bad"].check(KeyError)
    assert isinstance(seen["bad"], pf.Failure)
    assert seen["bad"].check(KeyError)


def test_a_revert_that_raises_ends_failure_with_both_failures() -> None:
    journal = Journal()
    flow = pf.LinearFlow("f").add(
        make_task(journal, "a"),
        make_task(journal, "b", revert_fails=True),
        make_task(journal, "c", fail=True),
    )
    engine = pf.Engine(flow)
    with pytest.raises(pf.MultipleFailures) as caught:
        engine.run()
    assert engine.state == "FAILURE"
    kinds = sorted(type(e).__name__ for e in caught.value.exceptions)
    assert kinds == ["RuntimeError", "ValueError"]
    assert engine.atom_state("b") == "REVERT_FAILURE"
    # 'a' is what 'b' depends on: undoing it after b's undo failed is not safe.
    assert engine.atom_state("a") == "SUCCESS"
    assert journal.actions("revert") == ["c", "b"]


def test_two_simultaneous_failures_raise_an_exception_group() -> None:
    barrier = threading.Barrier(2, timeout=10)

    def make(name: str) -> pf.Task:
        def fail() -> None:
            barrier.wait()
            raise ValueError(name)

        return pf.task(fail, name=name)

    engine = pf.Engine(pf.UnorderedFlow("u").add(make("a"), make("b")), executor="threads")
    with pytest.raises(pf.MultipleFailures) as caught:
        engine.run()
    assert sorted(str(e) for e in caught.value.exceptions) == ["a", "b"]
    assert isinstance(caught.value, ExceptionGroup)
    assert engine.state == "REVERTED"


def test_priority_orders_ready_atoms() -> None:
    journal = Journal()
    low = make_task(journal, "low").copy(priority=1)
    high = make_task(journal, "high").copy(priority=5)
    mid = make_task(journal, "mid").copy(priority=3)
    pf.run(pf.UnorderedFlow("u").add(low, high, mid))
    assert journal.actions("execute") == ["high", "mid", "low"]


def test_a_callers_executor_is_used_and_left_running() -> None:
    journal = Journal()
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        flow = pf.UnorderedFlow("u").add(make_task(journal, "a"), make_task(journal, "b"))
        pf.run(flow, executor=pool)
        assert pool.submit(lambda: 1).result() == 1
    assert sorted(journal.actions("execute")) == ["a", "b"]


def test_a_bad_executor_is_refused_before_anything_runs() -> None:
    journal = Journal()
    with pytest.raises(pf.UsageError, match="executor 'fibers'"):
        pf.Engine(pf.LinearFlow("f").add(make_task(journal, "a")), executor="fibers")
    assert journal.entries == []


def test_listeners_hear_flow_atom_and_engine_transitions(executor: str) -> None:
    journal = Journal()
    capture = CaptureListener()
    flow = pf.LinearFlow("f").add(make_task(journal, "a"), make_task(journal, "b"))
    pf.Engine(flow, executor=executor, listeners=[capture]).run()
    kinds = {t.lifecycle for t in capture.transitions}
    assert kinds == {"flow", "task", "engine"}
    atoms = [(t.atom, t.event) for t in capture.transitions if t.lifecycle == "task"]
    assert atoms == [("a", "start"), ("a", "succeed"), ("b", "start"), ("b", "succeed")]
    loop = [t.new_state for t in capture.transitions if t.lifecycle == "engine"]
    assert loop[0] == "RESUMING" and loop[-1] == "SUCCESS"
    succeeded = [t for t in capture.transitions if t.event == "succeed" and t.atom == "a"]
    assert succeeded[0].result == "a"


def test_run_iter_yields_the_loop_states_of_an_empty_flow() -> None:
    engine = pf.Engine(pf.LinearFlow("empty"))
    assert list(engine.run_iter()) == ["RESUMING", "ANALYZING", "SUCCESS"]
    assert engine.state == "SUCCESS"


def test_run_iter_yields_each_round_of_a_linear_flow() -> None:
    journal = Journal()
    flow = pf.LinearFlow("f").add(make_task(journal, "a"), make_task(journal, "b"))
    states = list(pf.Engine(flow).run_iter())
    assert states == [
        "RESUMING",
        "SCHEDULING",
        "WAITING",
        "ANALYZING",
        "SCHEDULING",
        "WAITING",
        "ANALYZING",
        "SUCCESS",
    ]


def test_progress_reaches_listeners() -> None:
    class Halves(pf.Task):
        def execute(self) -> None:
            self.update_progress(0.5)
            self.update_progress(1.0)

    capture = CaptureListener()
    pf.Engine(pf.LinearFlow("f").add(Halves(name="h")), listeners=[capture]).run()
    assert capture.progress == [("h", 0.5), ("h", 1.0)]


def test_unknown_atom_state_names_the_atoms() -> None:
    journal = Journal()
    engine = pf.Engine(pf.LinearFlow("f").add(make_task(journal, "a")))
    with pytest.raises(pf.UsageError, match=r"no atom 'zz' \(atoms: a\)"):
        engine.atom_state("zz")
