"""The model checker catches planted engine bugs with its built-in rules alone.

Each mutant changes one thing with `monkeypatch`, never by editing the package: in the core
and its revert phases, in resume, in the runner's loop (which the checker drives itself) or in
the stores' JSON codec (which the checker's store encodes and decodes with). `check` on a small
flow, without any user invariant, must report it, and each test asserts which rule did
(`Violation.rule`). The same flows with the same bounds check clean on the unmutated engine
(`test_the_unmutated_engine_checks_clean`), so every catch is the mutant's doing.

Not planted here, because `check` cannot see them: the version check of the package's own
stores (the checker's store has its own compare-and-set, and one process writes at a time), and
a late result applied by the engine's executor (the checker's executor does not apply one).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import _core, _loop, _phases, _resume
from provenflow.failure import Failure
from provenflow.fsm import task as task_fsm
from provenflow.persistence import _json
from provenflow.verification import check, fuzz
from tests.helpers import consistent, make_careless, make_double_charge, make_forever

# -- the flows -------------------------------------------------------------------------------


def chain() -> pf.Flow:
    """login provides a token (a tuple, which the store gives back as a tuple) that use and
    ship need, in their execute and their revert."""

    def login() -> tuple[str, int]:
        return ("tok", 1)

    def use(token: tuple[str, int]) -> str:
        return f"used {token[0]}"

    def undo(token: tuple[str, int], **_: Any) -> None:
        assert token[0] == "tok"

    def ship(token: tuple[str, int], used: str) -> int:
        return 3

    return pf.LinearFlow("chain").add(
        pf.task(login, name="login", provides="token", revert=lambda **_: None),
        pf.task(use, name="use", provides="used", revert=undo),
        pf.task(ship, name="ship", revert=undo),
    )


def retried() -> pf.Flow:
    """A call that fails under `Times(2)`: two rounds, then everything is undone."""

    def call(token: str) -> None:
        raise ConnectionError("down")

    def undo(token: str, **_: Any) -> None:
        assert token == "tok"

    subflow = pf.LinearFlow("sub", retry=pf.Times(2, name="again"))
    return pf.LinearFlow("retried").add(
        pf.task(lambda: "tok", name="login", provides="token", revert=lambda **_: None),
        subflow.add(pf.task(call, name="call", revert=undo)),
    )


def switched() -> pf.Flow:
    """A link whose decider says no: `target` must be ignored."""
    source = pf.task(lambda: "off", name="source")
    target = pf.task(lambda: None, name="target")
    graph = pf.GraphFlow("switched").add(source, target)
    return graph.link(source, target, decider=lambda history: history["source"] == "on")


def parallel() -> pf.Flow:
    """Two independent atoms, then one after both."""
    both = pf.UnorderedFlow("both").add(
        pf.task(lambda: 1, name="left"), pf.task(lambda: 2, name="right")
    )
    return pf.LinearFlow("parallel").add(both, pf.task(lambda: 3, name="after"))


def unstorable() -> pf.Flow:
    """A task returns a set, which a durable store cannot keep: the task fails."""
    return pf.LinearFlow("unstorable").add(
        pf.task(lambda: 1, name="first", revert=lambda **_: None),
        pf.task(lambda: {1, 2}, name="odd", revert=lambda **_: None),
    )


# -- planting a mutant -----------------------------------------------------------------------


def replace_everywhere(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, replacement: Any
) -> None:
    """Replace function `name` of `module` in every provenflow module that imported it by
    name too (the engine's resume functions are imported into the core and the drivers)."""
    original = getattr(module, name)
    for loaded in list(sys.modules.values()):
        if getattr(loaded, "__name__", "").startswith("provenflow") and (
            getattr(loaded, name, None) is original
        ):
            monkeypatch.setattr(loaded, name, replacement)


Plant = Callable[[pytest.MonkeyPatch], None]


@dataclass(frozen=True)
class Mutant:
    """One planted bug: what it changes, the flow and bounds that show it, the rule that
    must catch it."""

    name: str
    plant: Plant
    flow: Callable[[], pf.Flow]
    rule: str
    bounds: dict[str, Any] = field(default_factory=dict)
    says: str = ""
    """Words the violation's message must hold (for the rule `engine`, what it raised)."""


MUTANTS: list[Mutant] = []


def mutant(
    flow: Callable[[], pf.Flow], rule: str, *, says: str = "", **bounds: Any
) -> Callable[[Plant], Plant]:
    """Register the decorated function as a mutant, caught on `flow` by `rule` with a message
    that `says` so."""

    def register(plant: Plant) -> Plant:
        MUTANTS.append(Mutant(plant.__name__, plant, flow, rule, bounds, says))
        return plant

    return register


# -- the core --------------------------------------------------------------------------------


@mutant(chain, "reverted-complete", crashes=0)
def skip_the_revert_of_a_success(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_phases, "TO_UNDO", _phases.TO_UNDO - {task_fsm.State.SUCCESS})


@mutant(chain, "reverted-complete", crashes=0)
def skip_the_revert_of_the_failed_atom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_phases, "TO_UNDO", _phases.TO_UNDO - {task_fsm.State.FAILURE})


