"""The durable record's part of a state key: what a resumed process would rebuild from it.

A process that resumes a run reads nothing but its recorded transitions, through
`records_from`: for each atom the events it replays through its table, its attempt count, its
last outcome (and whether there is one: a result of None is not no result), its failure, its
revert failure and, for a retry, its history; and the flow's events. Two records that agree on
all of that rebuild the same run, whatever order their transitions were written in, so that is
what a state key holds of the record (`RecordPart.key`): for each atom, in the flow's order,
the state its events lead to (or where the table refused one), the state its last transition
claims, and the data above; and the flow's state.

`RecordPart` is immutable and folds transitions one at a time (`after`), so a path that writes a
batch pays for the batch, not for the whole record again; `record_part(transitions)` folds a
whole record. The fold mirrors `records_from` field by field (a test holds them together).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from provenflow.fsm import LIFECYCLES
from provenflow.persistence import Transition
from provenflow.verification._value_key import MISSING, value_key

__all__ = ["RecordPart", "record_part"]

_ILLEGAL = "illegal"
"""Marks an atom whose recorded events its table refuses (a resume raises there)."""


class RecordPart:
    """What a resume rebuilds from the first `count` transitions of a record (immutable)."""

    __slots__ = ("atoms", "count", "flow")

    def __init__(
        self, atoms: dict[str, tuple[Any, ...]] | None = None, flow: Any = None, count: int = 0
    ) -> None:
        self.atoms: dict[str, tuple[Any, ...]] = atoms or {}
        """Atom -> (replayed state, claimed state, attempt, outcome key, failure, revert
        failure, history key); an atom with nothing recorded is absent."""
        self.flow = flow
        """The flow's state its recorded events lead to (None: none recorded)."""
        self.count = count
        """How many transitions were folded in."""

    def after(self, transitions: Sequence[Transition]) -> RecordPart:
        """Return the part of this record followed by `transitions` (oldest first)."""
        if not transitions:
            return self
        atoms, flow = dict(self.atoms), self.flow
        for transition in transitions:
            atom = transition.atom
            if atom is None:
                flow = _replay(LIFECYCLES["flow"], flow, transition.event)
            else:
                atoms[atom] = _fold(atoms.get(atom), transition)
        return RecordPart(atoms, flow, self.count + len(transitions))

    def key(self, names: Iterable[str], *, counters: bool = True) -> Hashable:
        """Return the part as a hashable value: each atom of `names` in that order (None: no
        record), then the flow's state. Without `counters`, attempt numbers and histories
        are left out (see `_state_key.state_key`)."""
        atoms = tuple(map(self.atoms.get, names))
        if not counters:
            atoms = tuple(None if atom is None else (*atom[:2], *atom[3:6]) for atom in atoms)
        return (atoms, self.flow)


def record_part(transitions: Sequence[Transition]) -> RecordPart:
    """Return the `RecordPart` of a whole record, oldest transition first."""
    return RecordPart().after(transitions)


def _fold(atom: tuple[Any, ...] | None, transition: Transition) -> tuple[Any, ...]:
    """One atom's part after `transition` (as `records_from` updates its `AtomRecord`)."""
    outcome: Hashable
    if atom is None:
        lifecycle = LIFECYCLES[transition.lifecycle]
        state, attempt = lifecycle.initial, 0
        outcome, failure, revert_failure, history = MISSING, None, None, None
    else:
        state, _, attempt, outcome, failure, revert_failure, history = atom
        lifecycle = LIFECYCLES[transition.lifecycle]
    state = _replay(lifecycle, state, transition.event)
    new = transition.new_state
    if new == "SUCCESS":
        outcome, failure = value_key(transition.result), None
    elif new == "FAILURE":
        outcome = failure = transition.failure
    elif new == "REVERTED":
        outcome = MISSING
    elif new == "PENDING":
        outcome, failure = MISSING, None
    elif new == "REVERT_FAILURE":
        revert_failure = transition.failure
    if transition.history is not None:
        history = value_key(transition.history)
    attempt = max(attempt, transition.attempt)
    return (state, new, attempt, outcome, failure, revert_failure, history)


def _replay(lifecycle: Any, state: Any, event: str) -> Any:
    """The state `event` leads to from `state` (None: the initial state) through the table,
    or a marker of the refusal (which a resume raises at)."""
    if state is None:
        state = lifecycle.initial
    if isinstance(state, tuple):  # refused before: a resume stops at the first refusal
        return state
    new = lifecycle.table[state].get(event)
    return (_ILLEGAL, state, event) if new is None else new
