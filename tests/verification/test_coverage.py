"""Transition coverage: the recorder, the plugin's coverage options, and edges few tests reach.

The last tests drive the engine through table edges that the rest of the suite takes rarely or
not at all: a retry ignored by a decider and reset by an outer retry, a retry whose revert
raises, a flow that finishes or fails while it is being suspended, and (through the model
checker, over the real core and resume path) the edges only a crash or a suspension at the
right moment reaches. Each asserts that the engine took its edges, so the strict coverage of
the whole suite does not hang on a test elsewhere that happens to take them.
"""

from __future__ import annotations

import contextlib
import json
from importlib.metadata import entry_points
from typing import Any

import pytest

import provenflow as pf
from provenflow.errors import IllegalTransition
from provenflow.fsm import EntityState, Lifecycle, task
from provenflow.verification import _lifecycles
from provenflow.verification._coverage import TransitionRecorder, edges_of
from tests.helpers import Journal, make_task


def plugin_args() -> list[str]:
    """`-p` for the plugin, unless the installed entry point already loads it."""
    if any(point.name == "provenflow" for point in entry_points(group="pytest11")):
        return []
    return ["-p", "provenflow.verification._pytest"]


def run_one_task() -> None:
    pf.run(pf.LinearFlow("one").add(pf.task(lambda: 1, name="only", provides="x")))


# -- the recorder ---------------------------------------------------------------------------------


def test_the_recorder_sees_what_the_engine_takes_and_puts_apply_back() -> None:
    before = Lifecycle.__dict__["apply"]
    with TransitionRecorder() as recorder:
        assert Lifecycle.__dict__["apply"] is not before
        run_one_task()
    assert Lifecycle.__dict__["apply"] is before
    taken = recorder.coverage().driven
    assert {
        ("task", "PENDING", "start", "RUNNING"),
        ("task", "RUNNING", "succeed", "SUCCESS"),
        ("flow", "PENDING", "start", "RUNNING"),
        ("flow", "RUNNING", "succeed", "SUCCESS"),
        ("engine", "PENDING", "start", "RESUMING"),
        ("engine", "ANALYZING", "succeed", "SUCCESS"),
    } <= taken
    assert taken <= set(edges_of())


def test_edges_applied_by_hand_are_not_covered() -> None:
    with TransitionRecorder() as recorder:
        task.LIFECYCLE.apply(task.State.PENDING, task.Event.START)
        EntityState(task.LIFECYCLE, "t").apply(task.Event.START)
        EntityState.replay(task.LIFECYCLE, ["start", "succeed"], "t")
    coverage = recorder.coverage()
    assert coverage.driven == frozenset()
    assert coverage.direct == {
        ("task", "PENDING", "start", "RUNNING"),
        ("task", "RUNNING", "succeed", "SUCCESS"),
    }


def test_a_refused_event_raises_as_before_and_is_not_recorded() -> None:
    holder = EntityState(task.LIFECYCLE, "t")
    with TransitionRecorder() as recorder, pytest.raises(IllegalTransition) as caught:
        holder.apply(task.Event.REVERTED)
    assert holder.state == task.State.PENDING
    assert caught.value.event == "reverted"
    assert recorder.coverage() == type(recorder.coverage())()


def test_nothing_is_recorded_after_stop_and_a_recorder_starts_once() -> None:
    recorder = TransitionRecorder()
    recorder.start()
    with pytest.raises(RuntimeError, match="already started"):
        recorder.start()
    recorder.stop()
    run_one_task()
    assert not recorder.coverage().driven


def test_recorders_nest_and_one_stopped_out_of_order_passes_calls_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = Lifecycle.__dict__["apply"]
    monkeypatch.setattr(Lifecycle, "apply", before)  # put back after the test, whatever happens
    outer, inner = TransitionRecorder(), TransitionRecorder()
    outer.start()
    inner.start()
    outer.stop()  # out of order: its wrapper stays under inner's, passing calls through
    run_one_task()
    inner.stop()
    assert Lifecycle.__dict__["apply"] is not before  # outer's inert wrapper is still there
    assert inner.coverage().driven
    assert not outer.coverage().driven


def test_an_edge_keeps_the_context_it_was_first_taken_in() -> None:
    with TransitionRecorder() as recorder:
        recorder.context = "first"
        run_one_task()
        recorder.context = "second"
        run_one_task()
    coverage = recorder.coverage()
    assert set(coverage.taken_by.values()) == {"first"}


