"""A store that crashes before its Nth write, for every N of a run, on a real SQLite file.

`CrashingStorage` (tests/helpers.py) wraps the real `SqlStorage` and raises before its Nth
transition write (each transition its own transaction), leaving the database as a process that
died there would. The run is then resumed by `Engine.resume` on a new store object opened on the
same file, as a new process would, and checked (`tests.crash.invariants`). The memory-store
counterpart is in tests/engine/test_resume.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crash.conftest import sqlite_url
from tests.crash.flows import CASES
from tests.crash.harness import drive_in_process, writes_of
from tests.crash.invariants import assert_consistent

WRITES = {name: writes_of(name) for name in CASES}
POINTS = [(name, n) for name in sorted(CASES) for n in range(1, WRITES[name] + 1)]


@pytest.mark.parametrize(("case_name", "crash_at"), POINTS)
def test_a_crash_before_any_write_resumes_from_a_new_store_to_a_consistent_end(
    case_name: str, crash_at: int, tmp_path: Path
) -> None:
    run = drive_in_process(case_name, sqlite_url(tmp_path), tmp_path, [crash_at])
    if CASES[case_name].executor == "serial":  # threads: a run may write fewer
        assert run.rounds[0].died, run.describe()
    assert_consistent(run)
