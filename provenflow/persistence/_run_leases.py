"""The lease methods of the storage protocol, once for every durable backend.

`take_lease`, `renew_lease` and `release_lease` are each one decision of the pure rules
(`_lease.acquire`, `renew`, `release`) applied by the backend's own atomic step,
`_change_lease(flow_id, token, action, decide)`: an SQL transaction (`_sql_lease.SqlRunLeases`)
or a file lock (`_dir_lease.DirRunLeases`). `token` is the one the request carries (None for
taking a lease); `action` names the request in errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from provenflow.persistence import _lease
from provenflow.persistence._lease import Grant, Lease, Owner, Refusal

__all__ = ["Decided", "RunLeases"]

Decided = TypeVar("Decided", Grant, Lease)


class RunLeases:
    """Take, renew and release a run's lease through the backend's `_change_lease`."""

    def _change_lease(
        self,
        flow_id: str,
        token: int | None,
        action: str,
        decide: Callable[[Lease | None, float], Decided | Refusal],
    ) -> Decided:
        raise NotImplementedError

    def take_lease(self, flow_id: str, owner: Owner, ttl: float) -> Grant:
        """Give `owner` the run's lease (see `Storage.take_lease`); `RunOwned` if held."""

        def decide(current: Lease | None, now: float) -> Grant | Refusal:
            return _lease.acquire(current, owner, now, ttl, _lease.owner_gone)

        return self._change_lease(flow_id, None, "take a lease", decide)

    def renew_lease(self, flow_id: str, owner: Owner, token: int, ttl: float) -> Lease:
        """Extend the holder's lease (see `Storage.renew_lease`); `LeaseLost` if not held."""

        def decide(current: Lease | None, now: float) -> Lease | Refusal:
            return _lease.renew(current, owner, token, now, ttl)

        return self._change_lease(flow_id, token, "renew a lease", decide)

    def release_lease(self, flow_id: str, owner: Owner, token: int) -> None:
        """Let the holder's lease go (see `Storage.release_lease`); `LeaseLost` if not held."""

        def decide(current: Lease | None, now: float) -> Lease | Refusal:
            return _lease.release(current, owner, token)

        self._change_lease(flow_id, token, "release a lease", decide)
