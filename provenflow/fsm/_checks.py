"""Build-time checks of a transition table.

A lifecycle is defined as rows: `{state: [(event, target), ...]}`, with the initial state and
the terminal states declared. Before a `Lifecycle` is built from a definition, every check below
runs in order; the first problem found is raised as `LifecycleDefinitionError` naming the
lifecycle, the offending entry and what would be accepted. A table that passes is sound:

1. the initial and terminal states are states of the lifecycle, and there is a terminal state;
2. every row is keyed by a known state, and every state has a row (terminal rows are empty);
3. every edge names a known event and a known target;
4. no (state, event) pair is listed twice, so one event leads to one state;
5. no edge leaves a terminal state;
6. every declared event is used by some edge;
7. every state is reachable from the initial state;
8. every non-terminal state can reach a terminal state.

The checks read only the definition: no I/O, no clock. Checks 7 and 8 run on a networkx graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import networkx as nx

from provenflow.errors import LifecycleDefinitionError

__all__ = ["CHECKS", "Check", "Definition", "first_problem"]

Rows = Mapping[StrEnum, Sequence[tuple[StrEnum, StrEnum]]]


@dataclass(frozen=True)
class Definition:
    """A lifecycle as written, before it is checked and frozen."""

    name: str
    states: type[StrEnum]
    events: type[StrEnum]
    initial: StrEnum
    terminal: frozenset[StrEnum]
    rows: Rows

    def edges(self) -> Iterator[tuple[StrEnum, StrEnum, StrEnum]]:
        """Yield every (state, event, target) triple in row order."""
        for state, row in self.rows.items():
            for event, target in row:
                yield state, event, target

    def fail(self, entry: str, problem: str) -> LifecycleDefinitionError:
        """Return the error naming this lifecycle, `entry` and `problem`."""
        return LifecycleDefinitionError(self.name, entry, problem)


def _names(members: Iterator[StrEnum] | Sequence[StrEnum] | frozenset[StrEnum]) -> str:
    return ", ".join(sorted(str(member) for member in members))


def _is(member: object, enum: type[StrEnum]) -> bool:
    """Whether `member` is a member of `enum` (the same on every Python version)."""
    return isinstance(member, enum)


def _edge(state: object, event: object, target: object) -> str:
    return f"{state} --{event}--> {target}"


def _declared_states(d: Definition) -> Iterator[LifecycleDefinitionError]:
    if not _is(d.initial, d.states):
        yield d.fail(
            f"initial state {d.initial!r}",
            f"is not a state of {d.states.__name__} (states: {_names(list(d.states))})",
        )
    if not d.terminal:
        yield d.fail("terminal states", "none declared (a lifecycle needs at least one)")
    for state in sorted(d.terminal, key=str):
        if not _is(state, d.states):
            yield d.fail(
                f"terminal state {state!r}",
                f"is not a state of {d.states.__name__} (states: {_names(list(d.states))})",
            )


def _rows_cover_states(d: Definition) -> Iterator[LifecycleDefinitionError]:
    for state in d.rows:
        if not _is(state, d.states):
            yield d.fail(
                f"row {state!r}",
                f"is not a state of {d.states.__name__} (states: {_names(list(d.states))})",
            )
    for state in d.states:
        if state not in d.rows:
            yield d.fail(
                f"state {state}",
                "has no row (every state needs one; a terminal state has an empty row)",
            )


def _edges_known(d: Definition) -> Iterator[LifecycleDefinitionError]:
    for state, event, target in d.edges():
        if not _is(event, d.events):
            yield d.fail(
                _edge(state, event, target),
                f"event {event!r} is not an event of {d.events.__name__} "
                f"(events: {_names(list(d.events))})",
            )
        if not _is(target, d.states):
            yield d.fail(
                _edge(state, event, target),
                f"target {target!r} is not a state of {d.states.__name__} "
                f"(states: {_names(list(d.states))})",
            )


def _one_target(d: Definition) -> Iterator[LifecycleDefinitionError]:
    for state, row in d.rows.items():
        seen: dict[StrEnum, StrEnum] = {}
        for event, target in row:
            if event not in seen:
                seen[event] = target
            elif seen[event] == target:
                yield d.fail(_edge(state, event, target), "is listed twice")
            else:
                yield d.fail(
                    f"{state} --{event}-->",
                    f"has two targets, {seen[event]} and {target} (one event leads to one state)",
                )


def _terminal_rows_empty(d: Definition) -> Iterator[LifecycleDefinitionError]:
    for state, event, target in d.edges():
        if state in d.terminal:
            yield d.fail(
                _edge(state, event, target),
                f"leaves terminal state {state} (terminal states have an empty row)",
            )


def _events_used(d: Definition) -> Iterator[LifecycleDefinitionError]:
    used = {event for _, event, _ in d.edges()}
    for event in d.events:
        if event not in used:
            yield d.fail(f"event {event}", "is used by no edge (remove it or give it an edge)")


def _graph(d: Definition) -> nx.DiGraph[StrEnum]:
    graph: nx.DiGraph[StrEnum] = nx.DiGraph()
    graph.add_nodes_from(d.states)
    graph.add_edges_from((state, target) for state, _, target in d.edges())
    return graph


def _all_reachable(d: Definition) -> Iterator[LifecycleDefinitionError]:
    reached = nx.descendants(_graph(d), d.initial) | {d.initial}
    for state in d.states:
        if state not in reached:
            yield d.fail(f"state {state}", f"cannot be reached from the initial state {d.initial}")


def _terminal_reachable(d: Definition) -> Iterator[LifecycleDefinitionError]:
    reverse = _graph(d).reverse(copy=False)
    can_finish: set[StrEnum] = set(d.terminal)
    for terminal in d.terminal:
        can_finish |= nx.descendants(reverse, terminal)
    for state in d.states:
        if state in can_finish:
            continue
        if not d.rows.get(state):
            problem = "is not terminal but has an empty row (declare it terminal or add an edge)"
        else:
            problem = f"cannot reach a terminal state (terminal: {_names(d.terminal)})"
        yield d.fail(f"state {state}", problem)


@dataclass(frozen=True)
class Check:
    """One named build-time check; `run` yields an error for each problem it finds."""

    name: str
    run: Callable[[Definition], Iterator[LifecycleDefinitionError]]


CHECKS: tuple[Check, ...] = (
    Check("initial and terminal states are declared states", _declared_states),
    Check("every state has a row, and every row is a state", _rows_cover_states),
    Check("every edge names a known event and target", _edges_known),
    Check("one target per (state, event)", _one_target),
    Check("no edge leaves a terminal state", _terminal_rows_empty),
    Check("every event is used", _events_used),
    Check("every state is reachable from the initial state", _all_reachable),
    Check("every non-terminal state can reach a terminal state", _terminal_reachable),
)


def first_problem(definition: Definition) -> LifecycleDefinitionError | None:
    """Return the first problem the checks find, in the order of `CHECKS`, or None."""
    for check in CHECKS:
        for problem in check.run(definition):
            return problem
    return None
