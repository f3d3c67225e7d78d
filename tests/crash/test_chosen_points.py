"""Runs killed at chosen points, in new processes each time, then checked.

Each case names a flow of `tests.crash.flows` and the crashes of its successive processes: right
after a task's RUNNING record (before it executes), inside a task after its side effect (before
its result is recorded), right after a REVERTING record, inside a revert, while a retry is
RETRYING, and twice in a row in the same window. Every planned crash must happen; the run is
resumed in a new process after each, and must end consistent (`tests.crash.invariants`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crash.harness import Crash, drive
from tests.crash.invariants import assert_consistent

CHOSEN: list[tuple[str, list[Crash]]] = [
    # Parallel branches on threads: the other branch is mid-flight when the process dies.
    ("parallel", [Crash("after:l2:RUNNING")]),
    ("parallel", [Crash("execute:r1", "kill")]),
    ("parallel", [Crash("execute:l3"), Crash("execute:l3", "kill")]),
    ("parallel", [Crash("after:flow:RUNNING", "kill"), Crash("after:r2:SUCCESS")]),
    # A retry whose subflow fails once.
    ("retry", [Crash("after:again:RETRYING", "kill")]),
    ("retry", [Crash("execute:c")]),
    ("retry", [Crash("after:c:REVERTING")]),
    ("retry", [Crash("revert:b", "kill")]),
    ("retry", [Crash("after:b:REVERTED"), Crash("after:again:RUNNING", "kill")]),
    # A branch retries while the other runs on.
    ("parallel_retry", [Crash("after:again:RETRYING", "kill")]),
    ("parallel_retry", [Crash("revert:l1"), Crash("after:l2:SUCCESS", "kill")]),
    # A retry that gives up: its subflow, then everything, is undone.
    ("retry_gives_up", [Crash("after:twice:REVERTING")]),
    ("retry_gives_up", [Crash("revert:b", "kill"), Crash("revert:a")]),
    # A failure that reverts everything, across two branches.
    ("revert_all", [Crash("after:r2:RUNNING", "kill")]),
    ("revert_all", [Crash("execute:r2")]),
    ("revert_all", [Crash("after:flow:REVERTING")]),
    ("revert_all", [Crash("after:l1:REVERTING", "kill")]),
    ("revert_all", [Crash("revert:l1"), Crash("revert:a", "kill")]),
    # A revert that raises: the run ends FAILURE, on purpose.
    ("revert_raises", [Crash("revert:b")]),
    ("revert_raises", [Crash("after:b:REVERTING", "kill"), Crash("revert:b")]),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case_name", "crashes"),
    CHOSEN,
    ids=[f"{name}-{'-then-'.join(c.spec for c in crashes)}" for name, crashes in CHOSEN],
)
def test_a_run_killed_at_a_chosen_point_resumes_to_a_consistent_end(
    case_name: str, crashes: list[Crash], backend_url: str, tmp_path: Path
) -> None:
    run = drive(case_name, backend_url, tmp_path, crashes)
    assert [one.died for one in run.rounds] == [True] * len(crashes) + [False], run.describe()
    assert_consistent(run)
