"""The job board protocol, and opening a board from its URL.

Theory of operation. A board holds jobs (see `_records`) and changes them only as `_decide`
says, each request in one atomic step of the board's own (a mutex in memory, a transaction in
SQL; a Lua script on Redis and a version-checked transaction on ZooKeeper are the shapes boards
to come fit into). What every board offers is `Board`:

- `post(factory, store=..., name=..., priority=..., details=..., key=..., not_before=...)`
  puts a job on the board; posting an idempotency `key` the board holds returns that job.
- `claim(owner, ttl)` takes the best ready job (highest priority, then oldest; unclaimed and
  past its not-before time, or under a claim that expired) and returns a `Claim` with a fencing
  token strictly higher than any the job had, or None when no job is ready.
- `renew(claim, ttl)`, `complete(claim, outcome)`, `abandon(claim, reason, delay=None)`,
  `trash(claim, reason)`: the claim's owner renews or ends its claim; a claim whose token is not
  the job's current one is refused with `ClaimLost` and changes nothing.
- `discard(job_id, reason)`: an operator trashes a job that no live claim holds.
- `get(job_id)`, `jobs(state=None)` read; `wait(job_id, timeout)` blocks until the job is
  finished (or the timeout passes) and `wait_for_work(timeout)` until a job may be ready, both
  without polling where the board can be told of changes (PostgreSQL's LISTEN/NOTIFY, Redis
  pub/sub).
- `now()` is the board's time: the server's where there is one (PostgreSQL, Redis), else the
  board's clock (the local one, or one given for tests).

`open_board(url)` picks the board: `memory://`, `sqlite:///path`, `postgresql://...`,
`redis://host:port/db` (`rediss://` for TLS).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from provenflow.errors import UsageError
from provenflow.jobs._records import Claim, Job, JobListing
from provenflow.persistence import Owner

__all__ = ["BOARD_SCHEMES", "Board", "open_board"]

BOARD_SCHEMES = ("memory", "sqlite", "postgresql", "redis", "rediss")
"""The URL schemes `open_board` knows."""


@runtime_checkable
class Board(Protocol):
    """A job board (see the module docstring for what each method does)."""

    url: str

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
        """Post a job (or return the one posted with `key`); `UsageError` for bad fields."""
        ...

    def get(self, job_id: str) -> Job:
        """Return the job; `UnknownJob` when there is none, `CorruptRecord` when it does not
        read back."""
        ...

    def jobs(self, state: str | None = None) -> JobListing:
        """Return every job (in `state`, if given), oldest first, and those that do not read
        back."""
        ...

    def claim(self, owner: Owner, ttl: float) -> Claim | None:
        """Claim the best ready job for `ttl` seconds; None when no job is ready."""
        ...

    def renew(self, claim: Claim, ttl: float) -> Claim:
        """Extend the claim to `ttl` seconds from now; `ClaimLost` when its token is stale."""
        ...

    def complete(self, claim: Claim, outcome: str) -> Job:
        """Complete the claimed job with `outcome`; `ClaimLost` when the token is stale."""
        ...

    def abandon(self, claim: Claim, reason: str, delay: float | None = None) -> Job:
        """Give the job back (ready again after `delay` s); `ClaimLost` when the token is stale."""
        ...

    def trash(self, claim: Claim, reason: str) -> Job:
        """Trash the claimed job (it is never run); `ClaimLost` when the token is stale."""
        ...

    def discard(self, job_id: str, reason: str) -> Job:
        """Trash a job no live claim holds; `JobClaimed` when one does."""
        ...

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Return the job once finished, or as it is when `timeout` seconds passed."""
        ...

    def wait_for_work(self, timeout: float) -> bool:
        """Return True once a job may be ready to claim, False when `timeout` s passed first."""
        ...

    def now(self) -> float:
        """Return the board's time, in seconds since the epoch."""
        ...

    def close(self) -> None:
        """Release the board's connections (it may still be used: it reconnects)."""
        ...


def open_board(url: str, *, create: bool = True, clock: Callable[[], float] | None = None) -> Board:
    """Return the board at `url`: `memory://` (a new board in this process),
    `sqlite:///path`, `postgresql://...` or `redis://host:port/db` (`rediss://` for TLS).

    `create=False` refuses a board that does not exist yet (`BoardNotFound`) instead of making
    it. `clock` is the time of boards without a server clock (memory, SQLite; default
    `time.time`); PostgreSQL and Redis always use their server's (a Redis board is made
    on first use, so `create` does not apply to it). Raises `UsageError` for an unknown
    scheme, `StorageUnavailable` when the database cannot be reached.
    """
    scheme = url.partition(":")[0].partition("+")[0].lower() if ":" in url else ""
    clock = time.time if clock is None else clock
    if scheme == "memory":
        from provenflow.jobs._memory import MemoryBoard  # noqa: PLC0415

        return MemoryBoard(url, clock=clock)
    if scheme in ("sqlite", "postgresql"):
        from provenflow.jobs._sql import SqlBoard  # noqa: PLC0415 (imports SQLAlchemy)

        return SqlBoard(url, create=create, clock=clock)
    if scheme in ("redis", "rediss"):
        from provenflow.jobs._redis import RedisBoard  # noqa: PLC0415 (imports redis-py)

        return RedisBoard(url)
    raise UsageError(
        f"job board {url!r}: unknown URL scheme {scheme or '(none)'!r} (known: "
        "memory://, sqlite:///path, postgresql://user@host/db, redis://host:port/db)"
    )
