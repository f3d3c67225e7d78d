"""Suspension, and resuming a run from what its store holds: after a suspend or a crash."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

import provenflow as pf
from provenflow.engine import CaptureListener
from provenflow.errors import FlowMismatch
from provenflow.persistence import MemoryStorage, Transition
from tests.helpers import Crash, CrashingStorage, Journal, make_task


def linear(journal: Journal, fail_last: bool = False) -> pf.Flow:
    return pf.LinearFlow("f").add(
        make_task(journal, "a", provides="x", value=1),
        make_task(journal, "b", requires=("x",)),
        make_task(journal, "c", fail=fail_last),
    )


def test_suspend_from_a_task_then_resume_runs_the_rest_once() -> None:
    journal = Journal()
    storage = MemoryStorage()
    holder: dict[str, pf.Engine] = {}

    @pf.task
    def pause() -> None:
        journal("execute", "pause")
        holder["engine"].suspend()

    flow = pf.LinearFlow("f").add(make_task(journal, "a"), pause, make_task(journal, "b"))
    engine = holder["engine"] = pf.Engine(flow, backend=storage)
    engine.run()
    assert engine.state == "SUSPENDED"
    assert engine.atom_state("b") == "PENDING"
    again = pf.Engine.load(flow, storage, engine.flow_id)
    again.run()
    assert again.state == "SUCCESS"
    assert journal.actions("execute") == ["a", "pause", "b"]
    flow_events = [t.event for t in again.history() if t.atom is None]
    assert flow_events == ["start", "suspend", "suspended", "resume", "succeed"]


def test_run_iter_send_true_suspends() -> None:
    journal = Journal()
    engine = pf.Engine(linear(journal))
    steps = engine.run_iter()
    assert next(steps) == "RESUMING"
    states = [steps.send(True)]
    states.extend(steps)
    assert states[-1] == "SUSPENDED"
    assert engine.state == "SUSPENDED"
    assert journal.actions("execute") == []


def test_suspend_before_run_suspends_before_any_atom_and_the_same_engine_then_continues() -> None:
    journal = Journal()
    engine = pf.Engine(linear(journal))
    engine.suspend()
    engine.run()
    assert engine.state == "SUSPENDED"
    assert journal.actions("execute") == []
    engine.run()  # the request was used up: this run continues to the end
    assert engine.state == "SUCCESS"
    assert journal.actions("execute") == ["a", "b", "c"]


def crash_then_resume(
    build: Callable[[Journal], pf.Flow], crash_at: int, executor: str = "serial"
) -> tuple[Journal, pf.Engine | None, MemoryStorage, str]:
    """Run until write `crash_at` crashes, then resume on the surviving store."""
    journal = Journal()
    storage = CrashingStorage(crash_at=crash_at)
    engine = pf.Engine(build(journal), backend=storage, executor=executor)
    try:
        engine.run()
    except Crash:
        pass
    except Exception:
        return journal, engine, storage.inner, engine.flow_id
    else:
        return journal, None, storage.inner, engine.flow_id
    resumed = pf.Engine.load(build(journal), storage.inner, engine.flow_id)
    with contextlib.suppress(Exception):
        resumed.run()
    return journal, resumed, storage.inner, engine.flow_id


def writes_of(build: Callable[[Journal], pf.Flow]) -> int:
    storage = CrashingStorage()
    with contextlib.suppress(Exception):
        pf.Engine(build(Journal()), backend=storage).run()
    return storage.writes


@pytest.mark.parametrize("crash_at", range(1, writes_of(linear) + 1))
def test_a_crash_at_any_write_resumes_to_success_without_repeating_successes(
    crash_at: int,
) -> None:
    journal, resumed, storage, flow_id = crash_then_resume(linear, crash_at)
    assert resumed is not None
    assert resumed.state == "SUCCESS"
    executed = journal.actions("execute")
    assert sorted(set(executed)) == ["a", "b", "c"]
    # An atom runs twice only when the crash came after its RUNNING record and before its
    # result was recorded: the one place a side effect may have happened unrecorded.
    history = storage.load(flow_id)[1]
    for name in "abc":
        starts = [t for t in history if t.atom == name and t.new_state == "RUNNING"]
        assert executed.count(name) <= len(starts)
        successes = [t for t in history if t.atom == name and t.event == "succeed"]
        assert len(successes) == 1


@pytest.mark.parametrize("crash_at", range(1, writes_of(lambda j: linear(j, True)) + 1))
def test_a_crash_while_failing_or_reverting_still_ends_reverted(crash_at: int) -> None:
    def build(journal: Journal) -> pf.Flow:
        return linear(journal, fail_last=True)

    journal, resumed, storage, flow_id = crash_then_resume(build, crash_at)
    assert resumed is not None
    assert resumed.state == "REVERTED"
    history = storage.load(flow_id)[1]
    final = {t.atom: t.new_state for t in history if t.atom is not None}
    assert set(final.values()) <= {"REVERTED"}
    reverts = journal.actions("revert")
    # Reverse order: c before b before a, whatever was repeated after the crash.
    firsts = [reverts.index(name) for name in "cba" if name in reverts]
    assert firsts == sorted(firsts)


def test_a_task_executed_again_after_a_crash_is_announced_as_a_new_attempt() -> None:
    journal = Journal()
    storage = CrashingStorage(crash_at=4)  # flow start, a start, a succeed, b start -> crash
    engine = pf.Engine(linear(journal), backend=storage)
    with pytest.raises(Crash):
        engine.run()
    capture = CaptureListener(kinds=["task"])
    storage.crash_at = None
    pf.Engine.load(linear(journal), storage.inner, engine.flow_id, listeners=[capture]).run()
    assert capture.steps()[:2] == [("b", "start", "RUNNING"), ("b", "succeed", "SUCCESS")]


def test_a_running_task_found_after_a_crash_is_executed_again_with_a_new_attempt() -> None:
    journal = Journal()
    storage = CrashingStorage(crash_at=5)  # ..., b start recorded, b's succeed write crashes
    engine = pf.Engine(linear(journal), backend=storage)
    with pytest.raises(Crash):
        engine.run()
    capture = CaptureListener(kinds=["task"])
    resumed = pf.Engine.load(linear(journal), storage.inner, engine.flow_id, listeners=[capture])
    resumed.run()
    assert capture.transitions[0].event == "crash_recovered"
    assert capture.transitions[0].atom == "b"
    assert capture.transitions[0].attempt == 2
    assert journal.actions("execute") == ["a", "b", "b", "c"]


def test_load_refuses_an_unknown_run() -> None:
    with pytest.raises(pf.UnknownRun, match="run 'nope': not found in memory://"):
        pf.Engine.load(linear(Journal()), MemoryStorage(), "nope")


def test_load_refuses_an_atom_whose_version_changed() -> None:
    journal = Journal()
    storage = MemoryStorage()
    engine = pf.Engine(linear(journal), backend=storage)
    engine.run()
    changed = pf.LinearFlow("f").add(
        make_task(journal, "a", provides="x", value=1).copy(version="2.0"),
        make_task(journal, "b", requires=("x",)),
        make_task(journal, "c"),
    )
    with pytest.raises(FlowMismatch, match=r"'a' is recorded as version '1\.0', but is version"):
        pf.Engine.load(changed, storage, engine.flow_id)


def test_two_engines_cannot_both_advance_one_run() -> None:
    journal = Journal()
    storage = MemoryStorage()
    first = pf.Engine(linear(journal), backend=storage)
    second = pf.Engine.load(linear(journal), storage, first.flow_id)
    steps = first.run_iter()
    next(steps)
    next(steps)  # the first engine has recorded the flow's start
    recorded = len(storage.load(first.flow_id)[1])
    with pytest.raises(pf.RunOwned, match=f"owned by engine {first.owner.id[:8]}"):
        second.run()  # refused before it runs anything: the first holds the run's lease
    assert len(storage.load(first.flow_id)[1]) == recorded
    assert journal.actions("execute") == []
    steps.close()


def retried(journal: Journal) -> pf.Flow:
    """a, then [b, c] under Times(3) where c fails its first execution ever, then d."""
    sub = pf.LinearFlow("sub", retry=pf.Times(3, name="again")).add(
        make_task(journal, "b"),
        make_task(journal, "c", fail=lambda: journal.actions("execute").count("c") == 1),
    )
    return pf.LinearFlow("f").add(make_task(journal, "a"), sub, make_task(journal, "d"))


def assert_consistent(history: list[Transition], outcome: str) -> None:
    """The invariants of DESIGN.md on a finished run's record."""
    final = {t.atom: t.new_state for t in history if t.atom is not None}
    assert [t.new_state for t in history if t.atom is None][-1] == outcome
    assert not {"RUNNING", "REVERTING"} & set(final.values())
    if outcome == "SUCCESS":
        assert set(final.values()) <= {"SUCCESS", "IGNORE"}
    if outcome == "REVERTED":
        assert set(final.values()) <= {"REVERTED", "PENDING", "IGNORE"}


