"""The storage protocol every backend implements, and opening a backend by URL.

A backend keeps runs: a `RunInfo` written once by `create`, then an append-only list of
`Transition`s written by `record`. Each `record` writes a batch of transitions as one
transaction, and is a compare-and-set on the run's version (the number of transitions it holds):
the writer says which version it last saw, the store appends the batch and returns the new
version, or refuses with `StaleVersion` and changes nothing. Two engines on one run therefore
cannot both advance it.

Each run also has a lease (`provenflow.persistence._lease`): an engine takes it before it runs
anything (`take_lease`), renews it while it works and releases it when it stops; every `record`
carries the lease's token, and a write with a token that is no longer current is refused with
`LeaseLost`, nothing written. The store decides with its own time (the server's for
PostgreSQL, the local clock otherwise), in the same atomic step as its writes.

Values are whatever the backend can keep (the memory backend keeps Python objects; the durable
ones keep JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from provenflow.errors import UsageError
from provenflow.persistence._dir import DirStorage
from provenflow.persistence._lease import Grant, Lease, Owner
from provenflow.persistence._records import RunInfo, RunListing, Transition

__all__ = ["Storage", "open_storage"]


@runtime_checkable
class Storage(Protocol):
    """A place where runs and their transitions are kept."""

    url: str

    def create(self, run: RunInfo) -> int:
        """Record a new run; return its version (0). Raises `UsageError` if the id exists."""
        ...

    def load(self, flow_id: str) -> tuple[RunInfo, list[Transition], int]:
        """Return a run's description, its transitions oldest first, and its version.

        Raises `UnknownRun` when no run has that id.
        """
        ...

    def record(
        self,
        flow_id: str,
        transitions: Sequence[Transition],
        expected_version: int,
        token: int | None = None,
    ) -> int:
        """Append `transitions`, all or none, if the run is still at `expected_version` and
        `token` is the current token of its lease (None: only while nobody holds the lease).

        Returns the new version. Raises `StaleVersion` (nothing written) when another writer
        advanced the run first, `LeaseLost` when `token` is not current (taken over or
        released), `RunOwned` for a write without a token while an engine holds the lease.
        """
        ...

    def take_lease(self, flow_id: str, owner: Owner, ttl: float) -> Grant:
        """Give `owner` the run's lease for `ttl` seconds of the store's time; return the grant
        (its `taken_over` names the expired lease it replaced, if any).

        Raises `RunOwned` when another owner's lease is live and `UnknownRun`; nothing is
        changed then.
        """
        ...

    def renew_lease(self, flow_id: str, owner: Owner, token: int, ttl: float) -> Lease:
        """Extend the holder's lease to `ttl` seconds from now; return it.

        Raises `LeaseLost` when `owner` and `token` no longer hold it (nothing changed).
        """
        ...

    def release_lease(self, flow_id: str, owner: Owner, token: int) -> None:
        """Let the holder's lease go (its token stays, so the next one is higher).

        Raises `LeaseLost` when `owner` and `token` no longer hold it (nothing changed).
        """
        ...

    def leases(self) -> tuple[dict[str, Lease], float]:
        """Return the lease of every run that ever had one, by flow id, and the store's now."""
        ...

    def runs(self) -> list[tuple[RunInfo, str]]:
        """Return every run with the state of its flow, oldest first.

        Raises `CorruptRecord` for the first run that cannot be read back (`list_runs` lists
        the others and names each such run instead).
        """
        ...

    def list_runs(self) -> RunListing:
        """Return every run that reads back with its flow's state, oldest first, and every run
        that does not with what is wrong with it (`CorruptRun`): one bad run spoils no listing.

        Raises `StorageUnavailable` when the store itself cannot be read.
        """
        ...

    def check_value(self, flow_id: str, atom: str | None, field: str, value: object) -> None:
        """Raise `UnstorableValue` if this store could not keep `value` (and read it back).

        The engine asks before it records an atom's result, so a result that cannot be stored
        fails its task instead of the run. Durable stores keep JSON; memory keeps anything.
        """
        ...

    def stored_value(self, flow_id: str, atom: str | None, field: str, value: object) -> Any:
        """Return `value` as this store gives it back after a reload; check it as `check_value`.

        The engine hands this, not the value a task returned, to the atoms that need it, so an
        atom is given the same value whether or not a crash came in between (a durable store
        gives back a subclass of `str`, `dict`, ... as its base type; memory gives `value`).
        """
        ...


def open_storage(
    backend: str | Storage | None,
    *,
    create: bool = True,
    read_only: bool = False,
    initialise: bool = False,
) -> Storage:
    """Return the backend named by a URL, or `backend` itself when it already is one.

    None and `memory://` give a new in-memory backend; `sqlite:///path` (relative, or
    `sqlite:////absolute`) and `postgresql://user@host/db` a `SqlStorage`; `dir:///path` (all
    after `dir://` is the path) a `DirStorage`. A durable store is made when missing
    (`create`); `create=False` opens only a store that exists (to resume a run), and
    `read_only=True` only reads one (to list runs, show a history): nothing is created or
    changed, not even a missing file or an SQLite journal mode. A database or directory that
    holds other data and no store is refused unless `initialise=True` (with `create`) asks to
    keep runs there too.

    Raises `UsageError` for an unknown URL, `StoreNotFound` for a store that is not there to
    open without creating it, and what the backend raises when it cannot be opened
    (`StorageUnavailable`, `ForeignStore`, `CorruptRecord`, `NewerSchema`).
    """
    from provenflow.persistence._memory import MemoryStorage  # noqa: PLC0415 (cycle)

    options = {"create": create, "read_only": read_only, "initialise": initialise}
    if backend is None:
        return MemoryStorage()
    if isinstance(backend, str):
        scheme = backend.partition("://")[0].partition("+")[0]
        if backend.startswith("memory://"):
            return MemoryStorage(backend)
        if backend.startswith("dir://"):
            return DirStorage(backend, **options)
        if "://" in backend and scheme in ("sqlite", "postgresql"):
            try:
                from provenflow.persistence._sql import SqlStorage  # noqa: PLC0415 (SQLAlchemy)
            except ImportError as error:
                raise UsageError(
                    f"backend {backend!r} needs SQLAlchemy, which is not installed ({error})"
                ) from None
            return SqlStorage(backend, **options)
        raise UsageError(
            f"backend {backend!r}: unknown URL scheme "
            "(known: memory://, sqlite:///path, postgresql://..., dir:///path)"
        )
    if isinstance(backend, Storage):
        return backend
    raise UsageError(f"backend {backend!r}: expected a URL or a Storage, got {type(backend)}")
