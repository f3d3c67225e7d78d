"""`check_owners`: engines contending for one run, the run lease and its fencing token.

The lease rules the stores use (`provenflow.persistence._lease`) are explored with two or three
engines on a simulated clock; each planted bug in those rules is found, with the shortest trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import provenflow as pf
from provenflow.errors import UsageError
from provenflow.persistence import _lease
from provenflow.persistence._lease import Grant, Lease, Owner, Refusal
from provenflow.verification import OwnersReport, check_owners


class Give(pf.Task):
    def execute(self) -> int:
        return 1


class Add(pf.Task):
    def execute(self, a: int) -> int:
        return a + 1


class Refuse(pf.Task):
    def execute(self, a: int) -> None:
        raise RuntimeError("refused")

    def revert(self, a: int, **_: Any) -> None:
        pass


def linear() -> pf.Flow:
    return pf.LinearFlow("pair").add(Give("a", provides="a"), Add("b"))


def failing() -> pf.Flow:
    return pf.LinearFlow("pair").add(Give("a", provides="a"), Refuse("b"))


def test_two_engines_on_one_run_never_both_write() -> None:
    report = check_owners(linear)
    assert report.ok and report.complete, report
    assert report.states_explored > 100
    assert "complete, no violation" in str(report)


def test_a_run_that_reverts_under_two_engines_keeps_one_owner() -> None:
    report = check_owners(failing, expiries=2)
    assert report.ok and report.complete, report


def test_a_small_bound_says_the_search_is_incomplete() -> None:
    report = check_owners(linear, max_states=20)
    assert report.ok and not report.complete
    assert "INCOMPLETE" in str(report)


def _planted(monkeypatch: pytest.MonkeyPatch, name: str, bug: Callable[..., Any]) -> OwnersReport:
    monkeypatch.setattr(_lease, name, bug)
    return check_owners(linear)


def test_a_write_that_skips_the_token_check_is_found_with_the_shortest_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def skips_token(current: Lease | None, token: int | None) -> Refusal | None:
        return None

    report = _planted(monkeypatch, "check_write", skips_token)
    [violation] = report.violations
    assert violation.rule == "fenced"
    assert violation.trace == (
        "A loads the run (version 0)",
        "A takes the run's lease (token 1)",
        "B loads the run (version 0)",
        "the clock reaches 30: A's lease (token 1) expires while A is paused",
        "B takes the run's lease over from A (token 1 -> 2)",
        "A writes [flow RUNNING] with token 1",
    )
    assert "A's write with token 1 was kept after B was granted token 2" in str(violation)


def test_a_claim_that_ignores_expiry_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _lease.acquire

    def ignores_expiry(
        current: Lease | None, requester: Owner, now: float, ttl: float, gone: Any = None
    ) -> Grant | Refusal:
        if current is None or not current.held:
            return real(current, requester, now, ttl)
        return Grant(Lease(requester, current.token + 1, now + ttl), taken_over=current)

    report = _planted(monkeypatch, "acquire", ignores_expiry)
    [violation] = report.violations
    assert violation.rule == "one owner"
    assert len(violation.trace) == 4  # A loads, A leases, B loads, B is granted
    assert violation.trace[-1] == "B is granted the run's lease (token 2)"


def test_a_takeover_that_keeps_the_old_token_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _lease.acquire

    def keeps_token(
        current: Lease | None, requester: Owner, now: float, ttl: float, gone: Any = None
    ) -> Grant | Refusal:
        decided = real(current, requester, now, ttl)
        if isinstance(decided, Grant) and decided.taken_over is not None:
            old = decided.taken_over
            return Grant(Lease(requester, old.token, now + ttl), taken_over=old)
        return decided

    report = _planted(monkeypatch, "acquire", keeps_token)
    [violation] = report.violations
    assert violation.rule == "fencing tokens"
    assert "B was granted token 1, not above token 1 granted to A before" in violation.message


def test_a_renewal_without_the_holder_check_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A renewal that takes any token back lets a paused owner revive a lease taken over."""

    def renews_anything(
        current: Lease | None, owner: Owner, token: int, now: float, ttl: float
    ) -> Lease | Refusal:
        if current is None:
            return Refusal("unleased", None)
        return Lease(owner, token, now + ttl)

    report = _planted(monkeypatch, "renew", renews_anything)
    [violation] = report.violations
    assert violation.rule in {"fenced", "fencing tokens", "one owner"}
    assert any("renews its lease" in line for line in violation.trace)


def test_a_release_by_anyone_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A release that does not check the holder lets a stale owner free the new owner's lease."""

    def releases_anything(current: Lease | None, owner: Owner, token: int) -> Lease | Refusal:
        if current is None:
            return Refusal("unleased", None)
        return Lease(current.owner, current.token, current.expires_at, held=False)

    monkeypatch.setattr(_lease, "release", releases_anything)
    report = check_owners(linear, engines=3, expiries=1)
    [violation] = report.violations
    assert violation.rule == "one owner"
    assert violation.trace[-1] == "C is granted the run's lease (token 3)"


@pytest.mark.parametrize(
    "bounds",
    [{"engines": 0}, {"workers": 0}, {"max_states": 0}, {"ttl": 0}, {"expiries": -1}],
)
def test_bounds_below_their_minimum_are_refused(bounds: dict[str, int]) -> None:
    with pytest.raises(UsageError, match="check_owners"):
        check_owners(linear, **bounds)
