"""What the model checker counts as a state, and what it merges there."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

import provenflow as pf
from provenflow.verification import check
from provenflow.verification._simulation import Merged, Simulation


def one_task() -> pf.Flow:
    return pf.LinearFlow("one").add(pf.task(lambda: None, name="t"))


@pytest.mark.parametrize("snapshots", [False, True])
def test_every_write_and_outcome_is_a_state_even_with_one_option(snapshots: bool) -> None:
    report = check(one_task, crashes=0, snapshots=snapshots)
    # With no crash allowed, only the outcome of `execute` is a choice (runs / raises). The
    # other states have one option each: the writes [flow RUNNING] and [t RUNNING]; after
    # "runs", the write [t SUCCESS, flow SUCCESS]; after "raises", the write [t FAILURE, flow
    # REVERTING], the write [t REVERTING], the outcome of `revert` (it may not raise here) and
    # the write [t REVERTED, flow REVERTED]. 1 + 7 states; 2 ways on from the choice, 1 from
    # each of the others; 2 paths to an end.
    assert (report.states_explored, report.transitions, report.paths) == (8, 9, 2)
    assert report.choices == 1
    assert report.ok
    assert str(report).startswith("states explored: 8 (choices: 1), transitions: 9, ")


def test_a_path_stops_where_one_with_no_more_faults_passed() -> None:
    passed: dict[Any, int] = {}
    shared: dict[Any, int] = {}  # one numbering of the keys' atoms parts, as in a search

    def simulation(faults: int) -> Simulation:
        path = Simulation(one_task, {}, [], max_crashes=0)
        path.passed, path.faults, path.shared = passed, faults, shared
        return path

    first = simulation(1)
    assert first.next_choice() == ("execute 't' runs", "execute 't' raises")
    assert sorted(faults for faults in passed.values()) == [1, 1]  # the two writes before it
    with pytest.raises(Merged):
        simulation(1).next_choice()
    with pytest.raises(Merged):
        simulation(2).next_choice()
    assert simulation(0).next_choice() == first.next_choice()  # fewer faults: it goes on
    assert sorted(passed.values()) == [0, 0]


def test_a_replayed_path_looks_up_only_what_follows_its_last_choice() -> None:
    passed: dict[Any, int] = {}
    shared: dict[Any, int] = {}
    first = Simulation(one_task, {}, [], max_crashes=0)
    first.passed, first.shared = passed, shared
    first.next_choice()
    replayed = Simulation(one_task, {}, [1], max_crashes=0)  # "raises", replayed from the start
    replayed.passed, replayed.shared = passed, shared
    with pytest.raises(pf.verification._simulation.Finished):
        replayed.run()  # the writes before the choice were passed by `first`: not a merge
    assert len(passed) == 2 + 4  # and the four states after "raises" are noted


def revert_sees(failed: str) -> Any:
    """A flow `a` then (`b` and `c`, unordered) whose `revert` of `a` breaks the world when
    `failed` is among the run's failures: only a path where exactly that task raised gets
    there with one fault."""

    def make() -> tuple[pf.Flow, dict[str, bool]]:
        world = {"broken": False}

        def revert_a(flow_failures: dict[str, Any]) -> None:
            if failed in flow_failures:
                world["broken"] = True

        a = pf.task(lambda: None, name="a", revert=revert_a)
        b, c = pf.task(lambda: None, name="b"), pf.task(lambda: None, name="c")
        return pf.LinearFlow("l").add(a, pf.UnorderedFlow("u").add(b, c)), world

    return make


@pytest.mark.parametrize("failed", ["b", "c"])
def test_states_that_differ_only_in_the_failures_a_revert_sees_are_not_merged(
    failed: str,
) -> None:
    # After "b raises, c runs" and "b runs, c raises", both reverted, every atom is in the same
    # state with the same attempts: only the failures `revert` of `a` is given differ. Merging
    # them lost this violation for one of the two names.
    report = check(revert_sees(failed), crashes=0, eventually=lambda world: not world["broken"])
    assert not report.ok
    (violation,) = report.violations
    assert [step for step in violation.steps if "raises" in step] == [f"execute {failed!r} raises"]


def test_a_write_is_keyed_by_what_follows_it() -> None:
    # the same batch written before a side effect or after an outcome leads on differently
    path = Simulation(one_task, {}, [], max_crashes=1)
    path.next_choice()  # the first write: [flow RUNNING], then the loop's route
    assert path.stage == "write"
    other = path.clone()
    other.loop.steps = deque(["write", "honour", "write", "decide"])  # as after an outcome
    assert path.key() != other.key()


def test_a_crash_after_the_side_effect_is_known_without_taking_it_only_without_a_context() -> None:
    def with_world() -> tuple[pf.Flow, dict[str, int]]:
        return one_task(), {"charged": 0}

    for factory, same in ((one_task, True), (with_world, False)):
        path = Simulation(factory, {}, [], max_crashes=1)
        options = path.next_choice()
        while path.stage != "outcome":  # past the writes before `execute`
            path.apply(0)
            options = path.next_choice()
        before = options.index("crash before execute 't' does anything")
        after = options.index("crash after execute 't', before its outcome is recorded")
        assert path.crash_key(before) is not None
        assert (path.crash_key(after) == path.crash_key(before)) is same
        assert path.crash_key(0) is None  # runs: not a crash


def test_without_snapshots_the_first_option_goes_on_in_place_and_only_others_replay() -> None:
    built: list[int] = []

    def counted() -> tuple[pf.Flow, dict[str, int]]:
        built.append(1)
        return one_task(), {}

    report = check(counted, crashes=0, snapshots=False)
    # one choice (runs / raises): the run goes on with "runs" in place, "raises" is replayed
    assert report.ok and report.choices == 1
    assert len(built) == 2
