"""Fuzzing: random flows with random faults through the real engine on SQLite, and `fuzz()` on
users' flows (sound ones pass; flawed ones fail with a shrunk trace and a seed that replays)."""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import provenflow as pf
from provenflow.engine import Work, _loop
from provenflow.persistence import MemoryStorage, SqlStorage, Transition
from provenflow.verification._fuzz import check_plan, fuzz
from provenflow.verification._fuzz_run import DrawnFaults, FaultyRun
from provenflow.verification._fuzz_violations import violations
from provenflow.verification._strategies import flows
from provenflow.verification._strategies_plans import (
    Behaviour,
    FlowPlan,
    LinkPlan,
    TaskPlan,
)
from tests.helpers import consistent, make_careless, make_double_charge, make_sound

SHM = Path("/dev/shm")
TMP = str(SHM) if SHM.is_dir() else None  # a RAM disk when there is one: same SQLite, faster


class Scripted:
    """Faults at fixed places: the process dies before the writes numbered in `crash_before`."""

    def __init__(self, crash_before: Sequence[int] = ()) -> None:
        self.crash_before = set(crash_before)

    def for_work(self, work: Work) -> str:
        return "run"

    def before_write(self, number: int, transitions: Sequence[Transition]) -> bool:
        return number in self.crash_before


@contextlib.contextmanager
def sqlite_store() -> Iterator[SqlStorage]:
    """A new SQLite file for one run, removed afterwards."""
    with tempfile.TemporaryDirectory(dir=TMP) as folder:
        storage = SqlStorage(f"sqlite:///{folder}/run.db")
        try:
            yield storage
        finally:
            storage.close()


# -- (a) our own suite: random flows, random faults, real engine, SQLite -----------------------


def fuzz_the_engine(examples: int) -> tuple[Counter[str], Counter[int]]:
    """Run `examples` random plans with random faults; return their outcomes and processes."""
    outcomes: Counter[str] = Counter()
    processes: Counter[int] = Counter()

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(plan=flows(max_tasks=8, max_depth=3), data=st.data())
    def one_run(plan: FlowPlan, data: Any) -> None:
        with sqlite_store() as storage:
            run, problems = check_plan(plan, storage, DrawnFaults(data, crashes=3))
        outcomes[run.outcome] += 1
        processes[run.processes] += 1
        assert not problems, "\n".join([*problems, plan.describe(), run.trace()])

    one_run()
    return outcomes, processes


def test_random_flows_with_random_faults_keep_the_invariants() -> None:
    outcomes, processes = fuzz_the_engine(150)
    assert outcomes["SUCCESS"] and outcomes["REVERTED"]
    assert sum(count for number, count in processes.items() if number > 1) > 10


@pytest.mark.slow
def test_thousands_of_random_flows_with_random_faults_keep_the_invariants() -> None:
    outcomes, processes = fuzz_the_engine(1600)
    assert set(outcomes) == {"SUCCESS", "REVERTED", "FAILURE"}
    assert max(processes) >= 4  # runs that died three times and were resumed each time


BUG_1 = FlowPlan(
    "f1",
    "graph",
    (TaskPlan("t1"), TaskPlan("t2")),
    links=(LinkPlan("t1", "t2", verdict=True),),
)
BUG_2 = FlowPlan(
    "f1",
    "graph",
    (TaskPlan("t1"), TaskPlan("t2"), TaskPlan("t3"), TaskPlan("t4", Behaviour(raise_on=(1,)))),
    links=(
        LinkPlan("t1", "t2", verdict=False, depth="ATOM"),
        LinkPlan("t2", "t3"),
        LinkPlan("t3", "t4"),
    ),
)


def test_bug_1_a_decider_after_a_resume_whose_source_returned_none() -> None:
    run, problems = check_plan(BUG_1, MemoryStorage(), Scripted(crash_before=[4]))
    assert not problems, "\n".join([*problems, run.trace()])


def test_bug_2_dependents_reached_through_an_ignored_atom_are_reverted_after_it() -> None:
    run, problems = check_plan(BUG_2, MemoryStorage(), Scripted())
    assert not problems, "\n".join([*problems, run.trace()])


def test_the_checks_catch_an_engine_that_runs_work_before_recording_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    careless = {**_loop._QUEUED, "SCHEDULING": ("take", "submit", "write")}
    monkeypatch.setattr(_loop, "_QUEUED", careless)  # submits work before recording it
    plan = FlowPlan("f1", "linear", (TaskPlan("t1"), TaskPlan("t2")))
    problems = check_plan(plan, MemoryStorage(), Scripted())[1]
    assert problems[0] == (
        "execute of 't1' (attempt 1) started while its record says PENDING (attempt None): "
        "RUNNING must be durable first"
    )


