"""The world saved by value and put back in place (`provenflow/verification/_restore.py`), and
the default search that branches from snapshots with it."""

from __future__ import annotations

import random
import threading
from collections import OrderedDict, deque
from typing import Any

import pytest

import provenflow as pf
from provenflow.verification import check
from provenflow.verification._restore import Unsaveable, capture, restore
from tests.helpers import consistent, make_careless, make_double_charge, make_sound
from tests.verification.test_mutations import MUTANTS, Mutant


class Box:
    def __init__(self) -> None:
        self.items: list[int] = [1]
        self.seen = {"a"}
        self.inner = {"log": deque([1]), "ordered": OrderedDict(b=2, a=1)}


def test_restore_puts_every_object_back_in_place() -> None:
    box = Box()
    items, inner, log = box.items, box.inner, box.inner["log"]
    saved = capture([box])
    box.items.append(2)
    box.seen.add("b")
    log.append(2)
    inner["ordered"].move_to_end("b", last=False)
    inner["new"] = deque()
    box.extra = 1  # type: ignore[attr-defined]
    restore(saved)
    assert box.items is items and items == [1]  # the same objects, as they were
    assert box.inner is inner and inner["log"] is log and list(log) == [1]
    assert box.seen == {"a"}
    assert list(inner["ordered"]) == ["b", "a"]
    assert "new" not in inner and not hasattr(box, "extra")


class Slotted:
    __slots__ = ("count", "later")

    def __init__(self) -> None:
        self.count = 0


def test_slots_are_put_back_and_one_set_since_is_unset_again() -> None:
    slotted = Slotted()
    saved = capture([slotted])
    slotted.count = 3
    slotted.later = [1]
    restore(saved)
    assert slotted.count == 0
    assert not hasattr(slotted, "later")


def test_a_closure_cell_is_put_back_too() -> None:
    def counter() -> Any:
        calls = 0

        def count() -> int:
            nonlocal calls
            calls += 1
            return calls

        return count

    count = counter()
    saved = capture([count])
    assert (count(), count()) == (1, 2)
    restore(saved)
    assert count() == 1


def test_a_factorys_own_class_is_put_back_with_what_its_methods_close_over() -> None:
    def build() -> tuple[type, set[int]]:
        charges: set[int] = set()

        class Charge:
            calls = 0

            def execute(self) -> None:
                charges.add(7)
                type(self).calls += 1

        return Charge, charges

    charge, charges = build()
    saved = capture([charge()])
    charge().execute()
    charge.fresh = 1  # type: ignore[attr-defined]
    restore(saved)
    assert charges == set() and charge.calls == 0  # type: ignore[attr-defined]
    assert not hasattr(charge, "fresh")


def test_a_world_that_restores_itself_is_given_a_copy_of_its_snapshot() -> None:
    class Ledger:
        def __init__(self) -> None:
            self.rows: list[int] = []
            self.restored: list[list[int]] = []

        def snapshot(self) -> list[int]:
            return list(self.rows)

        def restore(self, value: list[int]) -> None:
            self.restored.append(value)
            self.rows[:] = value

    ledger = Ledger()
    ledger.rows.append(1)
    saved = capture([ledger])
    ledger.rows.append(2)
    restore(saved)
    restore(saved)
    assert ledger.rows == [1]
    first, second = ledger.restored
    assert first == second == [1] and first is not second  # a copy each time


@pytest.mark.parametrize("held", [threading.Lock(), random.Random(1)], ids=type)
def test_what_keeps_state_in_c_cannot_be_saved(held: object) -> None:
    box = Box()
    box.inner["held"] = held  # type: ignore[assignment]
    with pytest.raises(Unsaveable, match=f"the world holds a {type(held).__qualname__}"):
        capture([box])


# -- the search ------------------------------------------------------------------------------


def counting() -> tuple[pf.Flow, dict[str, int]]:
    """A flow whose second task's behaviour depends on what the first did to the world:
    `charge` raises once `reserve` has run twice (a rerun after a crash)."""
    world = {"reserved": 0}

    def reserve() -> None:
        world["reserved"] += 1

    def charge() -> None:
        if world["reserved"] > 1:
            raise RuntimeError("reserved twice")

    def unreserve(**_: Any) -> None:
        world["reserved"] -= 1

    flow = pf.LinearFlow("c").add(
        pf.task(reserve, name="reserve", revert=unreserve), pf.task(charge, name="charge")
    )
    return flow, world


