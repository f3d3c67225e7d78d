"""`verify_lifecycles()`: the table checks as a report, cross-checked with recorded runs."""

from __future__ import annotations

from typing import Any

import pytest

import provenflow.jobs
from provenflow.fsm import CHECKS, LIFECYCLES, Lifecycle
from provenflow.verification._coverage import TransitionCoverage, edges_of
from provenflow.verification._lifecycles import (
    EDGES_TAKEN,
    LISTED_ARE_EDGES,
    LISTED_NOT_TAKEN,
    TAKEN_ARE_EDGES,
    UNREACHABLE,
    verify_lifecycles,
)


def every_edge_but_listed() -> TransitionCoverage:
    return TransitionCoverage(frozenset(e for e in edges_of() if e[:3] not in UNREACHABLE))


def failed(report: Any) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(r.lifecycle, r.check): r.problems for r in report.failures}


def test_without_coverage_every_table_check_passes_and_the_cross_checks_do_not_run() -> None:
    report = verify_lifecycles()
    assert report.ok
    names = [check.name for check in CHECKS]
    for lifecycle in LIFECYCLES:
        results = {r.check: r.passed for r in report.results if r.lifecycle == lifecycle}
        assert list(results) == [
            *names,
            LISTED_ARE_EDGES,
            TAKEN_ARE_EDGES,
            EDGES_TAKEN,
            LISTED_NOT_TAKEN,
        ]
        assert all(results[name] is True for name in [*names, LISTED_ARE_EDGES])
        assert {results[c] for c in (TAKEN_ARE_EDGES, EDGES_TAKEN, LISTED_NOT_TAKEN)} == {None}


def test_the_report_prints_lifecycle_by_lifecycle() -> None:
    text = str(verify_lifecycles())
    assert [line for line in text.splitlines() if not line.startswith(" ")] == [
        "task:",
        "retry:",
        "flow:",
        "engine:",
        "job:",
        "all checks passed",
    ]
    assert "  ok      every state is reachable from the initial state" in text
    assert "  not run every transition taken is an edge of the table" in text


def test_a_failed_table_check_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Lifecycle.check_results

    def broken(self: Lifecycle[Any, Any]) -> list[tuple[str, bool]]:
        results = real(self)
        return [(name, ok and self.name != "flow") for name, ok in results]

    monkeypatch.setattr(Lifecycle, "check_results", broken)
    report = verify_lifecycles()
    assert not report.ok
    assert {lifecycle for lifecycle, _ in failed(report)} == {"flow"}
    assert "FAILED  every event is used" in str(report)
    assert str(report).endswith(f"{len(CHECKS)} check(s) FAILED")


def test_every_edge_taken_or_listed_passes() -> None:
    report = verify_lifecycles(every_edge_but_listed())
    assert report.ok, str(report)
    assert all(result.passed is True for result in report.results)


def test_an_edge_neither_taken_nor_listed_fails_naming_it() -> None:
    missing = ("flow", "SUSPENDING", "succeed", "SUCCESS")
    coverage = every_edge_but_listed()
    coverage = TransitionCoverage(coverage.driven - {missing}, frozenset({missing}))
    assert failed(verify_lifecycles(coverage)) == {
        ("flow", EDGES_TAKEN): (
            "SUSPENDING --succeed--> SUCCESS was never taken (only applied by hand)",
        )
    }


def test_a_listed_edge_that_was_taken_fails_naming_the_reason() -> None:
    listed = {("job", "DRAFT", "post"): "nothing posts jobs"}
    problems = failed(verify_lifecycles(every_edge_but_listed(), unreachable=listed))
    assert problems == {
        ("job", LISTED_NOT_TAKEN): (
            "DRAFT --post--> UNCLAIMED was taken, yet is listed: nothing posts jobs",
        )
    }


def test_a_recorded_transition_outside_the_table_fails() -> None:
    coverage = every_edge_but_listed()
    coverage = TransitionCoverage(coverage.driven, frozenset({("task", "SUCCESS", "start", "X")}))
    assert failed(verify_lifecycles(coverage)) == {
        ("task", TAKEN_ARE_EDGES): ("SUCCESS --start--> X is not in the table",)
    }


def test_a_bad_unreachable_list_is_refused_entry_by_entry() -> None:
    listed = {
        ("task", "SUCCESS", "start"): "not an edge",
        ("task", "PENDING", "ignore"): "  ",
        ("task", "NOWHERE", "start"): "no such state",
        ("conductor", "IDLE", "claim"): "no such lifecycle",
    }
    report = verify_lifecycles(unreachable=listed)
    assert failed(report) == {
        ("task", LISTED_ARE_EDGES): (
            "SUCCESS --start--> is not an edge of the task table",
            "PENDING --ignore--> has no reason",
            "NOWHERE --start--> is not an edge of the task table",
        ),
        ("conductor", "is a lifecycle"): ("no lifecycle 'conductor'",),
    }


def test_unreachable_lists_nothing_since_the_job_boards_drive_the_job_table() -> None:
    assert dict(UNREACHABLE) == {}, "every edge is taken by provenflow's code (tests/jobs too)"
    assert provenflow.jobs.__all__, "provenflow.jobs drives the job lifecycle"
    assert verify_lifecycles().ok
