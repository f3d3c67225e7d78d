"""The invariants a fuzzing run holds (DESIGN.md), checked on its record and its timeline.

`violations(run)` checks a finished `FaultyRun` (see `_fuzz_run`), one line per broken rule:

- only table transitions are recorded, and the flow ends in a terminal state, with nothing
  left RUNNING, REVERTING or RETRYING (but a retry whose subflow holds a failed revert cannot
  be undone, and keeps its RETRYING in a FAILURE run);
- write-ahead: every `execute` runs while its RUNNING record (of that attempt) is durable,
  every `revert` while its REVERTING record (of that attempt) is; so a recorded success is never
  executed again and no attempt is executed twice;
- the record tells what happened (the checker's record rules, `_record_rules`): SUCCESS is
  recorded only for an attempt whose `execute` returned, with what it returned; REVERTED only
  for an attempt whose `revert` returned;
- dependents are reverted first: no revert starts while an atom that depends on it, directly
  or not, holds work or failed to revert;
- SUCCESS: every atom succeeded or was ignored, and `run()` returned; REVERTED: every atom
  that started was undone, and `run()` raised the failure; FAILURE (a revert raised: work done
  and not undone) is a violation for a user's flow, and for the engine's own suite is allowed
  only when a revert really raised.

The timeline is replayed step by step, so each side effect is judged against the record as it
stood when the effect started.
"""

from __future__ import annotations

import networkx as nx

from provenflow.flows import CompiledFlow
from provenflow.fsm import LIFECYCLES
from provenflow.persistence import Transition
from provenflow.verification._fuzz_run import FaultyRun
from provenflow.verification._record_rules import stored

__all__ = [
    "violations",
]

HOLDS_WORK = frozenset({"SUCCESS", "FAILURE", "RUNNING", "REVERTING", "RETRYING"})
"""Atom states that mean it started and is not undone."""
NOT_UNDONE = HOLDS_WORK | {"REVERT_FAILURE"}
"""What a dependency waits for before its revert: a failed revert blocks it for good."""
OPEN = frozenset({"RUNNING", "REVERTING", "RETRYING"})


def violations(run: FaultyRun, *, failure_allowed: bool = False) -> list[str]:
    """Return every invariant of the module docstring that `run` breaks, one line each.

    With `failure_allowed` (the engine's own suite, where reverts raise on purpose), a run
    ending FAILURE is a violation only when no revert raised.
    """
    problems = _replay_tables(run)
    problems += _check_timeline(run)
    problems += _check_end(run, failure_allowed)
    return problems


def _replay_tables(run: FaultyRun) -> list[str]:
    states: dict[str | None, str] = {}
    problems = []
    for t in run.history:
        lifecycle = LIFECYCLES[t.lifecycle]
        current = states.get(t.atom, str(lifecycle.initial))
        allowed = lifecycle.table.get(current, {})
        who = f"{t.lifecycle} {t.atom or 'flow'!r}"
        if t.old_state != current or allowed.get(t.event) != t.new_state:
            problems.append(
                f"{who}: recorded {t.old_state} --{t.event}--> {t.new_state}, but the table "
                f"from {current} allows {sorted(map(str, allowed))}"
            )
        states[t.atom] = t.new_state
    if run.history and [t.event for t in run.history if t.atom is None] == []:
        problems.append("the run recorded atoms but never its flow")
    return problems


def _dependents(compiled: CompiledFlow, name: str) -> list[str]:
    return sorted(
        d for d in nx.descendants(compiled.graph, name) if compiled.nodes[d].kind != "join"
    )


def _check_timeline(run: FaultyRun) -> list[str]:
    """Write-ahead, no repeated success or attempt, dependents reverted first."""
    replay = _Replay(run.compiled)
    for entry in run.timeline:
        if entry[0] == "record":
            replay.record(entry[1])
        elif entry[0] == "execute":
            replay.execute(entry[1], entry[2])
        elif entry[0] == "revert":
            replay.revert(entry[1], entry[2])
        elif entry[0] == "returned":
            replay.returned[(entry[1], entry[2], entry[3])] = stored(entry[4])
    return replay.problems


_MISSING = "provenflow.errors.MissingValue"