def test_coverage_by_lifecycle_and_as_json() -> None:
    with TransitionRecorder() as recorder:
        run_one_task()
        task.LIFECYCLE.apply(task.State.REVERTED, task.Event.RESET)
    coverage = recorder.coverage()
    listed = {("task", "IGNORE", "reset"): "because", ("task", "RUNNING", "start"): "a typo"}
    found = {entry.name: entry for entry in coverage.by_lifecycle(listed)}
    assert list(found) == ["task", "retry", "flow", "engine", "job"]
    assert found["task"].total == len(list(task.LIFECYCLE.edges()))
    assert ("task", "PENDING", "start", "RUNNING") in found["task"].edges("covered")
    assert found["task"].edges("unreachable") == [("task", "IGNORE", "reset", "PENDING")]
    assert ("task", "REVERTED", "reset", "PENDING") in found["task"].edges("uncovered")
    assert found["task"].applied_directly == {("task", "REVERTED", "reset", "PENDING")}
    data = json.loads(json.dumps(coverage.to_json(listed)))
    edges = {(e["state"], e["event"]): e for e in data["lifecycles"]["task"]["edges"]}
    assert edges["IGNORE", "reset"] == {
        "state": "IGNORE",
        "event": "reset",
        "target": "PENDING",
        "status": "unreachable",
        "reason": "because",
        "first_taken_by": None,
        "applied_directly": False,
    }
    assert edges["REVERTED", "reset"]["applied_directly"] is True
    counts = {k: data["lifecycles"]["task"][k] for k in ("covered", "unreachable", "uncovered")}
    assert sum(counts.values()) == data["lifecycles"]["task"]["total"]
    assert ["task", "PENDING", "start", "RUNNING"] in data["driven"]


def test_listed_but_covered_names_the_edges_the_list_is_wrong_about() -> None:
    with TransitionRecorder() as recorder:
        run_one_task()
    listed = {("task", "PENDING", "start"): "wrong", ("task", "IGNORE", "reset"): "right"}
    assert recorder.coverage().listed_but_covered(listed) == [
        ("task", "PENDING", "start", "RUNNING")
    ]


# -- the plugin's options -------------------------------------------------------------------------

USER_TESTS = """
import provenflow as pf

def test_one_task():
    pf.run(pf.LinearFlow("one").add(pf.task(lambda: 1, name="only", provides="x")))
"""


def test_coverage_prints_a_summary_and_writes_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage=out/coverage.json")
    result.assert_outcomes(passed=1)
    assert result.ret == 0  # not strict: uncovered edges are reported, not failed
    result.stdout.fnmatch_lines(
        [
            "*provenflow transition coverage*",
            "*subprocesses not recorded*",
            "  task     2/13 edges covered, 0 listed unreachable, 11 uncovered",
            "*uncovered: RUNNING --fail--> FAILURE",
            "  job      0/7  edges covered, 0 listed unreachable, 7 uncovered",
            "written to out/coverage.json",
        ]
    )
    data = json.loads((pytester.path / "out" / "coverage.json").read_text())
    start = data["lifecycles"]["task"]["edges"][0]
    assert (start["event"], start["status"]) == ("start", "covered")
    assert start["first_taken_by"] == "test_user.py::test_one_task"
    assert data["ok"] is False


def test_without_the_options_nothing_is_wrapped_or_printed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    before = Lifecycle.__dict__["apply"]
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(passed=1)
    assert "transition coverage" not in result.stdout.str()
    assert Lifecycle.__dict__["apply"] is before


def test_strict_fails_the_session_naming_each_uncovered_edge(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage-strict")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "lifecycle checks FAILED (strict: the session fails):",
            "  task: every edge is taken by provenflow, or listed in UNREACHABLE with a reason",
            "      RUNNING --fail--> FAILURE was never taken",
        ]
    )


def test_strict_passes_when_every_edge_is_taken_or_listed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TransitionRecorder() as recorder:
        run_one_task()
    taken = recorder.coverage().driven
    rest = {edge[:3]: "not taken by this test file" for edge in edges_of() if edge not in taken}
    monkeypatch.setattr(_lifecycles, "UNREACHABLE", rest)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage-strict")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    assert "FAILED" not in result.stdout.str()


def test_strict_fails_when_an_edge_listed_unreachable_is_taken(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = dict(_lifecycles.UNREACHABLE)
    listed["task", "PENDING", "start"] = "claimed unreachable"
    monkeypatch.setattr(_lifecycles, "UNREACHABLE", listed)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*PENDING --start--> RUNNING was taken, yet is listed: claimed unreachable"]
    )


def test_a_failing_test_keeps_its_own_exit_status(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS + "\ndef test_broken():\n    assert False\n")
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage-strict")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_collecting_only_is_not_a_coverage_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage-strict", "--collect-only")
    assert result.ret == 0


def test_a_path_must_be_a_json_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage", "test_user.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*PATH must be a .json file*"])
    assert "def test_one_task" in (pytester.path / "test_user.py").read_text()


def test_a_path_that_cannot_be_written_fails_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage=test_user.py/c.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["could not write test_user.py/c.json: *"])


