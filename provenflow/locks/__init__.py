"""The lock service: named locks held as leases with fencing tokens, by URL.

`open_locks(url)` gives a `LockService` on `memory://`, `sqlite:///path`,
`postgresql://...`, `redis://host:port/db` or `zookeeper://host:port/path`. Its
`lease(name, ttl=..., wait=...)` is a context manager holding the lock while a block runs,
renewing it in the background and releasing it on exit; it yields a `HeldLock` whose `token`
is the **fencing token** to hand to what the lock guards, and whose `lost` event says when the
lock was lost. The service's `acquire`, `renew`, `release`, `check` and `leases` are the
primitives (see `provenflow.locks._protocol` for the rules, which are those of run leases in
`provenflow.persistence`). `LockHeld` and `LockLost` are the refusals.
"""

from __future__ import annotations

from provenflow.errors import LockHeld, LockLost
from provenflow.locks._held import HeldLock
from provenflow.locks._memory import MemoryLocks
from provenflow.locks._open import open_locks
from provenflow.locks._protocol import MAX_NAME_BYTES, LockService
from provenflow.persistence._lease import Lease, Owner, new_owner

__all__ = [
    "MAX_NAME_BYTES",
    "HeldLock",
    "Lease",
    "LockHeld",
    "LockLost",
    "LockService",
    "MemoryLocks",
    "Owner",
    "new_owner",
    "open_locks",
]
