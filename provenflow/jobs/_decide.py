"""The decisions of a job board, pure: what each request does to a job, and whether it may.

Theory of operation. Every board (memory, SQL, and the Redis and ZooKeeper boards to come)
does the same thing inside its own atomic step (a mutex, an SQL transaction, a script): read
the job, call one function of this module with the board's `now`, and write the job it returns
(or write nothing when it raises). So the rules live here once:

- Every change of state is an event applied through the job lifecycle's chokepoint
  (`LIFECYCLE.apply`) and appended to the job's history; a refused event raises
  `IllegalTransition` and nothing changes.
- A claim is a lease of `provenflow.persistence._lease`: `claim_job` takes it with `acquire`
  (a new claim gets the next fencing token), `renew_claim` extends it with `renew`, and
  `finish` (`complete`, `abandon`, `trash`) lets it go with `release`. A request whose token is
  not the job's current one is refused with `ClaimLost`, naming why.
- A claim that expired is lost: the next `claim_job` (or an operator's `discard`) first
  releases it and records `claim_lost` with the old owner and token, then goes on. Until then
  its owner may still renew or finish it (nobody else acted on the job), as `_lease` allows.
- `discard` is an operator's trash, without a claim: allowed while nobody holds a live claim.

Nothing here reads a clock or does I/O; a model checker can drive it with a simulated clock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from provenflow.errors import ClaimLost, InternalError, JobClaimed, UsageError
from provenflow.fsm.job import LIFECYCLE, Event, State
from provenflow.jobs._records import Claim, Job, JobStep, check_json
from provenflow.persistence import Lease, Owner, _lease
from provenflow.persistence._lease import Refusal

__all__ = ["check_factory", "claim_job", "discard", "finish", "new_job", "renew_claim", "sort_key"]


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _step(job: Job, event: Event, now: float, **fields: Any) -> Job:
    """Return `job` moved by `event` (through the chokepoint), with the step in its history."""
    target = LIFECYCLE.apply(job.state, event, entity=job.id)
    step = JobStep(len(job.history) + 1, str(event), str(job.state), str(target), now, **fields)
    return replace(job, state=target, history=(*job.history, step))


def check_factory(factory: str) -> str:
    """Return `factory` if it reads as `FILE_OR_MODULE:NAME`; raise `UsageError` if not.

    Only its form is checked: nothing is imported (a board never decides what code runs).
    """
    location, separator, name = str(factory).rpartition(":")
    if not isinstance(factory, str) or not separator or not location or not name.isidentifier():
        raise UsageError(
            f"job factory {factory!r}: expected FILE_OR_MODULE:NAME (e.g. flows.py:make_flow "
            "or mypackage.flows:make_flow)"
        )
    return factory


def new_job(
    factory: str,
    now: float,
    *,
    store: Mapping[str, Any] | None = None,
    name: str | None = None,
    priority: int = 0,
    details: Mapping[str, Any] | None = None,
    key: str | None = None,
    not_before: float | None = None,
    job_id: str | None = None,
) -> Job:
    """Return a new job, posted at `now` (DRAFT --post--> UNCLAIMED, its first step).

    Raises `UsageError` for a factory that is no spec, a store or details that are not JSON
    objects, a priority that is not an integer, or a key or name that is empty.
    """
    check_factory(factory)
    job_id = uuid.uuid4().hex if job_id is None else job_id
    name = factory.rpartition(":")[2] if name is None else name
    if not isinstance(name, str) or not name:
        raise UsageError(f"job {job_id!r}: its name must be non-empty text, got {name!r}")
    if type(priority) is not int:
        raise UsageError(f"job {name!r}: its priority must be an integer, got {priority!r}")
    if key is not None and (not isinstance(key, str) or not key):
        raise UsageError(f"job {name!r}: its idempotency key must be non-empty text")
    if not_before is not None and type(not_before) not in (int, float):
        raise UsageError(f"job {name!r}: not_before must be a time in seconds since the epoch")
    values: dict[str, Mapping[str, Any]] = {}
    for what, given in (("store", store), ("details", details)):
        value = {} if given is None else given
        if not isinstance(value, Mapping):
            raise UsageError(f"job {name!r}: the {what} must be a JSON object (a dict)")
        values[what] = json.loads(check_json(dict(value), what, name))  # the board's own copy
    draft = Job(
        id=job_id,
        name=name,
        factory=factory,
        store=values["store"],
        details=values["details"],
        priority=priority,
        key=key,
        not_before=None if not_before is None else float(not_before),
        posted_at=now,
        state=LIFECYCLE.initial,
        lease=None,
        history=(),
    )
    return _step(draft, Event.POST, now)


def sort_key(job: Job) -> tuple[int, float]:
    """The order in which ready jobs are claimed: higher priority first, then older first."""
    return (-job.priority, job.posted_at)


def _lose_expired(job: Job, now: float) -> Job:
    """Return `job` with its expired claim released and recorded lost (`claim_lost`)."""
    lease = job.lease
    if lease is None or job.state is not State.CLAIMED or lease.live(now):
        raise InternalError(f"job {job.id!r}: no expired claim to record as lost ({lease!r})")
    released = _lease.release(lease, lease.owner, lease.token)
    if isinstance(released, Refusal):
        raise InternalError(f"job {job.id!r}: its own lease refused release: {released}")
    reason = f"the claim expired at {_when(lease.expires_at)} without being renewed"
    moved = _step(job, Event.CLAIM_LOST, now, owner=lease.owner, token=lease.token, reason=reason)
    return replace(moved, lease=released)


def claim_job(job: Job, owner: Owner, now: float, ttl: float) -> tuple[Job, Claim]:
    """Return `job` claimed by `owner` for `ttl` seconds from `now`, and the claim.

    The job must be `ready(now)`; an expired claim on it is recorded lost first. The claim's
    token is the next one of the job's lease (strictly higher than any before). Raises
    `UsageError` for a ttl that is not positive and `InternalError` for a job that is not ready
    (a board picks ready jobs only).
    """
    if not ttl > 0:
        raise UsageError(f"a claim's ttl must be a positive number of seconds, got {ttl!r}")
    if not job.ready(now):
        raise InternalError(f"job {job.id!r} is not ready to be claimed ({job.state})")
    if job.state is State.CLAIMED:
        job = _lose_expired(job, now)
    granted = _lease.acquire(job.lease, owner, now, ttl)
    previous = 0 if job.lease is None else job.lease.token
    if isinstance(granted, Refusal) or granted.lease.token <= previous:
        raise InternalError(f"job {job.id!r}: a free job's lease refused a claim: {granted}")
    lease = granted.lease
    claimed = replace(_step(job, Event.CLAIM, now, owner=owner, token=lease.token), lease=lease)
    return claimed, Claim(claimed, owner, lease.token, lease.expires_at)


def _check_text(job: Job, what: str, value: object) -> None:
    """Raise `UsageError` unless `value` (a reason or an outcome) is text."""
    if not isinstance(value, str):
        raise UsageError(f"job {job.id!r}: the {what} must be text, got {value!r}")


def _refused(job: Job, claim: Claim, refusal: Refusal) -> ClaimLost:
    current = refusal.current
    if current is None:
        reason = "never granted (the job was never claimed)"
    elif current.token != claim.token:
        reason = f"taken over (the job's current token is {current.token})"
    elif current.owner != claim.owner:
        reason = "made by another owner (the owner does not match the token)"
    else:
        reason = f"released (the job is {job.state})"
    holder = str(current.owner) if current is not None and current.held else None
    return ClaimLost(job.id, claim.token, holder, reason)


def renew_claim(job: Job, claim: Claim, now: float, ttl: float) -> tuple[Job, Claim]:
    """Return `job` with the claim extended to `now + ttl` (never shortened), and the claim.

    Raises `ClaimLost` when the claim's token is no longer the job's current one, and
    `UsageError` for a ttl that is not positive; the job is unchanged then.
    """
    if not ttl > 0:
        raise UsageError(f"a claim's ttl must be a positive number of seconds, got {ttl!r}")
    renewed = _lease.renew(job.lease, claim.owner, claim.token, now, ttl)
    if isinstance(renewed, Refusal):
        raise _refused(job, claim, renewed)
    job = replace(job, lease=renewed)
    return job, Claim(job, claim.owner, claim.token, renewed.expires_at)


def finish(
    job: Job,
    claim: Claim,
    event: Event,
    now: float,
    *,
    reason: str | None = None,
    outcome: str | None = None,
    delay: float | None = None,
) -> Job:
    """Return `job` after its claim's owner ended the claim by `event` (`complete`, `abandon`
    or `trash`), with `reason` or `outcome` on record; an abandoned job waits `delay` seconds
    (if given) before it is ready again.

    Raises `ClaimLost` when the claim's token is no longer current and `IllegalTransition` when
    the table refuses `event`; the job is unchanged then.
    """
    if event not in (Event.COMPLETE, Event.ABANDON, Event.TRASH):
        raise UsageError(f"a claim ends by complete, abandon or trash, not {event!r}")
    if event is Event.COMPLETE:
        _check_text(job, "outcome", outcome)
    else:
        _check_text(job, "reason", reason)
    released: Lease | Refusal = _lease.release(job.lease, claim.owner, claim.token)
    if isinstance(released, Refusal):
        raise _refused(job, claim, released)
    fields = {"owner": claim.owner, "token": claim.token, "reason": reason, "outcome": outcome}
    moved = _step(job, event, now, **fields)
    not_before = job.not_before
    if event is Event.ABANDON and delay is not None:
        if not delay >= 0:
            raise UsageError(f"an abandoned job's delay must be >= 0 seconds, got {delay!r}")
        not_before = now + delay
    return replace(moved, lease=released, not_before=not_before)


def discard(job: Job, now: float, reason: str) -> Job:
    """Return `job` trashed by an operator (no claim), with `reason` on record.

    Allowed while nobody holds a live claim: an expired claim is recorded lost first. Raises
    `JobClaimed` when a live claim holds the job and `IllegalTransition` when it is already
    COMPLETE or TRASHED; the job is unchanged then.
    """
    _check_text(job, "reason", reason)
    if job.state is State.CLAIMED and job.lease is not None:
        if job.lease.live(now):
            raise JobClaimed(job.id, str(job.lease.owner), job.lease.expires_at, now)
        job = _lose_expired(job, now)
    return _step(job, Event.TRASH, now, reason=reason)
