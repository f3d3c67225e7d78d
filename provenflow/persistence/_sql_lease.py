"""Leases in an SQL database: the lease columns of a table, and changing a row's lease.

A leased thing is a row of some table (a run in `provenflow_runs`; later a lock or a job) that
carries the lease columns of `lease_columns()`: the owner's host, pid and id, the fencing token
(0 until the first lease), the expiry and whether the lease is held. `change_lease` reads a
row's lease and the database's time, asks `provenflow.persistence._lease` what to do, and
writes the answer, all in the caller's transaction: on SQLite the transaction holds the
database's write lock from its start (`BEGIN IMMEDIATE`); on PostgreSQL the row is read `FOR
UPDATE`, so that leases and fenced writes of one row are serialized.

Time: PostgreSQL's `clock_timestamp()` (the server's clock, the same for every engine), the
local clock on SQLite (one machine's engines share it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from provenflow.errors import CorruptRecord, UnknownRun
from provenflow.persistence import _lease
from provenflow.persistence._lease import Grant, Lease, Owner, Refusal
from provenflow.persistence._run_leases import RunLeases

__all__ = [
    "LEASE_COLUMNS",
    "SqlRunLeases",
    "change_lease",
    "lease_columns",
    "lease_from_row",
    "server_now",
]

LEASE_COLUMNS = (
    "lease_host", "lease_pid", "lease_owner", "lease_token", "lease_expires", "lease_held",
)  # fmt: skip
"""The names of the lease columns, in the order `lease_from_row` reads them."""

Decided = TypeVar("Decided", Grant, Lease)


def lease_columns() -> list[sa.Column[Any]]:
    """Return new lease columns for a table (a column belongs to one table: call once each)."""
    return [
        sa.Column("lease_host", sa.Text),
        sa.Column("lease_pid", sa.Integer),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_token", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_expires", sa.Double),
        sa.Column("lease_held", sa.Integer, nullable=False, server_default="0"),
    ]


def lease_from_row(values: Sequence[Any], where: str = "provenflow_runs") -> Lease | None:
    """Return the lease in the lease columns' `values` (in `LEASE_COLUMNS` order), or None for
    a row never leased. Raises `CorruptRecord` naming `where` for values that are no lease."""
    host, pid, owner, token, expires, held = values
    if token == 0 and owner is None:
        return None
    kinds = ((host, str), (pid, int), (owner, str), (token, int), (expires, int | float))
    if any(isinstance(value, bool) or not isinstance(value, kind) for value, kind in kinds):
        raise CorruptRecord(where, f"the lease columns hold no lease: {tuple(values)!r}")
    if token < 1 or held not in (0, 1):
        raise CorruptRecord(where, f"the lease columns hold no lease: {tuple(values)!r}")
    return Lease(Owner(host, pid, owner), token, float(expires), bool(held))


def server_now(conn: sa.Connection) -> float:
    """Return the database's time in seconds since the epoch (local time for SQLite)."""
    if conn.dialect.name == "postgresql":
        return float(
            conn.execute(sa.text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")).scalar_one()
        )
    return time.time()


def change_lease(
    conn: sa.Connection,
    table: sa.Table,
    key: sa.ColumnElement[bool],
    decide: Callable[[Lease | None, float], Decided | Refusal],
) -> tuple[Decided | Refusal | None, float]:
    """In the open transaction of `conn`, apply `decide(current lease, now)` to the row of
    `table` that `key` selects; return its answer (None when there is no such row) and now.

    A `Grant` or `Lease` answer is written to the row; a `Refusal` changes nothing.
    """
    columns = [table.c[name] for name in LEASE_COLUMNS]
    query = sa.select(*columns).where(key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    now = server_now(conn)
    if row is None:
        return None, now
    decided = decide(lease_from_row(tuple(row)), now)
    if isinstance(decided, Refusal):
        return decided, now
    lease = decided.lease if isinstance(decided, Grant) else decided
    conn.execute(
        table.update()
        .where(key)
        .values(
            lease_host=lease.owner.host,
            lease_pid=lease.owner.pid,
            lease_owner=lease.owner.id,
            lease_token=lease.token,
            lease_expires=lease.expires_at,
            lease_held=int(lease.held),
        )
    )
    return decided, now


class SqlRunLeases(RunLeases):
    """The lease methods of the storage protocol for `SqlStorage`, on the lease columns of its
    runs table (`_leased`, keyed by `flow_id`). Expects `url`, `_engine`, `_writer` (its
    engine with transactions begun `IMMEDIATE`) and `_guard(action)` of `SqlStorage`."""

    url: str
    _engine: sa.Engine
    _writer: sa.Engine
    _leased: sa.Table

    def _guard(self, action: str) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def leases(self) -> tuple[dict[str, Lease], float]:
        """Return the lease of every run that ever had one, by flow id, and the store's now
        (a run whose lease columns are damaged is left out)."""
        runs = self._leased
        columns = [runs.c[name] for name in LEASE_COLUMNS]
        query = sa.select(runs.c.flow_id, *columns).where(runs.c.lease_token > 0)
        with self._guard("read leases"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
            now = server_now(conn)
        found: dict[str, Lease] = {}
        for row in rows:
            with contextlib.suppress(CorruptRecord):  # a listing shows the healthy leases
                lease = lease_from_row(tuple(row[1:]), f"{self.url}: run {row[0]!r}")
                if lease is not None:
                    found[row[0]] = lease
        return found, now

    def _change_lease(
        self,
        flow_id: str,
        token: int | None,
        action: str,
        decide: Callable[[Lease | None, float], Decided | Refusal],
    ) -> Decided:
        with self._guard(action), self._writer.begin() as conn:
            key = self._leased.c.flow_id == flow_id
            decided, now = change_lease(conn, self._leased, key, decide)
        if decided is None:
            raise UnknownRun(flow_id, self.url)
        if isinstance(decided, Refusal):
            raise _lease.run_refused(flow_id, decided, now, token)
        return decided