@mutant(chain, "write-ahead", crashes=0)
def record_running_after_submitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """RUNNING records are held back and written with the next batch, after the side effect."""
    original = _core.Core.drain

    def drain_running_late(self: Any) -> list[Any]:
        held = self.__dict__.pop("held_back", [])
        out = original(self)
        self.held_back = [t for t in out if t.new_state == "RUNNING"]
        return [*held, *(t for t in out if t.new_state != "RUNNING")]

    monkeypatch.setattr(_core.Core, "drain", drain_running_late)


@mutant(retried, "record-chain", crashes=0)
def reorder_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core.drain
    monkeypatch.setattr(_core.Core, "drain", lambda self: original(self)[::-1])


@mutant(chain, "revert-order", crashes=0)
def revert_in_the_wrong_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every atom of a revert phase is revertable at once, whatever depends on it."""
    original = _phases.PhaseBook.open

    def open_all_at_once(self: Any, owner: Any, members: Any) -> None:
        original(self, owner, members)
        for phase in set(self._phase_of.values()):
            for name in sorted(phase.to_undo):
                phase.blockers[name] = 0
                if name not in self._queue and self.core.nodes[name].kind != "join":
                    self._queue.appendleft(name)

    monkeypatch.setattr(_phases.PhaseBook, "open", open_all_at_once)


@mutant(retried, "failures-reported", crashes=0)
def forget_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core._finish_execute

    def forget(self: Any, name: str, result: Any, failure: Any) -> None:
        original(self, name, result, failure)
        self.failures.pop(name, None)

    monkeypatch.setattr(_core.Core, "_finish_execute", forget)


@mutant(chain, "result-from-execute", crashes=0)
def record_a_failed_execute_as_a_success(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core._finish_execute
    monkeypatch.setattr(
        _core.Core,
        "_finish_execute",
        lambda self, name, result, failure: original(self, name, result, None),
    )


@mutant(chain, "failure-from-execute", crashes=0)
def record_a_success_as_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core._finish_execute
    lost = Failure.from_exception(RuntimeError("the result was lost"))

    def finish_execute(self: Any, name: str, result: Any, failure: Any) -> None:
        original(self, name, result, failure or lost)

    monkeypatch.setattr(_core.Core, "_finish_execute", finish_execute)


@mutant(chain, "reverted-after-revert", crashes=0)
def record_a_revert_that_returned_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core._finish_revert
    lost = Failure.from_exception(RuntimeError("the revert's answer was lost"))

    def finish_revert(self: Any, name: str, failure: Any) -> None:
        original(self, name, failure or lost)

    monkeypatch.setattr(_core.Core, "_finish_revert", finish_revert)


@mutant(chain, "reverted-after-revert", crashes=0, revert_failures=True)
def swallow_a_revert_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core._finish_revert
    monkeypatch.setattr(
        _core.Core, "_finish_revert", lambda self, name, failure: original(self, name, None)
    )


@mutant(chain, "reverted-complete", crashes=0, revert_failures=True)
def end_reverted_although_a_revert_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        _core.Core, "finish_flow", lambda self: self._move_flow(_core.flow_fsm.Event.REVERTED)
    )


def change_revert_work(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """Every revert the core hands out has `changes` made to its `Work`."""
    original = _core.Core._start_revert

    def start_revert(self: Any, name: str) -> Any:
        work = original(self, name)
        for attribute, value in changes.items():
            setattr(work, attribute, value)
        return work

    monkeypatch.setattr(_core.Core, "_start_revert", start_revert)


@mutant(chain, "record-values", crashes=0)
def hand_a_revert_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    change_revert_work(monkeypatch, result=None)


@mutant(chain, "attempts", crashes=1)
def rerun_a_crashed_atom_as_the_same_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core._start_execute

    def start_execute(self: Any, name: str) -> Any:
        if self._state(name) == task_fsm.State.RUNNING:
            self.attempts[name] -= 1  # the original counts it up again
        return original(self, name)

    monkeypatch.setattr(_core.Core, "_start_execute", start_execute)


@mutant(retried, "retry-history", crashes=1)
def leave_the_retry_history_out_of_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core._move

    def move_without_history(self: Any, name: str, event: Any, *args: Any, **data: Any) -> None:
        data.pop("history", None)
        original(self, name, event, *args[:2], **data)

    monkeypatch.setattr(_core.Core, "_move", move_without_history)


@mutant(switched, "decider", crashes=0)
def ignore_a_decider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_core.Core, "_apply_deciders", lambda self, node: set())


@mutant(parallel, "outcome-recorded", crashes=0, suspends=1)
def lose_a_result_while_suspending(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core.drain

    def drain(self: Any) -> list[Any]:
        out = original(self)
        if str(self.flow.state) in ("SUSPENDING", "SUSPENDED"):
            return [t for t in out if t.event != "succeed"]
        return out

    monkeypatch.setattr(_core.Core, "drain", drain)


@mutant(chain, "revert-after-execute", crashes=1)
def revert_the_first_attempt_after_a_rerun(monkeypatch: pytest.MonkeyPatch) -> None:
    """A revert is handed out for attempt 1 of an atom that was run again after a crash."""
    change_revert_work(monkeypatch, attempt=1)


@mutant(chain, "record-matches-run", crashes=0)
def lose_the_flow_end_record(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core.drain

    def drain(self: Any) -> list[Any]:
        return [t for t in original(self) if not (t.atom is None and t.event == "succeed")]

    monkeypatch.setattr(_core.Core, "drain", drain)


@mutant(switched, "record-matches-run", crashes=0)
def lose_the_ignore_records(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _core.Core.drain
    monkeypatch.setattr(
        _core.Core, "drain", lambda self: [t for t in original(self) if t.event != "ignore"]
    )


@mutant(chain, "table", crashes=0)
def revert_an_atom_that_never_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_phases, "TO_UNDO", _phases.TO_UNDO | {task_fsm.State.PENDING})


# -- resume ----------------------------------------------------------------------------------


def after_load(monkeypatch: pytest.MonkeyPatch, change: Callable[[Any], None]) -> None:
    """Resume rebuilds each core from its record, then makes `change` to it."""
    original = _resume.load_records

    def load(core: Any, records: Any) -> None:
        original(core, records)
        change(core)

    replace_everywhere(monkeypatch, _resume, "load_records", load)


@mutant(chain, "record-values", crashes=1)
def drop_the_values_on_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    after_load(monkeypatch, lambda core: core.provided.clear())


@mutant(chain, "record-values", crashes=1)
def rebuild_the_values_without_the_results(monkeypatch: pytest.MonkeyPatch) -> None:
    def without_results(core: Any) -> None:
        for name in core.provided:
            core.provided[name] = core.nodes[name].atom.provided(None)

    after_load(monkeypatch, without_results)


@mutant(chain, "result-from-execute", crashes=1)
def mark_a_running_atom_succeeded_without_running_it(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _resume.continue_recorded

    def continue_run(core: Any) -> None:
        for name in core.compiled.order:
            holder = core.states.get(name)
            if holder is not None and holder.state == task_fsm.State.RUNNING:
                core._finish_execute(name, None, None)
        core._count_waiting(core.compiled.order)
        original(core)

    replace_everywhere(monkeypatch, _resume, "continue_recorded", continue_run)


@mutant(chain, "record-chain", crashes=1)
def forget_recorded_successes_on_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _resume.records_from

    def records_from(transitions: Any) -> Any:
        return original([t for t in transitions if t.event != "succeed"])

    replace_everywhere(monkeypatch, _resume, "records_from", records_from)


# branching from snapshots (the default) meets the history handed to the retry's execute
# first; replaying (`snapshots=False`) meets, with as few faults, the engine's error on it
@mutant(retried, "record-values", says="is handed a history of 0 attempts", crashes=1)
def lose_the_retry_history_on_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _resume.records_from

    def records_from(transitions: Any) -> Any:
        records, flow_events = original(transitions)
        for record in records.values():
            record.history = None
        return records, flow_events

    replace_everywhere(monkeypatch, _resume, "records_from", records_from)


@mutant(chain, "attempts", crashes=1)
def restart_the_attempts_on_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    after_load(monkeypatch, lambda core: core.attempts.update(dict.fromkeys(core.attempts, 0)))


@mutant(chain, "terminal", crashes=1)
def forget_a_reverting_atom_on_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_phases, "TO_UNDO", _phases.TO_UNDO - {task_fsm.State.REVERTING})


# -- the runner loop (the checker drives the engine's own loop: engine/_loop.py) -----------------


def replace_step(monkeypatch: pytest.MonkeyPatch, name: str, function: Any) -> None:
    """Make the engine loop's step `name` run `function(loop, executor)` instead."""
    monkeypatch.setitem(_loop._STEPS, name, function)
    monkeypatch.setattr(_loop.Loop, f"_{name}", function)


