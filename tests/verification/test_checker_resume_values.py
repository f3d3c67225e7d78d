"""The bug that a state key without values hid: a resume that drops a retry's value.

`login` provides `token`; a subflow under `Times(2, provides="attempt")` runs `call`, which
fails its first attempt and whose revert takes `token` by name. A crash just before `call`'s
REVERTING record (the retry left RETRYING) used to resume into a core without the retry's
`attempt`, and the revert of `call` was called without its arguments. The state after that
resume and the healthy one differ only in the values atoms provide: a key that left them out
merged the two, and `check` said "complete, no violation".
"""

from __future__ import annotations

from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import _core
from provenflow.verification import check


class Call(pf.Task):
    """Fails its first attempt; its revert needs `token` by name."""

    def execute(self, token: str, attempt: int) -> str:
        if attempt == 1:
            raise RuntimeError("the first attempt fails")
        return f"{token}:{attempt}"

    def revert(self, token: str, **_: Any) -> None:
        assert token == "tok"


def make_retry_flow() -> pf.Flow:
    sub = pf.LinearFlow("sub", retry=pf.Times(2, provides="attempt", name="again"))
    login = pf.task(lambda: "tok", name="login", provides="token")
    return pf.LinearFlow("main").add(login, sub.add(Call(name="call")))


@pytest.fixture
def resume_drops_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant the old resume back: values are rebuilt only for atoms recorded SUCCESS."""
    load_records = _core.load_records

    def only_successes(core: _core.Core, records: Any) -> None:
        load_records(core, records)
        for name in list(core.provided):
            if core.states[name].state != "SUCCESS":
                del core.provided[name]

    monkeypatch.setattr(_core, "load_records", only_successes)


@pytest.mark.parametrize("snapshots", [False, True])
@pytest.mark.usefixtures("resume_drops_values")
def test_the_checker_finds_a_resume_that_drops_a_retrys_value(snapshots: bool) -> None:
    report = check(make_retry_flow, crashes=1, snapshots=snapshots)
    assert not report.ok, str(report)
    (violation,) = report.violations
    assert "call" in violation.message
    steps = list(violation.steps)
    crash = steps.index("CRASH: the process dies; memory is lost")
    assert "record again: SUCCESS --retry--> RETRYING" in steps[:crash]
    assert steps[crash - 1] == "crash before writing [call REVERTING]"
