"""The model checker on the values a resumed run gives its atoms (issue 13's retry flow)."""

from __future__ import annotations

from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import Core, Work
from provenflow.errors import MissingValue
from provenflow.verification import check
from tests.helpers import keep_only_successes_values


class Login(pf.Task):
    def execute(self) -> str:
        return "token-7"


class Call(pf.Task):
    def execute(self, token: str, attempt: int) -> None:
        if attempt == 1:
            raise ConnectionError("the first call times out")

    def revert(self, token: str, **_: Any) -> None:
        pass


def login_then_retried_call() -> pf.Flow:
    calls = pf.LinearFlow("calls", retry=pf.Times(2, name="twice", provides="attempt"))
    login = Login(name="login", provides="token")
    return pf.LinearFlow("api").add(login, calls.add(Call(name="call")))


def test_the_retried_call_is_sound() -> None:
    report = check(login_then_retried_call, crashes=1)
    assert report.ok, str(report)


def test_a_resume_that_keeps_only_successes_values_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keep_only_successes_values(monkeypatch)
    report = check(login_then_retried_call, crashes=1)
    assert not report.ok
    violation = report.violations[0]
    assert "call: MissingValue: atom 'call' needs 'attempt' from 'twice' to revert" in (
        violation.message
    )
    assert "CRASH: the process dies; memory is lost" in violation.steps
    assert "crash before writing [call REVERTING]" in violation.steps


def call_revert_without_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant the rest of issue 13's bug: a revert whose value is missing is called anyway,
    with its arguments left out (as the core did before it refused to)."""
    start_revert = Core._start_revert

    def without_its_values(core: Core, name: str) -> Work | None:
        arguments = core.arguments

        def lenient(atom: str) -> dict[str, Any]:
            try:
                return arguments(atom)
            except MissingValue:
                return {}

        core.arguments = lenient  # type: ignore[method-assign]
        try:
            return start_revert(core, name)
        finally:
            del core.arguments

    monkeypatch.setattr(Core, "_start_revert", without_its_values)


@pytest.mark.parametrize("snapshots", [False, True])
def test_a_resume_whose_lost_value_only_shows_at_the_revert_is_caught(
    monkeypatch: pytest.MonkeyPatch, snapshots: bool
) -> None:
    # The old engine: the resumed core has every atom's state, attempt and outcome right and
    # only the RETRYING retry's value missing, so `call`'s revert runs without `token`. A
    # state key without the values atoms provide merged that state with the healthy one
    # reached without a crash, and the search said "complete, no violation".
    keep_only_successes_values(monkeypatch)
    call_revert_without_its_values(monkeypatch)
    report = check(login_then_retried_call, crashes=1, snapshots=snapshots)
    assert not report.ok
    (violation,) = report.violations
    # the record rule sees the revert handed too little before it runs (and raises TypeError)
    assert violation.rule == "record-values"
    assert "revert of 'call' is handed no 'token', but the record holds" in violation.message
    steps = list(violation.steps)
    crash = steps.index("CRASH: the process dies; memory is lost")
    assert steps[crash - 1] == "crash before writing [call REVERTING]"
    assert "record twice: SUCCESS --retry--> RETRYING" in steps[:crash]


def test_an_atom_that_never_ran_for_want_of_an_ignored_value_is_reverted_without_a_call() -> None:
    # `b` is ignored by its decider, so `c`, which needs what `b` provides, fails before its
    # execute runs; the engine marks it REVERTED without calling a revert (nothing was done).
    # The record rules take that for what it is, not for a REVERTED no revert returned.
    def make() -> pf.Flow:
        a = pf.task(lambda: 1, name="a", provides="x")
        b = pf.task(lambda x: 2, name="b", provides="y")
        inner = pf.GraphFlow("inner").add(a, b).link(a, b, decider=lambda _: False, depth="FLOW")
        return pf.LinearFlow("g").add(inner, pf.task(lambda y: None, name="c"))

    report = check(make, crashes=1)
    assert report.ok, report.violations[:1]