@pytest.mark.parametrize("crash_at", range(1, writes_of(retried) + 1))
def test_a_crash_anywhere_in_a_retry_resumes_to_success(crash_at: int) -> None:
    journal, resumed, storage, flow_id = crash_then_resume(retried, crash_at)
    assert resumed is not None
    assert_consistent(storage.load(flow_id)[1], "SUCCESS")
    assert journal.actions("execute")[-1] == "d"


def parallel(journal: Journal) -> pf.Flow:
    """Two branches of two tasks each; the second branch's last task fails."""
    left = pf.LinearFlow("left").add(make_task(journal, "l1"), make_task(journal, "l2"))
    right = pf.LinearFlow("right").add(
        make_task(journal, "r1"), make_task(journal, "r2", fail=True)
    )
    return pf.UnorderedFlow("both").add(left, right)


@pytest.mark.parametrize("crash_at", range(1, writes_of(parallel) + 1))
def test_a_crash_anywhere_in_parallel_branches_ends_reverted(crash_at: int) -> None:
    journal, resumed, storage, flow_id = crash_then_resume(parallel, crash_at, "threads")
    assert resumed is not None
    assert_consistent(storage.load(flow_id)[1], "REVERTED")
    reverts = journal.actions("revert")
    for first, then in (("l2", "l1"), ("r2", "r1")):
        if first in reverts and then in reverts:
            assert reverts.index(first) < reverts.index(then)


