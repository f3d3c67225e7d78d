"""What a violation says (`provenflow/verification/_report.py`): the world at the violation,
and failures cut to a readable length."""

from __future__ import annotations

import json
from typing import Any

import provenflow as pf
from provenflow.verification import check
from tests.helpers import World, consistent, make_double_charge


def test_a_violation_carries_the_world_when_it_broke() -> None:
    violation = check(make_double_charge, crashes=1, invariant=consistent).violations[0]
    # Charged twice: the charge ran again after the crash that lost its record.
    assert violation.world == {"__class__": "World", "charged": 2, "reserved": 1, "shipped": 1}
    text = str(violation)
    assert text.splitlines()[:3] == [
        "violation: invariant consistent does not hold",
        'world: {"__class__":"World","charged":2,"reserved":1,"shipped":1}',
        "trace:",
    ]
    data = json.loads(json.dumps(violation.to_data()))
    assert data["world"] == violation.world


def test_without_a_context_there_is_no_world() -> None:
    flow = pf.LinearFlow("f").add(
        pf.task(lambda: None, name="a", revert=_raises), pf.task(_fails, name="b")
    )
    violation = check(flow, crashes=0).violations[0]
    assert violation.world is None
    assert "world:" not in str(violation)
    assert violation.to_data()["world"] is None


def _raises(**_: Any) -> None:
    raise RuntimeError("a revert that always raises")


class Ledger:
    """A world that says what it is: its entries, not its lock."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}

    def snapshot(self) -> object:
        return {"entries": sorted(self.entries)}


def test_the_world_is_what_its_snapshot_returns() -> None:
    def make() -> tuple[pf.Flow, Ledger]:
        ledger = Ledger()

        def book() -> None:
            ledger.entries["booked"] = 1

        return pf.LinearFlow("f").add(pf.task(book, name="book")), ledger

    report = check(make, crashes=0, invariant=lambda ledger, outcome: outcome != "SUCCESS")
    assert report.violations[0].world == {"entries": ["booked"]}


def test_a_long_world_is_cut_in_the_text_but_whole_in_the_data() -> None:
    def make() -> tuple[pf.Flow, World]:
        world = World()
        world.notes = ["n" * 3_000]  # type: ignore[attr-defined]
        return pf.LinearFlow("f").add(pf.task(lambda: None, name="a")), world

    violation = check(make, crashes=0, invariant=lambda w, o: False).violations[0]
    line = str(violation).splitlines()[1]
    assert line.startswith('world: {"__class__":"World","charged":0,"notes":["nnn')
    assert line.endswith("more characters)")
    assert violation.to_data()["world"]["notes"] == ["n" * 3_000]


def test_a_long_failure_is_cut_in_the_message_and_in_the_trace() -> None:
    def undo(**_: Any) -> None:
        raise ValueError("cannot undo: " + "x" * 5_000)

    flow = pf.LinearFlow("f").add(
        pf.task(lambda: None, name="a", revert=undo), pf.task(_fails, name="b")
    )
    violation = check(flow, crashes=0).violations[0]
    assert "cannot undo: xxx" in violation.message
    assert "more characters)" in violation.message
    assert len(violation.message) < 400
    failed = [step for step in violation.steps if "--revert_failed-->" in step]
    assert failed[0].endswith("more characters)")
    assert max(len(step) for step in violation.steps) < 300


def _fails() -> None:
    raise RuntimeError("b fails")
