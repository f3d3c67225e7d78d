"""What a store holds: transitions (the audit trail) and the description of a run.

A `Transition` is one state change of one entity of a run: the flow itself (`atom` is None) or
one atom. It carries the data that changed with it, as JSON-safe values: the result a task
provided, the `Failure` it raised, a retry's history (as `History.to_list()`). The engine records
each transition through the store before the side effect it announces (RUNNING before
`execute`, REVERTING before `revert`), and the list of transitions of a run, oldest first, is
its history: replaying their events through the lifecycle tables gives back every state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from provenflow.errors import CorruptRecord
from provenflow.failure import Failure

__all__ = ["AtomInfo", "CorruptRun", "RunInfo", "RunListing", "Transition"]


class Transition(NamedTuple):
    """One recorded state change: `atom` (None for the flow) went `old_state --event--> new_state`.

    `attempt` numbers the atom's executions (1 for the first `start`, one more for each
    re-execution after a crash); `at` is the time it was recorded (seconds since the epoch).
    An immutable tuple: cheap to make, and one holding only plain values is not tracked by the
    cyclic garbage collector, which keeps a long history cheap to hold.
    """

    atom: str | None
    lifecycle: str
    old_state: str
    event: str
    new_state: str
    attempt: int = 0
    at: float = 0.0
    result: Any = None
    failure: Failure | None = None
    history: tuple[Any, ...] | None = None

    @property
    def attempt_id(self) -> str:
        """The id of the execution attempt this transition belongs to: `atom#attempt`."""
        return f"{self.atom}#{self.attempt}"


@dataclass(frozen=True, slots=True)
class AtomInfo:
    """What a run records of one atom when it is created: its name, kind, version and scope.

    The scope is `flow`, the flow directly holding the atom (for a retry, the flow it guards),
    and `retry`, the nearest retry guarding it (None: no retry). A run recorded before scopes
    were kept has `flow` None, and then `retry` means nothing.
    """

    name: str
    kind: str
    version: str
    flow: str | None = None
    retry: str | None = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The description of one run of a flow, written once when the run is created."""

    flow_id: str
    flow_name: str
    atoms: tuple[AtomInfo, ...]
    store: Mapping[str, Any] = field(default_factory=dict)
    factory: str | None = None


class CorruptRun(NamedTuple):
    """A run a store holds but cannot read back: its id, where the bad data is, and what."""

    flow_id: str
    where: str
    problem: str

    @property
    def error(self) -> CorruptRecord:
        """The `CorruptRecord` that reading the run raises."""
        return CorruptRecord(self.where, self.problem)


class RunListing(NamedTuple):
    """What a store holds, run by run (`Storage.list_runs`): the runs that read back, each with
    its flow's state, oldest first; and the runs that do not, by id."""

    runs: list[tuple[RunInfo, str]]
    corrupt: list[CorruptRun]

    def all_healthy(self) -> list[tuple[RunInfo, str]]:
        """Return `runs`; raises the first corrupt run's `CorruptRecord` if there is one."""
        if self.corrupt:
            raise self.corrupt[0].error
        return self.runs
