"""Verification: a model checker, fuzzing and table checks for the engine and users' flows.

- `check(flow_or_factory)` explores every order of ready atoms, every injected failure and every
  crash point of a flow's run (followed by a resume from what was persisted), driving the
  engine's real core and resume path with the user's real code and a simulated store, and
  reports a trace with the fewest faults to any broken invariant (or a run that can go on
  forever, with its `Loop`); `replay` plays it again.
- `check_owners(flow_or_factory)` explores several engines contending for one run (loading it,
  taking its lease, stepping, renewing, pausing past their lease's expiry on a simulated clock)
  and shows that only the engine granted the lease last ever has a write kept.
- `check_board()` explores conductors sharing one job board (claiming, renewing, completing,
  failing to dispatch, stopping, crashing, pausing past their claim's expiry) on a model that
  applies the boards' own decisions, and shows the claim protocol keeps its rules.
- `fuzz(factory)` runs a flow many times through the real engine and store with random faults
  (hypothesis strategies in `flows()` / `behaviours()` build random flows), shrinking failures.
- `verify_lifecycles()` reports the table checks and, given a test run's transition coverage,
  which table edges the engine took (`UNREACHABLE` lists those it cannot take yet, and why).
- `assert_sound(factory)` is the pytest helper (the `provenflow` pytest plugin also gives the
  `provenflow_check` fixture and the `--provenflow-coverage` options); it needs pytest, so it is
  imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provenflow.verification._checker import Report, Violation, check
from provenflow.verification._coverage import TransitionCoverage, TransitionRecorder
from provenflow.verification._fuzz import FuzzReport, fuzz
from provenflow.verification._jobs_protocol import BoardReport, BoardViolation, check_board
from provenflow.verification._lifecycles import UNREACHABLE, LifecycleReport, verify_lifecycles
from provenflow.verification._owners import OwnersReport, OwnersViolation, check_owners
from provenflow.verification._replay import replay
from provenflow.verification._report import Loop
from provenflow.verification._simulation import InjectedFailure
from provenflow.verification._strategies import behaviours, flows
from provenflow.verification._strategies_plans import (
    Behaviour,
    FlowPlan,
    LinkPlan,
    RetryPlan,
    TaskPlan,
)
from provenflow.verification._strategies_tasks import Journal, ProcessCrash

if TYPE_CHECKING:
    from provenflow.verification._pytest import assert_sound

__all__ = [
    "UNREACHABLE",
    "Behaviour",
    "BoardReport",
    "BoardViolation",
    "FlowPlan",
    "FuzzReport",
    "InjectedFailure",
    "Journal",
    "LifecycleReport",
    "LinkPlan",
    "Loop",
    "OwnersReport",
    "OwnersViolation",
    "ProcessCrash",
    "Report",
    "RetryPlan",
    "TaskPlan",
    "TransitionCoverage",
    "TransitionRecorder",
    "Violation",
    "assert_sound",
    "behaviours",
    "check",
    "check_board",
    "check_owners",
    "flows",
    "fuzz",
    "replay",
    "verify_lifecycles",
]


def __getattr__(name: str) -> Any:
    """`assert_sound` is imported on first use: it needs pytest, which provenflow does not."""
    if name == "assert_sound":
        from provenflow.verification._pytest import assert_sound  # noqa: PLC0415

        return assert_sound
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
