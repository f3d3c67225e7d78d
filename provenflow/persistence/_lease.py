"""Leases with fencing tokens: who may act on a leased thing (a run, later a lock or a job).

Theory of operation. A lease says which owner may act on one thing, until when, and under which
**fencing token**: a number that strictly increases each time the lease changes hands (or is
taken again after a release). Whoever holds the lease acts; every write it makes carries its
token, and the store refuses a write whose token is not the current one. A lease alone is not
enough: an owner paused longer than its lease (a stopped process, a long garbage collection, a
partition) still believes it holds it when it wakes up, and the token is what the store checks
to refuse what it then writes.

This module is the whole decision, and pure: each function takes the lease as the store holds it
(None for a thing never leased), the store's `now` and the request, and returns the new lease to
keep or a `Refusal` saying why not. It reads no clock and does no I/O; every backend calls it
inside its own atomic step (an SQL transaction, a file lock, a mutex), with its own time, and a
model checker can drive it with a simulated clock. The rules:

- `acquire`: a thing never leased, or released, is granted with the next token. A live lease of
  another owner is refused. An expired one, or one whose owner is known to be gone, is **taken
  over** with the next token (the grant says so, and names the previous owner). The owner that
  holds a lease gets it again, renewed, with the same token.
- `renew`: the holder (owner and token) extends its lease, even past its expiry as long as
  nobody took it over; anyone else is refused.
- `release`: the holder lets the lease go; the token is kept, so the next one is higher.
- `check_write`: a write carrying the current token of a held lease is accepted; one carrying
  another token is refused (taken over, or released). A write without a token is accepted only
  while nobody holds the lease (tools and tests that write outside any engine).

An expired lease that nobody took over still fences correctly: its holder may write and renew,
since no one else can have acted.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from provenflow.errors import LeaseLost, RunOwned, StorageError

__all__ = [
    "Grant",
    "Lease",
    "Owner",
    "Refusal",
    "acquire",
    "check_write",
    "new_owner",
    "owner_gone",
    "release",
    "renew",
    "run_refused",
]


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds a lease: the host name, the process id and a random id (one per engine)."""

    host: str
    pid: int
    id: str

    def __str__(self) -> str:
        return f"{self.id[:8]} (pid {self.pid} on {self.host})"


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease as a store keeps it: its owner, its token, when it expires (seconds since the
    epoch, in the store's time) and whether it is held (False once released)."""

    owner: Owner
    token: int
    expires_at: float
    held: bool = True

    def live(self, now: float) -> bool:
        """Whether the lease is held and not yet expired at `now`."""
        return self.held and now < self.expires_at


@dataclass(frozen=True, slots=True)
class Grant:
    """What `acquire` gave: the lease to keep, and the lease it replaced when it was taken over
    from another owner (`taken_over`), else None."""

    lease: Lease
    taken_over: Lease | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was refused: `reason` is `held` (another owner's lease is live), `lost`
    (the requester's token is not the current one, or the lease was released) or `unleased` (a
    renewal or release of a lease that never existed). `current` is the lease as found."""

    reason: str
    current: Lease | None


def new_owner() -> Owner:
    """Return an owner for this process: its host name, its pid and a new random id.

    Not part of the pure decision: it reads the host name and the process id.
    """
    return Owner(socket.gethostname(), os.getpid(), uuid.uuid4().hex)


def owner_gone(owner: Owner) -> bool:
    """Return whether `owner` is known to have stopped: it ran on this host (same host name)
    and no process has its pid. An owner elsewhere, or a pid in use, counts as alive.

    Not part of the pure decision: it asks the operating system. Processes that share a host
    name are assumed to share a process table (not so for containers given the host's name).
    """
    if owner.host != socket.gethostname() or owner.pid == os.getpid():
        return False
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: a process of another user has the pid
        return False
    return False


def acquire(
    current: Lease | None,
    requester: Owner,
    now: float,
    ttl: float,
    gone: Callable[[Owner], bool] = lambda owner: False,
) -> Grant | Refusal:
    """Return the grant of the lease to `requester` for `ttl` seconds from `now`, or why not.

    `gone(owner)` says whether the holder is known to have stopped (its process no longer
    exists): its lease is then taken over before it expires.
    """
    if current is None:
        return Grant(Lease(requester, 1, now + ttl))
    following = Lease(requester, current.token + 1, now + ttl)
    if not current.held:
        return Grant(following)
    if current.owner == requester:
        return Grant(replace(current, expires_at=max(current.expires_at, now + ttl)))
    if current.live(now) and not gone(current.owner):
        return Refusal("held", current)
    return Grant(following, taken_over=current)


def renew(
    current: Lease | None, owner: Owner, token: int, now: float, ttl: float
) -> Lease | Refusal:
    """Return the holder's lease extended to `now + ttl`, or why it cannot be renewed."""
    refusal = _holder_check(current, owner, token)
    if refusal is not None:
        return refusal
    assert current is not None
    return replace(current, expires_at=max(current.expires_at, now + ttl))


def release(current: Lease | None, owner: Owner, token: int) -> Lease | Refusal:
    """Return the lease released by its holder (same token, no longer held), or why not."""
    refusal = _holder_check(current, owner, token)
    if refusal is not None:
        return refusal
    assert current is not None
    return replace(current, held=False)


def check_write(current: Lease | None, token: int | None) -> Refusal | None:
    """Return why a write carrying `token` (None: no lease) must be refused, or None."""
    if token is None:
        if current is not None and current.held:
            return Refusal("held", current)
        return None
    if current is None or current.token != token or not current.held:
        return Refusal("lost", current)
    return None


def _holder_check(current: Lease | None, owner: Owner, token: int) -> Refusal | None:
    if current is None:
        return Refusal("unleased", None)
    if current.token != token or current.owner != owner or not current.held:
        return Refusal("lost", current)
    return None


def run_refused(flow_id: str, refusal: Refusal, now: float, token: int | None) -> StorageError:
    """Return the error a store raises for a refused request on run `flow_id`: `RunOwned` when
    another engine holds its lease, `LeaseLost` when the requester's `token` is not current."""
    current = refusal.current
    if refusal.reason == "held" and current is not None:
        return RunOwned(flow_id, str(current.owner), current.expires_at, now)
    if current is None:
        reason = "never granted (the run has no lease)"
    elif current.token != token:
        reason = f"taken over (the current token is {current.token})"
    else:
        reason = "released"
    holder = str(current.owner) if current is not None and current.held else None
    return LeaseLost(flow_id, token, holder, reason)