@mutant(chain, "write-ahead", crashes=0)
def submit_before_recording_running(monkeypatch: pytest.MonkeyPatch) -> None:
    scheduling = ("take", "submit", "write")
    monkeypatch.setitem(_loop._QUEUED, _loop.LoopState.SCHEDULING, scheduling)


@mutant(retried, "record-chain", crashes=0)
def write_a_batch_in_reverse(monkeypatch: pytest.MonkeyPatch) -> None:
    def write(loop: Any, executor: Any) -> None:
        transitions = loop.core.drain()[::-1]
        if transitions:
            loop.version = loop.storage.record(loop.flow_id, transitions, loop.version)

    replace_step(monkeypatch, "write", write)


@mutant(chain, "result-from-execute", crashes=0)
def hand_the_core_a_success_for_a_call_that_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def finish(loop: Any, executor: Any) -> None:
        completion = loop.completions.popleft()
        loop.core.finish(completion.work, completion.result, None)
        loop.finished = completion.work

    replace_step(monkeypatch, "finish", finish)


@mutant(unstorable, "engine", says="UnstorableValue: run 'checked': atom 'odd'", crashes=0)
def skip_the_check_of_a_result_the_store_cannot_keep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_loop.Loop, "_as_stored", lambda loop, atom, result: (result, None))


