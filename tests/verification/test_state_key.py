"""The state key holds everything that can change what happens next, and the search merges
only on it: values atoms provide and receive, work in flight by value, the durable record as a
resume reads it, and the user's world by its full value (never its repr)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import Core, Work, records_from
from provenflow.failure import Failure
from provenflow.flows import compile_flow
from provenflow.persistence import MemoryStorage
from provenflow.verification import check
from provenflow.verification._record_part import record_part
from provenflow.verification._state_key import KeyBook, core_key, work_key, world_part
from provenflow.verification._value_key import MISSING, Uncaptured, value_key


def test_values_equal_by_value_have_equal_keys_and_others_do_not() -> None:
    same = [([1, "a"], [1, "a"]), ({"k": (1, 2)}, {"k": (1, 2)}), ({1, 2}, {2, 1}), (None, None)]
    for first, second in same:
        assert value_key(first) == value_key(second)
        hash(value_key(first))
    apart = [(1, True), (1, 1.0), ([1, 2], (1, 2)), ({"a": [1]}, {"a": (1,)}), (None, MISSING)]
    for first, second in apart:
        assert value_key(first) != value_key(second), (first, second)


class Account:
    """A result whose repr hides what it holds."""

    def __init__(self, balance: int) -> None:
        self.balance = balance

    def __repr__(self) -> str:
        return "Account(...)"


def test_an_object_is_keyed_by_its_attributes_not_its_repr() -> None:
    assert value_key(Account(1)) != value_key(Account(2))
    assert value_key(Account(1)) == value_key(Account(1))


def test_a_value_that_cannot_be_captured_is_equal_to_nothing_else() -> None:
    def code() -> None:
        """A function: its closure is hidden."""

    first, second = value_key(code), value_key(code)
    assert isinstance(first, Uncaptured)
    assert first != second
    assert first == first  # noqa: PLR0124 (equal only to itself)


def token_and_retry() -> pf.Flow:
    """`login` provides `token`; `call` under `Times(2, provides="attempt")` needs both."""

    class Call(pf.Task):
        def execute(self, token: str, attempt: int) -> str:
            return f"{token}-{attempt}"

        def revert(self, token: str, **_: Any) -> None:
            del token

    sub = pf.LinearFlow("sub", retry=pf.Times(2, provides="attempt", name="again"))
    login = pf.task(lambda: "tok", name="login", provides="token")
    return pf.LinearFlow("main").add(login, sub.add(Call(name="call")))


def started_core() -> Core:
    """A core of `token_and_retry` with `login` and `again` done and `call` RUNNING."""
    core = Core(compile_flow(token_and_retry()))
    core.start()
    for _ in range(2):
        (work,) = core.take_work(10)
        core.finish(work, "tok" if work.node == "login" else 1)
    core.take_work(10)
    core.drain()
    return core


def test_cores_that_differ_only_in_a_provided_value_have_different_keys() -> None:
    healthy = started_core()
    names = tuple(healthy.states)
    lost = healthy.clone()
    del lost.provided["again"]  # what a resume that drops a retry's value leaves
    assert core_key(lost, names) != core_key(healthy, names)
    changed = healthy.clone()
    changed.provided["again"] = {"attempt": 2}
    assert core_key(changed, names) != core_key(healthy, names)
    assert core_key(healthy.clone(), names) == core_key(healthy, names)


def test_work_is_keyed_by_the_values_it_hands_the_users_code() -> None:
    def undo(token: str, result: Any, flow_failures: Any) -> None:
        del token, result, flow_failures

    atom = pf.task(lambda token: None, name="t", revert=undo)
    failure = Failure.from_exception(ValueError("x"))
    base = Work("revert", "t", atom, 1, {"token": "tok"}, None, {"a": failure})
    variants = [
        Work("revert", "t", atom, 1, {}, None, {"a": failure}),  # arguments dropped
        Work("revert", "t", atom, 1, {"token": "other"}, None, {"a": failure}),
        Work("revert", "t", atom, 1, {"token": "tok"}, failure, {"a": failure}),  # result
        Work("revert", "t", atom, 1, {"token": "tok"}, None, {"b": failure}),  # failures seen
        Work("revert", "t", atom, 2, {"token": "tok"}, None, {"a": failure}),
        Work("execute", "t", atom, 1, {"token": "tok"}),
    ]
    for variant in variants:
        assert work_key(variant) != work_key(base)
    assert work_key(Work("revert", "t", atom, 1, {"token": "tok"}, None, {"a": failure})) == (
        work_key(base)
    )


def test_a_revert_is_keyed_by_what_it_accepts_only() -> None:
    failure = Failure.from_exception(ValueError("x"))
    nothing = pf.task(lambda token: None, name="t")  # the default revert is handed nothing
    takes_token = pf.task(lambda token: None, name="t", revert=lambda token: None)
    for atom, apart in ((nothing, False), (takes_token, True)):
        first = Work("revert", "t", atom, 1, {"token": "a"}, None, {"a": failure})
        second = Work("revert", "t", atom, 1, {"token": "b"}, failure, {"b": failure})
        assert (work_key(first) != work_key(second)) is apart
        # what this revert does not accept is never part of its key
        third = Work("revert", "t", atom, 1, {"token": "a"}, failure, {"b": failure})
        assert work_key(first) == work_key(third)


def test_the_record_part_holds_what_records_from_rebuilds() -> None:
    storage = MemoryStorage()
    engine = pf.Engine(token_and_retry(), backend=storage)
    engine.run()
    transitions = engine.history()
    records, flow_events = records_from(transitions)
    part = record_part(transitions)
    for name, record in records.items():
        state, claimed, attempt, outcome, failure, revert_failure, history = part.atoms[name]
        last = [t.new_state for t in transitions if t.atom == name][-1]
        assert state == claimed == last
        assert (attempt, failure, revert_failure) == (
            record.attempt,
            record.failure,
            record.revert_failure,
        )
        assert outcome == (value_key(record.outcome) if record.has_outcome else MISSING)
        assert (history is None) == (record.history is None)
    assert part.flow == "SUCCESS" and flow_events[-1] == "succeed"
    # folding on in pieces gives the same part as folding the whole record
    assert record_part(transitions[:5]).after(transitions[5:]).key(records) == part.key(records)


def test_a_record_the_table_refuses_is_kept_apart() -> None:
    storage = MemoryStorage()
    engine = pf.Engine(token_and_retry(), backend=storage)
    engine.run()
    transitions = engine.history()
    forged = [t for t in transitions if not (t.atom == "call" and t.event == "start")]
    assert record_part(forged).key(["call"]) != record_part(transitions).key(["call"])


class Ledger:
    """A world whose repr hides what it holds."""

    def __init__(self) -> None:
        self.last = ""
        self.broken = False

    def __repr__(self) -> str:
        return "Ledger()"


def last_writer_wins() -> tuple[pf.Flow, Ledger]:
    """`a` and `b` in any order write their name to the ledger; `check` after them breaks the
    world when `a` wrote last. The engine's state is the same either way: only the world (its
    attribute, not its repr) tells the two orders apart."""
    ledger = Ledger()

    def write(name: str) -> Any:
        def execute() -> None:
            ledger.last = name

        return pf.task(execute, name=name)

    def inspect() -> None:
        ledger.broken = ledger.last == "a"

    both = pf.UnorderedFlow("both").add(write("a"), write("b"))
    return pf.LinearFlow("w").add(both, pf.task(inspect, name="inspect")), ledger


def test_states_that_differ_only_in_the_worlds_attributes_are_not_merged() -> None:
    report = check(last_writer_wins, crashes=0, eventually=lambda ledger: not ledger.broken)
    assert not report.ok
    assert report.violations[0].message == "eventually <lambda> does not hold"
    assert not report.unmerged


class Hidden:
    """A world holding a function: it cannot be captured by value."""

    def __init__(self) -> None:
        self.count = 0
        self.callback = lambda: self.count

    def __repr__(self) -> str:
        return "Hidden()"


def opaque_world() -> tuple[pf.Flow, Hidden]:
    hidden = Hidden()

    def bump() -> None:
        hidden.count += 1

    return pf.LinearFlow("o").add(pf.task(bump, name="bump"), pf.task(bump, name="again")), hidden


def test_a_world_that_cannot_be_captured_is_not_merged_on_and_the_report_says_so() -> None:
    book = KeyBook()
    first, second = world_part(Hidden(), book), world_part(Hidden(), book)
    assert first != second
    assert list(book.uncaptured) == ["the world (a Hidden) cannot be captured by value"]
    merged = check(opaque_world, crashes=1)
    unmerged = check(opaque_world, crashes=1, _merge=False)
    assert merged.ok and unmerged.ok
    assert merged.unmerged == ("the world (a Hidden) cannot be captured by value",)
    assert "not merged: the world (a Hidden) cannot be captured by value" in str(merged)
    # no state was merged on the world: the search explored as many choices as one without
    # merging at all
    assert merged.choices == unmerged.choices
    plain = check(lambda: (opaque_world()[0], {"count": 0}), crashes=1)
    assert plain.choices < merged.choices and not plain.unmerged


def test_verify_json_says_what_was_not_merged(tmp_path: Path) -> None:
    from tests.test_cli_verify import invoke  # noqa: PLC0415 (the CLI helper)

    module = tmp_path / "opaque.py"
    module.write_text(
        "from tests.verification.test_state_key import opaque_world\n"
        "def make():\n    return opaque_world()\n"
    )
    result = invoke("verify", f"{module}:make", "--crashes", "0", "--json")
    assert result.exit_code == 0, result.output
    import json  # noqa: PLC0415

    assert json.loads(result.output)["unmerged"] == [
        "the world (a Hidden) cannot be captured by value"
    ]


@pytest.mark.parametrize("snapshots", [False, True])
def test_without_merging_every_path_runs_to_its_end(snapshots: bool) -> None:
    def make() -> pf.Flow:
        return pf.UnorderedFlow("u").add(*(pf.task(lambda: None, name=n) for n in "ab"))

    merged = check(make, crashes=1, snapshots=snapshots)
    unmerged = check(make, crashes=1, snapshots=snapshots, _merge=False)
    assert merged.ok and unmerged.ok
    assert unmerged.paths > merged.paths
    assert unmerged.choices > merged.choices
