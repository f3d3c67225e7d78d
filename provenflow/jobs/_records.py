"""What a job board keeps: jobs, the steps of their history, claims, and their JSON form.

A `Job` is a unit of work on a board: the flow factory that builds its flow (a spec,
`FILE_OR_MODULE:NAME`, kept as text and never imported by the board), the store its run starts
with, a name, a priority, free-form details, an optional idempotency key and not-before time,
its state in the `job` lifecycle, the lease of its current claim, and its history: one
`JobStep` per transition, oldest first, saying who claimed it, when, under which fencing token,
and why it was abandoned, lost or trashed. A `Claim` is what `Board.claim` hands its owner: the
job, the owner, the fencing token and the expiry.

A job read back from a board is loaded through the table: its history's events are replayed
from the initial state (`EntityState.replay`), and a state column that disagrees with them, a
lease on a job that is not claimed, or a value that does not decode, gives `CorruptRecord`
naming the board and the job (`job_from_json`). Nothing here does I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provenflow.errors import CorruptRecord, IllegalTransition, UsageError
from provenflow.fsm import EntityState
from provenflow.fsm.job import LIFECYCLE, State
from provenflow.persistence import Lease, Owner

__all__ = [
    "Claim",
    "CorruptJob",
    "Job",
    "JobListing",
    "JobStep",
    "check_json",
    "history_from_json",
    "history_to_json",
    "load_state",
]


@dataclass(frozen=True, slots=True)
class JobStep:
    """One transition of a job, as its history keeps it.

    `seq` counts from 1; `event`, `old_state` and `new_state` are the job lifecycle's values;
    `at` is the board's time; `owner` and `token` name the claim the step is about (the new one
    for `claim`, the ending one for `abandon`, `claim_lost`, `complete` and a claimed `trash`);
    `reason` says why a job was abandoned, lost or trashed, and `outcome` how it was completed.
    """

    seq: int
    event: str
    old_state: str
    new_state: str
    at: float
    owner: Owner | None = None
    token: int | None = None
    reason: str | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A job as a board holds it (see the module docstring). Frozen: a board returns a new one
    after each change."""

    id: str
    name: str
    factory: str
    store: Mapping[str, Any]
    details: Mapping[str, Any]
    priority: int
    key: str | None
    not_before: float | None
    posted_at: float
    state: State
    lease: Lease | None
    history: tuple[JobStep, ...]

    @property
    def owner(self) -> Owner | None:
        """The owner of the current claim, or None when the job is not claimed."""
        return self.lease.owner if self.state is State.CLAIMED and self.lease else None

    @property
    def outcome(self) -> str | None:
        """How the job was completed (its `complete` step's outcome), or None."""
        done = [step for step in self.history if step.event == "complete"]
        return done[-1].outcome if done else None

    @property
    def finished(self) -> bool:
        """Whether the job is COMPLETE or TRASHED (nothing will change it any more)."""
        return self.state in LIFECYCLE.terminal

    def ready(self, now: float) -> bool:
        """Whether a claim at `now` may take the job: unclaimed and past its not-before time,
        or claimed under a lease that expired."""
        if self.state is State.UNCLAIMED:
            return self.not_before is None or self.not_before <= now
        if self.state is State.CLAIMED:
            return self.lease is not None and not self.lease.live(now)
        return False


@dataclass(frozen=True, slots=True)
class Claim:
    """A live claim on a job: the job as claimed, the owner, the fencing token and the expiry
    (the board's time). Every request the owner makes about the job carries it."""

    job: Job
    owner: Owner
    token: int
    expires_at: float

    @property
    def job_id(self) -> str:
        """The id of the claimed job."""
        return self.job.id


@dataclass(frozen=True, slots=True)
class CorruptJob:
    """A job a board holds that cannot be read back: its id and what is wrong."""

    id: str
    problem: str


@dataclass(frozen=True, slots=True)
class JobListing:
    """The jobs of a board that read back, oldest first, and those that do not."""

    jobs: tuple[Job, ...]
    corrupt: tuple[CorruptJob, ...] = ()


def check_json(value: object, what: str, job: str) -> str:
    """Return `value` as JSON text; raise `UsageError` naming `what` of job `job` when it is no
    JSON (an object that is not a number, string, list, dict, bool or None; NaN; a non-text
    key) or does not read back equal."""
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise UsageError(f"job {job!r}: the {what} must be JSON ({error})") from None
    if json.loads(text) != value:
        raise UsageError(
            f"job {job!r}: the {what} does not read back as given from JSON (tuples become "
            "lists, keys become strings): pass it as plain JSON values"
        )
    return text


