"""The lease an engine holds on its run while it runs: taken, kept alive, given back.

`RunLease.take` takes the run's lease in the store before the engine runs anything (a live
lease of another engine refuses it with `RunOwned`); a daemon thread then renews it every third
of its time to live, waiting on an event, so that a task that runs for a long time, or never
returns, does not let the lease expire while the process is alive. When a renewal is refused
(`LeaseLost`: another engine took the lease over after this process was paused longer than the
lease), the engine learns it at its next step (`check`) and stops; its writes would be refused
anyway, since each carries the token. `release` stops the renewals and gives the lease back, so
that the next engine takes it at once.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from provenflow.errors import LeaseLost, ProvenflowError, UsageError
from provenflow.persistence import Grant, Owner, Storage

__all__ = ["DEFAULT_LEASE_TTL", "RunLease", "check_ttl"]

DEFAULT_LEASE_TTL = 30.0
"""Seconds an engine's lease on its run lasts unless renewed (it is renewed every third)."""


def check_ttl(ttl: float) -> float:
    """Return `ttl` as a float; `UsageError` unless it is a positive number of seconds."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        raise UsageError(f"lease_ttl must be a positive number of seconds, got {ttl!r}")
    return float(ttl)


class RunLease:
    """The lease of one engine on one run while it runs; see the module docstring."""

    def __init__(self, storage: Storage, flow_id: str, owner: Owner, ttl: float, grant: Grant):
        self.storage, self.flow_id, self.owner, self.ttl = storage, flow_id, owner, ttl
        self.grant = grant
        self.token = grant.lease.token
        self.lost: LeaseLost | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._renew, name=f"provenflow-lease-{flow_id}", daemon=True
        )
        self._thread.start()

    @classmethod
    def take(cls, storage: Storage, flow_id: str, owner: Owner, ttl: float) -> RunLease:
        """Take the run's lease and start renewing it. Raises `RunOwned` (nothing changed)
        when another engine's lease is live, and what the store raises."""
        return cls(storage, flow_id, owner, ttl, storage.take_lease(flow_id, owner, ttl))

    def previous(self) -> dict[str, Any] | None:
        """What is known of the lease this one took over (recorded with `taken_over`), or None
        when the run was not taken over from another engine."""
        old = self.grant.taken_over
        if old is None:
            return None
        return {
            "owner": old.owner.id,
            "pid": old.owner.pid,
            "host": old.owner.host,
            "token": old.token,
            "expired_at": old.expires_at,
            "new_token": self.token,
        }

    def check(self) -> None:
        """Raise `LeaseLost` once a renewal was refused: the engine must stop."""
        if self.lost is not None:
            raise self.lost

    def release(self) -> None:
        """Stop renewing and give the lease back. Never raises: a lease that cannot be given
        back (lost, or the store unreachable) simply expires."""
        self._stop.set()
        with contextlib.suppress(ProvenflowError, OSError):
            self.storage.release_lease(self.flow_id, self.owner, self.token)
        self._thread.join(timeout=self.ttl)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.storage.renew_lease(self.flow_id, self.owner, self.token, self.ttl)
            except LeaseLost as lost:
                self.lost = lost
                return
            except (ProvenflowError, OSError):
                continue  # the store is unreachable for now: try again; writes stay fenced
