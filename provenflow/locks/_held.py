"""A lock held while a block of code runs: acquired, kept alive, released (`LockService.lease`).

Theory of operation. `hold(service, name, ttl, wait=...)` checks its arguments at once and
returns a context manager. On entry it acquires the lock (with `wait`, it tries again, backing
off, until that many seconds have passed, and then lets `LockHeld` out). While the body runs a
daemon thread renews the lease every `ttl / 3`, waiting on an event so that exiting stops it at
once. On exit the thread is stopped and the lock released.

Learning that the lock was lost. `HeldLock.lost` is a `threading.Event`, set when

- a renewal is refused (`LockLost`: another owner took the lock over after this process was
  paused, or its connection was cut, for longer than the lease), or
- no renewal succeeded for a whole `ttl` (the service could not be reached): the lease may
  have expired and been taken over without this process hearing of it.

`HeldLock.check()` raises the `LockLost` from then on. A lost lock does not come back: acquire
it again. Being told is not enough to stay safe (a process paused between `check()` and its
write cannot be told): pass `HeldLock.token` to the resource the lock guards, and let the
resource refuse a token that is not current (`LockService.check`).

On exit: when the body raised, the lock is released if it can be, and nothing raised while
releasing hides the body's exception. When the body returned and the lock was lost meanwhile,
exit raises the `LockLost`, since the body did not run under the lock all along. A release the
service cannot take (it is unreachable) is given up: the lease expires on its own.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from provenflow.errors import LockHeld, LockLost, ProvenflowError, UsageError
from provenflow.locks._protocol import check_name, check_ttl
from provenflow.persistence._lease import Lease, Owner, new_owner

if TYPE_CHECKING:
    from provenflow.locks._protocol import LockService

__all__ = ["HeldLock", "acquire_waiting", "hold"]

_FIRST_PAUSE = 0.01
_LONGEST_PAUSE = 0.5


class HeldLock:
    """A lock held while a `lease` block runs; see the module docstring.

    `name`, `owner`, `token` (the fencing token: pass it to what the lock guards), `ttl`,
    `expires_at` (the service's time; updated by each renewal), `lost` (an event set once the
    lock is lost) and `error` (the `LockLost` once lost, else None).
    """

    def __init__(self, service: LockService, name: str, ttl: float, lease: Lease) -> None:
        self.service, self.name, self.ttl = service, name, ttl
        self.owner: Owner = lease.owner
        self.token: int = lease.token
        self.expires_at: float = lease.expires_at
        self.lost = threading.Event()
        self.error: LockLost | None = None
        self._valid_until = time.monotonic() + ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._keep, name=f"provenflow-lock-{name[:40]}", daemon=True
        )

    def check(self) -> None:
        """Return while the lock is held; raise `LockLost` once it was lost."""
        if self.error is not None:
            raise self.error

    def _lose(self, error: LockLost) -> None:
        self.error = error
        self.lost.set()

    def _keep(self) -> None:
        pause = self.ttl / 3
        while not self._stop.wait(pause):
            started = time.monotonic()
            try:
                lease = self.service.renew(self.name, self.owner, self.token, self.ttl)
            except LockLost as error:
                self._lose(error)
                return
            except (ProvenflowError, OSError) as error:
                left = self._valid_until - time.monotonic()
                if left <= 0:
                    reason = f"not renewed within its ttl of {self.ttl:g} s ({error})"
                    self._lose(LockLost(self.name, self.token, None, reason))
                    return
                pause = min(self.ttl / 3, left)  # try again, at the latest when it may expire
                continue
            self.expires_at = lease.expires_at
            self._valid_until = started + self.ttl
            pause = self.ttl / 3

    def _start(self) -> None:
        self._thread.start()

    def _finish(self, *, quiet: bool) -> None:
        """Stop renewing and release the lock. Unless `quiet`, raise `LockLost` when the lock
        was lost (before, or found so by the release)."""
        self._stop.set()
        self._thread.join()
        if self.error is None:
            try:
                self.service.release(self.name, self.owner, self.token)
            except LockLost as error:
                self._lose(error)
            except (ProvenflowError, OSError):
                pass  # the service is unreachable: the lease expires on its own
        if self.error is not None and not quiet:
            raise self.error


def hold(
    service: LockService,
    name: str,
    ttl: float = 30.0,
    *,
    wait: float | None = None,
    owner: Owner | None = None,
) -> contextlib.AbstractContextManager[HeldLock]:
    """Return a context manager holding lock `name` of `service` while its body runs (see the
    module docstring); a new `Owner` unless one is given.

    Raises `UsageError` at once for a bad name, ttl or wait; on entry, `LockHeld` when the
    lock stays held by another owner, and what the service raises.
    """
    name = check_name(name)
    ttl = check_ttl(ttl)
    if wait is not None:
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not wait >= 0:
            raise UsageError(
                f"a lock's wait must be None or a number of seconds >= 0, got {wait!r}"
            )
        wait = float(wait)
    return _holding(service, name, ttl, wait, owner or new_owner())


@contextlib.contextmanager
def _holding(
    service: LockService, name: str, ttl: float, wait: float | None, owner: Owner
) -> Iterator[HeldLock]:
    held = HeldLock(service, name, ttl, acquire_waiting(service, name, owner, ttl, wait))
    held._start()
    try:
        yield held
    except BaseException:
        held._finish(quiet=True)
        raise
    held._finish(quiet=False)


def acquire_waiting(
    service: LockService, name: str, owner: Owner, ttl: float, wait: float | None
) -> Lease:
    """Acquire `name` for `owner`; while another owner holds it, try again until `wait`
    seconds have passed (never, for None), pausing longer each time (up to half a second, and
    never past the holder's expiry or the deadline). Raises the last `LockHeld`."""
    deadline = None if wait is None else time.monotonic() + wait
    pause = _FIRST_PAUSE
    while True:
        try:
            return service.acquire(name, owner, ttl)
        except LockHeld as held:
            left = 0.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise
            expires_in = max(held.expires_at - held.now, _FIRST_PAUSE)
            time.sleep(min(pause, left, expires_in))
            pause = min(pause * 2, _LONGEST_PAUSE)
