"""Rounds as fresh interpreters: `python -m tests.crash.child ...`, killed, then run again.

The other crash tests fork their rounds from a fork server for speed; these start every round
as a new Python process from the repository root, as a restart after a real crash would, and
check that nothing in the fork server's preloaded state was needed to resume.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crash.harness import Crash, drive
from tests.crash.invariants import assert_consistent


@pytest.mark.slow
def test_a_run_killed_twice_resumes_in_fresh_interpreters(backend_url: str, tmp_path: Path) -> None:
    crashes = [Crash("execute:r1", "kill"), Crash("after:l1:REVERTING")]
    run = drive("revert_all", backend_url, tmp_path, crashes, launcher="interpreter")
    assert [one.died for one in run.rounds] == [True, True, False], run.describe()
    assert "ended REVERTED" in run.rounds[-1].output
    assert_consistent(run)