def test_the_checks_name_each_broken_rule_of_a_record() -> None:
    compiled = pf.flows.compile_flow(pf.LinearFlow("f").add(task("a"), task("b")))
    run = FaultyRun(compiled, None)
    run.history = [
        Transition(None, "flow", "PENDING", "start", "RUNNING"),
        Transition("a", "task", "PENDING", "start", "RUNNING", 1),
        Transition("a", "task", "RUNNING", "succeed", "SUCCESS", 1),
        Transition("b", "task", "PENDING", "start", "RUNNING", 1),
        Transition("b", "task", "RUNNING", "succeed", "REVERTED", 1),
        Transition(None, "flow", "RUNNING", "succeed", "SUCCESS"),
    ]
    run.timeline = [("record", t) for t in run.history[:3]]
    run.timeline += [("execute", "a", 1), ("execute", "a", 1), ("revert", "a", 1)]
    assert violations(run) == [
        "task 'b': recorded RUNNING --succeed--> REVERTED, but the table from RUNNING allows "
        "['crash_recovered', 'fail', 'revert', 'succeed']",
        "'a' is recorded SUCCESS as attempt 1, but no execute of that attempt returned",
        *[
            "'a' is executed again after its success was recorded",
            "execute of 'a' (attempt 1) started while its record says SUCCESS (attempt 1): "
            "RUNNING must be durable first",
        ]
        * 2,
        "attempt 1 of 'a' is executed twice",
        "revert of 'a' (attempt 1) started while its record says SUCCESS (attempt 1)",
        "the run ended SUCCESS with ['b'] not done",
    ]


def task(name: str) -> pf.Task:
    return pf.task(lambda: None, name=name)


# -- (b) fuzz() on users' flows --------------------------------------------------------------------


def test_fuzz_passes_a_sound_flow_on_sqlite(tmp_path: Path) -> None:
    report = fuzz(make_sound, backend=tmp_path / "runs.db", invariant=consistent, seed=7)
    assert report.runs == 100
    assert report.seed == 7
    assert report.outcomes.keys() == {"SUCCESS", "REVERTED"}
    assert report.crashes > 0
    assert "no violation" in str(report)


def test_fuzz_picks_a_seed_and_the_seed_replays_the_same_runs() -> None:
    first = fuzz(make_sound, runs=30, invariant=consistent)
    again = fuzz(make_sound, runs=30, invariant=consistent, seed=first.seed)
    assert (again.outcomes, again.crashes) == (first.outcomes, first.crashes)


def failure_of(factory: Any, **options: Any) -> str:
    with pytest.raises(AssertionError) as caught:
        fuzz(factory, invariant=consistent, **options)
    return str(caught.value)


def test_fuzz_fails_a_revert_that_assumes_execute_returned_and_names_the_seed() -> None:
    message = failure_of(make_careless, seed=2024)
    assert message.startswith(
        "fuzz(make_careless) found a run that breaks an invariant (seed 2024; shrunk):\n"
        "violation: the run ended FAILURE: a revert raised, so work was done and not undone "
        "(reserve: 'Failure' object is not subscriptable)"
    )
    assert "execute 'reserve' raises (injected)" in message
    assert "revert 'reserve' raises TypeError" in message
    assert message.endswith("reproduce: fuzz(make_careless, runs=100, crashes=2, seed=2024)")
    seed = int(re.search(r"seed=(\d+)\)$", message).group(1))  # type: ignore[union-attr]
    assert failure_of(make_careless, seed=seed) == message


def test_fuzz_fails_a_non_idempotent_execute_and_the_seed_reproduces_it() -> None:
    message = failure_of(make_double_charge, seed=11, backend="memory://")
    assert "violation: invariant consistent does not hold (outcome SUCCESS" in message
    assert "charged=2" in message
    assert "CRASH after execute 'charge', before its outcome is recorded" in message
    assert "RESUME: a new process loads the run (Engine.load)" in message
    assert failure_of(make_double_charge, seed=11, backend="memory://") == message


def test_fuzz_refuses_a_flow_instead_of_a_factory_and_bad_bounds() -> None:
    flow, _ = make_sound()
    with pytest.raises(pf.UsageError, match="takes a factory"):
        fuzz(flow)  # type: ignore[arg-type]
    with pytest.raises(pf.UsageError, match="runs >= 1"):
        fuzz(make_sound, runs=0)


def test_fuzz_reports_a_flow_the_engine_refuses_before_any_run() -> None:
    def needs_a_symbol() -> pf.Flow:
        return pf.LinearFlow("f").add(pf.task(lambda missing: None, name="a"))

    with pytest.raises(pf.FlowDefinitionError, match="missing"):
        fuzz(needs_a_symbol)