def test_a_decider_whose_source_returned_none_votes_again_after_a_resume() -> None:
    """Regression (found by fuzzing): a None result must survive a reload as an outcome."""
    seen: list[dict[str, object]] = []

    def build(journal: Journal) -> pf.Flow:
        source = pf.task(lambda: None, name="source")
        target = make_task(journal, "target")
        graph = pf.GraphFlow("g").add(source, target)
        return graph.link(source, target, decider=lambda history: seen.append(history) or True)

    journal, resumed, _, _ = crash_then_resume(build, crash_at=4)
    assert resumed is not None
    assert resumed.state == "SUCCESS"
    assert seen[-1] == {"source": None}
    assert journal.actions("execute") == ["target"]


def test_cores_rebuilt_from_one_record_move_their_atoms_apart() -> None:
    from provenflow.engine import Core, records_from  # noqa: PLC0415 (the core, below the engine)
    from provenflow.errors import IllegalTransition  # noqa: PLC0415
    from provenflow.flows import compile_flow  # noqa: PLC0415

    compiled = compile_flow(pf.LinearFlow("f").add(pf.task(lambda: None, name="a")))
    record = [
        Transition(None, "flow", "PENDING", "start", "RUNNING"),
        Transition("a", "task", "PENDING", "start", "RUNNING", 1),
    ]
    records, flow_events = records_from(record)
    first, second = (Core(compiled, records=records, flow_events=flow_events) for _ in range(2))
    first.start()
    (work,) = first.take_work(1)  # a is executed again (crash_recovered) by the first only
    first.finish(work)
    assert (first.state_of("a"), second.state_of("a")) == ("SUCCESS", "RUNNING")
    refused = [*record, Transition("a", "task", "RUNNING", "reset", "PENDING", 1)]
    for _ in range(2):  # a refused record is refused every time, not remembered as loaded
        with pytest.raises(IllegalTransition):
            Core(compiled, records=records_from(refused)[0])
