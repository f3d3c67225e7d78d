"""`memory://`: a job board in this process's memory, for tests, examples and one-process apps.

Each request runs under one lock, so it is atomic; a condition variable on that lock wakes
`wait` and `wait_for_work` when a job changes, without polling (`wait_for_work` also wakes when
the soonest not-before time or claim expiry comes). What it hands out is a deep copy, so a
caller changing a job's store or details changes nothing on the board. Jobs are kept as the frozen
`Job` values `_decide` returns, so nothing here can corrupt one. Time is the board's clock
(`time.time` unless given), which tests replace with a fake one; `wait` and `wait_for_work`
count their timeout in real time, and also wake when `notify()` is called (after a fake clock
moved, say). Every `open_board("memory://")` is a new, empty board.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from provenflow.errors import UnknownJob
from provenflow.fsm.job import Event, State
from provenflow.jobs import _decide
from provenflow.jobs._board_base import FinishingBoard
from provenflow.jobs._records import Claim, Job, JobListing
from provenflow.persistence import Owner

__all__ = ["MemoryBoard"]


class MemoryBoard(FinishingBoard):
    """A job board in memory (see the module docstring); safe to share between threads."""

    def __init__(self, url: str = "memory://", *, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self._keys: dict[str, str] = {}
        self._changed = threading.Condition()

    def __repr__(self) -> str:
        return f"MemoryBoard({self.url!r}, {len(self._jobs)} jobs)"

    def now(self) -> float:
        """Return the board's time (its clock's)."""
        return self._clock()

    def close(self) -> None:
        """Nothing to release; the board keeps its jobs."""

    def notify(self) -> None:
        """Wake every `wait` and `wait_for_work` to look again (e.g. after a fake clock moved)."""
        with self._changed:
            self._changed.notify_all()

    def post(
        self,
        factory: str,
        *,
        store: Mapping[str, Any] | None = None,
        name: str | None = None,
        priority: int = 0,
        details: Mapping[str, Any] | None = None,
        key: str | None = None,
        not_before: float | None = None,
    ) -> Job:
        """Post a job, or return the one posted with `key` (see `Board.post`)."""
        with self._changed:
            if key is not None and key in self._keys:
                return copy.deepcopy(self._jobs[self._keys[key]])
            job = _decide.new_job(
                factory,
                self._clock(),
                store=store,
                name=name,
                priority=priority,
                details=details,
                key=key,
                not_before=not_before,
            )
            self._jobs[job.id] = job
            if key is not None:
                self._keys[key] = job.id
            self._changed.notify_all()
            return copy.deepcopy(job)

    def get(self, job_id: str) -> Job:
        """Return the job; `UnknownJob` when there is none."""
        with self._changed:
            return copy.deepcopy(self._get(job_id))

    def _get(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise UnknownJob(job_id, self.url) from None

    def jobs(self, state: str | None = None) -> JobListing:
        """Return every job (in `state`, if given), oldest first."""
        with self._changed:
            found = tuple(job for job in self._jobs.values() if state in (None, job.state))
            return JobListing(copy.deepcopy(found))

    def claim(self, owner: Owner, ttl: float) -> Claim | None:
        """Claim the best ready job (see `Board.claim`); None when none is ready."""
        with self._changed:
            now = self._clock()
            ready = [job for job in self._jobs.values() if job.ready(now)]
            if not ready:
                return None
            best = min(ready, key=_decide.sort_key)  # the first posted among equals
            job, claim = _decide.claim_job(best, owner, now, ttl)
            self._jobs[job.id] = job
            self._changed.notify_all()
            return copy.deepcopy(claim)

    def renew(self, claim: Claim, ttl: float) -> Claim:
        """Extend the claim (see `Board.renew`); `ClaimLost` when its token is stale."""
        with self._changed:
            job, renewed = _decide.renew_claim(self._get(claim.job_id), claim, self._clock(), ttl)
            self._jobs[job.id] = job
            return copy.deepcopy(renewed)

    def _finish(self, claim: Claim, event: Event, **fields: Any) -> Job:
        with self._changed:
            job = _decide.finish(self._get(claim.job_id), claim, event, self._clock(), **fields)
            self._jobs[job.id] = job
            self._changed.notify_all()
            return copy.deepcopy(job)

    def discard(self, job_id: str, reason: str) -> Job:
        """Trash a job no live claim holds (see `Board.discard`)."""
        with self._changed:
            job = _decide.discard(self._get(job_id), self._clock(), reason)
            self._jobs[job.id] = job
            self._changed.notify_all()
            return copy.deepcopy(job)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Return the job once COMPLETE or TRASHED, or as it is after `timeout` seconds."""
        with self._changed:
            self._get(job_id)
            self._changed.wait_for(lambda: self._jobs[job_id].finished, timeout)
            return copy.deepcopy(self._jobs[job_id])

    def wait_for_work(self, timeout: float) -> bool:
        """Return True once a job is ready to claim, False when `timeout` seconds passed.

        Sleeps until a change, or until the soonest not-before time or claim expiry comes.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                soonest = self._soonest_ready()
                if soonest is not None and soonest <= 0:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left if soonest is None else min(left, soonest))

    def _soonest_ready(self) -> float | None:
        """In how many seconds of the clock a job becomes ready (<= 0: one is), or None."""
        now = self._clock()
        times = []
        for job in self._jobs.values():
            if job.ready(now):
                return 0.0
            if job.state is State.UNCLAIMED and job.not_before is not None:
                times.append(job.not_before - now)
            elif job.state is State.CLAIMED and job.lease is not None:
                times.append(job.lease.expires_at - now)
        return min(times, default=None)
