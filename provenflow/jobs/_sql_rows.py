"""The table of the SQL job boards, and a job as one of its rows.

`provenflow_jobs` holds one row per job: `seq` (the posting order, the primary key), `id`
(unique), `name`, `factory`, `store` and `details` (JSON text), `priority`, `idempotency_key`
(unique when set), `not_before`, `posted_at`, `state`, the lease columns of
`provenflow.persistence._sql_lease` (the current claim: owner, fencing token, expiry, held) and
`history` (JSON text, the job's steps oldest first). Times are seconds since the epoch, in the
board's time. An index on `(state, priority DESC, posted_at, seq)` serves the claim's choice:
read in its order, the first ready row of a state is the best one.

The table may share a database with a store of runs (`provenflow_runs` and the rest): its name
starts with `provenflow_`, which a store accepts beside its own tables.

`job_from_row` reads a row back through the job table (`_records.load_state`); a row that does
not decode gives `CorruptRecord` naming the board and the job, and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from provenflow.errors import CorruptRecord
from provenflow.jobs._records import Job, history_from_json, history_to_json, load_state
from provenflow.persistence._sql_lease import LEASE_COLUMNS, lease_columns, lease_from_row

__all__ = ["JOBS", "JOBS_METADATA", "SELECT_JOB", "job_from_row", "job_values", "lease_values"]

JOBS_METADATA = sa.MetaData()
JOBS = sa.Table(
    "provenflow_jobs",
    JOBS_METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("factory", sa.Text, nullable=False),
    sa.Column("store", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.Text, unique=True),
    sa.Column("not_before", sa.Double),
    sa.Column("posted_at", sa.Double, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    *lease_columns(),
    sa.Column("history", sa.Text, nullable=False),
)
sa.Index(
    "provenflow_jobs_ready", JOBS.c.state, JOBS.c.priority.desc(), JOBS.c.posted_at, JOBS.c.seq
)

_COLUMNS = (
    "id", "name", "factory", "store", "details", "priority", "idempotency_key", "not_before",
    "posted_at", "state", *LEASE_COLUMNS, "history",
)  # fmt: skip
SELECT_JOB = sa.select(*(JOBS.c[name] for name in _COLUMNS))
"""Every column `job_from_row` reads, in its order."""


def lease_values(job: Job) -> dict[str, Any]:
    """Return the lease columns of `job`'s row (all empty for a job never claimed)."""
    lease = job.lease
    if lease is None:
        return {
            "lease_host": None, "lease_pid": None, "lease_owner": None,
            "lease_token": 0, "lease_expires": None, "lease_held": 0,
        }  # fmt: skip
    return {
        "lease_host": lease.owner.host,
        "lease_pid": lease.owner.pid,
        "lease_owner": lease.owner.id,
        "lease_token": lease.token,
        "lease_expires": lease.expires_at,
        "lease_held": int(lease.held),
    }


def job_values(job: Job) -> dict[str, Any]:
    """Return the row of a new job (every column but `seq`)."""
    return {
        "id": job.id,
        "name": job.name,
        "factory": job.factory,
        "store": json.dumps(dict(job.store), sort_keys=True),
        "details": json.dumps(dict(job.details), sort_keys=True),
        "priority": job.priority,
        "idempotency_key": job.key,
        "not_before": job.not_before,
        "posted_at": job.posted_at,
        "state": str(job.state),
        **lease_values(job),
        "history": history_to_json(job.history),
    }


def _object(text: object, what: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError as error:
        raise CorruptRecord(where, f"the {what} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise CorruptRecord(where, f"the {what} is not a JSON object: {text!r}")
    return value


def job_from_row(row: Sequence[Any], url: str) -> Job:
    """Return the job in `row` (the columns of `SELECT_JOB`); raise `CorruptRecord` naming
    the board `url` and the job when it does not read back."""
    values = dict(zip(_COLUMNS, row, strict=True))
    where = f"{url}: job {values['id']!r}"
    for name, kind in (("name", str), ("factory", str), ("priority", int), ("posted_at", float)):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, kind | int if kind is float else kind):
            raise CorruptRecord(where, f"{name} {value!r} is not a {kind.__name__}")
    key, not_before = values["idempotency_key"], values["not_before"]
    if key is not None and not isinstance(key, str):
        raise CorruptRecord(where, f"idempotency_key {key!r} is not text")
    if not_before is not None and not isinstance(not_before, int | float):
        raise CorruptRecord(where, f"not_before {not_before!r} is not a time")
    lease = lease_from_row([values[name] for name in LEASE_COLUMNS], where)
    history = history_from_json(values["history"], where)
    state = load_state(history, values["state"], lease, where)
    return Job(
        id=values["id"],
        name=values["name"],
        factory=values["factory"],
        store=_object(values["store"], "store", where),
        details=_object(values["details"], "details", where),
        priority=values["priority"],
        key=key,
        not_before=None if not_before is None else float(not_before),
        posted_at=float(values["posted_at"]),
        state=state,
        lease=lease,
        history=history,
    )
