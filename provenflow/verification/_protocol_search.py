"""Breadth-first search over the moves of a protocol model: the search `check_owners` (engines
on one run) and `check_board` (conductors on a job board) share.

A model's state (`Model`) lists the moves it can take, takes one on a copy, says its key, and,
where no move is left, checks how it ended. A move or an end that breaks a rule raises
`Violated`. States are merged by key, so the first violation found has the shortest trace.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

__all__ = ["Broken", "Explored", "Model", "Violated", "explore"]


class Violated(Exception):
    """A rule a model's move (or end) broke: the rule's name and what broke it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(rule, message)
        self.rule, self.message = rule, message


class Model(Protocol):
    """One state of a protocol model, with the moves (oldest first) that led to it."""

    trace: tuple[str, ...]

    def moves(self) -> Sequence[Any]: ...

    def copy(self) -> Self: ...

    def take(self, move: Any) -> None: ...

    def key(self) -> Hashable: ...

    def end(self) -> None: ...


@dataclass(frozen=True)
class Broken:
    """The first broken rule: its name, what broke it, and the shortest trace to it."""

    rule: str
    message: str
    trace: tuple[str, ...]


@dataclass(frozen=True)
class Explored:
    """What `explore` found: states and transitions explored, whether every state within
    `max_states` was (`complete`), and the first broken rule, if any."""

    states: int
    transitions: int
    complete: bool
    broken: Broken | None


def explore(first: Model, max_states: int) -> Explored:
    """Explore every state reachable from `first`, breadth-first, merging states by key, until
    a rule breaks or `max_states` states are stored (then `complete` is False)."""
    seen = {first.key()}
    frontier: deque[Model] = deque([first])
    transitions = 0
    complete = True
    while frontier:
        path = frontier.popleft()
        moves = path.moves()
        if not moves:
            try:
                path.end()
            except Violated as violated:
                return Explored(len(seen), transitions, False, _broken(violated, path))
            continue
        for move in moves:
            child = path.copy()
            transitions += 1
            try:
                child.take(move)
            except Violated as violated:
                return Explored(len(seen), transitions, False, _broken(violated, child))
            key = child.key()
            if key in seen:
                continue
            if len(seen) >= max_states:
                complete = False
                continue
            seen.add(key)
            frontier.append(child)
    return Explored(len(seen), transitions, complete, None)


def _broken(violated: Violated, path: Model) -> Broken:
    return Broken(violated.rule, violated.message, path.trace)
