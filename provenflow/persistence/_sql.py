"""The SQL backends, `sqlite:///path` and `postgresql://...`, on SQLAlchemy Core: `SqlStorage`.

The backend is three modules: `_sql_schema` holds the tables and the schema version check,
`_sql_engine` opens a database from its URL (the URLs, SQLite's pragmas and durability,
PostgreSQL's driver) and turns database errors into provenflow's; this one is the storage on
them: `create`, `load`, `record` and `runs`.

Compare-and-set. `record` encodes and checks the whole batch first (a refusal writes nothing),
then in one short transaction runs `UPDATE provenflow_runs SET version = expected + n, state =
..., updated_at = ... WHERE flow_id = ? AND version = expected`, and only when that changed one
row inserts the n transitions (one executemany) and commits. When no row changed, the run's
version is read in the same transaction and `StaleVersion` names it (or `UnknownRun`). SQLite
writes take the database lock up front (`BEGIN IMMEDIATE`, waiting up to 30 s for another
writer), so two writers are serialized and the second sees the first's version; PostgreSQL's
`UPDATE` locks the run's row and re-checks `version` once the first writer commits, so the second
finds no row at its version. Either way exactly one writer advances a version, and the primary
key on `(flow_id, seq)` would refuse a duplicate even if that were bypassed. The statements of
`record`, the hot path, are compiled once from the tables of `_sql_schema` and run on the
driver's cursor (the sqlite3 module caches them prepared, psycopg prepares them after a few
uses), which skips SQLAlchemy's per-statement work: about two thirds of the time of a record.

Leases. A run's lease lives in the lease columns of its `provenflow_runs` row (`_sql_lease`),
changed in a write transaction like every other write. `record` is fenced in the same `UPDATE`
as its compare-and-set: `... AND lease_token = ? AND lease_held = 1` (or, for a write without a
token, `AND lease_held = 0`), so a write with a stale token changes no row, and the reason is
read back in the same transaction (`LeaseLost`, `RunOwned` or `StaleVersion`).

Errors: rows that do not decode give `CorruptRecord` naming the store, the run and the row; a
database that cannot be reached or opened gives `StorageUnavailable` (see `_sql_engine`).
Neither writes anything.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql.compiler import SQLCompiler

from provenflow.errors import CorruptRecord, RunExists, StaleVersion, UnknownRun
from provenflow.fsm import LIFECYCLES
from provenflow.persistence import _lease
from provenflow.persistence._json import (
    atoms_from_json,
    atoms_to_json,
    check_run,
    check_transition,
    check_value,
    dumps,
    loads,
    store_from_json,
    transition_from_fields,
)
from provenflow.persistence._records import CorruptRun, RunInfo, RunListing, Transition
from provenflow.persistence._sql_engine import _BEGIN, Access, _make_engine, database_errors
from provenflow.persistence._sql_lease import LEASE_COLUMNS, SqlRunLeases, lease_from_row
from provenflow.persistence._sql_schema import DETAILS, RUNS, TRANSITIONS, prepare_schema
from provenflow.persistence._values import stored_form

__all__ = ["SqlStorage"]


_FLOW_STATES = frozenset(str(state) for state in LIFECYCLES["flow"].states)
_TRANSITION_FIELDS = [
    TRANSITIONS.c[name]
    for name in (
        "seq", "atom", "lifecycle", "old_state", "event", "new_state", "attempt", "at",
        "result", "failure", "history",
    )
]  # fmt: skip
_RUN_WITH_DETAILS = sa.select(RUNS, DETAILS.c.atoms, DETAILS.c.store).join(
    DETAILS, DETAILS.c.flow_id == RUNS.c.flow_id
)
_SELECT_RUN = _RUN_WITH_DETAILS.where(RUNS.c.flow_id == sa.bindparam("b_flow_id"))
_SELECT_VERSION = sa.select(RUNS.c.version, *(RUNS.c[name] for name in LEASE_COLUMNS)).where(
    RUNS.c.flow_id == sa.bindparam("b_flow_id")
)
_SELECT_TRANSITIONS = (
    sa.select(*_TRANSITION_FIELDS)
    .where(TRANSITIONS.c.flow_id == sa.bindparam("b_flow_id"))
    .where(TRANSITIONS.c.seq <= sa.bindparam("b_version"))
    .order_by(TRANSITIONS.c.seq)
)
_ADVANCE = (
    RUNS.update()
    .where(RUNS.c.flow_id == sa.bindparam("b_flow_id"))
    .where(RUNS.c.version == sa.bindparam("b_expected"))
    .values(version=sa.bindparam("b_version"), updated_at=sa.bindparam("b_now"))
)
_FENCED = (
    RUNS.c.lease_token == sa.bindparam("b_token"),
    RUNS.c.lease_held == sa.literal_column("1"),
)
_UNFENCED = (RUNS.c.lease_held == sa.literal_column("0"),)
_HOT_STATEMENTS: dict[str, sa.ClauseElement] = {
    "insert": TRANSITIONS.insert(),
    "advance": _ADVANCE.where(*_UNFENCED),
    "advance_with_state": _ADVANCE.values(state=sa.bindparam("b_state")).where(*_UNFENCED),
    "advance_fenced": _ADVANCE.where(*_FENCED),
    "advance_with_state_fenced": _ADVANCE.values(state=sa.bindparam("b_state")).where(*_FENCED),
    "version": _SELECT_VERSION,
}


class _Compiled:
    """A Core statement compiled once for one dialect, to run on the driver's cursor."""

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = compiled.string
        names = compiled.positiontup if compiled.positional else None
        self._names = None if names is None else tuple(names)
        self._keys = tuple(compiled.bind_names.values())

    def params(self, values: Mapping[str, Any]) -> Any:
        """Return `values` as the driver takes them: a tuple in order, or a dict."""
        if self._names is None:
            return {name: values[name] for name in self._keys}
        return tuple(values[name] for name in self._names)


