"""The invariants of DESIGN.md, checked on what a crashed and resumed run left behind.

`violations(run)` reads the run's recorded history (which round, that is which process, wrote
each transition) and its journal of real side effects, and returns every broken rule as a line
of text (empty: the run is consistent). The rules:

1. Only table transitions: replaying each entity's recorded events through its lifecycle table
   gives exactly the recorded states.
2. The run ended, and as its flow must (`Case.outcome`); no atom is left RUNNING, REVERTING or
   RETRYING.
3. A RUNNING or REVERTING record is left by its outcome (succeed / fail, reverted /
   revert_failed), or else only after the process that wrote it died, by a later process
   (`crash_recovered`, or `revert` of an interrupted task).
4. At most one outcome, and so at most one success, per attempt of an atom.
5. Write-ahead: every execution in the journal has a RUNNING record for its attempt written
   first by the same process, and no attempt is executed twice; every revert has a REVERTING
   record of that attempt in the same process. Hence a recorded success is never executed
   again (only a `reset` by a retry reopens an atom), and an atom executed twice either was
   reset in between or its first attempt has no recorded outcome: the crash came between its
   RUNNING record and its result.
6. Reverts in reverse order: no atom is reverted (in the record, or in the journal) while an
   atom that depends on it is still started and not undone.
7. End state: after SUCCESS every atom is SUCCESS or IGNORE; after REVERTED every atom that
   started is REVERTED; after FAILURE some revert failed. In every case the side effects still
   in place (executed, not undone) are exactly those of the tasks left SUCCESS, FAILURE or
   REVERT_FAILURE.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx

from provenflow.engine import load_factory
from provenflow.errors import IllegalTransition
from provenflow.flows import compile_flow
from provenflow.fsm import LIFECYCLES
from tests.crash.flows import Step
from tests.crash.harness import Run, rounds_of_transitions

__all__ = ["assert_consistent", "violations"]

OPEN = frozenset({"RUNNING", "REVERTING", "RETRYING"})
STARTED = frozenset({"RUNNING", "SUCCESS", "FAILURE", "REVERTING", "RETRYING", "REVERT_FAILURE"})
OUTCOMES = {"RUNNING": {"succeed", "fail"}, "REVERTING": {"reverted", "revert_failed"}}
EFFECT_KEPT = frozenset({"SUCCESS", "FAILURE", "REVERT_FAILURE"})


def assert_consistent(run: Run) -> None:
    """Fail with every violated invariant and the run's whole record, if any is violated."""
    found = violations(run)
    assert not found, "\n".join(["invariants violated:", *found, run.describe()])


def violations(run: Run) -> list[str]:
    """Return every invariant `run` breaks, one line each (see the module docstring)."""
    compiled = compile_flow(load_factory(run.case.factory)())
    atoms = [name for name, node in compiled.nodes.items() if node.kind != "join"]
    dependents = {
        name: {d for d in nx.descendants(compiled.graph, name) if compiled.nodes[d].kind != "join"}
        for name in atoms
    }
    tasks = {name for name in atoms if isinstance(compiled.nodes[name].atom, Step)}
    problems: list[str] = []
    final = _replay(run, dependents, problems)
    _check_end(run, final, atoms, problems)
    _check_journal(run, dependents, problems, tasks, final)
    return problems


def _replay(run: Run, dependents: dict[str, set[str]], problems: list[str]) -> dict[str, str]:
    """Rules 1, 3, 4 and the record's half of 6; return each entity's final state."""
    round_of = rounds_of_transitions(run)
    died = {one.number for one in run.rounds if one.died}
    states: dict[str, str] = {}
    entered: dict[str, int] = {}  # entity -> index of its record entering RUNNING/REVERTING
    outcomes: Counter[tuple[str, int]] = Counter()
    for index, t in enumerate(run.history):
        entity = t.atom or "flow"
        lifecycle = LIFECYCLES[t.lifecycle]
        old = states.get(entity, str(lifecycle.initial))
        where = f"#{index} {entity} --{t.event}-->"
        if t.old_state != old:
            problems.append(f"{where}: recorded from {t.old_state}, but replay says {old}")
        try:
            new = str(lifecycle.apply(old, t.event))
        except IllegalTransition as refused:
            problems.append(f"{where}: not in the {t.lifecycle} table ({refused})")
            new = t.new_state
        if new != t.new_state:
            problems.append(f"{where}: recorded {t.new_state}, the table says {new}")
        if t.atom is not None:
            start = entered.pop(entity, None)
            recovered = start is not None and (
                t.event not in OUTCOMES[run.history[start].new_state]
            )
            if recovered and (round_of[start] not in died or round_of[index] <= round_of[start]):
                problems.append(
                    f"{where}: left {run.history[start].new_state} (#{start}, round "
                    f"{round_of[start]}) by {t.event} in round {round_of[index]}, but that "
                    "state is only left this way after its process died"
                )
            if t.new_state in OUTCOMES:
                entered[entity] = index
            if t.event in ("succeed", "fail"):
                outcomes[(entity, t.attempt)] += 1
                if outcomes[(entity, t.attempt)] == 2:
                    problems.append(f"{where}: a second outcome for attempt {t.attempt}")
            if t.event == "revert":
                still = sorted(d for d in dependents[entity] if states.get(d) in STARTED)
                if still:
                    problems.append(
                        f"{where}: reverted while its dependents {still} are still "
                        f"{[states[d] for d in still]}"
                    )
        states[entity] = new
    return states


