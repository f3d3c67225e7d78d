"""Locks in this process's memory (`memory://`): for tests, and threads of one program.

Each lock is the `Lease` last decided for it (kept after a release, so that tokens never go
back); every operation asks `provenflow.persistence._lease` under one mutex, with the time of
`clock` (the local clock unless another is given, such as a fake one in tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from provenflow.locks._protocol import LockService, check_name, check_ttl, refused
from provenflow.persistence import _lease
from provenflow.persistence._lease import Grant, Lease, Owner, Refusal

__all__ = ["MemoryLocks"]


class MemoryLocks(LockService):
    """A lock service in memory; see `LockService` for what each method does."""

    def __init__(self, url: str = "memory://", clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self._clock = clock
        self._locks: dict[str, Lease] = {}
        self._mutex = threading.Lock()

    def acquire(self, name: str, owner: Owner, ttl: float) -> Lease:
        """See `LockService.acquire`."""
        name, ttl = check_name(name), check_ttl(ttl)
        with self._mutex:
            now = self._clock()
            decided = _lease.acquire(self._locks.get(name), owner, now, ttl)
            if isinstance(decided, Refusal):
                raise refused(name, decided, now, None)
            return self._keep(name, decided)

    def renew(self, name: str, owner: Owner, token: int, ttl: float) -> Lease:
        """See `LockService.renew`."""
        name, ttl = check_name(name), check_ttl(ttl)
        with self._mutex:
            now = self._clock()
            decided = _lease.renew(self._locks.get(name), owner, token, now, ttl)
            if isinstance(decided, Refusal):
                raise refused(name, decided, now, token)
            return self._keep(name, decided)

    def release(self, name: str, owner: Owner, token: int) -> None:
        """See `LockService.release`."""
        name = check_name(name)
        with self._mutex:
            decided = _lease.release(self._locks.get(name), owner, token)
            if isinstance(decided, Refusal):
                raise refused(name, decided, self._clock(), token)
            self._keep(name, decided)

    def check(self, name: str, token: int) -> None:
        """See `LockService.check`."""
        name = check_name(name)
        with self._mutex:
            refusal = _lease.check_write(self._locks.get(name), token)
            if refusal is not None:
                raise refused(name, refusal, self._clock(), token)

    def leases(self) -> tuple[dict[str, Lease], float]:
        """See `LockService.leases`."""
        with self._mutex:
            return dict(self._locks), self._clock()

    def close(self) -> None:
        """Nothing to let go of."""

    def _keep(self, name: str, decided: Grant | Lease) -> Lease:
        lease = decided.lease if isinstance(decided, Grant) else decided
        self._locks[name] = lease
        return lease