class SqlStorage(SqlRunLeases):
    """Runs kept in an SQL database (SQLite or PostgreSQL); see the module docstring.

    Opening connects, checks the schema version and creates the tables of an empty database
    (`create`, the default); with `create=False` the store must exist, and with
    `read_only=True` it is only read (nothing is created or changed, and writes are refused
    by the database); `initialise=True` also makes the tables in a database holding other
    tables. Raises `StoreNotFound` for a store that is not there to open without creating it,
    `StorageUnavailable` when the database cannot be reached, `ForeignStore` when it holds
    other tables only, `CorruptRecord` when it is not a database or a damaged store,
    `NewerSchema` when a newer provenflow wrote it, and `UsageError` for a URL it does not
    handle. Safe to share between threads; `close()` (or a `with` block) releases the
    connections.
    """

    _leased = RUNS  # the table whose rows carry the runs' leases (see `SqlRunLeases`)

    def __init__(
        self, url: str, *, create: bool = True, read_only: bool = False, initialise: bool = False
    ) -> None:
        access: Access = "read" if read_only else "create" if create else "write"
        self._engine, self.url, self._dialect = _make_engine(url, access)
        self._writer = self._engine.execution_options(**{_BEGIN: "IMMEDIATE"})
        self._dbapi_error: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        dialect = self._engine.dialect
        self._statements = {
            name: _Compiled(statement, dialect) for name, statement in _HOT_STATEMENTS.items()
        }
        try:
            prepare_schema(
                self._engine, self._writer, self.url, self._dialect, self._guard, access, initialise
            )
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        """Close the pooled connections; the storage may still be used (it reconnects)."""
        self._engine.dispose()

    def __enter__(self) -> SqlStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStorage({self.url!r})"

    # -- the storage protocol --------------------------------------------------------------

    def check_value(self, flow_id: str, atom: str | None, field: str, value: object) -> None:
        """Raise `UnstorableValue` unless `value` can be kept as JSON and read back equal."""
        check_value(value, flow_id, atom, field)

    def stored_value(self, flow_id: str, atom: str | None, field: str, value: object) -> Any:
        """Return `value` as it reads back (subclasses as their base types); see `_values`."""
        return stored_form(value, flow_id, atom, field)

    def create(self, run: RunInfo) -> int:
        """Record a new run; return version 0.

        Raises `RunExists` if the id exists and `UnstorableValue` if its store is not JSON;
        nothing is written then.
        """
        check_run(run)
        now = time.time()
        row = {
            "flow_id": run.flow_id,
            "flow_name": run.flow_name,
            "factory": run.factory,
            "state": "PENDING",
            "version": 0,
            "created_at": now,
            "updated_at": now,
        }
        details = {
            "flow_id": run.flow_id,
            "atoms": dumps(atoms_to_json(run.atoms)),
            "store": dumps(dict(run.store)),
        }
        with self._guard("create a run"):
            try:
                with self._writer.begin() as conn:
                    conn.execute(RUNS.insert(), row)
                    conn.execute(DETAILS.insert(), details)
            except sa_exc.IntegrityError:
                raise RunExists(run.flow_id, self.url) from None
        return 0

    def load(self, flow_id: str) -> tuple[RunInfo, list[Transition], int]:
        """Return the run, its transitions oldest first and its version.

        Raises `UnknownRun` when there is no such run and `CorruptRecord` naming the row and the
        value when a stored row does not decode (an unknown state or event, bad JSON, a gap).
        """
        with self._guard("load a run"), self._engine.connect() as conn:
            row = conn.execute(_SELECT_RUN, {"b_flow_id": flow_id}).first()
            if row is None:
                raise UnknownRun(flow_id, self.url)
            info, _state, version = self._run_from_row(row)
            params = {"b_flow_id": flow_id, "b_version": version}
            rows = conn.execute(_SELECT_TRANSITIONS, params).all()
        where = f"{self.url}: run {flow_id!r}"
        transitions = []
        for position, fields in enumerate(rows, 1):
            if fields[0] != position:
                problem = f"transition {position} is missing (found {fields[0]!r} in its place)"
                raise CorruptRecord(where, problem)
            transitions.append(
                transition_from_fields(f"{where}: transition {position}", fields[1:], loads)
            )
        if len(transitions) != version:
            problem = f"version is {version} but {len(transitions)} transitions are stored"
            raise CorruptRecord(where, problem)
        return info, transitions, version

    def record(
        self,
        flow_id: str,
        transitions: Sequence[Transition],
        expected_version: int,
        token: int | None = None,
    ) -> int:
        """Append `transitions` in one transaction if the run is at `expected_version` and
        `token` is its lease's (see `Storage.record`).

        Returns the new version. Raises `StaleVersion` naming the version found, `LeaseLost`,
        `RunOwned`, `UnknownRun`, `UnrecordableTransition` or `UnstorableValue`; nothing is
        written in every case.
        """
        insert = self._statements["insert"]
        rows = []
        for index, transition in enumerate(transitions, 1):
            check_transition(flow_id, index, transition)
            rows.append(insert.params(self._row(flow_id, expected_version + index, transition)))
        version = expected_version + len(rows)
        params = {"b_flow_id": flow_id, "b_expected": expected_version, "b_token": token}
        with self._guard("record transitions"), self._write() as cursor:
            if not rows:
                self._refuse(cursor, flow_id, expected_version, token, always=False)
                return version
            state = _flow_state(transitions)
            name = "advance" if state is None else "advance_with_state"
            advance = self._statements[name if token is None else f"{name}_fenced"]
            params.update(b_version=version, b_now=time.time(), b_state=state)
            cursor.execute(advance.sql, advance.params(params))
            if cursor.rowcount != 1:
                self._refuse(cursor, flow_id, expected_version, token, always=True)
            cursor.executemany(insert.sql, rows)
        return version

    def runs(self) -> list[tuple[RunInfo, str]]:
        """Return every run with its flow's state, oldest first (by creation time, then id).

        Raises `CorruptRecord` naming a run whose row does not decode.
        """
        return self.list_runs().all_healthy()

    def list_runs(self) -> RunListing:
        """Return the runs whose rows decode, oldest first (by creation time, then id), and
        the others (`CorruptRun`, naming the row and the value), by id."""
        query = _RUN_WITH_DETAILS.order_by(RUNS.c.created_at, RUNS.c.flow_id)
        with self._guard("list runs"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        healthy, corrupt = [], []
        for row in rows:
            try:
                healthy.append(self._run_from_row(row)[:2])
            except CorruptRecord as error:
                corrupt.append(CorruptRun(str(row.flow_id), *map(str, error.args)))
        return RunListing(healthy, sorted(corrupt))

    # -- helpers -----------------------------------------------------------------------------

    def _row(self, flow_id: str, seq: int, transition: Transition) -> dict[str, Any]:
        result, failure, history = transition.result, transition.failure, transition.history
        return {
            "flow_id": flow_id,
            "seq": seq,
            "atom": transition.atom,
            "lifecycle": str(transition.lifecycle),
            "old_state": str(transition.old_state),
            "event": str(transition.event),
            "new_state": str(transition.new_state),
            "attempt": transition.attempt,
            "at": float(transition.at),
            "result": None if result is None else dumps(result),
            "failure": None if failure is None else dumps(failure.to_dict()),
            "history": None if history is None else dumps(list(history)),
        }

    def _refuse(
        self, cursor: Any, flow_id: str, expected: int, token: int | None, *, always: bool
    ) -> None:
        """Raise why a write at `expected` with `token` cannot land, as the open transaction
        sees the run (`UnknownRun`, `LeaseLost`, `RunOwned`, `StaleVersion`); return when it
        can and `always` is False."""
        select = self._statements["version"]
        cursor.execute(select.sql, select.params({"b_flow_id": flow_id}))
        row = cursor.fetchone()
        if row is None:
            raise UnknownRun(flow_id, self.url)
        refusal = _lease.check_write(lease_from_row(tuple(row[1:])), token)
        if refusal is not None:
            raise _lease.run_refused(flow_id, refusal, self._now(cursor), token)
        if always or row[0] != expected:
            raise StaleVersion(flow_id, expected, row[0])

    def _now(self, cursor: Any) -> float:
        if self._dialect != "postgresql":
            return time.time()
        cursor.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
        return float(cursor.fetchone()[0])

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        """Yield a DBAPI cursor inside one write transaction; commit, or roll back on error."""
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            if self._dialect == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                raw.rollback()
                raise
            raw.commit()
        finally:
            raw.close()

    def _run_from_row(self, row: sa.Row[Any]) -> tuple[RunInfo, str, int]:
        where = f"{self.url}: run {row.flow_id!r}"
        atoms = atoms_from_json(loads(row.atoms, f"{where}: atoms"), where)
        store = store_from_json(loads(row.store, f"{where}: store"), where)
        if row.state not in _FLOW_STATES:
            raise CorruptRecord(where, f"unknown flow state {row.state!r}")
        version = row.version
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise CorruptRecord(where, f"version {version!r} is not a count of transitions")
        for name in ("flow_name", "factory"):
            value = getattr(row, name)
            if not isinstance(value, str) and not (value is None and name == "factory"):
                raise CorruptRecord(where, f"{name}: expected a str, got {value!r}")
        info = RunInfo(row.flow_id, row.flow_name, atoms, store, row.factory)
        return info, row.state, version

    def _guard(self, action: str) -> contextlib.AbstractContextManager[None]:
        """Turn a database error into `CorruptRecord` or `StorageUnavailable` naming the store."""
        return database_errors(self.url, self._dialect, self._dbapi_error, action)


def _flow_state(transitions: Sequence[Transition]) -> str | None:
    for transition in reversed(transitions):
        if transition.atom is None and transition.lifecycle == "flow":
            return str(transition.new_state)
    return None
