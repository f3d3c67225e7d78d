"""The engine's semantics with atoms running in worker processes.

Side effects go to a journal file (the world the tasks change), so what happened in the worker
processes can be checked from the test. Each task fails on its first `fail_first` executions.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

import provenflow as pf
from provenflow.persistence import MemoryStorage


class Step(pf.Task):
    """Appends 'execute NAME' / 'revert NAME' to the journal; fails its first N executions."""

    def execute(self, journal: str, fail_first: int = 0) -> str:
        lines = Path(journal).read_text().splitlines() if Path(journal).exists() else []
        done_before = lines.count(f"execute {self.name}")
        with open(journal, "a") as handle:
            handle.write(f"execute {self.name}\n")
        if done_before < fail_first:
            raise ValueError(f"{self.name} failed")
        return self.name

    def revert(self, journal: str, **_: Any) -> None:
        with open(journal, "a") as handle:
            handle.write(f"revert {self.name}\n")


def step(name: str, journal: Path, fail_first: int = 0) -> Step:
    return Step(name=name, inject={"journal": str(journal), "fail_first": fail_first})


def lines(journal: Path) -> list[str]:
    return journal.read_text().splitlines()


def run(flow: pf.Flow) -> pf.Engine:
    engine = pf.Engine(flow, executor="processes", max_workers=2)
    with contextlib.suppress(Exception):
        engine.run()
    return engine


def test_a_failure_reverts_in_reverse_order(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    flow = pf.LinearFlow("f").add(
        step("a", journal), step("b", journal), step("c", journal, fail_first=9)
    )
    engine = run(flow)
    assert engine.state == "REVERTED"
    assert lines(journal) == [
        "execute a",
        "execute b",
        "execute c",
        "revert c",
        "revert b",
        "revert a",
    ]


def test_nested_retries_in_worker_processes(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    inner = pf.LinearFlow("inner", retry=pf.Times(2, name="inner_retry")).add(
        step("call", journal, fail_first=3)
    )
    outer = pf.LinearFlow("outer", retry=pf.Times(2, name="outer_retry")).add(
        step("setup", journal), inner
    )
    engine = run(outer)
    assert engine.state == "SUCCESS"
    assert [line for line in lines(journal) if line.startswith("execute")] == [
        "execute setup",
        "execute call",
        "execute call",
        "execute setup",
        "execute call",
        "execute call",
    ]


def test_deciders_with_worker_processes(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    source, target, after = step("source", journal), step("target", journal), step("after", journal)
    graph = pf.GraphFlow("g").add(source, target, after)
    graph.link(source, target, decider=lambda history: history["source"] == "nope")
    graph.link(target, after)
    engine = run(graph)
    assert engine.state == "SUCCESS"
    assert lines(journal) == ["execute source"]
    assert engine.atom_state("after") == "IGNORE"


def test_suspend_and_resume_with_worker_processes(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    flow = pf.LinearFlow("f").add(step("a", journal), step("b", journal))
    storage = MemoryStorage()
    engine = pf.Engine(flow, backend=storage, executor="processes", max_workers=2)
    steps = engine.run_iter()
    assert next(steps) == "RESUMING"
    steps.send(True)  # ask for suspension before anything is scheduled
    for _ in steps:
        pass
    assert engine.state == "SUSPENDED"
    resumed = pf.Engine.load(flow, storage, engine.flow_id, executor="processes")
    resumed.run()
    assert resumed.state == "SUCCESS"
    assert lines(journal) == ["execute a", "execute b"]


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_the_same_flow_gives_the_same_record_on_every_executor(
    tmp_path: Path, executor: str
) -> None:
    journal = tmp_path / "journal"
    sub = pf.LinearFlow("sub", retry=pf.Times(3, name="again")).add(
        step("b", journal), step("c", journal, fail_first=1)
    )
    flow = pf.LinearFlow("f").add(step("a", journal), sub, step("d", journal))
    engine = pf.Engine(flow, executor=executor, max_workers=2)
    engine.run()
    steps = [(t.atom, t.event) for t in engine.history()]
    assert steps == [
        (None, "start"),
        ("a", "start"),
        ("a", "succeed"),
        ("again", "start"),
        ("again", "succeed"),
        ("b", "start"),
        ("b", "succeed"),
        ("c", "start"),
        ("c", "fail"),
        ("again", "retry"),
        ("c", "revert"),
        ("c", "reverted"),
        ("b", "revert"),
        ("b", "reverted"),
        ("b", "reset"),
        ("c", "reset"),
        ("again", "start"),
        ("again", "succeed"),
        ("b", "start"),
        ("b", "succeed"),
        ("c", "start"),
        ("c", "succeed"),
        ("d", "start"),
        ("d", "succeed"),
        (None, "succeed"),
    ]