class _Replay:
    """The record as it stood at each side effect of a run, and what each effect broke."""

    def __init__(self, compiled: CompiledFlow) -> None:
        self.compiled = compiled
        self.recorded: dict[str, str] = {}
        self.attempts: dict[str, int] = {}
        self.succeeded: set[str] = set()
        self.executed: set[tuple[str, int]] = set()
        self.returned: dict[tuple[str, str, int], object] = {}
        """What each (atom, action, attempt) that returned returned, as a store keeps it."""
        self.problems: list[str] = []

    def record(self, t: Transition) -> None:
        if t.atom is None:
            return
        self._told(t)
        never_ran = t.new_state == "FAILURE" and (t.atom, t.attempt) not in self.executed
        if never_ran and t.failure is not None and t.failure.type_name == _MISSING:
            # an execute that never ran, for want of a value: nothing to undo, and the engine
            # marks it REVERTED without calling its revert
            self.returned[(t.atom, "revert", t.attempt)] = None
        self.recorded[t.atom] = t.new_state
        if t.new_state == "RUNNING":
            self.attempts[t.atom] = t.attempt
        if t.event == "succeed":
            self.succeeded.add(t.atom)
        elif t.event in ("revert", "reset", "retry"):
            self.succeeded.discard(t.atom)

    def execute(self, atom: str, attempt: int) -> None:
        state = self.recorded.get(atom, "PENDING")
        if atom in self.succeeded:
            self.problems.append(f"{atom!r} is executed again after its success was recorded")
        if state != "RUNNING" or self.attempts.get(atom) != attempt:
            self.problems.append(
                f"execute of {atom!r} (attempt {attempt}) started while its record says "
                f"{state} (attempt {self.attempts.get(atom)}): RUNNING must be durable first"
            )
        if (atom, attempt) in self.executed:
            self.problems.append(f"attempt {attempt} of {atom!r} is executed twice")
        self.executed.add((atom, attempt))

    def _told(self, t: Transition) -> None:
        """SUCCESS only with what an execute of that attempt returned; REVERTED only after a
        revert of that attempt returned."""
        atom = str(t.atom)
        if t.event == "succeed":
            key = (atom, "execute", t.attempt)
            if key not in self.returned:
                self.problems.append(
                    f"{atom!r} is recorded SUCCESS as attempt {t.attempt}, but no execute of "
                    "that attempt returned"
                )
            elif self.returned[key] != stored(t.result):
                self.problems.append(
                    f"{atom!r} is recorded SUCCESS (attempt {t.attempt}) with {t.result!r}, but "
                    f"its execute returned {self.returned[key]!r}"
                )
        elif t.event == "reverted" and (atom, "revert", t.attempt) not in self.returned:
            self.problems.append(
                f"{atom!r} is recorded REVERTED (attempt {t.attempt}), but no revert of that "
                "attempt returned"
            )

    def revert(self, atom: str, attempt: int) -> None:
        state = self.recorded.get(atom, "PENDING")
        if state != "REVERTING" or self.attempts.get(atom) != attempt:
            self.problems.append(
                f"revert of {atom!r} (attempt {attempt}) started while its record says {state} "
                f"(attempt {self.attempts.get(atom)})"
            )
        recorded = self.recorded
        busy = [d for d in _dependents(self.compiled, atom) if recorded.get(d) in NOT_UNDONE]
        if busy:
            self.problems.append(
                f"{atom!r} is reverted while {busy}, which depend on it, still hold work "
                f"({', '.join(recorded[d] for d in busy)}): dependents go first"
            )


def _check_end(run: FaultyRun, failure_allowed: bool) -> list[str]:
    outcome = run.outcome
    states = run.states()
    problems = []
    left = sorted(name for name, state in states.items() if state in OPEN)
    if outcome == "FAILURE":  # a retry whose subflow a failed revert blocks keeps its state
        left = [name for name in left if not _blocked(run, states, name)]
    if left:
        problems.append(f"the run ended {outcome} with {left} still RUNNING/REVERTING/RETRYING")
    if outcome == "SUCCESS":
        undone = sorted(n for n, s in states.items() if s not in ("SUCCESS", "IGNORE"))
        if undone:
            problems.append(f"the run ended SUCCESS with {undone} not done")
        if run.raised is not None:
            problems.append(f"the run ended SUCCESS but run() raised {run.raised!r}")
    elif outcome == "REVERTED":
        kept = sorted(n for n, s in states.items() if s not in ("REVERTED", "PENDING", "IGNORE"))
        if kept:
            problems.append(f"the run ended REVERTED with {kept} not undone")
        if run.raised is None:
            problems.append("the run ended REVERTED but run() returned without raising")
    elif outcome == "FAILURE":
        problems += _check_failure(run, states, failure_allowed)
    else:
        raised = f" ({type(run.raised).__name__}: {run.raised})" if run.raised else ""
        problems.append(f"the run stopped in {outcome}, which is not a terminal state{raised}")
    return problems


def _blocked(run: FaultyRun, states: dict[str, str], retry: str) -> bool:
    """Whether `retry` is RETRYING and cannot be undone: an atom it guards failed to revert."""
    guarded = run.compiled.guarded.get(retry, ())
    return states[retry] == "RETRYING" and any(states.get(n) == "REVERT_FAILURE" for n in guarded)


def _check_failure(run: FaultyRun, states: dict[str, str], failure_allowed: bool) -> list[str]:
    failed = sorted(n for n, s in states.items() if s == "REVERT_FAILURE")
    raised = {entry[1] for entry in run.timeline if entry[0] == "raised" and entry[2] == "revert"}
    if not failure_allowed:
        why = "; ".join(
            f"{t.atom}: {t.failure.message if t.failure else '?'}"
            for t in run.history
            if t.event == "revert_failed" and t.atom is not None
        )
        return [f"the run ended FAILURE: a revert raised, so work was done and not undone ({why})"]
    problems = []
    if not failed:
        problems.append("the run ended FAILURE although no atom is REVERT_FAILURE")
    unexplained = [name for name in failed if name not in raised]
    if unexplained:
        problems.append(f"{unexplained} are REVERT_FAILURE although their revert never raised")
    return problems
