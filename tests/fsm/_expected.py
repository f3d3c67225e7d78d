"""Expected lifecycle tables, written as text in each test module and parsed here.

A lifecycle test states its table independently of the module under test: the states, the
events, the initial and terminal states, and one `STATE event TARGET` line per edge. This module
only parses that text and answers questions about it (the target of a pair, the allowed events,
every legal and illegal pair); it never reads the table under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

Edge = tuple[str, str, str]


@dataclass(frozen=True)
class ExpectedLifecycle:
    """A lifecycle as the tests expect it, parsed from literal text."""

    name: str
    states: frozenset[str]
    events: frozenset[str]
    initial: str
    terminal: frozenset[str]
    edges: frozenset[Edge]

    @classmethod
    def parse(
        cls, name: str, *, states: str, events: str, initial: str, terminal: str, edges: str
    ) -> ExpectedLifecycle:
        """Return the expected lifecycle from whitespace-separated names and edge lines.

        Raises ValueError when an edge line is not `STATE event TARGET`, names an unknown state
        or event, or repeats a (state, event) pair: a typo in the expectation fails loudly.
        """
        expected = cls(
            name=name,
            states=frozenset(states.split()),
            events=frozenset(events.split()),
            initial=initial,
            terminal=frozenset(terminal.split()),
            edges=frozenset(_parse_edges(edges)),
        )
        expected._validate(edges)
        return expected

    def _validate(self, text: str) -> None:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) != len(self.edges):
            raise ValueError(f"{self.name}: an edge line is repeated")
        pairs = [(state, event) for state, event, _ in self.edges]
        if len(set(pairs)) != len(pairs):
            raise ValueError(f"{self.name}: a (state, event) pair has two targets")
        for state, event, target in self.edges:
            if {state, target} - self.states or event not in self.events:
                raise ValueError(f"{self.name}: unknown name in {state} {event} {target}")
        if self.initial not in self.states or self.terminal - self.states:
            raise ValueError(f"{self.name}: initial or terminal state is not a state")

    def target(self, state: str, event: str) -> str | None:
        """Return where `event` leads from `state`, or None when the pair is illegal."""
        for source, on, target in self.edges:
            if (source, on) == (state, event):
                return target
        return None

    def allowed(self, state: str) -> tuple[str, ...]:
        """Return the events allowed from `state`, sorted."""
        return tuple(sorted(event for source, event, _ in self.edges if source == state))

    def legal_pairs(self) -> list[tuple[str, str, str]]:
        """Return every (state, event, target) edge, sorted."""
        return sorted(self.edges)

    def illegal_pairs(self) -> list[tuple[str, str]]:
        """Return every (state, event) pair that has no edge, sorted."""
        legal = {(state, event) for state, event, _ in self.edges}
        return sorted(set(product(self.states, self.events)) - legal)

    def all_pairs(self) -> set[tuple[str, str]]:
        """Return every (state, event) pair of the lifecycle."""
        return set(product(self.states, self.events))

    def message(self, state: str, event: str, entity: str | None, flow: str | None) -> str:
        """Return the expected `str()` of the IllegalTransition for an illegal pair.

        The format is the one documented in STYLE.md and `provenflow.errors`:
        `task 'charge_card' in flow 'order-7': cannot 'revert' from PENDING (allowed: ignore,
        start)`, and `(allowed: none, STATE is terminal)` from a terminal state.
        """
        where = self.name
        if entity is not None:
            where += f" '{entity}'"
        if flow is not None:
            where += f" in flow '{flow}'"
        allowed = self.allowed(state)
        listed = ", ".join(allowed) if allowed else f"none, {state} is terminal"
        return f"{where}: cannot '{event}' from {state} (allowed: {listed})"


def _parse_edges(text: str) -> list[Edge]:
    edges: list[Edge] = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if len(words) != 3:
            raise ValueError(f"an edge line is `STATE event TARGET`, got {line!r}")
        state, event, target = words
        edges.append((state, event, target))
    return edges
