"""The lock service protocol every backend implements, and the rules it shares.

Theory of operation. A lock service keeps named **locks**. A lock is a lease
(`provenflow.persistence._lease`): an owner, an expiry in the service's time, and a **fencing
token** that strictly increases each time the lock is acquired by a new holder (or again after
a release), and never goes back, not even after a release. Every backend makes the same
decisions as `provenflow.persistence._lease` (`acquire`, `renew`, `release`, `check_write`),
atomically, with its own clock (the server's where there is one):

- `acquire(name, owner, ttl)`: a lock never held, released, or whose lease expired is granted
  to `owner` with the next token; a live lease of another owner is refused with `LockHeld`
  (naming the holder and its expiry); the owner that holds it gets it again, renewed, with the
  same token. A lock is taken over only once its lease expired: a lock service cannot tell a
  dead holder from a paused one.
- `renew(name, owner, token, ttl)`: the holder (owner and token) extends its lease to `now +
  ttl`, even past its expiry as long as nobody took it over; anyone else gets `LockLost`.
- `release(name, owner, token)`: the holder lets the lock go (the token is kept, so the next
  holder's is higher); anyone else gets `LockLost`.
- `check(name, token)`: returns when `token` is the token of the lock as held now, else raises
  `LockLost`. This is what a resource guarded by the lock calls with the token a writer
  presents, so that a stale holder (paused past its expiry, then taken over) is refused.
- `leases()`: every lock ever acquired, by name (a released one with `held` false, and its
  token kept), and the service's now, so that expiries can be shown in its clock.
- `lease(name, ttl, wait)`: the user's API, a context manager holding the lock while its body
  runs (`provenflow.locks._held`); every backend gets it from this protocol.

A backend that cannot be reached raises `StorageUnavailable` naming the service and what it
was doing, and changes nothing; the next call tries again. Names are checked by
`check_name` and ttls by `check_ttl` before anything is sent.

A new backend subclasses `LockService` (inheriting `lease`), implements the six other methods
with the rules above, and passes the conformance suite in `tests/locks/`.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from provenflow.errors import LockHeld, LockLost, UsageError
from provenflow.persistence._lease import Lease, Owner, Refusal

if TYPE_CHECKING:
    from provenflow.locks._held import HeldLock

__all__ = ["MAX_NAME_BYTES", "LockService", "check_name", "check_ttl", "refused"]

MAX_NAME_BYTES = 1000
"""The longest lock name, in bytes of UTF-8 (a PostgreSQL index keeps at most ~2,700)."""


@runtime_checkable
class LockService(Protocol):
    """Named locks with fencing tokens; see the module docstring for the rules."""

    url: str
    """The service's URL, as shown in messages (without any password)."""

    def acquire(self, name: str, owner: Owner, ttl: float) -> Lease:
        """Give `owner` the lock `name` for `ttl` seconds; return its lease.

        Raises `LockHeld` (nothing changed) when another owner's lease is live.
        """
        ...

    def renew(self, name: str, owner: Owner, token: int, ttl: float) -> Lease:
        """Extend the holder's lease to the service's now + `ttl`; return it.

        Raises `LockLost` (nothing changed) unless `owner` holds the lock under `token`.
        """
        ...

    def release(self, name: str, owner: Owner, token: int) -> None:
        """Let the holder's lock go; the next holder gets a higher token.

        Raises `LockLost` (nothing changed) unless `owner` holds the lock under `token`.
        """
        ...

    def check(self, name: str, token: int) -> None:
        """Return when `token` is the token of the lock as held now; else raise `LockLost`.

        Changes nothing. An expired lease that nobody took over still passes: no other
        holder can have acted under the lock.
        """
        ...

    def leases(self) -> tuple[dict[str, Lease], float]:
        """Return the lease of every lock ever acquired (released ones with `held` false), by
        name, and the service's now (seconds since the epoch)."""
        ...

    def close(self) -> None:
        """Let go of the service's connections (held locks are not released)."""
        ...

    def lease(
        self,
        name: str,
        ttl: float = 30.0,
        *,
        wait: float | None = None,
        owner: Owner | None = None,
    ) -> AbstractContextManager[HeldLock]:
        """Return a context manager that acquires the lock `name` for `ttl` seconds, renews it
        every `ttl / 3` while its body runs, and releases it on exit; it yields a `HeldLock`.

        `wait=None` tries once; `wait=SECONDS` tries again, backing off, until that deadline.
        Raises `LockHeld` when the lock is still held by another owner, `UsageError` for a bad
        name, ttl or wait. See `provenflow.locks._held`.
        """
        from provenflow.locks._held import hold  # noqa: PLC0415 (_held imports this module)

        return hold(self, name, ttl, wait=wait, owner=owner)


def check_name(name: object) -> str:
    """Return `name` when it can name a lock on every backend; `UsageError` says why not.

    A name is a non-empty `str` of at most `MAX_NAME_BYTES` bytes in UTF-8, without NUL
    characters (PostgreSQL cannot keep them) or unpaired surrogates (not UTF-8). Quotes,
    slashes, spaces and any other Unicode are fine.
    """
    if not isinstance(name, str):
        raise UsageError(f"a lock name must be a str, got {type(name).__name__} {name!r}")
    if not name:
        raise UsageError("a lock name must not be empty")
    if "\x00" in name:
        raise UsageError(f"lock name {name[:80]!r}: must not contain NUL characters")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise UsageError(
            f"lock name {name[:80]!r}: not valid Unicode (it holds an unpaired surrogate)"
        ) from None
    if size > MAX_NAME_BYTES:
        raise UsageError(
            f"lock name {name[:40]!r}...: {size} bytes in UTF-8, more than the "
            f"{MAX_NAME_BYTES} a lock name may have; use a shorter name (e.g. a hash)"
        )
    return name


def check_ttl(ttl: object, what: str = "ttl") -> float:
    """Return `ttl` as a float; `UsageError` unless it is a positive, finite number of seconds."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise UsageError(f"a lock's {what} must be a number of seconds, got {ttl!r}")
    if not (ttl > 0 and math.isfinite(ttl)):
        raise UsageError(f"a lock's {what} must be positive and finite, got {ttl!r}")
    return float(ttl)


def refused(name: str, refusal: Refusal, now: float, token: int | None) -> LockHeld | LockLost:
    """Return the error for a refused request on lock `name`: `LockHeld` when another owner's
    lease is live, `LockLost` when the requester's `token` is not current."""
    current = refusal.current
    if refusal.reason == "held" and current is not None:
        return LockHeld(name, str(current.owner), current.expires_at, now)
    if current is None:
        reason = "never granted (the lock was never held)"
    elif current.token != token:
        reason = f"taken over (the current token is {current.token})"
    elif not current.held:
        reason = "released"
    else:
        reason = "presented by another owner than the one holding it"
    holder = str(current.owner) if current is not None and current.held else None
    return LockLost(name, token, holder, reason)
