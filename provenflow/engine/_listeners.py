"""Listeners: callbacks told of every transition of a run, and the built-in ones.

A listener is any object with `on_transition(transition)`, and optionally
`on_progress(atom, fraction)`. It is told of flow transitions (`atom` is None,
`lifecycle == "flow"`), atom transitions (`lifecycle` "task" or "retry") and the engine loop's
own phases (`lifecycle == "engine"`), each as a `Transition` with old state, event, new state,
attempt, time, and the result or `Failure` that came with it. A transition is announced after
it is recorded, so a listener never hears of a change the store does not hold. An atom executed
again after a crash is announced with its `crash_recovered` event and its new attempt number,
like any start. Listeners run in the engine's thread, except `on_progress`, which runs in the
thread of the atom that reported it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable
from typing import IO, Any, Protocol, runtime_checkable

from provenflow.persistence import Transition

__all__ = [
    "CaptureListener",
    "Listener",
    "LoggingListener",
    "PrintingListener",
    "TimingListener",
]

FAILURE_STATES = frozenset({"FAILURE", "REVERT_FAILURE"})


@runtime_checkable
class Listener(Protocol):
    """Anything told of a run's transitions."""

    def on_transition(self, transition: Transition) -> None:
        """Called once for every transition, after it is recorded."""


def _describe(transition: Transition) -> str:
    who = transition.lifecycle if transition.atom is None else f"{transition.lifecycle} "
    who += "" if transition.atom is None else repr(transition.atom)
    text = f"{who}: {transition.old_state} --{transition.event}--> {transition.new_state}"
    if transition.atom is not None and transition.attempt:
        text += f" (attempt {transition.attempt})"
    if transition.failure is not None:
        text += f": {transition.failure}"
    return text


class CaptureListener:
    """Keeps every transition (and progress report) it hears of, in order; for tests and tools.

    `kinds` limits it to some lifecycles, e.g. `("task", "retry")`.
    """

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        self.kinds = None if kinds is None else frozenset(kinds)
        self.transitions: list[Transition] = []
        self.progress: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def on_transition(self, transition: Transition) -> None:
        """Keep `transition` if its lifecycle is wanted."""
        if self.kinds is None or transition.lifecycle in self.kinds:
            self.transitions.append(transition)

    def on_progress(self, atom: str, fraction: float) -> None:
        """Keep a progress report."""
        with self._lock:
            self.progress.append((atom, fraction))

    def steps(self) -> list[tuple[str | None, str, str]]:
        """Return (atom, event, new state) of each kept transition: the run in short."""
        return [(t.atom, str(t.event), str(t.new_state)) for t in self.transitions]


class LoggingListener:
    """Logs each transition to a `logging` logger: failures at WARNING, the rest at DEBUG."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.DEBUG) -> None:
        self.logger = logger or logging.getLogger("provenflow")
        self.level = level

    def on_transition(self, transition: Transition) -> None:
        """Log one line for `transition`."""
        level = logging.WARNING if transition.new_state in FAILURE_STATES else self.level
        self.logger.log(level, "%s", _describe(transition))


class PrintingListener:
    """Prints each transition as one line (to stdout unless another stream is given)."""

    def __init__(self, stream: IO[str] | None = None, kinds: Iterable[str] | None = None) -> None:
        self.stream = stream
        self.kinds = None if kinds is None else frozenset(kinds)

    def on_transition(self, transition: Transition) -> None:
        """Print one line for `transition`."""
        if self.kinds is None or transition.lifecycle in self.kinds:
            print(_describe(transition), file=self.stream or sys.stdout)


class TimingListener:
    """Measures how long each atom took to execute and to revert, from the recorded times.

    The durations come from the `at` of the transitions the store holds, so they can be computed
    again from a run's history at any time (`TimingListener.from_history`).
    """

    def __init__(self, report: Callable[[str, str, float], None] | None = None) -> None:
        self.durations: dict[str, dict[str, float]] = {}
        self.report = report
        self._started: dict[tuple[str, str], float] = {}

    def on_transition(self, transition: Transition) -> None:
        """Start or stop the clock of the atom in `transition`."""
        atom = transition.atom
        if atom is None or transition.lifecycle == "engine":
            return
        new = str(transition.new_state)
        if new in ("RUNNING", "REVERTING"):
            phase = "execute" if new == "RUNNING" else "revert"
            self._started[(atom, phase)] = transition.at
            return
        phase = "revert" if new in ("REVERTED", "REVERT_FAILURE") else "execute"
        started = self._started.pop((atom, phase), None)
        if started is None:
            return
        duration = transition.at - started
        self.durations.setdefault(atom, {})[phase] = duration
        if self.report is not None:
            self.report(atom, phase, duration)

    @classmethod
    def from_history(cls, history: Iterable[Transition]) -> TimingListener:
        """Return a listener that has heard every transition of `history`."""
        listener = cls()
        for transition in history:
            listener.on_transition(transition)
        return listener


def printing_durations(stream: IO[str] | None = None) -> TimingListener:
    """Return a `TimingListener` that prints each duration as it is measured."""

    def report(atom: str, phase: str, seconds: float) -> None:
        print(f"{atom}: {phase} took {seconds:.6f} s", file=stream or sys.stdout)

    return TimingListener(report)


def announce(listeners: Iterable[Any], transition: Transition) -> None:
    """Tell every listener of `transition`."""
    for listener in listeners:
        listener.on_transition(transition)
