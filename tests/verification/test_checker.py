"""The model checker: sound flows pass, flawed flows and a mutated engine are caught."""

from __future__ import annotations

from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import _core, _phases, _resume
from provenflow.verification import Violation, check, replay
from tests.helpers import (
    World,
    consistent,
    make_careless,
    make_double_charge,
    make_sound,
)


@pytest.mark.parametrize("crashes", [0, 1, 2])
def test_a_sound_saga_passes_with_every_crash_bound(crashes: int) -> None:
    report = check(make_sound, crashes=crashes, invariant=consistent)
    assert report.ok, str(report)
    assert report.incomplete is None
    assert report.states_explored > 0
    assert report.transitions >= report.states_explored
    assert report.paths > 0


def test_more_crashes_explore_more_states() -> None:
    sizes = [check(make_sound, crashes=c).states_explored for c in (0, 1, 2)]
    assert sizes == sorted(sizes)
    assert sizes[0] < sizes[2]


def test_a_revert_that_assumes_execute_returned_is_caught_with_a_trace() -> None:
    report = check(make_careless, crashes=0, invariant=consistent)
    assert not report.ok
    violation = report.violations[0]
    assert "ended FAILURE: a revert raised" in violation.message
    assert "execute 'reserve' raises" in violation.steps
    assert "revert 'reserve' runs" in violation.steps
    assert str(violation).startswith("violation: the run ended FAILURE")


def test_a_non_idempotent_execute_rerun_after_a_crash_is_caught_by_a_user_invariant() -> None:
    report = check(make_double_charge, crashes=1, invariant=consistent)
    assert not report.ok
    violation = report.violations[0]
    assert violation.message == "invariant consistent does not hold"
    assert "crash after execute 'charge', before its outcome is recorded" in violation.steps
    # the idempotent version of the same saga passes
    assert check(make_sound, crashes=1, invariant=consistent).ok


def test_a_violation_replays_from_its_choices() -> None:
    report = check(make_double_charge, crashes=1, invariant=consistent)
    violation = report.violations[0]
    text = replay(make_double_charge, violation.choices, crashes=1, invariant=consistent)
    assert text.splitlines()[-1] == "violation: invariant consistent does not hold"
    assert "replay(" in violation.reproduction()
    assert violation.to_data()["choices"] == list(violation.choices)


def test_a_custom_controller_returning_no_decision_is_reported() -> None:
    class Confused(pf.Retry):
        def execute(self, history: pf.History) -> None:
            return None

        def on_failure(self, history: pf.History) -> str:
            return "again"

    def make() -> pf.Flow:
        def fail() -> None:
            raise ValueError("down")

        return pf.LinearFlow("f", retry=Confused(name="confused")).add(pf.task(fail, name="call"))

    report = check(make, crashes=0)
    assert not report.ok
    assert report.violations[0].message.startswith("retry controller 'confused' failed")


def test_a_decider_that_raises_is_reported() -> None:
    def make() -> pf.Flow:
        source = pf.task(lambda: 1, name="source")
        target = pf.task(lambda: 2, name="target")

        def decide(history: dict[str, object]) -> bool:
            raise LookupError("no verdict")

        return pf.GraphFlow("g").add(source, target).link(source, target, decider=decide)

    report = check(make, crashes=0)
    assert not report.ok
    assert "decider of 'target' failed" in report.violations[0].message


def test_a_bound_makes_the_report_incomplete() -> None:
    report = check(make_sound, crashes=2, max_states=3)
    assert report.incomplete == "stopped at max_states=3"
    assert not report.ok


def test_parallel_branches_every_order_is_explored() -> None:
    order: list[str] = []

    def make() -> pf.Flow:
        order.clear()
        tasks = [pf.task(lambda n=n: order.append(n), name=n) for n in ("a", "b", "c")]
        return pf.UnorderedFlow("u").add(*tasks)

    report = check(make, crashes=0)
    assert report.ok, str(report)
    # three atoms in flight complete in any order: 3! complete paths, each a distinct state
    assert report.paths >= 6


# -- the checker can fail: a mutated engine is caught ------------------------------------


def test_the_unmutated_engine_passes_the_mutant_flow() -> None:
    assert check(make_sound, crashes=1, invariant=consistent).ok


