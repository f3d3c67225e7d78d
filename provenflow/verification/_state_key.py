"""The keys a search hashes: of a path's state, and of a record by value.

`state_key(simulation)` summarises everything that can influence what happens next: the
atoms' states, attempts, results and last recorded states (each in the flow's order, the same
for every path), their failures and failed reverts (what a `revert` is given; as sets, whatever
order they came in), retry histories, the flow's state, the stage and what follows a write, the
work in flight (a set: every order is tried) and the batch to write, the crashes and
suspensions so far, and the user's context (its repr).
The atoms' part is numbered (`Simulation.shared`): many states share it, and a key holds its
number, so it is hashed once per key, not again each time the key is. Built at C speed where
it can be: a search computes one at every state it reaches.
"""

from __future__ import annotations

from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from provenflow.failure import Failure
from provenflow.fsm import EntityState
from provenflow.persistence import Transition

if TYPE_CHECKING:
    from provenflow.verification._simulation import Simulation

__all__ = ["record_key", "state_key", "value_key"]


def state_key(simulation: Simulation, *, counters: bool = True) -> Any:
    """The hashable state of `simulation` (see the module docstring).

    `counters=False`: the same apart from what only grows as a run repeats itself, the atoms'
    attempt numbers and the retries' histories (which `_lasso` compares on its own); its atoms'
    part is not numbered.
    """
    core = simulation.core
    in_flight, pending, picked = simulation.in_flight, simulation.pending, simulation.picked
    shared = simulation.shared
    atoms = (
        EntityState.states_of(core.states.values()),
        tuple(core.attempts.values()) if counters else None,
        _values_key(core.outcomes, simulation.names),
        tuple(simulation.recorded.values()),
        frozenset(core.failures.items()) if core.failures else None,
        frozenset(core.revert_failures.items()) if core.revert_failures else None,
        frozenset((name, repr(history.to_list())) for name, history in core.histories.items())
        if core.histories and counters
        else None,
    )
    return (
        simulation.stage,
        simulation.after_write if simulation.stage == "write" else None,
        core.flow.state,
        shared.setdefault(atoms, len(shared)) if counters else atoms,
        frozenset(map(_WORK_KEY, in_flight)) if in_flight else None,
        None if picked is None else (picked.action, picked.node),
        tuple(map(_PENDING_KEY, pending)) if pending else None,
        simulation.crashes,
        simulation.suspends,
        None if simulation.context is None else repr(simulation.context),
    )


def value_key(value: Any) -> Any:
    """A result or failure as a hashable value: None, a str or a `Failure` (immutable, equal
    by value) as it is, anything else as its repr (which also keeps 1 and True apart)."""
    kind = type(value)
    return value if value is None or kind in _PLAIN else repr(value)


def _values_key(values: dict[str, Any], names: tuple[str, ...]) -> tuple[Any, ...] | None:
    """Results and failures of the atoms `names` (in that order; `MISSING` where there is none):
    as they are when every one is None, a str or a `Failure` (the common case, taken at C
    speed), else each through `value_key`."""
    if not values:
        return None
    found = tuple(map(values.get, names, repeat(MISSING)))
    if _PLAIN.issuperset(map(type, found)):
        return found
    return tuple(map(value_key, found))


class _Missing:
    """No outcome at all (which is not an outcome of None)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()
_PLAIN = frozenset({type(None), str, Failure, _Missing})
_WORK_KEY = attrgetter("action", "node")
_PENDING_KEY = attrgetter("atom", "event")


def record_key(t: Transition) -> tuple[Any, ...]:
    """A recorded transition by value (its time left out: the clock is 0)."""
    return (
        t.atom,
        t.event,
        t.attempt,
        value_key(t.result),
        t.failure,
        None if t.history is None else repr(t.history),
    )
