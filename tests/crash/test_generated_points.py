"""Runs killed where Hypothesis chooses, in new processes each time, then checked.

A plan is one to three crashes, one per process: after the Nth transition that process
records, or inside a task's execute or revert after its side effect; each by `os._exit` or
SIGKILL. A crash that is never reached lets its process end the run. Generation is
derandomized, so CI sees the same plans every time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from provenflow.engine import load_factory
from provenflow.flows import compile_flow
from tests.crash.flows import CASES, Step
from tests.crash.harness import Crash, drive, writes_of
from tests.crash.invariants import assert_consistent

WRITES = {name: writes_of(name) for name in CASES}
EXAMPLES = 8


def tasks_of(case_name: str) -> list[str]:
    """Return the names of the journaling tasks of a case's flow, in flow order."""
    compiled = compile_flow(load_factory(CASES[case_name].factory)())
    return [name for name in compiled.order if isinstance(compiled.nodes[name].atom, Step)]


def crash_plans(case_name: str) -> st.SearchStrategy[list[Crash]]:
    """One to three crashes at points of a run of `case_name`."""
    inside = [
        f"{action}:{atom}" for action in ("execute", "revert") for atom in tasks_of(case_name)
    ]
    points = st.one_of(
        st.integers(1, WRITES[case_name]).map(lambda n: f"after:{n}"),
        st.sampled_from(inside),
    )
    crash = st.builds(Crash, points, st.sampled_from(["exit", "kill"]))
    return st.lists(crash, min_size=1, max_size=3)


@pytest.mark.slow
@pytest.mark.parametrize("case_name", sorted(CASES))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_run_killed_where_hypothesis_chooses_resumes_to_a_consistent_end(
    case_name: str, backend_url: str, tmp_path: Path, data: st.DataObject
) -> None:
    crashes = data.draw(crash_plans(case_name), label="crashes")
    run = drive(case_name, backend_url, tmp_path, crashes)
    event(f"processes that died: {sum(one.died for one in run.rounds)}")
    assert_consistent(run)