@mutant(chain, "engine", says="StaleVersion: run 'checked': expected version", crashes=0)
def keep_the_old_version_after_a_write(monkeypatch: pytest.MonkeyPatch) -> None:
    def write(loop: Any, executor: Any) -> None:
        transitions = loop.core.drain()
        if transitions:
            loop.storage.record(loop.flow_id, transitions, loop.version)

    replace_step(monkeypatch, "write", write)


# -- the store's codec (the checker's store encodes and decodes as the durable stores do) ------


def change_what_is_read_back(monkeypatch: pytest.MonkeyPatch, change: Callable[[Any], Any]) -> None:
    """Every transition a store reads back is passed through `change`."""
    original = _json.transition_from_fields

    def read(where: str, fields: Any, *decode: Any) -> Any:
        return change(original(where, fields, *decode))

    replace_everywhere(monkeypatch, _json, "transition_from_fields", read)


@mutant(retried, "retry-history", crashes=0)
def read_back_no_retry_history(monkeypatch: pytest.MonkeyPatch) -> None:
    change_what_is_read_back(monkeypatch, lambda t: t._replace(history=None) if t.history else t)


@mutant(chain, "result-from-execute", crashes=0)
def read_back_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    change_what_is_read_back(monkeypatch, lambda t: t._replace(result=None))


