"""What every board does the same way, written once.

`FinishingBoard`: `complete`, `abandon` and `trash` are one decision (`_decide.finish`) with
their event, applied by the board's own `_finish(claim, event, **fields)`.

`ListeningBoard` (the SQL and Redis boards): `wait` and `wait_for_work` look, then sleep until
the board is told of a change (`_listening(action, job_id)` yields `sleep(seconds)`, listening
before the first look so no change is missed) or the next job becomes ready
(`_soonest_ready()`), and look again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from provenflow.fsm.job import Event
from provenflow.jobs._records import Claim, Job

__all__ = ["FinishingBoard", "ListeningBoard"]

Sleep = Callable[[float | None], None]


class FinishingBoard:
    """`complete`, `abandon` and `trash` through the board's `_finish`."""

    def _finish(self, claim: Claim, event: Event, **fields: Any) -> Job:
        raise NotImplementedError

    def complete(self, claim: Claim, outcome: str) -> Job:
        """Complete the claimed job (see `Board.complete`)."""
        return self._finish(claim, Event.COMPLETE, outcome=outcome)

    def abandon(self, claim: Claim, reason: str, delay: float | None = None) -> Job:
        """Give the claimed job back (see `Board.abandon`)."""
        return self._finish(claim, Event.ABANDON, reason=reason, delay=delay)

    def trash(self, claim: Claim, reason: str) -> Job:
        """Trash the claimed job (see `Board.trash`)."""
        return self._finish(claim, Event.TRASH, reason=reason)


class ListeningBoard(FinishingBoard):
    """`wait` and `wait_for_work` through the board's `get`, `_listening`, `_soonest_ready`."""

    def get(self, job_id: str) -> Job:
        raise NotImplementedError

    def _listening(
        self, action: str, job_id: str | None = None
    ) -> contextlib.AbstractContextManager[Sleep]:
        raise NotImplementedError

    def _soonest_ready(self) -> float | None:
        raise NotImplementedError

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Return the job once COMPLETE or TRASHED, or as it is after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._listening("wait for a job", job_id) as sleep:
            while True:
                job = self.get(job_id)
                left = None if deadline is None else deadline - time.monotonic()
                if job.finished or (left is not None and left <= 0):
                    return job
                sleep(left)

    def wait_for_work(self, timeout: float) -> bool:
        """Return True once a job is ready to claim, False when `timeout` seconds passed."""
        deadline = time.monotonic() + timeout
        with self._listening("wait for work") as sleep:
            while True:
                soonest = self._soonest_ready()
                left = deadline - time.monotonic()
                if soonest is not None and soonest <= 0:
                    return True
                if left <= 0:
                    return False
                sleep(left if soonest is None else min(left, soonest))