def _check_end(run: Run, final: dict[str, str], atoms: list[str], problems: list[str]) -> None:
    """Rules 2 and the record's half of 7."""
    outcome = final.get("flow")
    if outcome != run.case.outcome:
        problems.append(f"the flow ended {outcome}, expected {run.case.outcome}")
    left_open = {a: s for a, s in final.items() if a != "flow" and s in OPEN}
    if left_open:
        problems.append(f"atoms left open: {left_open}")
    started = {t.atom for t in run.history if t.atom is not None and t.new_state == "RUNNING"}
    if outcome == "SUCCESS":
        bad = {a: final.get(a, "PENDING") for a in atoms}
        bad = {a: s for a, s in bad.items() if s not in ("SUCCESS", "IGNORE")}
        if bad:
            problems.append(f"after SUCCESS, atoms not SUCCESS or IGNORE: {bad}")
    elif outcome == "REVERTED":
        bad = {a: final[a] for a in sorted(started) if final[a] != "REVERTED"}
        if bad:
            problems.append(f"after REVERTED, atoms that started and are not REVERTED: {bad}")
    elif outcome == "FAILURE" and "REVERT_FAILURE" not in final.values():
        problems.append("the flow ended FAILURE, but no revert failed")


@dataclass
class _Records:
    """Where the record says each attempt started, was reverted, ended, and was reset."""

    running: dict[tuple[str, int], int] = field(default_factory=dict)  # -> index of RUNNING
    reverting: set[tuple[str, int, int]] = field(default_factory=set)  # atom, attempt, round
    outcome_of: set[tuple[str, int]] = field(default_factory=set)
    resets: dict[str, list[int]] = field(default_factory=dict)


def _records(run: Run, round_of: list[int]) -> _Records:
    records = _Records()
    for index, t in enumerate(run.history):
        if t.atom is None:
            continue
        if t.new_state == "RUNNING":
            records.running[(t.atom, t.attempt)] = index
        elif t.new_state == "REVERTING":
            records.reverting.add((t.atom, t.attempt, round_of[index]))
        if t.event in ("succeed", "fail"):
            records.outcome_of.add((t.atom, t.attempt))
        if t.event == "reset":
            records.resets.setdefault(t.atom, []).append(index)
    return records


def _check_journal(
    run: Run,
    dependents: dict[str, set[str]],
    problems: list[str],
    tasks: set[str],
    final: dict[str, str],
) -> None:
    """Rules 5, the journal's half of 6, and the journal's half of 7."""
    round_of = rounds_of_transitions(run)
    records = _records(run, round_of)
    executed: dict[str, list[int]] = {}
    undone: Counter[tuple[str, int, int]] = Counter()
    live: set[str] = set()  # tasks whose side effect is in place
    for entry in run.journal:
        what = f"journal: {entry.action} {entry.atom} @{entry.attempt} in round {entry.round}"
        if entry.action == "execute":
            record = records.running.get((entry.atom, entry.attempt))
            if record is None or round_of[record] != entry.round:
                problems.append(f"{what}: no RUNNING record of that attempt by that process")
            if entry.attempt in executed.get(entry.atom, []):
                problems.append(f"{what}: that attempt was already executed")
            executed.setdefault(entry.atom, []).append(entry.attempt)
            live.add(entry.atom)
            continue
        key = (entry.atom, entry.attempt, entry.round)
        if key not in records.reverting:
            problems.append(f"{what}: no REVERTING record of that attempt by that process")
        undone[key] += 1
        if undone[key] == 2:
            problems.append(f"{what}: reverted twice by one process")
        still = sorted(dependents[entry.atom] & live)
        if still:
            problems.append(f"{what}: its dependents {still} are still in effect")
        if entry.action == "revert":
            live.discard(entry.atom)
    _check_executed_again(executed, records, problems)
    kept = {t for t in tasks if final.get(t) in EFFECT_KEPT}
    if live != kept:
        problems.append(
            f"side effects in place: {sorted(live)}; tasks left SUCCESS, FAILURE or "
            f"REVERT_FAILURE: {sorted(kept)}"
        )


def _check_executed_again(
    executed: dict[str, list[int]], records: _Records, problems: list[str]
) -> None:
    """An attempt with a recorded outcome is followed by another only after a reset."""
    for atom, attempts in executed.items():
        for first, then in itertools.pairwise(attempts):
            if (atom, first) not in records.outcome_of:
                continue  # interrupted: rule 3 checked that its process died
            since = [i for i in records.resets.get(atom, []) if records.running[(atom, first)] < i]
            if not any(i < records.running.get((atom, then), -1) for i in since):
                problems.append(
                    f"journal: {atom} executed again (attempt {then}) after attempt {first} "
                    "recorded its outcome, with no reset in between"
                )
