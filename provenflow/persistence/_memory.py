"""The in-memory backend (`memory://`): runs kept in a dict, gone with the process.

It implements the storage protocol fully, compare-and-set included, so an engine on it behaves
as on a durable backend; it is the default when no backend is given. Values are kept as they
are (no JSON encoding). Transitions are kept as plain tuples, which the cyclic garbage collector
stops tracking when they hold only plain values: a history of millions of steps costs it nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from provenflow.errors import StaleVersion, UnknownRun, UsageError
from provenflow.persistence._records import RunInfo, RunListing, Transition

__all__ = ["MemoryStorage"]


class MemoryStorage:
    """Runs and transitions held in memory; thread-safe."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._runs: dict[str, tuple[RunInfo, list[tuple[Any, ...]]]] = {}
        self._states: dict[str, str] = {}

    def create(self, run: RunInfo) -> int:
        """Record a new run; return version 0. Raises `UsageError` if the id exists."""
        with self._lock:
            if run.flow_id in self._runs:
                raise UsageError(f"run {run.flow_id!r} already exists in {self.url}")
            self._runs[run.flow_id] = (run, [])
            self._states[run.flow_id] = "PENDING"
        return 0

    def load(self, flow_id: str) -> tuple[RunInfo, list[Transition], int]:
        """Return the run, a copy of its transitions and its version; `UnknownRun` if absent."""
        with self._lock:
            try:
                run, transitions = self._runs[flow_id]
            except KeyError:
                raise UnknownRun(flow_id, self.url) from None
            return run, [Transition._make(row) for row in transitions], len(transitions)

    def record(self, flow_id: str, transitions: Sequence[Transition], expected_version: int) -> int:
        """Append `transitions` if the run is at `expected_version`; else raise `StaleVersion`."""
        with self._lock:
            try:
                _, recorded = self._runs[flow_id]
            except KeyError:
                raise UnknownRun(flow_id, self.url) from None
            if len(recorded) != expected_version:
                raise StaleVersion(flow_id, expected_version, len(recorded))
            recorded.extend(map(tuple, transitions))
            for transition in transitions:
                if transition.atom is None:
                    self._states[flow_id] = transition.new_state
            return len(recorded)

    def check_value(self, flow_id: str, atom: str | None, field: str, value: object) -> None:
        """Memory keeps any Python value: never raises."""

    def stored_value(self, flow_id: str, atom: str | None, field: str, value: object) -> Any:
        """Memory keeps any Python value as it is: return `value` itself."""
        return value

    def runs(self) -> list[tuple[RunInfo, str]]:
        """Return every run with its flow's state, oldest first."""
        with self._lock:
            return [(run, self._states[flow_id]) for flow_id, (run, _) in self._runs.items()]

    def list_runs(self) -> RunListing:
        """Return every run with its flow's state, oldest first; none is ever corrupt."""
        return RunListing(self.runs(), [])
