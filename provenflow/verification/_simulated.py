"""The model checker's store and executor: what the real engine loop runs against in a path.

`SimulatedStore` keeps one run the way the durable stores do: each recorded transition is
encoded with the stores' own JSON codec (`provenflow.persistence._json`), checked as they check
it, and decoded back on load (so a value comes back as after a real restart), behind the same
compare-and-set on the version. (A crash before a write is the path's: it never calls
`record` then.) Its lease is decided by the stores' own rules (`provenflow.persistence._lease`)
on a simulated clock, `now`, which only the path moves.

`SimulatedExecutor` is the executor the loop submits work to: its room for more work (`free`)
is what the path chose for the `take` step; submitted work waits in `in_flight` until the path
picks which completes and how. Work counts as started when it is submitted (a real executor may
start it at once): the path's checks of what must hold before a side effect run then.
Neither runs any code of the user's: the path performs the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from provenflow.engine import Work
from provenflow.errors import StaleVersion, UnknownRun, UsageError
from provenflow.persistence import Grant, Lease, Owner, RunInfo, RunListing, Transition, _lease
from provenflow.persistence._json import check_value, dumps, loads, transition_from_fields
from provenflow.persistence._values import stored_form

__all__ = ["SimulatedExecutor", "SimulatedStore", "encoded"]


def encoded(transition: Transition) -> tuple[Any, ...]:
    """The transition as the durable stores keep it: plain fields, JSON text for its values
    (hashable, so a record is also its own key)."""
    t = transition
    result, failure, history = t.result, t.failure, t.history
    return (
        t.atom,
        t.lifecycle,
        str(t.old_state),
        str(t.event),
        str(t.new_state),
        t.attempt,
        0.0,  # the clock of a path is 0: a record's time never decides anything
        None if result is None else dumps(result),
        None if failure is None else dumps(failure.to_dict()),
        None if history is None else dumps(list(history)),
    )


class SimulatedStore:
    """One run's durable record, encoded as the real stores encode it; see the module docstring."""

    url = "simulated://"

    def __init__(self) -> None:
        self.info: RunInfo | None = None
        self.rows: list[tuple[Any, ...]] = []
        """What is durable, encoded (`encoded`): also the record's key."""
        self.transitions: list[Transition] = []
        """The same transitions decoded, as a load would return them."""
        self.lease: Lease | None = None
        self.now = 0.0
        """The simulated clock the lease is decided on."""

    def copy(self) -> SimulatedStore:
        other = SimulatedStore.__new__(SimulatedStore)
        other.info = self.info
        other.rows = self.rows.copy()
        other.transitions = self.transitions.copy()
        other.lease, other.now = self.lease, self.now
        return other

    def create(self, run: RunInfo) -> int:
        if self.info is not None:
            raise UsageError(f"run {run.flow_id!r} already exists in {self.url}")
        for name, value in run.store.items():
            check_value(value, run.flow_id, None, f"store[{name!r}]")
        self.info = run
        return 0

    def load(self, flow_id: str) -> tuple[RunInfo, list[Transition], int]:
        info = self._info(flow_id)
        return info, self.transitions.copy(), len(self.rows)

    def record(
        self,
        flow_id: str,
        transitions: Sequence[Transition],
        expected_version: int,
        token: int | None = None,
    ) -> int:
        """Append `transitions` at `expected_version` (else `StaleVersion`) with the lease's
        `token` (else `LeaseLost` or `RunOwned`), encoded and decoded as a durable store would."""
        info = self._info(flow_id)
        refusal = _lease.check_write(self.lease, token)
        if refusal is not None:
            raise _lease.run_refused(flow_id, refusal, self.now, token)
        if expected_version != len(self.rows):
            raise StaleVersion(flow_id, expected_version, len(self.rows))
        for transition in transitions:
            if transition.result is not None:
                check_value(transition.result, flow_id, transition.atom, "result")
            row = encoded(transition)
            where = f"run {info.flow_id!r}: transition {len(self.rows)}"
            self.transitions.append(transition_from_fields(where, row, loads))
            self.rows.append(row)
        return len(self.rows)

    def runs(self) -> list[tuple[RunInfo, str]]:
        if self.info is None:
            return []
        flow = [t.new_state for t in self.transitions if t.atom is None]
        return [(self.info, str(flow[-1]) if flow else "PENDING")]

    def list_runs(self) -> RunListing:
        return RunListing(self.runs(), [])

    def check_value(self, flow_id: str, atom: str | None, field: str, value: object) -> None:
        check_value(value, flow_id, atom, field)

    def stored_value(self, flow_id: str, atom: str | None, field: str, value: object) -> Any:
        return stored_form(value, flow_id, atom, field)

    def take_lease(self, flow_id: str, owner: Owner, ttl: float) -> Grant:
        self._info(flow_id)
        decided = _lease.acquire(self.lease, owner, self.now, ttl)
        if isinstance(decided, _lease.Refusal):
            raise _lease.run_refused(flow_id, decided, self.now, None)
        self.lease = decided.lease
        return decided

    def renew_lease(self, flow_id: str, owner: Owner, token: int, ttl: float) -> Lease:
        self._info(flow_id)
        decided = _lease.renew(self.lease, owner, token, self.now, ttl)
        if isinstance(decided, _lease.Refusal):
            raise _lease.run_refused(flow_id, decided, self.now, token)
        self.lease = decided
        return decided

    def release_lease(self, flow_id: str, owner: Owner, token: int) -> None:
        self._info(flow_id)
        decided = _lease.release(self.lease, owner, token)
        if isinstance(decided, _lease.Refusal):
            raise _lease.run_refused(flow_id, decided, self.now, token)
        self.lease = decided

    def leases(self) -> tuple[dict[str, Lease], float]:
        if self.info is None or self.lease is None:
            return {}, self.now
        return {self.info.flow_id: self.lease}, self.now

    def _info(self, flow_id: str) -> RunInfo:
        if self.info is None or self.info.flow_id != flow_id:
            raise UnknownRun(flow_id, self.url)
        return self.info


class SimulatedExecutor:
    """The executor of a path: see the module docstring."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.in_flight: list[Work] = []
        self.room = 1
        """Set by the path before a `take`: how much work the executor accepts now."""

    def copy(self) -> SimulatedExecutor:
        other = SimulatedExecutor(self.workers)
        other.in_flight = self.in_flight.copy()
        other.room = self.room
        return other

    @property
    def slots(self) -> int:
        """How many workers are not busy."""
        return max(self.workers - len(self.in_flight), 0)

    @property
    def free(self) -> int:
        return self.room

    @property
    def idle(self) -> bool:
        return not self.in_flight

    def submit(self, work: Work) -> None:
        self.in_flight.append(work)
