"""The model checker on the values a resumed run gives its atoms (issue 13's retry flow)."""

from __future__ import annotations

from typing import Any

import pytest

import provenflow as pf
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
