"""Executors: processes, asyncio, timeouts; the same semantics as serial and threads."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest

import provenflow as pf
from tests.helpers import Journal, make_task


class Double(pf.Task):
    """Doubles `x` in whatever process runs it, and says which process that was."""

    def execute(self, x: int) -> dict[str, int]:
        return {"value": x * 2, "pid": os.getpid()}


class Explode(pf.Task):
    def execute(self) -> None:
        raise ArithmeticError("exploded in a worker process")


def test_processes_run_atoms_in_other_processes() -> None:
    flow = pf.LinearFlow("p").add(Double(name="d", provides="out"))
    engine = pf.Engine(flow, store={"x": 21}, executor="processes", max_workers=2)
    out = engine.run()["out"]
    assert out["value"] == 42
    assert out["pid"] != os.getpid()


def test_processes_report_the_original_failure_and_revert() -> None:
    flow = pf.LinearFlow("p").add(Double(name="d", provides="out"), Explode(name="boom"))
    engine = pf.Engine(flow, store={"x": 1}, executor="processes", max_workers=2)
    with pytest.raises(ArithmeticError, match="exploded in a worker process"):
        engine.run()
    assert engine.state == "REVERTED"
    assert engine.atom_state("d") == "REVERTED"


def test_async_tasks_run_on_the_event_loop() -> None:
    loop_threads: list[int] = []

    @pf.task(provides="a")
    async def fetch() -> int:
        loop_threads.append(threading.get_ident())
        await asyncio.sleep(0)
        return 5

    @pf.task(provides="b")
    def compute(a: int) -> int:
        return a + 1

    async def main() -> dict[str, Any]:
        loop_threads.append(threading.get_ident())
        engine = pf.Engine(pf.LinearFlow("f").add(fetch, compute))
        return await engine.run_async()

    assert asyncio.run(main()) == {"a": 5, "b": 6}
    assert loop_threads[0] == loop_threads[1]


def test_async_failures_revert_and_raise() -> None:
    journal = Journal()

    @pf.task
    async def broken() -> None:
        raise ConnectionError("down")

    flow = pf.LinearFlow("f").add(make_task(journal, "first"), broken)
    engine = pf.Engine(flow)
    with pytest.raises(ConnectionError, match="down"):
        asyncio.run(engine.run_async())
    assert engine.state == "REVERTED"
    assert journal.actions("revert") == ["first"]


def test_async_tasks_also_run_on_a_synchronous_engine() -> None:
    @pf.task(provides="v")
    async def value() -> int:
        await asyncio.sleep(0)
        return 3

    assert pf.run(pf.LinearFlow("f").add(value)) == {"v": 3}


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_a_task_over_its_timeout_fails_and_reverts(executor: str) -> None:
    journal = Journal()
    release = threading.Event()

    def hang() -> None:
        release.wait(30)

    slow = pf.task(hang, name="slow", timeout=0.05)
    engine = pf.Engine(pf.LinearFlow("f").add(make_task(journal, "first"), slow), executor=executor)
    try:
        with pytest.raises(TimeoutError, match=r"'slow': execute did not finish within 0\.05 s"):
            engine.run()
    finally:
        release.set()
    assert engine.state == "REVERTED"
    assert engine.atom_state("slow") == "REVERTED"
    assert journal.actions("revert") == ["first"]


def test_an_async_task_over_its_timeout_is_cancelled() -> None:
    cancelled = []

    async def hang() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    engine = pf.Engine(pf.LinearFlow("f").add(pf.task(hang, name="slow", timeout=0.05)))
    with pytest.raises(TimeoutError):
        asyncio.run(engine.run_async())
    assert cancelled == [True]
    assert engine.state == "REVERTED"


def test_an_engine_cannot_run_twice_at_once() -> None:
    holder: dict[str, pf.Engine] = {}
    seen: list[str] = []

    @pf.task
    def reenter() -> None:
        try:
            holder["engine"].run()
        except pf.UsageError as exc:
            seen.append(str(exc))

    engine = holder["engine"] = pf.Engine(pf.LinearFlow("f").add(reenter))
    engine.run()
    assert seen == [f"engine for run {engine.flow_id!r} is already running"]


class Unpicklable(Exception):
    """An exception that cannot cross a process boundary."""

    def __reduce__(self) -> Any:
        raise TypeError("this exception does not pickle")


class RecordsRevert(pf.Task):
    def execute(self) -> int:
        return 1

    def revert(self, result: int, flow_failures: Any) -> None:
        assert sorted(flow_failures) == ["target"]
        assert flow_failures["target"].type_name.endswith("Unpicklable")
        assert flow_failures["target"].exception is None


def test_processes_revert_with_failures_whose_exceptions_do_not_pickle() -> None:
    """A decider's failure happens in the engine's process and cannot pickle; the revert in a
    worker process still gets it, as data without the live exception."""

    def decide(history: dict[str, object]) -> bool:
        raise Unpicklable("local only")

    good, target = RecordsRevert(name="good"), Double(name="target")
    flow = pf.GraphFlow("g").add(good, target).link(good, target, decider=decide)
    engine = pf.Engine(flow, store={"x": 1}, executor="processes", max_workers=1)
    with pytest.raises(Unpicklable):
        engine.run()
    assert engine.atom_state("good") == "REVERTED"
