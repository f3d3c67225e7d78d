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

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from provenflow.persistence._lease import Grant, Lease, Owner, Refusal

__all__ = ["LEASE_COLUMNS", "change_lease", "lease_columns", "lease_from_row", "server_now"]

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


def lease_from_row(values: Sequence[Any]) -> Lease | None:
    """Return the lease in the lease columns' `values` (in `LEASE_COLUMNS` order), or None for
    a row never leased."""
    host, pid, owner, token, expires, held = values
    if not token or owner is None:
        return None
    return Lease(Owner(host, pid, owner), int(token), float(expires), bool(held))


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
