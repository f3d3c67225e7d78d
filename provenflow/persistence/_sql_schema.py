"""The tables of the SQL backends, and the schema version check when a database is opened.

Schema (version 1, in `provenflow_meta`):

- `provenflow_meta(name PK, value)`: one row, `schema_version`. A store with a newer version
  is refused (`NewerSchema`) before anything is written; a database with provenflow tables but
  no version is refused as foreign (`CorruptRecord`).
- `provenflow_run_details(flow_id PK, atoms JSON, store JSON)`, written once;
- `provenflow_runs(flow_id PK, flow_name, factory, state, version,
  created_at, updated_at, lease_host, lease_pid, lease_owner, lease_token, lease_expires,
  lease_held)`: one row per run; `state` is the flow's state after its last flow
  transition, `version` the number of transitions recorded, the `lease_*` columns its lease
  (see `_sql_lease`). A store made before leases existed gets these columns when opened.
- `provenflow_transitions(flow_id, seq, atom, lifecycle, old_state, event, new_state, attempt,
  at, result JSON, failure JSON, history JSON)`, primary key `(flow_id, seq)` (a clustered
  `WITHOUT ROWID` table in SQLite): the append-only audit trail. `seq` counts from 1, so a
  run's version is the `seq` of its last transition. JSON columns hold text written by
  `provenflow.persistence._json` (NULL for "none"); times are seconds since the epoch.

Opening a database (`prepare_schema`) checks the version, or creates the tables and the version
row in an empty database, in one transaction; on PostgreSQL it first takes an advisory lock on
the schema, so that one process at a time creates the tables (on SQLite the transaction begins
`IMMEDIATE`, which does the same). A database that holds other tables and no provenflow ones is
refused (`ForeignStore`, naming them) unless it is opened to be initialised; opened to be read
or resumed, a database without provenflow tables is `StoreNotFound`, and nothing is written.
A new SQLite database is switched to WAL mode (a persistent setting; see `_sql_engine`) right
after its tables are made, once; a database the user asked to initialise keeps its own
journal mode. Opening a store to read changes nothing; opening it to write adds the lease
columns a store made before leases lacks (read-only, such a store is refused, saying so).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import sqlalchemy as sa

from provenflow.errors import (
    CorruptRecord,
    ForeignStore,
    NewerSchema,
    StorageUnavailable,
    StoreNotFound,
)
from provenflow.persistence._json import SCHEMA_VERSION
from provenflow.persistence._sql_engine import Access, use_wal
from provenflow.persistence._sql_lease import LEASE_COLUMNS, lease_columns

__all__ = [
    "DETAILS",
    "META",
    "METADATA",
    "RUNS",
    "TRANSITIONS",
    "check_schema",
    "prepare_schema",
]

METADATA = sa.MetaData()
META = sa.Table(
    "provenflow_meta",
    METADATA,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
RUNS = sa.Table(
    "provenflow_runs",
    METADATA,
    sa.Column("flow_id", sa.Text, primary_key=True),
    sa.Column("flow_name", sa.Text, nullable=False),
    sa.Column("factory", sa.Text),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    *lease_columns(),
)
DETAILS = sa.Table(
    "provenflow_run_details",
    METADATA,
    sa.Column("flow_id", sa.Text, sa.ForeignKey(RUNS.c.flow_id), primary_key=True),
    sa.Column("atoms", sa.Text, nullable=False),
    sa.Column("store", sa.Text, nullable=False),
)
"""What a run is (its atoms, its store), written once; kept out of `provenflow_runs`, whose row
every write updates, so that a large flow's description does not make every write slower."""
TRANSITIONS = sa.Table(
    "provenflow_transitions",
    METADATA,
    sa.Column("flow_id", sa.Text, sa.ForeignKey(RUNS.c.flow_id), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("atom", sa.Text),
    sa.Column("lifecycle", sa.Text, nullable=False),
    sa.Column("old_state", sa.Text, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("new_state", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("result", sa.Text),
    sa.Column("failure", sa.Text),
    sa.Column("history", sa.Text),
    sqlite_with_rowid=False,
)


def prepare_schema(  # noqa: PLR0917 (the parts of one opening)
    engine: sa.Engine,
    writer: sa.Engine,
    url: str,
    dialect: str,
    guard: Callable[[str], AbstractContextManager[None]],
    access: Access = "create",
    initialise: bool = False,
) -> None:
    """Check the schema version, or create the schema in an empty database.

    `writer` is `engine` with its transactions begun `IMMEDIATE` (see `_sql_engine`), `url`
    the store as shown in messages, `guard(action)` turns database errors into provenflow's;
    `access` is how the store is opened (only `create` makes tables) and `initialise` lets it
    make them beside other tables. Raises `NewerSchema`, `CorruptRecord` (a damaged database),
    `ForeignStore`, `StoreNotFound` or, through `guard`, `StorageUnavailable`; a refused
    database is left as it was (the transaction rolls back).
    """
    if access == "read":
        with guard("open the database"), engine.connect() as conn:
            _check_or_create(conn, url, access, initialise)
        return
    with guard("open the database"), writer.begin() as conn:
        if dialect == "postgresql":  # one initializer per schema at a time
            lock = "SELECT pg_advisory_xact_lock(hashtext('provenflow:' || current_schema()))"
            conn.execute(sa.text(lock))
        created, foreign = _check_or_create(conn, url, access, initialise)
    if created and not foreign and dialect == "sqlite":
        use_wal(engine, guard)


def _check_or_create(
    conn: sa.Connection, url: str, access: Access, initialise: bool
) -> tuple[bool, bool]:
    """Check the schema of the database `conn` is on, or create it (only if `access` is
    `create`); return whether it was created, and whether beside other tables."""
    inspector = sa.inspect(conn)
    tables = inspector.get_table_names()
    if META.name in tables:
        query = sa.select(META.c.value).where(META.c.name == "schema_version")
        check_schema(url, conn.execute(query).scalar())
        if access == "read":
            _check_lease_columns(url, inspector)
        else:
            _add_lease_columns(conn, inspector)
        return False, False
    present = [t.name for t in (RUNS, DETAILS, TRANSITIONS) if t.name in tables]
    if present:
        raise CorruptRecord(
            url,
            f"{', '.join(present)} exist(s) without provenflow_meta: not a store of "
            "provenflow, or a damaged one",
        )
    others = sorted(name for name in tables if not name.startswith("provenflow_"))
    if others and not (initialise and access == "create"):
        raise ForeignStore(url, [f"table {name}" for name in others])
    if access != "create":
        raise StoreNotFound(url, "the database holds no provenflow tables")
    METADATA.create_all(conn)
    conn.execute(META.insert(), {"name": "schema_version", "value": str(SCHEMA_VERSION)})
    return True, bool(others)


def check_schema(url: str, found: object) -> None:
    """Check `found`, the stored `schema_version`; return if this provenflow reads it.

    Raises `NewerSchema` for a newer version and `CorruptRecord` for one that is not a version.
    """
    where = f"{url}: provenflow_meta"
    try:
        version = int(str(found))
    except ValueError:
        raise CorruptRecord(where, f"schema_version is {found!r}, not a number") from None
    if version > SCHEMA_VERSION:
        raise NewerSchema(url, version, SCHEMA_VERSION)
    if version < 1:
        raise CorruptRecord(where, f"schema_version {version} is not a valid version")


def _check_lease_columns(url: str, inspector: sa.Inspector) -> None:
    """Refuse to read a store made before leases existed (it lacks their columns, which only a
    writer adds), saying how to upgrade it."""
    present = {column["name"] for column in inspector.get_columns(RUNS.name)}
    if not present.issuperset(LEASE_COLUMNS):
        raise StorageUnavailable(
            url,
            "cannot read it read-only: it was made before run leases, and only a writer adds "
            "their columns; open it once to write (`provenflow resume`, `provenflow run`)",
        )


def _add_lease_columns(conn: sa.Connection, inspector: sa.Inspector) -> None:
    """Give a store made before leases existed the lease columns of its runs (all unleased)."""
    present = {column["name"] for column in inspector.get_columns(RUNS.name)}
    for name in LEASE_COLUMNS:
        if name not in present:
            definition = sa.schema.CreateColumn(RUNS.c[name]).compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {RUNS.name} ADD COLUMN {definition}"))
