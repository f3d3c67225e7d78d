"""Retries: success after retrying, exhaustion, nested scopes, REVERT_ALL, revert failures."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import CaptureListener
from tests.helpers import Journal, make_task


def flaky(times: int) -> object:
    """Return a callable that says 'fail' for the first `times` calls."""
    calls = {"n": 0}

    def fail() -> bool:
        calls["n"] += 1
        return calls["n"] <= times

    return fail


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_a_retry_reruns_its_subflow_until_it_succeeds(executor: str) -> None:
    journal = Journal()
    inner = pf.LinearFlow("inner", retry=pf.Times(3, name="again", provides="round")).add(
        make_task(journal, "prepare"), make_task(journal, "call", fail=flaky(2))
    )
    flow = pf.LinearFlow("outer").add(
        make_task(journal, "open"), inner, make_task(journal, "close")
    )
    engine = pf.Engine(flow, executor=executor)
    engine.run()
    assert engine.state == "SUCCESS"
    assert journal.actions("execute") == [
        "open",
        "prepare",
        "call",
        "prepare",
        "call",
        "prepare",
        "call",
        "close",
    ]
    assert journal.actions("revert") == ["call", "prepare", "call", "prepare"]
    retry_events = [t.event for t in engine.history() if t.atom == "again"]
    assert retry_events == [
        "start",
        "succeed",
        "retry",
        "start",
        "succeed",
        "retry",
        "start",
        "succeed",
    ]
    assert [t.attempt for t in engine.history() if t.atom == "call" and t.event == "start"] == [
        1,
        2,
        3,
    ]
    assert engine.results()["round"] == 3


def test_an_exhausted_retry_reverts_the_whole_flow_outer_tasks_included() -> None:
    journal = Journal()
    inner = pf.LinearFlow("inner", retry=pf.Times(2, name="again")).add(
        make_task(journal, "call", fail=True)
    )
    flow = pf.LinearFlow("outer").add(
        make_task(journal, "open"), inner, make_task(journal, "close")
    )
    engine = pf.Engine(flow)
    with pytest.raises(ValueError, match="call failed"):
        engine.run()
    assert engine.state == "REVERTED"
    assert engine.atom_state("open") == "REVERTED"
    assert engine.atom_state("again") == "REVERTED"
    assert engine.atom_state("close") == "PENDING"
    assert journal.actions("execute") == ["open", "call", "call"]
    assert journal.actions("revert") == ["call", "call", "open"]


def test_when_an_inner_retry_gives_up_the_outer_one_decides() -> None:
    journal = Journal()
    fails = flaky(3)  # inner gives up after 2 tries; outer's second round succeeds
    inner = pf.LinearFlow("inner", retry=pf.Times(2, name="inner_retry")).add(
        make_task(journal, "call", fail=fails)
    )
    outer = pf.LinearFlow("outer", retry=pf.Times(2, name="outer_retry")).add(
        make_task(journal, "setup"), inner
    )
    engine = pf.Engine(pf.LinearFlow("top").add(outer))
    engine.run()
    assert engine.state == "SUCCESS"
    assert journal.actions("execute") == ["setup", "call", "call", "setup", "call", "call"]
    assert journal.actions("revert") == ["call", "call", "setup", "call"]
    outer_events = [t.event for t in engine.history() if t.atom == "outer_retry"]
    assert outer_events == ["start", "succeed", "retry", "start", "succeed"]
    inner_events = [t.event for t in engine.history() if t.atom == "inner_retry"]
    assert inner_events == [
        "start",
        "succeed",
        "retry",
        "start",
        "succeed",  # first outer round
        "revert",
        "reverted",
        "reset",  # undone and reset with the outer subflow
        "start",
        "succeed",
        "retry",
        "start",
        "succeed",
    ]


def test_revert_all_reverts_beyond_the_outer_retry() -> None:
    journal = Journal()
    inner = pf.LinearFlow("inner", retry=pf.AlwaysRevertAll(name="give_up")).add(
        make_task(journal, "call", fail=True)
    )
    outer = pf.LinearFlow("outer", retry=pf.Times(5, name="outer_retry")).add(
        make_task(journal, "setup"), inner
    )
    engine = pf.Engine(pf.LinearFlow("top").add(make_task(journal, "first"), outer))
    with pytest.raises(ValueError):
        engine.run()
    assert engine.state == "REVERTED"
    assert journal.actions("execute") == ["first", "setup", "call"]
    assert journal.actions("revert") == ["call", "setup", "first"]


def test_a_failed_revert_blocks_the_retry_and_ends_failure() -> None:
    journal = Journal()
    inner = pf.LinearFlow("inner", retry=pf.Times(5, name="again")).add(
        make_task(journal, "call", fail=True, revert_fails=True)
    )
    engine = pf.Engine(pf.LinearFlow("top").add(make_task(journal, "first"), inner))
    with pytest.raises(pf.MultipleFailures):
        engine.run()
    assert engine.state == "FAILURE"
    assert journal.actions("execute") == ["first", "call"]
    assert engine.atom_state("call") == "REVERT_FAILURE"
    # "first" comes before what failed to undo, so it is not undone either.
    assert engine.atom_state("first") == "SUCCESS"
    assert engine.atom_state("again") == "RETRYING"


def test_for_each_tries_each_value_until_one_works() -> None:
    tried = []

    @pf.task(provides="connected")
    def connect(host: str) -> str:
        tried.append(host)
        if host != "c":
            raise ConnectionError(host)
        return host

    flow = pf.LinearFlow("f", retry=pf.ForEach(["a", "b", "c", "d"], provides="host")).add(connect)
    assert pf.run(flow)["connected"] == "c"
    assert tried == ["a", "b", "c"]


def test_parameterized_for_each_takes_its_values_from_the_store() -> None:
    tried = []

    @pf.task
    def dial(number: str) -> None:
        tried.append(number)
        raise ConnectionError(number)

    flow = pf.LinearFlow("f", retry=pf.ParameterizedForEach(provides="number")).add(dial)
    engine = pf.Engine(flow, store={"values": ["1", "2"]})
    with pytest.raises(ConnectionError, match="2"):
        engine.run()
    assert tried == ["1", "2"]
    assert engine.state == "REVERTED"


def test_always_revert_lets_the_outer_retry_decide() -> None:
    journal = Journal()
    fails = flaky(1)
    inner = pf.LinearFlow("inner", retry=pf.AlwaysRevert(name="no")).add(
        make_task(journal, "call", fail=fails)
    )
    outer = pf.LinearFlow("outer", retry=pf.Times(2, name="yes")).add(inner)
    engine = pf.Engine(outer)
    engine.run()
    assert engine.state == "SUCCESS"
    assert journal.actions("execute") == ["call", "call"]


def test_a_controller_that_returns_no_decision_fails_the_run_naming_it() -> None:
    class Confused(pf.Retry):
        def execute(self, history: pf.History) -> None:
            return None

        def on_failure(self, history: pf.History) -> str:
            return "try again"

    journal = Journal()
    flow = pf.LinearFlow("f", retry=Confused(name="confused")).add(
        make_task(journal, "call", fail=True)
    )
    engine = pf.Engine(flow)
    with pytest.raises(pf.MultipleFailures) as caught:
        engine.run()
    messages = [str(e) for e in caught.value.exceptions]
    assert any("confused" in m and "'try again'" in m for m in messages)
    assert engine.state == "REVERTED"
    assert journal.actions("revert") == ["call"]


def test_revert_all_wins_over_a_retry_in_progress_on_threads() -> None:
    """'flaky' fails and its retry decides RETRY; while that retry's revert is still running,
    'broken' fails with REVERT_ALL. The whole flow must be reverted, the retry included, and
    'flaky' must not run again. Events set by a listener make the interleaving certain."""
    retry_decided = threading.Event()
    revert_all_recorded = threading.Event()
    executed: list[str] = []

    class Watch(CaptureListener):
        def on_transition(self, transition: Any) -> None:
            if (transition.atom, transition.event) == ("again", "retry"):
                retry_decided.set()
            if (transition.atom, transition.event) == ("broken", "fail"):
                revert_all_recorded.set()

    class Flaky(pf.Task):
        def execute(self) -> None:
            executed.append("flaky")
            raise ValueError("flaky failed")

        def revert(self, **_: Any) -> None:
            assert revert_all_recorded.wait(10)

    class Broken(pf.Task):
        def execute(self) -> None:
            assert retry_decided.wait(10)
            raise ValueError("broken failed")

    retried = pf.LinearFlow("retried", retry=pf.Times(5, name="again")).add(Flaky(name="flaky"))
    fatal = pf.LinearFlow("fatal", retry=pf.AlwaysRevertAll(name="stop")).add(Broken(name="broken"))
    flow = pf.UnorderedFlow("u").add(retried, fatal)
    engine = pf.Engine(flow, executor="threads", listeners=[Watch()])
    with pytest.raises(pf.MultipleFailures):
        engine.run()
    assert engine.state == "REVERTED"
    assert engine.atom_state("again") == "REVERTED"
    assert engine.atom_state("flaky") == "REVERTED"
    assert executed == ["flaky"]
    again = [t.event for t in engine.history() if t.atom == "again"]
    assert again == ["start", "succeed", "retry", "revert", "reverted"]
