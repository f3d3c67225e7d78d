"""The invariant checker finds what it must: real runs, then the same runs tampered with.

A checker that passes everything proves nothing, so each rule is shown to fire on a record or a
journal altered the way a broken engine would alter it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.crash.conftest import sqlite_url
from tests.crash.flows import JournalEntry
from tests.crash.harness import Run, drive_in_process
from tests.crash.invariants import violations


@pytest.fixture
def retried(tmp_path: Path) -> Run:
    """The retry flow, crashed before its 7th write (the 6th is b's RUNNING) and resumed."""
    run = drive_in_process("retry", sqlite_url(tmp_path), tmp_path, [7])
    assert run.rounds[0].died
    return run


@pytest.fixture
def reverted(tmp_path: Path) -> Run:
    """The revert-everything flow, crashed before its 20th write and resumed."""
    run = drive_in_process("revert_all", sqlite_url(tmp_path), tmp_path, [20])
    assert run.rounds[0].died
    return run


def with_journal(run: Run, journal: list[JournalEntry]) -> Run:
    return dataclasses.replace(run, journal=journal)


def one_violation_saying(run: Run, text: str) -> None:
    found = violations(run)
    assert any(text in line for line in found), found


def test_real_runs_are_consistent(retried: Run, reverted: Run) -> None:
    assert violations(retried) == []
    assert violations(reverted) == []


def test_an_attempt_executed_twice_is_found(retried: Run) -> None:
    last = retried.journal[-1]
    one_violation_saying(
        with_journal(retried, [*retried.journal, last]), "that attempt was already executed"
    )


def test_an_execution_without_its_running_record_is_found(retried: Run) -> None:
    ghost = JournalEntry("execute", "d", 99, 1, 0)
    one_violation_saying(with_journal(retried, [*retried.journal, ghost]), "no RUNNING record")


def test_an_execution_by_another_process_than_the_one_that_recorded_it_is_found(
    retried: Run,
) -> None:
    moved = [dataclasses.replace(e, round=0) if e.atom == "d" else e for e in retried.journal]
    one_violation_saying(with_journal(retried, moved), "no RUNNING record")


def test_reverts_out_of_order_are_found(reverted: Run) -> None:
    journal = list(reverted.journal)
    first = next(i for i, e in enumerate(journal) if e.action == "revert" and e.atom == "l2")
    second = next(i for i, e in enumerate(journal) if e.action == "revert" and e.atom == "l1")
    journal[first], journal[second] = journal[second], journal[first]
    one_violation_saying(with_journal(reverted, journal), "its dependents ['l2'] are still")


def test_a_side_effect_left_in_place_is_found(reverted: Run) -> None:
    undo_a = next(e for e in reverted.journal if e.action == "revert" and e.atom == "a")
    journal = [e for e in reverted.journal if e is not undo_a]
    one_violation_saying(with_journal(reverted, journal), "side effects in place: ['a']")


def test_a_recovery_without_a_death_is_found(retried: Run) -> None:
    rounds = [dataclasses.replace(one, died=False) for one in retried.rounds]
    one_violation_saying(dataclasses.replace(retried, rounds=rounds), "only left this way")


def test_an_unfinished_run_is_found(retried: Run) -> None:
    history = retried.history[:-1]
    rounds = [
        *retried.rounds[:-1],
        dataclasses.replace(retried.rounds[-1], history_end=len(history)),
    ]
    found = violations(dataclasses.replace(retried, history=history, rounds=rounds))
    assert "the flow ended RUNNING, expected SUCCESS" in found


def test_a_transition_outside_the_table_is_found(retried: Run) -> None:
    history = list(retried.history)
    index = next(i for i, t in enumerate(history) if t.event == "succeed" and t.atom == "d")
    history[index] = history[index]._replace(event="reset")
    one_violation_saying(dataclasses.replace(retried, history=history), "not in the task table")


def test_a_second_outcome_for_one_attempt_is_found(retried: Run) -> None:
    history = list(retried.history)
    index = next(i for i, t in enumerate(history) if t.event == "succeed" and t.atom == "d")
    twice = history[index]._replace(old_state="SUCCESS")
    history.insert(index + 1, twice)
    rounds = [
        *retried.rounds[:-1],
        dataclasses.replace(retried.rounds[-1], history_end=len(history)),
    ]
    one_violation_saying(
        dataclasses.replace(retried, history=history, rounds=rounds), "a second outcome"
    )
