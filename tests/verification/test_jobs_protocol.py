"""`check_board`: conductors sharing one job board, the claim protocol model-checked.

The board model applies the boards' own decisions (`provenflow.jobs._decide` on the leases of
`provenflow.persistence._lease`) and the conductor's own dispatch count; each planted bug in
them is found, with the shortest trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from provenflow.errors import UsageError
from provenflow.fsm.job import Event, State
from provenflow.jobs import _conductor, _decide
from provenflow.jobs._records import Claim, Job
from provenflow.persistence import Owner, _lease
from provenflow.persistence._lease import Lease, Refusal
from provenflow.verification import BoardReport, BoardViolation, check_board

STALE_COMPLETE = (
    "A claims j1 (token 1, until 30)",
    "the clock reaches 30: A's claim on j1 (token 1) expires while A is paused",
    "B claims j1 (token 2, until 60)",
    "A completes j1 (token 1)",
)


def test_two_conductors_crashes_stops_and_expiries_keep_the_protocol() -> None:
    report = check_board()
    assert report.ok and report.complete, report
    assert report.states_explored > 1000
    assert "complete, no violation: 2 conductors, 1 jobs" in str(report)


def test_three_conductors_keep_the_protocol() -> None:
    report = check_board(conductors=3)
    assert report.ok and report.complete, report


def test_two_jobs_keep_the_protocol() -> None:
    report = check_board(jobs=2, stops=0, max_dispatches=1)
    assert report.ok and report.complete, report
    assert "2 conductors, 2 jobs" in str(report)


def test_a_small_bound_says_the_search_is_incomplete() -> None:
    report = check_board(max_states=20)
    assert report.ok and not report.complete
    assert "INCOMPLETE" in str(report)


def _planted(
    monkeypatch: pytest.MonkeyPatch, target: object, name: str, bug: Callable[..., Any]
) -> BoardViolation:
    monkeypatch.setattr(target, name, bug)
    report: BoardReport = check_board()
    [violation] = report.violations
    return violation


def test_a_renewal_without_the_token_check_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    def renews_anything(
        current: Lease | None, owner: Owner, token: int, now: float, ttl: float
    ) -> Lease | Refusal:
        if current is None:
            return Refusal("unleased", None)
        return replace(current, expires_at=max(current.expires_at, now + ttl))

    violation = _planted(monkeypatch, _lease, "renew", renews_anything)
    assert violation.rule == "stale token"
    assert violation.trace == (*STALE_COMPLETE[:3], "A renews its claim on j1 (until 60)")
    assert "A's renewal with token 1 was kept after B was granted token 2" in str(violation)


def test_a_claim_that_ignores_expiry_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    violation = _planted(monkeypatch, Lease, "live", lambda self, now: False)
    assert violation.rule == "one owner"
    assert violation.trace == ("A claims j1 (token 1, until 30)", "B claims j1 (token 2, until 30)")
    assert "while A's claim (token 1) lasts until 30 (now 0)" in violation.message


def test_a_completion_without_ownership_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _decide.finish

    def completes_for_anyone(job: Job, claim: Claim, event: Event, now: float, **kw: Any) -> Job:
        if event is Event.COMPLETE and job.lease is not None:  # as if the caller held it
            claim = Claim(claim.job, job.lease.owner, job.lease.token, claim.expires_at)
        return real(job, claim, event, now, **kw)

    violation = _planted(monkeypatch, _decide, "finish", completes_for_anyone)
    assert violation.rule == "stale token"
    assert violation.trace == STALE_COMPLETE


def test_an_abandon_or_trash_with_a_stale_token_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _decide.finish

    def ends_for_anyone(job: Job, claim: Claim, event: Event, now: float, **kw: Any) -> Job:
        if event is not Event.COMPLETE and job.lease is not None:
            claim = Claim(claim.job, job.lease.owner, job.lease.token, claim.expires_at)
        return real(job, claim, event, now, **kw)

    violation = _planted(monkeypatch, _decide, "finish", ends_for_anyone)
    assert violation.rule == "stale token"
    assert violation.trace[:3] == STALE_COMPLETE[:3]
    assert len(violation.trace) == 4
    assert violation.trace[3].startswith("A ") and "abandons j1 (token 1)" in violation.trace[3]


def test_a_release_by_anyone_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    def releases_anything(current: Lease | None, owner: Owner, token: int) -> Lease | Refusal:
        if current is None:
            return Refusal("unleased", None)
        return replace(current, held=False)

    violation = _planted(monkeypatch, _lease, "release", releases_anything)
    assert violation.rule == "stale token"
    assert violation.trace == STALE_COMPLETE


def test_a_claim_that_keeps_the_old_token_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _decide.claim_job

    def keeps_token(job: Job, owner: Owner, now: float, ttl: float) -> tuple[Job, Claim]:
        claimed, claim = real(job, owner, now, ttl)
        if job.lease is None:
            return claimed, claim
        assert claimed.lease is not None
        lease = replace(claimed.lease, token=job.lease.token)
        claimed = replace(claimed, lease=lease)
        return claimed, Claim(claimed, owner, lease.token, lease.expires_at)

    violation = _planted(monkeypatch, _decide, "claim_job", keeps_token)
    assert violation.rule == "fencing tokens"
    assert violation.trace[-1] == "A claims j1 (token 1, until 30)"
    assert len(violation.trace) == 3
    assert "not above token 1 granted to A before" in violation.message


def test_a_dispatch_count_that_is_ignored_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    violation = _planted(monkeypatch, _conductor, "_dispatches", lambda claim: 1)
    assert violation.rule == "poison"
    assert len(violation.trace) == 4
    assert violation.trace[-1] == "B fails to dispatch and abandons j1 (token 2)"
    assert "dispatched 2 times (max_dispatches 2)" in violation.message


def test_a_claim_that_never_expires_leaves_a_job_unfinished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dead conductor's claim that never expires strands its job (TaskFlow's boards)."""
    real = Job.ready

    def never_expires(self: Job, now: float) -> bool:
        return self.state is not State.CLAIMED and real(self, now)

    violation = _planted(monkeypatch, Job, "ready", never_expires)
    assert violation.rule == "finished"
    assert violation.trace == (
        "A claims j1 (token 1, until 30)",
        "A crashes; its claim on j1 (token 1) is left to expire",
        "time passes to 30",
    )
    assert "j1 is left CLAIMED with no move left" in violation.message


@pytest.mark.parametrize(
    "bounds",
    [{"conductors": 0}, {"jobs": 0}, {"max_dispatches": 0}, {"max_states": 0}, {"crashes": -1}],
)
def test_bounds_below_their_minimum_are_refused(bounds: dict[str, int]) -> None:
    with pytest.raises(UsageError, match="check_board"):
        check_board(**bounds)
