"""The in-memory backend (`memory://`): runs kept in a dict, gone with the process.

It implements the storage protocol fully, compare-and-set included, so an engine on it behaves
as on a durable backend; it is the default when no backend is given. Values are kept as they
are (no JSON encoding). Transitions are kept as plain tuples, which the cyclic garbage collector
stops tracking when they hold only plain values: a history of millions of steps costs it nothing.
Leases are decided by `_lease` under the same lock as the writes, on the local clock (`clock`,
which a test may replace).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from provenflow.errors import StaleVersion, UnknownRun, UsageError
from provenflow.persistence import _lease
from provenflow.persistence._lease import Grant, Lease, Owner
from provenflow.persistence._records import RunInfo, RunListing, Transition

__all__ = ["MemoryStorage"]


class MemoryStorage:
    """Runs and transitions held in memory; thread-safe."""

    def __init__(self, url: str = "memory://", *, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.clock = clock
        self._leases: dict[str, Lease] = {}
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

    def record(
        self,
        flow_id: str,
        transitions: Sequence[Transition],
        expected_version: int,
        token: int | None = None,
    ) -> int:
        """Append `transitions` if the run is at `expected_version` and `token` is its lease's;
        else raise `StaleVersion`, `LeaseLost` or `RunOwned` (see `Storage.record`)."""
        with self._lock:
            try:
                _, recorded = self._runs[flow_id]
            except KeyError:
                raise UnknownRun(flow_id, self.url) from None
            refusal = _lease.check_write(self._leases.get(flow_id), token)
            if refusal is not None:
                raise _lease.run_refused(flow_id, refusal, self.clock(), token)
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

    def take_lease(self, flow_id: str, owner: Owner, ttl: float) -> Grant:
        """Give `owner` the run's lease (see `Storage.take_lease`); `RunOwned` if held."""
        with self._lock:
            self._known(flow_id)
            now = self.clock()
            decided = _lease.acquire(self._leases.get(flow_id), owner, now, ttl, _lease.owner_gone)
            if isinstance(decided, _lease.Refusal):
                raise _lease.run_refused(flow_id, decided, now, None)
            self._leases[flow_id] = decided.lease
            return decided

    def renew_lease(self, flow_id: str, owner: Owner, token: int, ttl: float) -> Lease:
        """Extend the holder's lease (see `Storage.renew_lease`); `LeaseLost` if not held."""
        with self._lock:
            self._known(flow_id)
            now = self.clock()
            decided = _lease.renew(self._leases.get(flow_id), owner, token, now, ttl)
            if isinstance(decided, _lease.Refusal):
                raise _lease.run_refused(flow_id, decided, now, token)
            self._leases[flow_id] = decided
            return decided

    def release_lease(self, flow_id: str, owner: Owner, token: int) -> None:
        """Let the holder's lease go (see `Storage.release_lease`); `LeaseLost` if not held."""
        with self._lock:
            self._known(flow_id)
            decided = _lease.release(self._leases.get(flow_id), owner, token)
            if isinstance(decided, _lease.Refusal):
                raise _lease.run_refused(flow_id, decided, self.clock(), token)
            self._leases[flow_id] = decided

    def leases(self) -> tuple[dict[str, Lease], float]:
        """Return every run's lease by flow id, and now."""
        with self._lock:
            return dict(self._leases), self.clock()

    def _known(self, flow_id: str) -> None:
        if flow_id not in self._runs:
            raise UnknownRun(flow_id, self.url)
