"""The partial-order reduction (`_reduction`): it prunes, and it finds what the full search finds.

The reduction takes one option at each choice of a settled revert phase. These tests hold it
to what its docstring claims: on an unordered flow it explores strictly fewer states (and
exactly as many when it is off, or when a world or an `always` check turns it off); on random
flows, and on a wider flow with each of the mutation suite's planted engine bugs, the search
with it and without it reach the same verdict, the same violated rules and the same fewest
faults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import provenflow as pf
from provenflow.verification import Report, Violation, behaviours, check, flows
from provenflow.verification._reduction import settled
from provenflow.verification._simulation import Simulation
from provenflow.verification._strategies_plans import Behaviour, FlowPlan, TaskPlan
from tests.verification.test_mutations import MUTANTS, Mutant


def unordered(size: int) -> Callable[[], pf.Flow]:
    """An unordered flow of `size` tasks, each with a revert."""

    def make() -> pf.Flow:
        return pf.UnorderedFlow("wide").add(
            *(pf.task(lambda: 1, name=f"t{i}", revert=lambda **_: None) for i in range(size))
        )

    return make


def faults_of(violation: Violation) -> int:
    """The faults a violation's path took: crashes, injected failures and timeouts,
    suspensions."""
    kinds = [step["kind"] for step in violation.events]
    outcomes = [step.get("outcome") for step in violation.events]
    return (
        kinds.count("crash")
        + kinds.count("suspend")
        + sum(outcome in ("raises", "times out") for outcome in outcomes)
    )


def verdict(report: Report) -> tuple[bool, list[str], int | None]:
    """What the two searches must agree on: ok, the rules broken, the fewest faults."""
    rules = sorted({violation.rule for violation in report.violations})
    fewest = min(map(faults_of, report.violations), default=None)
    return report.ok, rules, fewest


def both(flow: Callable[[], Any], **bounds: Any) -> tuple[Report, Report]:
    """`flow` checked with the reduction and without it (every violation, to compare them)."""
    reduced = check(flow, all_violations=True, **bounds)
    full = check(flow, all_violations=True, reduction=False, **bounds)
    return reduced, full


# -- it prunes -------------------------------------------------------------------------------


def test_on_an_unordered_flow_the_reduction_explores_strictly_fewer_states() -> None:
    reduced, full = both(unordered(3), crashes=1)
    assert reduced.ok and full.ok
    assert reduced.pruned > 0 and full.pruned == 0
    assert reduced.states_explored < full.states_explored
    assert reduced.transitions < full.transitions
    assert "partial-order reduction:" in str(reduced)
    assert "partial-order reduction" not in str(full)


def test_without_a_crash_left_to_take_the_reduction_still_prunes() -> None:
    reduced, full = both(unordered(4), crashes=0)
    assert reduced.states_explored < full.states_explored


def test_replaying_paths_the_reduction_prunes_too() -> None:
    reduced, full = both(unordered(3), crashes=0, snapshots=False)
    assert reduced.ok and full.ok and reduced.pruned > 0
    assert reduced.states_explored < full.states_explored


def world() -> tuple[pf.Flow, dict[str, int]]:
    return unordered(3)(), {"calls": 0}


def test_a_world_or_an_always_check_turns_it_off() -> None:
    with_world = both(world, crashes=1)
    assert [report.pruned for report in with_world] == [0, 0]
    assert with_world[0].states_explored == with_world[1].states_explored
    watched = both(unordered(3), crashes=1, always=lambda _: True)
    assert [report.pruned for report in watched] == [0, 0]
    assert watched[0].states_explored == watched[1].states_explored


def test_settled_only_in_a_revert_phase_with_no_fault_left() -> None:
    seen: list[tuple[str, int, bool]] = []
    simulation = Simulation(unordered(2), {}, (), max_crashes=0)
    try:
        while True:
            simulation.advance()
            core = simulation.core
            seen.append((str(core.flow.state), len(simulation.in_flight), settled(simulation)))
            stage = simulation.stage
            # the second task fails: the first is then reverted
            simulation.apply(1 if stage == "outcome" and simulation.picked.node == "t1" else 0)  # type: ignore[union-attr]
    except Exception as end:  # the run's end (`Finished`)
        assert type(end).__name__ == "Finished", end
    assert any(state == "REVERTING" and is_settled for state, _, is_settled in seen)
    assert not any(is_settled for state, _, is_settled in seen if state != "REVERTING")
    with_a_crash_left = Simulation(unordered(2), {}, (), max_crashes=1)
    with_a_crash_left.advance()
    assert not settled(with_a_crash_left)


# -- it finds what the full search finds -------------------------------------------------


def late_order_bug() -> pf.Flow:
    """Four unordered tasks; the revert of the third raises when `a` failed. With two workers
    the third starts only when a slot is free, so for it to be reverted after `a` failed, `b`
    must complete before `a` (then `a` fail): not the order of submission."""

    def undo_third(flow_failures: Any = None, **_: Any) -> None:
        if "a" in (flow_failures or {}):
            raise RuntimeError("the revert of 'c' breaks when 'a' failed")

    return pf.UnorderedFlow("late").add(
        pf.task(lambda: "a", name="a", revert=lambda **_: None),
        pf.task(lambda: "b", name="b", revert=lambda **_: None),
        pf.task(lambda: "c", name="c", revert=undo_third),
        pf.task(lambda: "d", name="d", revert=lambda **_: None),
    )


def late_failure_bug() -> pf.Flow:
    """Three unordered tasks at once (three workers); the revert of `a` raises when it is
    handed the failures of `b` and `c` but not its own. It is taken as soon as `a` completes,
    so `b` and `c` must both fail before `a` completes and after the revert phase began: the
    execute of `c` completes before that of `a`, in a revert phase."""

    def undo_a(flow_failures: Any = None, **_: Any) -> None:
        if set(flow_failures or {}) == {"b", "c"}:
            raise RuntimeError("the revert of 'a' breaks when 'b' and 'c' failed")

    return pf.UnorderedFlow("late").add(
        pf.task(lambda: "a", name="a", revert=undo_a),
        pf.task(lambda: "b", name="b", revert=lambda **_: None),
        pf.task(lambda: "c", name="c", revert=lambda **_: None),
    )


@pytest.mark.parametrize(
    ("flow", "crashes", "workers"),
    [(late_order_bug, 0, 2), (late_order_bug, 1, 2), (late_failure_bug, 0, 3)],
)
def test_a_bug_only_an_out_of_order_completion_reaches_is_found_alike(
    flow: Callable[[], pf.Flow], crashes: int, workers: int
) -> None:
    """Each needs an order the reduction would prune if it pruned outside settled revert
    phases: in the forward run (`late_order_bug`), or while an execute is in flight in a
    revert phase (`late_failure_bug`)."""
    reduced, full = both(flow, crashes=crashes, workers=workers)
    assert verdict(reduced) == verdict(full)
    assert "revert-raised" in verdict(reduced)[1]
    assert reduced.pruned > 0


def plans() -> Any:
    """Random plans of up to 3 tasks (nested linear, unordered and graph flows), failures and
    reverts that raise now and then, deciders; no retries (the reduction is off there)."""
    tasks = behaviours(crashes=False, strict_reverts=True)
    return flows(behaviours=tasks, max_tasks=3, max_depth=2, retries=False)


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(plans())
def test_on_random_flows_the_same_verdict_rules_and_fewest_faults(plan: FlowPlan) -> None:
    reduced, full = both(plan.build, crashes=1, max_seconds=20)
    assume(reduced.incomplete is None and full.incomplete is None)
    assert verdict(reduced) == verdict(full), plan
    event(f"pruned: {bool(reduced.pruned)}, ok: {reduced.ok}")


@st.composite
def wide_plans(draw: st.DrawFn) -> FlowPlan:
    """An unordered flow of 2 or 3 tasks, where the reduction prunes most: tasks that fail on
    their first attempt or not, reverts that raise often; two of them maybe a linear pair (a
    dependency to revert in order)."""
    count = iter(range(100))

    def task() -> TaskPlan:
        behaviour = Behaviour(
            value=draw(st.sampled_from([None, 1, "v", [1, 2]])),
            raise_on=draw(st.sampled_from([(), (), (1,)])),
            revert_raises=draw(st.sampled_from([False, False, False, True])),
        )
        return TaskPlan(f"t{next(count)}", behaviour)

    members: list[TaskPlan | FlowPlan] = [task() for _ in range(draw(st.integers(1, 2)))]
    if draw(st.booleans()):
        members.append(FlowPlan("pair", "linear", (task(), task())))
    else:
        members.append(task())
    return FlowPlan("wide", "unordered", tuple(members))


@pytest.mark.slow
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(wide_plans(), st.integers(2, 3))
def test_on_random_wide_flows_the_same_verdict_rules_and_fewest_faults(
    plan: FlowPlan, workers: int
) -> None:
    reduced, full = both(plan.build, crashes=1, workers=workers, max_seconds=20)
    assume(reduced.incomplete is None and full.incomplete is None)
    assert verdict(reduced) == verdict(full), plan
    event(f"pruned: {bool(reduced.pruned)}, ok: {reduced.ok}")


@pytest.mark.parametrize("mutated", MUTANTS, ids=lambda m: m.name)
def test_each_planted_bug_is_found_alike_on_a_wider_flow(
    mutated: Mutant, monkeypatch: pytest.MonkeyPatch
) -> None:
    mutated.plant(monkeypatch)
    reduced, full = both(unordered(3), crashes=1)
    assert verdict(reduced) == verdict(full)
