"""Revert phases: undoing a set of nodes, dependents before their dependencies.

A phase is opened over the subflow of a retry that decided RETRY (owner: the retry) or over the
whole flow (owner: None). Opening it walks its members once, in reverse topological order, and
marks the nodes that must be undone: atoms that started (RUNNING, SUCCESS, FAILURE, RETRYING,
REVERTING), and the joins and untouched atoms (ignored, never run) between them, which do
nothing themselves but pass the order on. Each marked node counts its marked successors; a node
whose count is zero is revertable. A node that finishes reverting releases its predecessors, so
a phase over M nodes costs O(M + edges). A revert that fails blocks every marked node before
it: those are never reverted (undoing what a failed undo depends on is not safe), and the run
ends FAILURE. A node still executing when its phase opens is reverted when it finishes.

A phase over a larger set absorbs the phases of its members (a REVERT_ALL wins over a RETRY in
progress). When a phase has nothing left to undo, the core resets and re-runs the retry, or
ends the flow.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from provenflow.fsm import retry as retry_fsm
from provenflow.fsm import task as task_fsm

if TYPE_CHECKING:
    from provenflow.engine._core import Core

__all__ = ["PhaseBook"]

State = task_fsm.State
TO_UNDO = frozenset(
    {
        State.RUNNING,
        State.SUCCESS,
        State.FAILURE,
        State.REVERTING,
        retry_fsm.State.RETRYING,
    }
)
"""Atom states that mean the atom started and is not undone yet."""


class _Phase:
    __slots__ = ("blockers", "closed", "members", "outstanding", "owner", "passing", "to_undo")

    def __init__(self, owner: str | None, members: Sequence[str]) -> None:
        self.owner = owner
        self.members = frozenset(members)
        self.to_undo: set[str] = set()
        self.passing: set[str] = set()
        self.blockers: dict[str, int] = {}
        self.outstanding = 0
        self.closed = False

    def copy(self) -> _Phase:
        other = _Phase.__new__(_Phase)
        other.owner, other.members = self.owner, self.members
        other.to_undo, other.blockers = set(self.to_undo), dict(self.blockers)
        other.passing = self.passing
        other.outstanding, other.closed = self.outstanding, self.closed
        return other


class PhaseBook:
    """The revert phases of one core: which node is being undone, and in what order."""

    def __init__(self, core: Core) -> None:
        # A weak reference: the core owns its phases, and a reference cycle between them would
        # leave every dropped core (a model checker drops thousands) to the cyclic collector.
        self.core: Core = weakref.proxy(core)
        self._phase_of: dict[str, _Phase] = {}
        self._queue: deque[str] = deque()

    def clone(self, core: Core) -> PhaseBook:
        """Return a copy of these phases for `core` (a snapshot of `self.core`)."""
        other = PhaseBook.__new__(PhaseBook)
        other.core = weakref.proxy(core)
        other._queue = self._queue.copy()
        phase_of = self._phase_of
        phases = set(phase_of.values())
        if not phases:
            other._phase_of = {}
        elif len(phases) == 1:
            other._phase_of = dict.fromkeys(phase_of, phases.pop().copy())
        else:
            copies = {phase: phase.copy() for phase in phases}
            other._phase_of = {name: copies[phase] for name, phase in phase_of.items()}
        return other

    def summary(self) -> Hashable:
        """Return the open phases and the queue of reverts as a hashable value (None when no
        phase is open): each phase's owner, what it has left to undo, what of that only passes
        the order on, and how many nodes are outstanding; the queue in its order. (How many
        dependents each node still waits for follows from what is left to undo.)
        """
        if not self._phase_of:
            return None
        phases = {id(phase): phase for phase in self._phase_of.values()}.values()
        return (
            frozenset(
                (
                    phase.owner,
                    frozenset(phase.to_undo),
                    frozenset(phase.passing) if phase.passing else None,
                    phase.outstanding,
                )
                for phase in phases
            ),
            tuple(self._queue),
        )

    def phase_of(self, name: str) -> _Phase | None:
        """Return the open phase `name` belongs to, or None."""
        return self._phase_of.get(name)

    def busy(self) -> bool:
        """Whether a revert is queued (an open phase with nothing queued is waiting on work)."""
        return bool(self._queue)

    def queued(self) -> int:
        """How many reverts are queued (some may be in flight already)."""
        return len(self._queue)

    def next_revert(self) -> str | None:
        """Pop the next node whose revert may start now, or None."""
        while self._queue:
            name = self._queue.popleft()
            if name not in self.core.in_flight:
                return name
        return None

    def open(self, owner: str | None, members: Sequence[str]) -> None:
        """Open a phase undoing `members` (topological order) for retry `owner` (None: all)."""
        core = self.core
        phase = _Phase(owner, members)
        for name in members:
            previous = self._phase_of.get(name)
            if previous is not None:
                previous.closed = True
            self._phase_of[name] = phase
        nodes, states = core.nodes, core.states
        within, to_undo, blockers = phase.members, phase.to_undo, phase.blockers
        everything = len(within) == len(nodes)  # the whole flow: every successor is inside
        blocked: set[str] = set()
        for name in reversed(members):
            node = nodes[name]
            inside = node.successors if everything else [s for s in node.successors if s in within]
            if blocked and any(s in blocked for s in inside):
                blocked.add(name)
                continue
            waiting_on = sum(1 for s in inside if s in to_undo) if to_undo else 0
            if node.kind == "join":
                needed = waiting_on > 0
            else:
                state = states[name].state
                if state == State.REVERT_FAILURE:
                    blocked.add(name)
                    continue
                needed = state in TO_UNDO
                if not needed and waiting_on:
                    # Nothing to undo here (ignored, never run), but what comes after it must be
                    # undone before what comes before it: it passes the order on, like a join.
                    needed = True
                    phase.passing.add(name)
            if needed:
                to_undo.add(name)
                blockers[name] = waiting_on
        phase.outstanding = len(phase.to_undo)
        for name in members:
            if name in phase.to_undo and phase.blockers[name] == 0:
                self._revertable(phase, name)
        self._maybe_close(phase)

    def _revertable(self, phase: _Phase, name: str) -> None:
        core = self.core
        if core.nodes[name].kind == "join" or name in phase.passing:
            self._done(phase, name)
        elif name not in core.in_flight:
            self._queue.append(name)

    def ran_out(self, name: str) -> None:
        """`name` finished executing inside a phase: revert it now if nothing blocks it."""
        phase = self._phase_of[name]
        if name in phase.to_undo and phase.blockers[name] == 0:
            self._queue.append(name)
        elif name not in phase.to_undo:
            phase.to_undo.add(name)
            phase.blockers[name] = 0
            phase.outstanding += 1
            self._queue.append(name)

    def reverted(self, name: str) -> None:
        """`name` was reverted: release its predecessors in the phase."""
        phase = self._phase_of[name]
        self._done(phase, name)
        self._maybe_close(phase)

    def revert_failed(self, name: str) -> None:
        """The revert of `name` failed: block everything before it in the phase."""
        phase = self._phase_of[name]
        phase.outstanding -= 1
        phase.to_undo.discard(name)
        frontier = [name]
        while frontier:
            for predecessor in self.core.nodes[frontier.pop()].predecessors:
                if predecessor in phase.to_undo:
                    phase.to_undo.discard(predecessor)
                    phase.outstanding -= 1
                    frontier.append(predecessor)
        self._maybe_close(phase)

    def _done(self, phase: _Phase, name: str) -> None:
        stack = [name]
        while stack:
            current = stack.pop()
            phase.to_undo.discard(current)
            phase.outstanding -= 1
            for predecessor in self.core.nodes[current].predecessors:
                if predecessor not in phase.to_undo:
                    continue
                phase.blockers[predecessor] -= 1
                if phase.blockers[predecessor] == 0:
                    passes = predecessor in phase.passing
                    if passes or self.core.nodes[predecessor].kind == "join":
                        stack.append(predecessor)
                    elif predecessor not in self.core.in_flight:
                        self._queue.append(predecessor)

    def _maybe_close(self, phase: _Phase) -> None:
        if phase.closed or phase.outstanding > 0:
            return
        if any(self.core.in_flight.get(name) for name in phase.members):
            return
        phase.closed = True
        for name in phase.members:
            if self._phase_of.get(name) is phase:
                del self._phase_of[name]
        core = self.core
        if phase.owner is None:
            core.finish_flow()
            return
        failed = [n for n in phase.members if n in core.revert_failures]
        if failed:
            core.revert_all()
        else:
            core.reset_and_retry(phase.owner)