def test_coverage_works_in_a_pytest_subprocess(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(*plugin_args(), "--provenflow-coverage=c.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["  task     2/13 edges covered*"])
    assert json.loads((pytester.path / "c.json").read_text())["driven"]


# -- edges the rest of the suite does not take ---------------------------------------------------


def test_a_retry_ignored_by_a_decider_is_reset_by_an_outer_retry() -> None:
    journal = Journal()
    verdicts = iter([False, True])
    fails = iter([True, False])
    source, target = make_task(journal, "source"), make_task(journal, "target")
    check = make_task(journal, "check", fail=lambda: next(fails))
    inner = pf.LinearFlow("inner", retry=pf.Times(2, name="inner_again")).add(target)
    graph = pf.GraphFlow("g", retry=pf.Times(2, name="again")).add(source, inner, check)
    graph.link(source, inner, decider=lambda history: next(verdicts), depth=pf.Depth.ATOM)
    graph.link(inner, check)
    engine = pf.Engine(graph)
    with TransitionRecorder() as recorder:
        engine.run()
    taken = recorder.coverage().driven
    assert engine.state == "SUCCESS"
    assert journal.actions("execute") == ["source", "check", "source", "target", "check"]
    assert [t.event for t in engine.history() if t.atom == "inner_again"][:3] == [
        "ignore",
        "reset",
        "start",
    ]
    assert ("retry", "PENDING", "ignore", "IGNORE") in taken
    assert ("retry", "IGNORE", "reset", "PENDING") in taken


class CarelessRetry(pf.Retry):
    """Gives up at once; its revert raises."""

    def execute(self, history: Any) -> int:
        return len(history) + 1

    def on_failure(self, history: Any) -> pf.Decision:
        return pf.Decision.REVERT

    def revert(self, history: Any) -> None:
        raise RuntimeError("the retry's revert failed")


def test_a_retry_whose_revert_raises_ends_revert_failure() -> None:
    journal = Journal()
    sub = pf.LinearFlow("sub", retry=CarelessRetry(name="careless")).add(
        make_task(journal, "work", fail=True)
    )
    engine = pf.Engine(pf.LinearFlow("outer").add(sub))
    with TransitionRecorder() as recorder, pytest.raises(Exception, match="failed"):
        engine.run()
    assert engine.state == "FAILURE"
    assert engine.atom_state("careless") == "REVERT_FAILURE"
    assert ("retry", "REVERTING", "revert_failed", "REVERT_FAILURE") in recorder.coverage().driven


def test_a_flow_that_finishes_while_it_is_being_suspended_succeeds() -> None:
    journal = Journal()
    engine = pf.Engine(pf.LinearFlow("one").add(make_task(journal, "only")))
    with TransitionRecorder() as recorder:
        steps = engine.run_iter()
        state = next(steps)
        with contextlib.suppress(StopIteration):
            while True:  # ask for suspension as the only task is scheduled
                state = steps.send(state == "SCHEDULING")
    assert engine.state == "SUCCESS"
    assert [t.event for t in engine.history() if t.atom is None] == [
        "start",
        "suspend",
        "succeed",
    ]
    assert ("flow", "SUSPENDING", "succeed", "SUCCESS") in recorder.coverage().driven


def test_a_failure_while_it_is_being_suspended_reverts_the_flow() -> None:
    journal = Journal()
    engine = pf.Engine(pf.LinearFlow("one").add(make_task(journal, "only", fail=True)))
    with TransitionRecorder() as recorder, pytest.raises(ValueError, match="only failed"):
        steps = engine.run_iter()
        state = next(steps)
        with contextlib.suppress(StopIteration):
            while True:  # ask for suspension as the only task is scheduled
                state = steps.send(state == "SCHEDULING")
    assert engine.state == "REVERTED"
    assert [t.event for t in engine.history() if t.atom is None] == [
        "start",
        "suspend",
        "fail",
        "reverted",
    ]
    assert ("flow", "SUSPENDING", "fail", "REVERTING") in recorder.coverage().driven


def make_parallel_retry() -> pf.Flow:
    """A task beside a retried subflow: one can fail while the other runs or retries."""
    a = pf.task(lambda: 1, name="a", revert=lambda **_: None)
    b = pf.task(lambda: 2, name="b", revert=lambda **_: None)
    sub = pf.LinearFlow("sub", retry=pf.Times(2, name="again")).add(b)
    return pf.UnorderedFlow("parallel").add(a, sub)


@pytest.mark.slow
def test_crashes_and_a_suspension_reach_the_resume_edges() -> None:
    """Driven by the model checker over the real core and resume path (about 2 s)."""
    with TransitionRecorder() as recorder:
        report = pf.verification.check(make_parallel_retry, crashes=1, suspends=1)
    assert report.ok, str(report)
    taken = recorder.coverage().driven
    assert {
        # a crash while an atom ran and another failed: resume reverts it at once
        ("task", "RUNNING", "revert", "REVERTING"),
        ("retry", "RUNNING", "revert", "REVERTING"),
        # a failure beside the subflow cancels the retry's planned re-run
        ("retry", "RETRYING", "revert", "REVERTING"),
        # a crash while suspending: the requester died, the run goes on
        ("flow", "SUSPENDING", "crash_recovered", "RUNNING"),
    } <= taken