def never_twice(world: dict[str, int]) -> bool:
    return world["reserved"] <= 1


@pytest.mark.parametrize(
    ("make", "options"),
    [
        (make_sound, {"invariant": consistent}),
        (make_careless, {"invariant": consistent}),
        (make_double_charge, {"invariant": consistent}),
        (counting, {"always": never_twice}),
        (counting, {}),
    ],
    ids=["sound", "careless", "double-charge", "counting-always", "counting"],
)
@pytest.mark.parametrize("crashes", [0, 1, 2])
def test_the_default_search_finds_what_replay_finds(
    make: Any, options: dict[str, Any], crashes: int
) -> None:
    replayed = check(make, crashes=crashes, snapshots=False, **options)
    default = check(make, crashes=crashes, **options)
    assert default.replayed is None
    assert [(v.rule, v.choices, v.world) for v in default.violations] == [
        (v.rule, v.choices, v.world) for v in replayed.violations
    ]
    if replayed.ok:
        assert default.ok
        assert (default.states_explored, default.choices) == (
            replayed.states_explored,
            replayed.choices,
        )
    every = check(make, crashes=crashes, all_violations=True, **options)
    every_replayed = check(make, crashes=crashes, snapshots=False, all_violations=True, **options)
    assert {v.rule for v in every.violations} == {v.rule for v in every_replayed.violations}


def test_the_default_search_builds_the_flow_once() -> None:
    built: list[int] = []

    def make() -> tuple[pf.Flow, dict[str, int]]:
        built.append(1)
        return counting()

    report = check(make, crashes=1, always=never_twice)
    assert not report.ok and report.violations[0].rule == "always"
    assert len(built) == 1


def test_the_flow_given_is_left_as_the_search_found_it() -> None:
    flow, world = counting()
    check(flow, crashes=1)
    assert world == {"reserved": 0}


def locked() -> tuple[pf.Flow, dict[str, Any]]:
    flow, world = counting()
    return flow, {"world": world, "lock": threading.Lock()}


def test_a_world_that_cannot_be_saved_is_replayed_and_the_report_says_why() -> None:
    report = check(locked, crashes=1)
    assert report.replayed == (
        "the world holds a lock, which keeps state that cannot be saved by value"
    )
    assert f"replayed every path from the start: {report.replayed}" in str(report)
    replayed = check(locked, crashes=1, snapshots=False)
    assert replayed.replayed is None  # told to: nothing to explain
    assert report.states_explored == replayed.states_explored
    assert [v.choices for v in report.violations] == [v.choices for v in replayed.violations]
    with pytest.raises(pf.UsageError, match=r"snapshots=True: the world holds a lock"):
        check(locked, crashes=1, snapshots=True)


def test_a_task_that_changes_what_it_is_given_is_replayed() -> None:
    """Values handed to tasks are shared by a path's copies: one changed in place would leak
    into other paths, so the search replays instead."""

    def make() -> pf.Flow:
        def produce() -> list[int]:
            return [1]

        def consume(items: list[int]) -> None:
            items.append(2)

        return pf.LinearFlow("f").add(
            pf.task(produce, name="produce", provides="items"), pf.task(consume, name="consume")
        )

    report = check(make, crashes=1)
    assert report.replayed == "execute of 'consume' changed a value it was given, in place"
    assert report.ok
    assert report.states_explored == check(make, crashes=1, snapshots=False).states_explored


@pytest.mark.parametrize("mutated", MUTANTS, ids=lambda m: m.name)
def test_every_planted_bug_is_found_alike_from_snapshots_and_by_replay(
    mutated: Mutant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of branching find a violation, with the same fewest faults."""
    mutated.plant(monkeypatch)
    default = check(mutated.flow, **mutated.bounds)
    replayed = check(mutated.flow, **mutated.bounds, snapshots=False)
    assert default.violations and replayed.violations
    assert default.replayed is None
    faults = [_faults(report.violations[0].steps) for report in (default, replayed)]
    assert faults[0] == faults[1]


def _faults(steps: tuple[str, ...]) -> int:
    """The faults a violation's path took: crashes, injected failures, suspensions."""
    return sum(
        step.startswith("CRASH") or step.endswith(" raises") or step == "suspend the run"
        for step in steps
    )
