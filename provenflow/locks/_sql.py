"""Locks in an SQL database (`sqlite:///path`, `postgresql://...`), with SQLAlchemy Core.

Each lock is a row of `provenflow_locks`: its name and the lease columns of
`provenflow.persistence._sql_lease` (owner, fencing token, expiry, held), kept after a release
so that tokens never go back. The table is made when missing (one creator at a time on
PostgreSQL, under an advisory lock), beside whatever else the database holds, such as a
provenflow store.

Every operation is one transaction in which the row is locked before it is read: on SQLite the
transaction takes the database's write lock from its start (`BEGIN IMMEDIATE`); on PostgreSQL
the row is read `FOR UPDATE` (a first `acquire` inserts it, `ON CONFLICT DO NOTHING`, so that
two first acquirers meet on one row). The decision is `provenflow.persistence._lease`'s, made
with the database's time: PostgreSQL's `clock_timestamp()`, or on SQLite the local clock (or
the `clock` given, e.g. a fake one in tests). `check` reads the row without locking it.

The engine is opened, and database errors turned into `StorageUnavailable` (a server that
cannot be reached, a connection cut) or `CorruptRecord` (a damaged SQLite file), as for
stores (`provenflow.persistence._sql_engine`); after a cut connection the next call opens a
new one. `read_only=True` creates nothing: a missing file or table holds no locks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from provenflow.errors import CorruptRecord, StoreNotFound, UsageError
from provenflow.locks._protocol import LockService, check_name, check_ttl, refused
from provenflow.persistence import _lease
from provenflow.persistence._lease import Grant, Lease, Owner, Refusal
from provenflow.persistence._sql_engine import _BEGIN, _make_engine, database_errors, use_wal
from provenflow.persistence._sql_lease import (
    LEASE_COLUMNS,
    change_lease,
    lease_columns,
    lease_from_row,
    server_now,
)

__all__ = ["LOCKS", "SqlLocks"]

LOCKS = sa.Table(
    "provenflow_locks",
    sa.MetaData(),
    sa.Column("name", sa.Text, primary_key=True),
    *lease_columns(),
)
"""The table of locks: one row per lock ever acquired."""

Decided = TypeVar("Decided", Grant, Lease)


class SqlLocks(LockService):
    """A lock service in an SQL database; see the module docstring and `LockService`."""

    def __init__(
        self, url: str, *, clock: Callable[[], float] | None = None, read_only: bool = False
    ) -> None:
        try:
            self._engine, self.url, self._dialect = _make_engine(
                url, "read" if read_only else "create"
            )
        except StoreNotFound as missing:
            raise UsageError(
                f"lock service {missing.url}: {missing.args[1]}; check the URL (nothing was "
                "created)"
            ) from None
        if clock is not None and self._dialect != "sqlite":
            raise UsageError(f"lock service {self.url}: the database keeps time; no clock")
        self._clock = clock
        self._writer = self._engine.execution_options(**{_BEGIN: "IMMEDIATE"})
        self._dbapi_error: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        self._exists = self._prepare(read_only)

    def acquire(self, name: str, owner: Owner, ttl: float) -> Lease:
        """See `LockService.acquire`."""
        name, ttl = check_name(name), check_ttl(ttl)

        def decide(current: Lease | None, now: float) -> Grant | Refusal:
            return _lease.acquire(current, owner, now, ttl)

        return self._change(name, None, "acquire", decide).lease

    def renew(self, name: str, owner: Owner, token: int, ttl: float) -> Lease:
        """See `LockService.renew`."""
        name, ttl = check_name(name), check_ttl(ttl)

        def decide(current: Lease | None, now: float) -> Lease | Refusal:
            return _lease.renew(current, owner, token, now, ttl)

        return self._change(name, token, "renew", decide)

    def release(self, name: str, owner: Owner, token: int) -> None:
        """See `LockService.release`."""
        name = check_name(name)

        def decide(current: Lease | None, now: float) -> Lease | Refusal:
            return _lease.release(current, owner, token)

        self._change(name, token, "release", decide)

    def check(self, name: str, token: int) -> None:
        """See `LockService.check`."""
        name = check_name(name)
        current: Lease | None = None
        with self._guard(f"check lock {name!r}"), self._engine.connect() as conn:
            if self._exists:
                columns = [LOCKS.c[column] for column in LEASE_COLUMNS]
                row = conn.execute(sa.select(*columns).where(LOCKS.c.name == name)).first()
                if row is not None:
                    current = lease_from_row(tuple(row), f"{self.url}: lock {name!r}")
            now = self._now(conn)
        refusal = _lease.check_write(current, token)
        if refusal is not None:
            raise refused(name, refusal, now, token)

    def leases(self) -> tuple[dict[str, Lease], float]:
        """See `LockService.leases`; a row whose lease columns are damaged is left out."""
        columns = [LOCKS.c[column] for column in LEASE_COLUMNS]
        query = sa.select(LOCKS.c.name, *columns).where(LOCKS.c.lease_token > 0)
        with self._guard("list the locks"), self._engine.connect() as conn:
            rows = conn.execute(query).all() if self._exists else []
            now = self._now(conn)
        found: dict[str, Lease] = {}
        for row in rows:
            with contextlib.suppress(CorruptRecord):  # a listing shows the healthy locks
                lease = lease_from_row(tuple(row[1:]), f"{self.url}: lock {row[0]!r}")
                if lease is not None:
                    found[row[0]] = lease
        return found, now

    def close(self) -> None:
        """Close the pooled connections (the service reconnects if used again)."""
        self._engine.dispose()

    def _prepare(self, read_only: bool) -> bool:
        """Make the locks table when missing (unless `read_only`); return whether it exists.
        Raises `CorruptRecord` for a `provenflow_locks` table without the lease columns."""
        with self._guard("open the lock table"):
            if read_only:
                with self._engine.connect() as conn:
                    return self._check_table(conn)
            with self._writer.begin() as conn:
                if self._dialect == "postgresql":  # one creator per schema at a time
                    conn.execute(
                        sa.text(
                            "SELECT pg_advisory_xact_lock("
                            "hashtext('provenflow:' || current_schema()))"
                        )
                    )
                if self._check_table(conn):
                    return True
                created = not sa.inspect(conn).get_table_names()
                LOCKS.create(conn)
        if created and self._dialect == "sqlite":
            use_wal(self._engine, self._guard)
        return True

    def _check_table(self, conn: sa.Connection) -> bool:
        inspector = sa.inspect(conn)
        if LOCKS.name not in inspector.get_table_names():
            return False
        found = {column["name"] for column in inspector.get_columns(LOCKS.name)}
        missing = sorted({"name", *LEASE_COLUMNS} - found)
        if missing:
            raise CorruptRecord(
                f"{self.url}: table {LOCKS.name}",
                f"not a table of locks (it lacks {', '.join(missing)})",
            )
        return True

    def _change(
        self,
        name: str,
        token: int | None,
        action: str,
        decide: Callable[[Lease | None, float], Decided | Refusal],
    ) -> Decided:
        """In one transaction, apply `decide(current, now)` to lock `name`'s row (inserted
        first when acquiring) and return its answer; raise `LockHeld` / `LockLost` for a
        refusal, `StorageUnavailable` when the database cannot be reached, `CorruptRecord`
        (nothing changed) when the row holds no lease."""

        def decide_now(current: Lease | None, now: float) -> Decided | Refusal:
            return decide(current, now if self._clock is None else self._clock())

        try:
            with self._guard(f"{action} lock {name!r}"), self._writer.begin() as conn:
                if action == "acquire":
                    dialect = postgresql if self._dialect == "postgresql" else sqlite
                    conn.execute(dialect.insert(LOCKS).values(name=name).on_conflict_do_nothing())
                key = LOCKS.c.name == name
                decided, now = change_lease(conn, LOCKS, key, decide_now)
                if self._clock is not None:
                    now = self._clock()
        except CorruptRecord as corrupt:  # the row's lease columns hold no lease
            raise CorruptRecord(f"{self.url}: lock {name!r}", corrupt.args[1]) from None
        if decided is None:
            decided = Refusal("unleased", None)
        if isinstance(decided, Refusal):
            raise refused(name, decided, now, token)
        return decided

    def _now(self, conn: sa.Connection) -> float:
        return server_now(conn) if self._clock is None else self._clock()

    def _guard(self, action: str) -> contextlib.AbstractContextManager[None]:
        return database_errors(self.url, self._dialect, self._dbapi_error, action)