def _owner_json(owner: Owner | None) -> dict[str, Any] | None:
    return None if owner is None else {"host": owner.host, "pid": owner.pid, "id": owner.id}


def history_to_json(history: tuple[JobStep, ...]) -> str:
    """Return a job's history as JSON text (a list of objects, oldest first)."""
    steps = [
        {
            "seq": step.seq,
            "event": step.event,
            "old_state": step.old_state,
            "new_state": step.new_state,
            "at": step.at,
            "owner": _owner_json(step.owner),
            "token": step.token,
            "reason": step.reason,
            "outcome": step.outcome,
        }
        for step in history
    ]
    return json.dumps(steps, sort_keys=True)


def _owner_from_json(value: object) -> Owner | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"host", "pid", "id"}:
        raise ValueError(f"owner {value!r} is not an object with host, pid and id")
    host, pid, owner = value["host"], value["pid"], value["id"]
    if not (isinstance(host, str) and isinstance(owner, str)) or type(pid) is not int:
        raise ValueError(f"owner {value!r} has a field of the wrong type")
    return Owner(host, pid, owner)


def _optional(value: object, kind: type, name: str) -> Any:
    if value is not None and (type(value) is not kind and not (kind is float and _number(value))):
        raise ValueError(f"{name} {value!r} is not a {kind.__name__}")
    return value


def _number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(float(value))  # type: ignore[arg-type]


def _step_from_json(index: int, value: object) -> JobStep:
    if not isinstance(value, dict):
        raise ValueError(f"step {index} is not an object")
    fields = ("seq", "event", "old_state", "new_state", "at", "owner", "token", "reason", "outcome")
    if set(value) != set(fields):
        raise ValueError(f"step {index} has the fields {sorted(value)}, not {sorted(fields)}")
    if value["seq"] != index or not _number(value["at"]):
        raise ValueError(f"step {index} has seq {value['seq']!r} and time {value['at']!r}")
    for name in ("event", "old_state", "new_state"):
        if not isinstance(value[name], str):
            raise ValueError(f"step {index}: {name} {value[name]!r} is not text")
    return JobStep(
        seq=index,
        event=value["event"],
        old_state=value["old_state"],
        new_state=value["new_state"],
        at=float(value["at"]),
        owner=_owner_from_json(value["owner"]),
        token=_optional(value["token"], int, "token"),
        reason=_optional(value["reason"], str, "reason"),
        outcome=_optional(value["outcome"], str, "outcome"),
    )


def history_from_json(text: object, where: str) -> tuple[JobStep, ...]:
    """Return the history in the JSON `text`; raise `CorruptRecord` naming `where` when it is
    not one (bad JSON, a step without its fields, a gap in `seq`)."""
    try:
        steps = json.loads(text) if isinstance(text, str) else None
        if not isinstance(steps, list) or not steps:
            raise ValueError("it is not a non-empty list of steps")
        return tuple(_step_from_json(index, step) for index, step in enumerate(steps, 1))
    except ValueError as error:
        raise CorruptRecord(where, f"the history does not read back: {error}") from None


def load_state(
    history: tuple[JobStep, ...], recorded: object, lease: Lease | None, where: str
) -> State:
    """Return a job's state, reached by replaying its history through the job table.

    Raises `CorruptRecord` naming `where` when the history holds an event the table refuses
    or steps whose states disagree with the table, when `recorded` (the state a board keeps
    beside the history) differs, or when the lease is held but the job is not CLAIMED (or the
    other way round).
    """
    try:
        holder = EntityState.replay(LIFECYCLE, [step.event for step in history], where)
    except (IllegalTransition, UsageError) as error:
        raise CorruptRecord(where, f"the history is not a path of the job table: {error}") from None
    previous = str(LIFECYCLE.initial)
    for step in history:
        target = LIFECYCLE.table[State(previous)][LIFECYCLE.event(step.event)]
        if (step.old_state, step.new_state) != (previous, str(target)):
            raise CorruptRecord(where, f"step {step.seq} says {step.old_state} -> {step.new_state}")
        previous = str(target)
    state = holder.state
    if recorded != str(state):
        raise CorruptRecord(where, f"the state is {recorded!r} but the history ends in {state}")
    if (state is State.CLAIMED) != (lease is not None and lease.held):
        raise CorruptRecord(where, f"a {state} job with the lease {lease!r}")
    return state
