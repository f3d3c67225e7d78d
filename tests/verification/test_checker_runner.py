"""The model checker drives the engine's own loop, store codec and resume path: one runner, two
drivers. A bug planted in the runner is found; what the store does to values is seen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import _loop, _runner
from provenflow.persistence import _json
from provenflow.verification import _simulation, check
from provenflow.verification._simulation import Simulation


def two_tasks() -> pf.Flow:
    return pf.LinearFlow("two").add(
        pf.task(lambda: 1, name="a", provides="x"), pf.task(lambda x: None, name="b")
    )


def test_the_checker_and_the_engine_take_their_steps_through_one_function() -> None:
    assert _simulation.step is _loop.step
    assert _runner.step is _loop.step
    path = Simulation(two_tasks, {}, [], max_crashes=0)
    assert type(path.loop) is _loop.Loop


def test_every_step_of_a_path_goes_through_the_engines_step_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken: list[str] = []
    original = _loop.step

    def counted(loop: _loop.Loop, executor: Any) -> str | None:
        taken.append(loop.steps[0])
        return original(loop, executor)

    monkeypatch.setattr(_simulation, "step", counted)
    report = check(two_tasks, crashes=0)
    assert report.ok
    # the loop's own steps, as the engine takes them: write-ahead before each submit
    assert {"enter", "boot", "take", "write", "submit", "finish", "decide"} <= set(taken)


def test_a_runner_that_submits_work_before_recording_it_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert check(two_tasks, crashes=0).ok
    careless = {**_loop._QUEUED, "SCHEDULING": ("take", "submit", "write")}
    monkeypatch.setattr(_loop, "_QUEUED", careless)
    report = check(two_tasks, crashes=0)
    assert not report.ok
    assert "write-ahead" in report.violations[0].message


def test_a_runner_that_drops_an_outcome_from_its_write_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = _loop.Loop._write

    def losing_successes(self: _loop.Loop, executor: Any) -> None:
        kept = [t for t in self.core.unrecorded if t.event != "succeed" or t.atom is None]
        self.core.drain()
        self.core._out = kept
        original(self, executor)

    monkeypatch.setitem(_loop._STEPS, "write", losing_successes)
    report = check(two_tasks, crashes=0)
    assert not report.ok
    assert "was not recorded" in report.violations[0].message


def test_a_runner_that_skips_the_stores_value_check_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def make() -> pf.Flow:
        return pf.LinearFlow("sets").add(pf.task(lambda: {1, 2}, name="make", provides="s"))

    assert check(make, crashes=0).ok  # the set fails its task, which is then reverted
    monkeypatch.setattr(_loop.Loop, "_as_stored", lambda self, atom, result: (result, None))
    report = check(make, crashes=0)
    assert not report.ok
    assert "UnstorableValue" in report.violations[0].message


class Seen:
    """A world that remembers the type of what `b` received."""

    def __init__(self) -> None:
        self.types: list[str] = []

    def snapshot(self) -> list[str]:
        return list(self.types)


def pair_then_consumer() -> tuple[pf.Flow, Seen]:
    seen = Seen()

    def consume(pair: Any) -> None:
        seen.types.append(type(pair).__name__)

    flow = pf.LinearFlow("pairs").add(
        pf.task(lambda: (1, 2), name="make", provides="pair"),
        pf.task(consume, name="consume"),
    )
    return flow, seen


def only_tuples(seen: Seen) -> bool:
    return all(kind == "tuple" for kind in seen.types)


def test_a_value_comes_back_from_the_store_as_the_real_stores_give_it() -> None:
    # the consumer is given a tuple when the run goes straight on, and after a crash and a
    # resume from the store too: the store's codec keeps tuples
    assert check(pair_then_consumer, crashes=0, always=only_tuples).ok
    assert check(pair_then_consumer, crashes=1, always=only_tuples).ok


def test_a_codec_that_gives_back_another_type_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # plant the codec of old (tuples read back as lists): the checker's store decodes with the
    # real codec, and its record rules compare what execute returned with what the store
    # gives back, type by type, so the planted codec is caught even without a crash
    def lists_for_tuples(data: dict[str, Any]) -> Any:
        return list(data["$tuple"]) if list(data) == ["$tuple"] else data

    monkeypatch.setattr(_json, "untagged", lists_for_tuples)
    report = check(pair_then_consumer, crashes=0)
    assert not report.ok
    violation = report.violations[0]
    assert violation.rule == "result-from-execute"
    assert "with result [1, 2], but its execute returned (1, 2)" in violation.message
    with_crash = check(pair_then_consumer, crashes=1, always=only_tuples)
    assert not with_crash.ok


def test_a_result_the_store_cannot_keep_fails_its_task_as_in_the_engine(tmp_path: Path) -> None:
    def make() -> pf.Flow:
        return pf.LinearFlow("sets").add(pf.task(lambda: {1, 2}, name="make", provides="s"))

    engine = pf.Engine(make(), backend=f"sqlite:///{tmp_path}/runs.db")
    with pytest.raises(pf.errors.UnstorableValue):
        engine.run()
    assert engine.state == "REVERTED"
    report = check(make, crashes=0, invariant=lambda world, outcome: outcome == "SUCCESS")
    assert not report.ok  # the checker's store refuses the set just as SQLite does
    assert "UnstorableValue" in "\n".join(report.violations[0].steps)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_the_executors_room_is_a_choice_up_to_its_workers(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def make() -> pf.Flow:
        return pf.UnorderedFlow("u").add(*(pf.task(lambda: None, name=f"t{i}") for i in range(3)))

    most: list[int] = []
    original = _loop.Loop._submit

    def watching(self: _loop.Loop, executor: Any) -> None:
        original(self, executor)
        most.append(len(executor.in_flight))

    monkeypatch.setitem(_loop._STEPS, "submit", watching)
    report = check(make, crashes=0, workers=workers)
    assert report.ok
    assert max(most) == workers  # never more in flight than workers, and that many is tried
    assert min(most) == 1


class Card:
    """A card charged by `charge` and refunded by its revert."""

    def __init__(self) -> None:
        self.charged = 0

    def snapshot(self) -> int:
        return self.charged


def timed_charge(timeout: float | None) -> Any:
    def make() -> tuple[pf.Flow, Card]:
        card = Card()

        def charge() -> None:
            card.charged += 1

        def refund() -> None:
            card.charged = max(card.charged - 1, 0)

        flow = pf.LinearFlow("pay").add(
            pf.task(charge, name="charge", revert=refund, timeout=timeout),
            pf.task(lambda: None, name="ship"),
        )
        return flow, card

    return make


def test_a_call_that_times_out_and_lands_after_its_revert_is_found() -> None:
    def settled(card: Card, outcome: str) -> bool:
        return card.charged == (1 if outcome == "SUCCESS" else 0)

    assert check(timed_charge(None), crashes=0, invariant=settled).ok
    report = check(timed_charge(5.0), crashes=0, invariant=settled)
    assert not report.ok
    steps = report.violations[0].steps
    timed_out = steps.index(
        "execute 'charge' times out: the engine stops waiting, the call goes on"
    )
    landed = steps.index("the abandoned execute of 'charge' finishes late; its outcome is ignored")
    assert "revert 'charge' runs" in steps[timed_out:landed]  # the effect comes after the revert
    assert report.violations[0].world == 1


def test_a_call_that_timed_out_dies_with_the_process() -> None:
    path = Simulation(timed_charge(5.0), {}, [], max_crashes=1)
    options = path.next_choice()
    while path.stage != "outcome":
        path.apply(0)
        options = path.next_choice()
    path.apply(
        options.index("execute 'charge' times out: the engine stops waiting, the call goes on")
    )
    assert [work.node for work in path.late] == ["charge"]
    options = path.next_choice()
    assert path.stage == "write"  # charge FAILURE, flow REVERTING
    path.apply(options.index(next(o for o in options if o.startswith("crash before writing"))))
    assert path.late == []  # nothing of the dead process goes on
    assert path.context is not None and path.context.charged == 0


def test_the_world_after_each_step_on_request() -> None:
    def settled(card: Card, outcome: str) -> bool:
        return card.charged == (1 if outcome == "SUCCESS" else 0)

    plain = check(timed_charge(5.0), crashes=0, invariant=settled)
    assert plain.violations[0].worlds == ()
    report = check(timed_charge(5.0), crashes=0, invariant=settled, world_at_each_step=True)
    violation = report.violations[0]
    assert len(violation.worlds) == len(violation.steps)
    assert violation.worlds[-1] == violation.world == 1
    refunded = violation.steps.index("revert 'charge' runs")
    landed = violation.steps.index(
        "the abandoned execute of 'charge' finishes late; its outcome is ignored"
    )
    assert violation.worlds[refunded] == 0  # refunded (it was never charged yet)
    assert violation.worlds[landed] == 1  # then the abandoned charge lands
    assert "      world: 1" in str(violation)
    assert violation.to_data()["worlds"] == list(violation.worlds)
