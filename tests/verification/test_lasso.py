"""Liveness: the model checker finds runs that can go on forever, and shows their loop.

A retry whose `on_failure` always says RETRY, around a task whose `execute` can fail, has runs
that never end. The search reports one as the violation "can run forever", with its steps as a
stem and a loop; replaying the loop's choices once more takes exactly the loop's steps again.
A controller that counts its attempts and gives up is no loop; `eventually` must hold in the
loop of a run that never ends.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

import provenflow as pf
from provenflow.flows import Decision, History, Retry
from provenflow.verification import Violation, check, replay
from provenflow.verification._lasso import PROBE_ROUNDS, extends
from provenflow.verification._simulation import Simulation
from provenflow.verification._state_key import state_key
from tests.helpers import Forever, World, call, make_forever, saga


def counting(rounds: int) -> Retry:
    """A retry that gives up after `rounds` attempts, though it provides the same each time."""

    class Counting(Retry):
        def execute(self, history: History) -> None:
            return None

        def on_failure(self, history: History) -> Decision:
            return Decision.RETRY if len(history) < rounds else Decision.REVERT

    return Counting(name="forever")


def only(report: Any) -> Violation:
    assert not report.ok and len(report.violations) == 1, str(report)
    violation: Violation = report.violations[0]
    return violation


@pytest.mark.parametrize("snapshots", [False, True])
def test_a_retry_that_never_gives_up_can_run_forever(snapshots: bool) -> None:
    report = check(make_forever, crashes=1, snapshots=snapshots, max_seconds=30)
    violation = only(report)
    assert report.incomplete is None
    assert violation.message == "can run forever"
    loop = violation.loop
    assert loop is not None
    assert loop.retries == (("forever", 1, 2),)
    stem, cycle = violation.steps[: loop.first - 1], violation.steps[loop.first - 1 :]
    assert "record forever: SUCCESS --retry--> RETRYING" in cycle
    assert "execute 'call' raises" in cycle
    assert "execute 'call' raises" in stem  # the first failure, before the loop's state
    text = str(violation).splitlines()
    assert text[0] == "violation: can run forever"
    header = f"  loop: steps {loop.first}-{len(violation.steps)} repeat forever;"
    assert text[loop.first + 1].startswith(header)
    assert "retry 'forever' 1 -> 2 attempts" in text[loop.first + 1]
    assert text[-1] == f"  (back to step {loop.first}, and so on forever)"


@pf.task
def other() -> None:
    pass


def make_parallel() -> pf.Flow:
    """Two atoms in any order, under a retry that never gives up."""
    return pf.LinearFlow("p", retry=Forever(name="forever")).add(
        pf.UnorderedFlow("both").add(call, other)
    )


def make_nested() -> pf.Flow:
    """A retry that gives up after two attempts, inside one that never does: the inner one's
    history starts again each outer round."""
    inner = pf.LinearFlow("inner", retry=pf.Times(2, name="inner_retry")).add(call)
    return pf.LinearFlow("outer", retry=Forever(name="forever")).add(inner)


@pytest.mark.parametrize("snapshots", [False, True])
@pytest.mark.parametrize("make", [make_forever, make_parallel, make_nested])
def test_taking_the_loop_again_repeats_its_steps(snapshots: bool, make: Any) -> None:
    violation = only(check(make, crashes=1, snapshots=snapshots))
    loop = violation.loop
    assert loop is not None and loop.retries == (("forever", 1, 2),)
    cycle = violation.steps[loop.first - 1 :]
    twice = (*violation.choices, *violation.choices[loop.choice :])
    steps = replay(make, twice, crashes=1).splitlines()
    assert steps[: len(violation.steps)] == list(violation.steps)
    assert steps[len(violation.steps) : -1] == list(cycle)
    assert steps[-1].startswith("next choice: ")  # and on it goes


def test_the_loop_is_data_for_json_and_the_reproduction_says_how_to_take_it_again() -> None:
    violation = only(check(make_forever, crashes=0))
    loop = violation.loop
    assert loop is not None
    assert violation.to_data()["loop"] == {
        "first_step": loop.first,
        "first_choice": loop.choice,
        "retries": {"forever": [1, 2]},
    }
    assert f"choices[{loop.choice}:] take the loop again" in violation.reproduction()


@pytest.mark.parametrize("snapshots", [False, True])
def test_a_controller_that_counts_and_gives_up_is_no_loop(snapshots: bool) -> None:
    def make() -> pf.Flow:
        return pf.LinearFlow("poll", retry=counting(4)).add(call)

    report = check(make, crashes=1, snapshots=snapshots)
    assert report.ok, str(report)
    assert report.incomplete is None


def test_a_controller_that_counts_beyond_the_probe_is_reported_as_the_docs_say() -> None:
    def make() -> pf.Flow:
        return pf.LinearFlow("poll", retry=counting(PROBE_ROUNDS * 3)).add(call)

    violation = only(check(make, crashes=0))
    assert violation.message == "can run forever"


class Toggle:
    """Which way the flaky call fails next."""

    def __init__(self) -> None:
        self.value_error = False

    def __repr__(self) -> str:
        return f"Toggle(value_error={self.value_error})"


class GivesUpOnARepeat(Retry):
    """Gives up when the last three attempts failed the same way; retries anything else."""

    def execute(self, history: History) -> None:
        return None

    def on_failure(self, history: History) -> Decision:
        kinds = [
            tuple(failure.type_name for failure in attempt.failures.values()) for attempt in history
        ]
        same = len(kinds) >= 3 and kinds[-1] == kinds[-2] == kinds[-3]
        return Decision.REVERT if same else Decision.RETRY


def make_alternating() -> tuple[pf.Flow, Toggle]:
    """A call that fails with ValueError and KeyError in turn: it never fails the same way
    three times running, so the retry never gives up on it (injected failures, all alike, it
    does give up on)."""
    toggle = Toggle()

    class Flaky(pf.Task):
        def execute(self) -> None:
            toggle.value_error = not toggle.value_error
            raise (ValueError if toggle.value_error else KeyError)("flaky")

    flow = pf.LinearFlow("poll", retry=GivesUpOnARepeat(name="forever")).add(Flaky(name="flaky"))
    return flow, toggle


def test_a_loop_of_two_different_rounds_is_probed_with_both() -> None:
    violation = only(check(make_alternating, crashes=0, max_seconds=20))
    assert violation.message == "can run forever"
    assert violation.loop is not None and violation.loop.retries[0][0] == "forever"
    before, after = violation.loop.retries[0][1:]
    assert after - before == 2  # one loop is two rounds: ValueError, then KeyError
    cycle = violation.steps[violation.loop.first - 1 :]
    assert cycle.count("execute 'flaky' runs") == 2


def test_retries_that_give_up_are_not_loops() -> None:
    def make() -> pf.Flow:
        inner = pf.LinearFlow("inner", retry=pf.Times(2, name="inner_retry")).add(call)
        return pf.LinearFlow("outer", retry=pf.Times(3, name="outer_retry")).add(inner)

    report = check(make, crashes=1)
    assert report.ok, str(report)


def make_order() -> tuple[pf.Flow, World]:
    """Reserve, charge, then ship under a retry that never gives up."""
    return saga(retry=Forever(name="forever"))


def test_eventually_must_hold_in_the_loop_of_a_run_that_never_ends() -> None:
    def settled(world: World) -> bool:
        """Shipped exactly when charged: so at every end, never while shipping is retried."""
        return world.charged == world.shipped

    violation = only(check(make_order, crashes=0, eventually=settled))
    assert violation.message == (
        "can run forever; eventually settled holds at none of the loop's states"
    )
    assert violation.loop is not None


def test_eventually_holding_in_the_loop_leaves_only_the_endless_run() -> None:
    def paid_for(world: World) -> bool:
        """Nothing shipped that was not charged."""
        return world.charged >= world.shipped

    assert only(check(make_order, crashes=0, eventually=paid_for)).message == "can run forever"


def test_a_history_extends_another_only_by_more_of_the_same() -> None:
    failure = pf.Failure.from_exception(ValueError("no"))
    first = History().with_attempt(None)
    failed = first.with_failures({"call": failure})
    assert extends(History(), failed)
    assert extends(first, failed)  # the last attempt gained a failure
    assert extends(first, failed.with_attempt(None))
    assert not extends(failed, first)  # a failure went missing
    assert not extends(failed.with_attempt(None), failed)  # shorter
    assert not extends(History().with_attempt(1), History().with_attempt(2))  # another value


def test_work_of_an_earlier_attempt_is_kept_apart_from_the_current_attempt() -> None:
    """Attempt numbers leave a loop's key, but not how work relates to its atom's attempt."""
    simulation = Simulation(make_parallel, {}, (), max_crashes=0)
    simulation.catch_up()
    simulation.advance()
    while not (simulation.stage == "pick" and len(simulation.in_flight) == 2):
        simulation.apply(0)  # the normal course: the retry runs, the executor takes both
        simulation.advance()
    assert [work.node for work in simulation.in_flight] == ["call", "other"]
    stale = simulation.clone()  # the same, but `call`'s work is of its attempt before
    stale.executor.in_flight = [
        dataclasses.replace(work, attempt=work.attempt - 1) if work.node == "call" else work
        for work in stale.in_flight
    ]
    assert state_key(stale, counters=False) != state_key(simulation, counters=False)
    # what a loop comes back to with every attempt one higher is equal (the loops above)


def test_no_loop_is_claimed_through_a_world_that_cannot_be_captured() -> None:
    """A world holding a lock (its state is hidden) is equal to no other world: the run that
    never ends is not taken for a loop, and the search says where it stopped."""

    class Guarded:
        def __init__(self) -> None:
            self.lock = threading.Lock()

    def make() -> tuple[pf.Flow, Guarded]:
        return make_forever(), Guarded()

    report = check(make, crashes=0, max_states=300)
    assert report.incomplete == "stopped at max_states=300" and not report.violations
    assert report.fault_level is not None
    captured = check(lambda: (make_forever(), World()), crashes=0)
    assert only(captured).message == "can run forever"  # the same with a world it can key
