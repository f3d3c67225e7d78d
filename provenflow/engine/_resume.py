"""Rebuilding a core from a run's record, and continuing the run from where it stopped.

`load_records` gives every atom the state its recorded events lead to, replayed through its
lifecycle table (a record the table refuses raises `IllegalTransition`), with its attempt
count, last outcome, for a retry its history, and what it provides: exactly what the live core
would hold, whatever state the atom was left in (the result of its last successful execute,
until it was reverted or its revert failed: a SUCCESS atom, one REVERTING after it succeeded,
a retry RETRYING or running again). An atom's execute or revert finds every value it was
given before the crash. `continue_recorded` then decides what to do
with what it finds, in this order, so that an interrupted decision is never lost:

1. a retry recorded RETRYING reopens the revert phase of its subflow;
2. an atom recorded FAILURE outside any phase has its failure decided again (the decision
   itself is only durable once it changed a state);
3. an atom recorded RUNNING outside any phase is executed again, as a new attempt
   (`crash_recovered`);
4. an atom recorded REVERTING outside any phase cannot happen in a consistent record: reverts
   happen only inside a recorded phase (a RETRYING retry or a REVERTING flow);
5. PENDING atoms whose predecessors are done become ready (their deciders vote again).

A flow recorded REVERTING is handled before all this by the core, which reopens the whole-flow
phase: there, RUNNING atoms are reverted at once and REVERTING ones reverted again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from provenflow.engine._work import AtomRecord
from provenflow.errors import RecordError
from provenflow.flows import History
from provenflow.fsm import EntityState
from provenflow.fsm import flow as flow_fsm
from provenflow.fsm import retry as retry_fsm
from provenflow.fsm import task as task_fsm
from provenflow.persistence import Transition

if TYPE_CHECKING:
    from provenflow.engine._core import Core

__all__ = ["continue_recorded", "load_records", "records_from"]

TaskState = task_fsm.State
FINISHED = frozenset({TaskState.SUCCESS, TaskState.IGNORE})


def load_records(core: Core, records: Mapping[str, AtomRecord]) -> None:
    """Give every atom of `core` its recorded state and data (or a fresh one)."""
    flow_name = core.compiled.name
    for name, node in core.nodes.items():
        if node.kind == "join":
            continue
        core.atom_count += 1
        lifecycle = retry_fsm.LIFECYCLE if node.kind == "retry" else task_fsm.LIFECYCLE
        record = records.get(name)
        if record is None:
            core.states[name] = EntityState(lifecycle, name, flow_name)
            core.attempts[name] = 0
        else:
            core.states[name] = _replayed(node.kind, tuple(record.events), name, flow_name).copy()
            core.attempts[name] = record.attempt
            if record.has_outcome:
                core.outcomes[name] = record.outcome
            if record.failure is not None:
                core.failures[name] = record.failure
            if record.revert_failure is not None:
                core.revert_failures[name] = record.revert_failure
        if node.kind == "retry":
            history = record.history if record and record.history else History()
            core.histories[name] = history
        if core.states[name].state in FINISHED:
            core.done += 1
        if record is not None and record.has_provides and node.atom is not None:
            core.provided[name] = node.atom.provided(record.provides)


@functools.lru_cache(maxsize=65_536)
def _replayed(
    kind: str, events: tuple[str, ...], name: str, flow_name: str
) -> EntityState[Any, Any]:
    """The holder `events` lead atom `name` to through its table: the same for the same
    events, so one replay serves every core rebuilt from them (each takes a copy). A model
    checker rebuilds thousands of cores from records that share most atoms' events."""
    lifecycle = retry_fsm.LIFECYCLE if kind == "retry" else task_fsm.LIFECYCLE
    return EntityState.replay(lifecycle, events, name, flow_name)


def continue_recorded(core: Core) -> None:
    """Pick a recorded, RUNNING run up where it stopped (see the module docstring)."""
    order = core.compiled.order
    for name in order:
        retrying = core.nodes[name].kind == "retry" and (
            core.states[name].state == retry_fsm.State.RETRYING
        )
        if retrying and core.phases.phase_of(name) is None:
            core.phases.open(name, core.compiled.guarded[name])
    for name in order:
        if core.flow.state != flow_fsm.State.RUNNING:
            return
        if name not in core.states or core.phases.phase_of(name) is not None:
            continue
        state = core.states[name].state
        if state == TaskState.FAILURE:
            core.resolve(name, core.failures[name])
        elif state == TaskState.RUNNING:
            core.push_ready(name)
        elif state == TaskState.REVERTING:
            raise RecordError(
                f"atom {name!r} in run of {core.compiled.name!r} is recorded REVERTING, "
                "but no retry or flow revert that would revert it is recorded"
            )
    for name in order:
        free = core.waiting[name] == 0 and core.phases.phase_of(name) is None
        if free and name in core.states and core.states[name].state == TaskState.PENDING:
            core.became_ready(name)


def records_from(transitions: Iterable[Transition]) -> tuple[dict[str, AtomRecord], list[str]]:
    """Rebuild what the core needs from a run's transitions, oldest first."""
    records: dict[str, AtomRecord] = {}
    flow_events: list[str] = []
    for transition in transitions:
        if transition.atom is None:
            flow_events.append(transition.event)
            continue
        record = records.get(transition.atom)
        if record is None:
            record = records[transition.atom] = AtomRecord()
        record.events.append(transition.event)
        record.attempt = max(record.attempt, transition.attempt)
        new = transition.new_state
        if new == "SUCCESS":
            record.outcome, record.has_outcome = transition.result, True
            record.provides, record.has_provides = transition.result, True
            record.failure = None
        elif new == "FAILURE":
            record.outcome = record.failure = transition.failure
            record.has_outcome = True
        elif new == "REVERTED":
            record.outcome, record.has_outcome = None, False
            record.provides, record.has_provides = None, False
        elif new == "PENDING":
            record.outcome = record.failure = None
            record.has_outcome = False
        elif new == "REVERT_FAILURE":
            record.revert_failure = transition.failure
            record.provides, record.has_provides = None, False
        if transition.history is not None:
            record.history = History.from_list(list(transition.history))
    return records, flow_events
