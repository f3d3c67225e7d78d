"""Opening an SQL database from its URL, and turning its errors into provenflow's.

URLs follow SQLAlchemy: `sqlite:///provenflow.db` is relative to the working directory,
`sqlite:////var/lib/runs.db` absolute; `?synchronous=full` asks SQLite for a sync on every
commit (see Durability). `postgresql://user@host/db` uses psycopg 3 (`postgresql+psycopg://`);
other drivers can be named explicitly. `?options=-csearch_path%3Dmyschema` (a libpq option)
keeps the tables in a schema of their own.

Durability (SQLite). The database runs in WAL mode with `synchronous=NORMAL`: a commit appends
the transaction to the WAL file with `write()` before returning, and the operating system keeps
those pages even if the writing process is killed (SIGKILL, OOM killer, a crash), so every
committed batch survives the death of the writer, which is the durability the engine's
write-ahead rule needs. What NORMAL gives up is a sync per commit: an operating-system crash or
a power cut may lose the last commits (never corrupt the database). Add `?synchronous=full` to
the URL to sync on every commit instead, at the cost of one disk flush per batch.

Transactions (SQLite). The sqlite3 module's own transaction handling is turned off, and each
transaction begins as the `_BEGIN` execution option says (`DEFERRED` unless set): the storage's
writes set `IMMEDIATE`, so that they take the database lock up front.

Errors (`database_errors`): a file that is not an SQLite database, or a damaged one, gives
`CorruptRecord` naming the store; a database that cannot be reached or opened gives
`StorageUnavailable`. A URL that names no database this module handles gives `UsageError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from provenflow.errors import CorruptRecord, StorageUnavailable, UsageError

__all__ = ["database_errors"]

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_BEGIN = "provenflow_begin"


def _make_engine(url: str) -> tuple[sa.Engine, str, str]:
    """Return an engine for `url`, `url` as shown in messages (no password), and the dialect."""
    try:
        parsed = sa.make_url(url)
    except sa_exc.ArgumentError as error:
        raise UsageError(f"backend {url!r}: not a database URL ({error})") from None
    dialect = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)
    if dialect == "sqlite":
        engine = _sqlite_engine(url, parsed)
    elif dialect == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            engine = sa.create_engine(parsed, connect_args={"connect_timeout": 10})
        except ImportError as error:
            raise UsageError(
                f"backend {url!r}: the PostgreSQL driver is not installed ({error}); "
                "install provenflow[postgres]"
            ) from None
    else:
        raise UsageError(f"backend {url!r}: unknown database (known: sqlite, postgresql)")
    return engine, shown, dialect


def _sqlite_engine(url: str, parsed: sa.URL) -> sa.Engine:
    if not parsed.database or parsed.database == ":memory:":
        raise UsageError(
            f"backend {url!r}: name a file (sqlite:///provenflow.db); "
            "memory:// keeps runs in memory"
        )
    synchronous = str(parsed.query.get("synchronous", "NORMAL")).upper()
    if synchronous not in _SYNCHRONOUS:
        raise UsageError(
            f"backend {url!r}: synchronous={synchronous.lower()} is not one of "
            f"{', '.join(s.lower() for s in _SYNCHRONOUS)}"
        )
    parsed = parsed.difference_update_query(["synchronous"])
    engine = sa.create_engine(parsed, connect_args={"timeout": 30.0})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below), so that writes can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(_BEGIN, 'DEFERRED')}")

    return engine


@contextlib.contextmanager
def database_errors(
    url: str, dialect: str, dbapi_error: type[Exception], action: str
) -> Iterator[None]:
    """Turn a database error into `CorruptRecord` or `StorageUnavailable` naming the store.

    `url` is the store as shown in messages, `dbapi_error` the driver's base error class and
    `action` what was being done (`cannot {action}: ...`). Other exceptions pass unchanged.
    """
    try:
        yield
    except (sa_exc.DBAPIError, dbapi_error) as error:
        orig = error.orig if isinstance(error, sa_exc.DBAPIError) else error
        reason = (str(orig).strip() or type(orig).__name__).splitlines()[0]
        if dialect == "sqlite" and ("not a database" in reason or "malformed" in reason):
            problem = f"not an SQLite database, or a damaged one ({reason})"
            raise CorruptRecord(url, problem) from error
        raise StorageUnavailable(url, f"cannot {action}: {reason}") from error
