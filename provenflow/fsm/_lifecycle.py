"""A lifecycle: a checked, frozen transition table and the one chokepoint that applies it.

Theory of operation. A lifecycle is a finite-state machine written as data: rows of
`state -> [(event, target), ...]`, an initial state, and terminal states whose rows are empty.
`build_lifecycle` runs the checks of `_checks` and refuses a bad table before anything runs.
After that the table never changes.

Every state change in provenflow goes through `Lifecycle.apply(state, event)`: it returns the
next state, or raises `IllegalTransition` naming the lifecycle, the entity, the state, the event
and the events that are allowed. `apply` is pure: it changes nothing, so a refused event leaves
every caller's state as it was. `EntityState` holds the state of one entity (an atom, a flow, a
job) and changes it only through `apply`; there is no setter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from operator import attrgetter
from types import MappingProxyType
from typing import Generic, TypeVar

from provenflow.errors import IllegalTransition, UsageError
from provenflow.fsm._checks import CHECKS, Definition, first_problem

__all__ = ["EntityState", "Lifecycle", "build_lifecycle"]

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True, eq=False)
class Lifecycle(Generic[S, E]):
    """A checked transition table. Build one with `build_lifecycle`, never directly.

    Attributes: `name`; `states` and `events` in declaration order; `initial`; `terminal`;
    `table`, a read-only mapping `state -> {event -> state}` with an (empty) row for every state.
    """

    name: str
    states: tuple[S, ...]
    events: tuple[E, ...]
    initial: S
    terminal: frozenset[S]
    table: Mapping[S, Mapping[E, S]]
    _definition: Definition = field(repr=False)
    _events_by_value: Mapping[str, E] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_value = MappingProxyType({str(event): event for event in self.events})
        object.__setattr__(self, "_events_by_value", by_value)

    def apply(self, state: S, event: E, entity: str | None = None, flow: str | None = None) -> S:
        """Return the state that `event` leads to from `state`.

        Raises `IllegalTransition` (with `entity` and `flow` named in it) when the table has no
        such edge, and `UsageError` when `state` is not a state of this lifecycle. Nothing is
        changed either way: the caller keeps its state until it stores the returned one.
        """
        try:
            return self.table[state][event]
        except KeyError:
            row = self._row(state, entity)
            raise IllegalTransition(
                self.name, entity, str(state), str(event), sorted(row, key=str), flow
            ) from None

    def allowed(self, state: S) -> tuple[E, ...]:
        """Return the events allowed from `state`, sorted by name; empty when it is terminal.

        Raises `UsageError` when `state` is not a state of this lifecycle.
        """
        return tuple(sorted(self._row(state), key=str))

    def _row(self, state: S, entity: str | None = None) -> Mapping[E, S]:
        try:
            return self.table[state]
        except (KeyError, TypeError):
            where = self.name if entity is None else f"{self.name} {entity!r}"
            raise UsageError(
                f"{where}: {state!r} is not a {self.name} state (states: {', '.join(self.states)})"
            ) from None

    def event(self, value: str) -> E:
        """Return the event whose value is `value` (e.g. as read back from a store).

        Raises `UsageError` naming the events when there is none.
        """
        event = self._events_by_value.get(value)
        if event is not None:
            return event
        raise UsageError(
            f"{self.name}: {value!r} is not a {self.name} event (events: {', '.join(self.events)})"
        )

    def edges(self) -> Iterator[tuple[S, E, S]]:
        """Yield every (state, event, target) of the table, in declaration order."""
        for state, row in self.table.items():
            for event, target in row.items():
                yield state, event, target

    def check_results(self) -> list[tuple[str, bool]]:
        """Re-run the build-time checks on this table; return each check's name and outcome."""
        return [
            (check.name, next(iter(check.run(self._definition)), None) is None) for check in CHECKS
        ]

    def __repr__(self) -> str:
        return f"<Lifecycle {self.name!r}: {len(self.states)} states, {len(self.events)} events>"


def build_lifecycle(
    name: str,
    *,
    states: type[S],
    events: type[E],
    initial: S,
    terminal: Sequence[S] | frozenset[S],
    rows: Mapping[S, Sequence[tuple[E, S]]],
) -> Lifecycle[S, E]:
    """Check a table and return it frozen as a `Lifecycle`.

    Raises `LifecycleDefinitionError` naming the lifecycle and the first offending entry (see
    `provenflow.fsm._checks` for the checks, in order).
    """
    definition = Definition(
        name=name,
        states=states,
        events=events,
        initial=initial,
        terminal=frozenset(terminal),
        rows=MappingProxyType({state: tuple(row) for state, row in rows.items()}),
    )
    problem = first_problem(definition)
    if problem is not None:
        raise problem
    table: dict[S, Mapping[E, S]] = {state: MappingProxyType(dict(rows[state])) for state in states}
    return Lifecycle(
        name=name,
        states=tuple(states),
        events=tuple(events),
        initial=initial,
        terminal=frozenset(terminal),
        table=MappingProxyType(table),
        _definition=definition,
    )


class EntityState(Generic[S, E]):
    """The current state of one entity in one lifecycle, changed only through `apply`.

    Starts at the lifecycle's initial state. A refused event raises `IllegalTransition` and
    leaves `state` unchanged.
    """

    __slots__ = ("_state", "entity", "flow", "lifecycle")

    def __init__(
        self, lifecycle: Lifecycle[S, E], entity: str | None = None, flow: str | None = None
    ) -> None:
        self.lifecycle = lifecycle
        self.entity = entity
        self.flow = flow
        self._state = lifecycle.initial

    @property
    def state(self) -> S:
        """The current state (read-only: change it with `apply`)."""
        return self._state

    def apply(self, event: E) -> S:
        """Move through `event` and return the new state.

        Raises `IllegalTransition` when the table refuses `event`; the state is then unchanged.
        """
        self._state = self.lifecycle.apply(self._state, event, self.entity, self.flow)
        return self._state

    @classmethod
    def replay(
        cls,
        lifecycle: Lifecycle[S, E],
        events: Iterable[E | str],
        entity: str | None = None,
        flow: str | None = None,
    ) -> EntityState[S, E]:
        """Return an entity whose state is reached by applying `events` from the initial state.

        This is how recorded state is loaded: through the table, never by assignment. Events
        may be given by value. Raises `IllegalTransition` at the first event the table refuses,
        and `UsageError` for a value that is no event of the lifecycle.
        """
        holder = cls(lifecycle, entity, flow)
        for event in events:
            holder.apply(lifecycle.event(str(event)))
        return holder

    def copy(self) -> EntityState[S, E]:
        """Return a new holder in the same state (a snapshot; it moves on its own)."""
        other = EntityState.__new__(EntityState)
        other.lifecycle, other.entity, other.flow = self.lifecycle, self.entity, self.flow
        other._state = self._state
        return other

    @staticmethod
    def states_of(holders: Iterable[EntityState[S, E]]) -> tuple[S, ...]:
        """Return the current state of each holder, in order (at C speed: a model checker
        reads every atom's state at every state it reaches)."""
        return tuple(map(_STATE, holders))

    def can(self, event: E) -> bool:
        """Return whether `event` is allowed from the current state."""
        return event in self.lifecycle._row(self._state)

    def __repr__(self) -> str:
        return f"<{self.lifecycle.name} {self.entity!r}: {self._state}>"


_STATE = attrgetter("_state")