def test_mutant_running_not_recorded_before_execute(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core.drain

    def drain_without_running(self: Any) -> Any:
        return [t for t in original(self) if t.new_state != "RUNNING"]

    monkeypatch.setattr(_core.Core, "drain", drain_without_running)
    report = check(make_sound, crashes=0)
    assert not report.ok
    assert "write-ahead" in report.violations[0].message


def test_mutant_failed_task_not_reverted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_phases, "TO_UNDO", _phases.TO_UNDO - {"FAILURE"})
    report = check(make_sound, crashes=0, invariant=consistent)
    assert not report.ok
    assert "not undone" in report.violations[0].message


def test_mutant_recorded_success_forgotten_on_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _resume.records_from

    def forget_successes(transitions: Any) -> Any:
        return original([t for t in transitions if t.event != "succeed"])

    monkeypatch.setattr("provenflow.engine._loop.records_from", forget_successes)
    report = check(make_sound, crashes=1)
    assert not report.ok
    # the resumed run records a crash_recovered from RUNNING, where the record says SUCCESS
    assert report.violations[0].rule == "record-chain"
    assert "but its last record left it SUCCESS" in report.violations[0].message


def test_mutant_reverting_atom_forgotten_on_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_phases, "TO_UNDO", _phases.TO_UNDO - {"REVERTING"})
    report = check(make_sound, crashes=1, invariant=consistent)
    assert not report.ok
    assert "still RUNNING/REVERTING" in report.violations[0].message


def test_a_sound_saga_passes_with_a_suspension_and_a_crash() -> None:
    report = check(make_sound, crashes=1, suspends=1, invariant=consistent)
    assert report.ok, str(report)


def make_retried() -> tuple[pf.Flow, World]:
    """A call that always fails under Times(2): two rounds, then everything is undone."""
    world = World()

    class Call(pf.Task):
        def execute(self) -> None:
            world.shipped += 1
            raise ConnectionError("down")

        def revert(self, **_: Any) -> None:
            world.shipped -= 1

    return pf.LinearFlow("f", retry=pf.Times(2, name="again")).add(Call(name="call")), world


