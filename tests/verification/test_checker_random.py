"""The model checker on random flows: both modes explore the same states and find no violation.

Random plans (`flows()`: nested patterns, data links, deciders, retries) of well-behaved tasks:
the checker injects every failure and crash itself. With or without snapshots the search must
reach exactly the same distinct states and choices, and the engine must hold every rule. The
tasks keep a journal of their own (closure state), which a search from snapshots puts back in
place before each copy goes on.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from provenflow.verification import behaviours, check, flows
from provenflow.verification._strategies_plans import FlowPlan
from provenflow.verification._strategies_tasks import Journal

pytestmark = pytest.mark.slow


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(flows(behaviours=behaviours(faults=False), max_tasks=3, max_depth=2))
def test_on_random_flows_both_modes_reach_the_same_states_and_no_violation(
    plan: FlowPlan,
) -> None:
    def make() -> object:
        return plan.build(Journal())  # a fresh flow for every replayed path

    replayed = check(make, crashes=1, max_states=50_000, snapshots=False)
    snapshotted = check(make, crashes=1, max_states=50_000, snapshots=True)
    assert not replayed.violations, f"{plan.describe()}\n{replayed}"
    assert not snapshotted.violations, f"{plan.describe()}\n{snapshotted}"
    if replayed.incomplete or snapshotted.incomplete:
        return  # a bound stopped them: where each stopped depends on its order
    assert (replayed.states_explored, replayed.choices, replayed.transitions) == (
        snapshotted.states_explored,
        snapshotted.choices,
        snapshotted.transitions,
    )
    assert snapshotted.replayed is None  # the journal the tasks keep was put back in place