@mutant(chain, "attempts", crashes=0)
def read_back_no_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    change_what_is_read_back(monkeypatch, lambda t: t._replace(attempt=0))


@mutant(chain, "record-values", crashes=0)
def read_back_a_failure_without_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def without_message(t: Any) -> Any:
        if t.failure is None:
            return t
        return t._replace(failure=dataclasses.replace(t.failure, message="", traceback=""))

    change_what_is_read_back(monkeypatch, without_message)


@mutant(chain, "result-from-execute", crashes=0)
def decode_a_sequence_one_item_short(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _json.loads

    def loads(text: Any, where: str) -> Any:
        value = original(text, where)
        short = isinstance(value, list | tuple) and value and not isinstance(value[0], dict)
        return value[:-1] if short else value

    replace_everywhere(monkeypatch, _json, "loads", loads)


@mutant(chain, "result-from-execute", crashes=0)
def decode_tuples_as_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """The codec of old: JSON's arrays only, so a tuple comes back a list."""

    def lists_for_tuples(data: dict[str, Any]) -> Any:
        return list(data["$tuple"]) if list(data) == ["$tuple"] else data

    monkeypatch.setattr(_json, "untagged", lists_for_tuples)


# -- the tests -------------------------------------------------------------------------------


def test_there_are_at_least_15_mutants_each_with_its_own_name() -> None:
    names = [m.name for m in MUTANTS]
    assert len(names) >= 15
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("mutated", MUTANTS, ids=lambda m: m.name)
def test_a_mutant_is_caught_by_its_rule(mutated: Mutant, monkeypatch: pytest.MonkeyPatch) -> None:
    mutated.plant(monkeypatch)
    report = check(mutated.flow, **mutated.bounds)
    assert not report.ok
    assert report.violations, str(report)
    violation = report.violations[0]
    assert violation.rule == mutated.rule, str(violation)
    assert mutated.says in violation.message


def test_the_checks_without_a_mutant_name_their_rules_too() -> None:
    """The user's checks, a run that never ends and a revert that raises have names too."""
    forever = check(make_forever, crashes=0)
    assert [v.rule for v in forever.violations] == ["can-run-forever"], str(forever)
    careless = check(make_careless, crashes=0)
    assert careless.violations[0].rule == "revert-raised"
    double = check(make_double_charge, crashes=1, invariant=consistent)
    assert double.violations[0].rule == "invariant"
    assert double.violations[0].to_data()["rule"] == "invariant"


@pytest.mark.parametrize(
    ("flow", "bounds"),
    sorted(
        {(m.flow, tuple(sorted(m.bounds.items()))) for m in MUTANTS},
        key=lambda pair: (pair[0].__name__, pair[1]),
    ),
    ids=lambda value: value.__name__ if callable(value) else repr(dict(value)),
)
def test_the_unmutated_engine_checks_clean(flow: Callable[[], pf.Flow], bounds: Any) -> None:
    report = check(flow, **dict(bounds))
    assert report.ok, str(report)
    assert report.incomplete is None


def test_fuzzing_also_catches_a_running_atom_marked_succeeded_on_resume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same record rule holds in fuzzing, on the real engine and store."""
    assert fuzz(chain, runs=60, seed=11, crashes=1).runs == 60
    mark_a_running_atom_succeeded_without_running_it(monkeypatch)
    with pytest.raises(AssertionError) as found:
        fuzz(chain, runs=60, seed=11, crashes=1)
    assert "is recorded SUCCESS as attempt" in str(found.value)