def test_mutant_retry_history_not_persisted(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check(make_retried, crashes=1).ok
    original = _core.Core._move

    def move_without_history(self: Any, name: str, event: Any, *args: Any, **data: Any) -> None:
        data.pop("history", None)
        original(self, name, event, *args[:2], **data)

    monkeypatch.setattr(_core.Core, "_move", move_without_history)
    report = check(make_retried, crashes=1)
    assert not report.ok
    assert "must survive a restart" in report.violations[0].message


def make_switched() -> pf.Flow:
    source = pf.task(lambda: "off", name="source")
    target = pf.task(lambda: None, name="target")
    graph = pf.GraphFlow("g").add(source, target)
    return graph.link(source, target, decider=lambda history: history["source"] == "on")


def test_mutant_decider_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check(make_switched, crashes=0).ok
    monkeypatch.setattr(_core.Core, "_apply_deciders", lambda self, node: set())
    report = check(make_switched, crashes=0)
    assert not report.ok
    assert "runs although a decider on its link said no" in report.violations[0].message


def test_mutant_suspension_loses_a_result(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core.drain

    def drain_losing_results_while_suspending(self: Any) -> Any:
        out = original(self)
        if str(self.flow.state) in ("SUSPENDING", "SUSPENDED"):
            return [t for t in out if t.event != "succeed"]
        return out

    def make_parallel() -> pf.Flow:
        both = pf.UnorderedFlow("u").add(
            pf.task(lambda: 1, name="left"), pf.task(lambda: 2, name="right")
        )
        return pf.LinearFlow("f").add(both, pf.task(lambda: 3, name="after"))

    assert check(make_parallel, crashes=0, suspends=1).ok
    monkeypatch.setattr(_core.Core, "drain", drain_losing_results_while_suspending)
    report = check(make_parallel, crashes=0, suspends=1)
    assert not report.ok
    assert "was not recorded although the process did not crash" in report.violations[0].message


def test_mutant_a_failure_left_out_of_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core._finish_execute

    def forget_failure(self: Any, name: str, result: Any, failure: Any) -> None:
        original(self, name, result, failure)
        self.failures.pop(name, None)

    monkeypatch.setattr(_core.Core, "_finish_execute", forget_failure)
    report = check(make_retried, crashes=0)
    assert not report.ok
    assert "the run's failures leave out [" in report.violations[0].message


def test_mutant_a_failed_revert_counted_as_reverted(monkeypatch: pytest.MonkeyPatch) -> None:
    def make() -> pf.Flow:
        def boom() -> None:
            raise ValueError("boom")

        def undo(**_: Any) -> None:
            raise RuntimeError("cannot undo")

        first = pf.task(lambda: 1, name="first", revert=lambda **_: None)
        return pf.LinearFlow("f").add(first, pf.task(boom, name="second", revert=undo))

    report = check(make, crashes=0)
    assert not report.ok
    assert "ended FAILURE" in report.violations[0].message
    monkeypatch.setattr(
        _core.Core, "finish_flow", lambda self: self._move_flow(_core.flow_fsm.Event.REVERTED)
    )
    mutated = check(make, crashes=0)
    assert not mutated.ok
    assert "'second'] not undone" in mutated.violations[0].message


@pytest.mark.parametrize(
    ("pattern", "crashes"),
    [
        (pf.LinearFlow, 0),
        (pf.LinearFlow, 1),
        (pf.LinearFlow, 2),
        (pf.UnorderedFlow, 0),
        (pf.UnorderedFlow, 1),
    ],
)
def test_snapshots_explore_exactly_what_replay_explores(pattern: type, crashes: int) -> None:
    def make() -> pf.Flow:
        tasks = [pf.task(lambda: None, name=f"t{i}") for i in range(2)]
        sub = pf.LinearFlow("sub", retry=pf.Times(2, name="again")).add(
            pf.task(lambda: None, name="inner")
        )
        return pattern("p").add(*tasks, sub)

    replayed = check(make, crashes=crashes, snapshots=False)
    snapshotted = check(make, crashes=crashes, snapshots=True)
    assert replayed.ok and snapshotted.ok
    assert (snapshotted.states_explored, snapshotted.transitions) == (
        replayed.states_explored,
        replayed.transitions,
    )
    # snapshots also drop a path as soon as a crash leaves it where another path's crash did,
    # so no more paths run to their end
    assert snapshotted.paths <= replayed.paths


def test_snapshots_find_the_same_shortest_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_phases, "TO_UNDO", _phases.TO_UNDO - {"FAILURE"})

    def make() -> pf.Flow:
        return pf.LinearFlow("f").add(pf.task(lambda: None, name="a"), pf.task(lambda: 1, name="b"))

    replayed = check(make, crashes=1, snapshots=False)
    snapshotted = check(make, crashes=1, snapshots=True)
    assert not replayed.ok
    assert snapshotted.violations[0].choices == replayed.violations[0].choices
    assert snapshotted.violations[0].steps == replayed.violations[0].steps


def test_snapshots_with_a_context_find_what_replay_finds() -> None:
    """The world is put back in place before each copy goes on (`_restore`)."""
    replayed = check(make_double_charge, crashes=1, invariant=consistent, snapshots=False)
    snapshotted = check(make_double_charge, crashes=1, invariant=consistent, snapshots=True)
    assert [v.rule for v in snapshotted.violations] == ["invariant"]
    assert snapshotted.violations[0].choices == replayed.violations[0].choices
    assert snapshotted.violations[0].world == replayed.violations[0].world
    sound = check(make_sound, crashes=2, invariant=consistent, snapshots=True)
    assert sound.ok
    assert sound.states_explored == check(make_sound, crashes=2, snapshots=False).states_explored


def test_a_violation_carries_its_steps_as_data_for_diagrams() -> None:
    violation = check(make_double_charge, crashes=1, invariant=consistent).violations[0]
    events = violation.to_data()["events"]
    assert [event["text"] for event in events] == list(violation.steps)
    kinds = {event["kind"] for event in events}
    assert {"record", "execute", "crash", "resume"} <= kinds
    crashed = next(e for e in events if e["kind"] == "execute" and "crash" in e["outcome"])
    assert crashed == {
        "kind": "execute",
        "atom": "charge",
        "outcome": "crash after",
        "text": "crash after execute 'charge', before its outcome is recorded",
    }
    record = next(event for event in events if event["kind"] == "record")
    assert record["lifecycle"] == "flow" and record["old"] == "PENDING"


def test_a_reproduction_names_the_store_and_the_user_checks_and_replays_the_violation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def needs_input() -> pf.Flow:  # not importable by name: a placeholder stands for it
        return pf.LinearFlow("f").add(pf.task(lambda amount: amount, name="pay"))

    local = check(needs_input, {"amount": 3}, crashes=0, invariant=lambda ctx, outcome: False)
    program = local.violations[0].reproduction()
    assert "store={'amount': 3}" in program
    assert "# make_flow: your factory" in program
    assert "invariant=invariant_check" in program and "# invariant_check:" in program

    violation = check(make_double_charge, crashes=1, invariant=consistent).violations[0]
    program = violation.reproduction()
    assert f"invariant='{consistent.__module__}:consistent'" in program
    data = violation.to_data()
    assert (
        data["checks"] == {"invariant": f"{consistent.__module__}:consistent"}
        and data["store"] == {}
    )
    exec(program, {})  # the program a user pastes: it imports everything it needs
    assert capsys.readouterr().out.rstrip().endswith(f"violation: {violation.message}")


@pytest.mark.parametrize("snapshots", [False, True])
def test_the_violation_reported_takes_the_fewest_faults(snapshots: bool) -> None:
    def crashes_in(violation: Violation) -> int:
        return sum(step.startswith("CRASH") for step in violation.steps)

    careless = check(make_careless, crashes=2, invariant=consistent).violations[0]
    assert crashes_in(careless) == 0  # one injected failure is enough: no crash is shown
    assert sum(step.endswith("raises") for step in careless.steps) == 1
    double = check(make_double_charge, crashes=2, invariant=consistent).violations[0]
    assert crashes_in(double) == 1  # the repeated charge needs exactly one crash
    assert not any(step.endswith("raises") for step in double.steps)
    if snapshots:  # the same, searched from snapshots (a flow that keeps no state of its own)

        def make() -> pf.Flow:
            def undo(result: Any) -> None:
                raise RuntimeError("cannot undo")

            return pf.LinearFlow("f").add(
                pf.task(lambda: None, name="a"), pf.task(lambda: 1, name="b", revert=undo)
            )

        found = check(make, crashes=2, snapshots=True).violations[0]
        assert crashes_in(found) == 0


def two_chains() -> pf.Flow:
    """a -> b and c -> d, independent of each other: b and d are undone first, then a and c."""
    return pf.GraphFlow("chains").add(
        pf.task(lambda: 1, name="a", provides="x"),
        pf.task(lambda x: 2, name="b"),
        pf.task(lambda: 3, name="c", provides="y"),
        pf.task(lambda y: 4, name="d"),
    )


def nested_retry() -> pf.Flow:
    sub = pf.LinearFlow("sub", retry=pf.Times(2, name="again")).add(
        pf.task(lambda: None, name="inner")
    )
    return pf.LinearFlow("p").add(pf.task(lambda: None, name="a"), sub)


@pytest.mark.parametrize("snapshots", [False, True])
@pytest.mark.parametrize("make", [two_chains, nested_retry])
def test_injected_revert_failures_end_failure_with_only_what_they_block_left_undone(
    make: Any, snapshots: bool
) -> None:
    report = check(make, crashes=1, revert_failures=True, snapshots=snapshots)
    assert report.ok, str(report)
    without = check(make, crashes=1, snapshots=snapshots)
    assert report.states_explored > without.states_explored  # reverts that raise were explored


def test_mutant_a_failed_revert_does_not_block_what_it_depends_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_phases.PhaseBook, "revert_failed", _phases.PhaseBook.reverted)
    report = check(two_chains, crashes=0, revert_failures=True, snapshots=True)
    assert not report.ok
    violation = report.violations[0]
    assert "dependents must be reverted first" in violation.message
    assert any(step.startswith("revert") and step.endswith("raises") for step in violation.steps)
    assert ("revert_failures", 1) in violation.bounds
    program = violation.reproduction()
    assert "revert_failures=1" in program


def test_mutant_a_failed_revert_stops_every_other_revert(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _phases.PhaseBook.revert_failed

    def block_everything(self: Any, name: str) -> None:
        original(self, name)
        for phase in set(self._phase_of.values()):
            phase.outstanding -= len(phase.to_undo)
            phase.to_undo.clear()
        self._queue.clear()
        for phase in set(self._phase_of.values()):
            self._maybe_close(phase)

    monkeypatch.setattr(_phases.PhaseBook, "revert_failed", block_everything)
    report = check(two_chains, crashes=0, revert_failures=True, snapshots=True)
    assert not report.ok
    assert "though no failed revert" in report.violations[0].message


def test_a_real_revert_that_raises_is_a_violation_even_with_injected_ones() -> None:
    report = check(make_careless, crashes=0, revert_failures=True, invariant=consistent)
    assert not report.ok
    assert "a revert raised, so work was done and not undone" in report.violations[0].message
