"""The engine on durable stores: JSON-only values, failures after a reload, one writer per run,
factories recorded for resume."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import TRUST_VARIABLE
from provenflow.persistence import MemoryStorage, open_storage
from tests.helpers import Journal, make_task


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pf.task(provides="when")
def when() -> dt.datetime:
    return dt.datetime(2026, 1, 1)


def test_a_result_the_store_cannot_keep_fails_its_task_naming_it(sqlite_url: str) -> None:
    journal = Journal()
    engine = pf.Engine(pf.LinearFlow("f").add(make_task(journal, "a"), when), backend=sqlite_url)
    with pytest.raises(pf.UsageError) as caught:
        engine.run()
    message = str(caught.value)
    assert "'when'" in message
    assert "datetime.datetime" in message
    assert engine.state == "REVERTED"
    assert engine.atom_state("when") == "REVERTED"
    assert journal.actions("revert") == ["a"]


def test_memory_keeps_any_value() -> None:
    assert pf.run(pf.LinearFlow("f").add(when)) == {"when": dt.datetime(2026, 1, 1)}


def test_after_a_reload_the_error_names_the_original_type_and_message(sqlite_url: str) -> None:
    @pf.task
    def broken() -> None:
        raise KeyError("no such order")

    flow = pf.LinearFlow("f").add(broken)
    engine = pf.Engine(flow, backend=sqlite_url)
    with pytest.raises(KeyError):
        engine.run()
    reloaded = pf.Engine.load(flow, open_storage(sqlite_url), engine.flow_id)
    assert reloaded.state == "REVERTED"
    with pytest.raises(pf.RecordedFailure) as caught:
        reloaded.run()
    assert "KeyError" in str(caught.value)
    assert "no such order" in str(caught.value)
    failure = reloaded.failures()["broken"]
    assert failure.check(KeyError)
    assert "raise KeyError" in failure.traceback


def test_a_suspended_run_resumes_from_a_new_store_object(sqlite_url: str) -> None:
    journal = Journal()
    holder: dict[str, pf.Engine] = {}

    @pf.task
    def pause() -> None:
        holder["engine"].suspend()

    def build() -> pf.Flow:
        return pf.LinearFlow("f").add(make_task(journal, "a"), pause, make_task(journal, "b"))

    engine = holder["engine"] = pf.Engine(build(), backend=sqlite_url)
    engine.run()
    assert engine.state == "SUSPENDED"
    resumed = pf.Engine.load(build(), open_storage(sqlite_url), engine.flow_id)
    resumed.run()
    assert resumed.state == "SUCCESS"
    assert journal.actions("execute") == ["a", "b"]


def make_two_step_flow() -> pf.Flow:
    """A module-level factory: re-importable, so runs built from it can be resumed."""
    return pf.LinearFlow("two").add(
        pf.task(lambda: 1, name="one", provides="x"),
        pf.task(lambda x: x + 1, name="two", provides="y"),
    )


def test_from_factory_records_the_factory_and_resume_rebuilds_the_flow(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = pf.Engine.from_factory(make_two_step_flow, backend=sqlite_url)
    steps = engine.run_iter()
    for state in steps:
        if state == "ANALYZING":
            break  # stop, as a crash would, after the first atom's outcome was taken
    steps.close()
    info = open_storage(sqlite_url).load(engine.flow_id)[0]
    assert info.factory == "tests.engine.test_durable:make_two_step_flow"
    monkeypatch.setenv(TRUST_VARIABLE, "tests.engine.test_durable:*")  # the user trusts it
    resumed = pf.Engine.resume(sqlite_url, engine.flow_id)
    assert resumed.run() == {"x": 1, "y": 2}


def test_resume_needs_a_recorded_factory() -> None:
    storage = MemoryStorage()
    engine = pf.Engine(make_two_step_flow(), backend=storage)
    with pytest.raises(pf.UsageError, match="was not started from a factory"):
        pf.Engine.resume(storage, engine.flow_id)


def test_a_factory_that_cannot_be_imported_again_is_refused() -> None:
    with pytest.raises(pf.UsageError, match="cannot be imported again"):
        pf.Engine.from_factory(lambda: make_two_step_flow())  # noqa: PLW0108 (a lambda on purpose)


def _advance(url: str, flow_id: str, ready: Any, go: Any, results: Any) -> None:
    """In a child process: load the run, wait until both are loaded, then try to run it."""
    engine = pf.Engine.load(make_two_step_flow(), open_storage(url), flow_id)
    ready.wait()
    go.wait()
    try:
        engine.run()
        results.put("advanced")
    except (pf.RunOwned, pf.StaleVersion):  # the other holds the lease, or ran first
        results.put("refused")


def test_two_processes_cannot_both_advance_one_run(sqlite_url: str) -> None:
    engine = pf.Engine(make_two_step_flow(), backend=sqlite_url)
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(3)
    go = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=_advance, args=(sqlite_url, engine.flow_id, ready, go, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    ready.wait(timeout=30)  # both have loaded the run at the same version
    go.set()
    outcomes = sorted(results.get(timeout=30) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["advanced", "refused"]
    history = open_storage(sqlite_url).load(engine.flow_id)[1]
    assert [t.event for t in history if t.atom is None] == ["start", "succeed"]
