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

Opening without creating (`access`). `create` (what `provenflow run` does) makes a missing
SQLite file; `write` (resuming) and `read` (listing, history, diagrams) refuse a missing file
with `StoreNotFound`, and open it as an SQLite URI with `mode=rw` / `mode=ro`, so SQLite itself
never creates one. `read` never writes: on PostgreSQL its sessions are read-only; a read-only
SQLite file whose directory cannot be written either (so SQLite cannot make the shared-memory
file a WAL reader needs) is opened `immutable=1` when no write-ahead log is left beside it
(read as it is, without locks: meant for a store nothing writes any more, such as an archive
or read-only media), and refused with `StorageUnavailable` when one is.

Errors (`database_errors`): a file that is not an SQLite database, or a damaged one, gives
`CorruptRecord` naming the store; a database that cannot be reached or opened gives
`StorageUnavailable`. A URL that names no database this module handles gives `UsageError`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from provenflow.errors import CorruptRecord, StorageUnavailable, StoreNotFound, UsageError

__all__ = ["Access", "database_errors", "use_wal"]

Access = Literal["create", "write", "read"]
"""How a store is opened: made if missing, written but not made, or only read."""

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_BEGIN = "provenflow_begin"


def _make_engine(url: str, access: Access = "create") -> tuple[sa.Engine, str, str]:
    """Return an engine for `url`, `url` as shown in messages (no password), and the dialect.

    Raises `UsageError` for a URL this module does not handle, and `StoreNotFound` when
    `access` is not `create` and the SQLite file does not exist.
    """
    try:
        parsed = sa.make_url(url)
    except sa_exc.ArgumentError as error:
        raise UsageError(f"backend {url!r}: not a database URL ({error})") from None
    dialect = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)
    if dialect == "sqlite":
        engine = _sqlite_engine(url, parsed, access)
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
        if access == "read":
            sa.event.listen(engine, "connect", _read_only_session)
        else:
            sa.event.listen(engine, "connect", _bounded_transactions)
    else:
        raise UsageError(f"backend {url!r}: unknown database (known: sqlite, postgresql)")
    return engine, shown, dialect


def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi_connection.autocommit = autocommit


IDLE_IN_TRANSACTION_MS = 10_000
"""How long (ms) PostgreSQL lets one of a writing store's sessions sit idle inside a
transaction before it ends the session, unless the URL's `options` set
`idle_in_transaction_session_timeout` itself. A store's transactions take milliseconds; one
left open this long belongs to a process that was paused (SIGSTOP, a frozen machine) while it
held a run's row lock, and would otherwise block every engine that comes to take the run over
until it woke up. Ended by the server, its lock goes; the paused process, when it wakes, finds
its connection gone and its write refused."""


def _bounded_transactions(dbapi_connection: Any, _record: Any) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SHOW idle_in_transaction_session_timeout")
    row = cursor.fetchone()
    if row is not None and row[0] in ("0", "0ms"):  # not set by the server or the URL
        timeout = int(IDLE_IN_TRANSACTION_MS)
        cursor.execute(f"SET idle_in_transaction_session_timeout = {timeout}")
    cursor.close()
    dbapi_connection.autocommit = autocommit


def _sqlite_engine(url: str, parsed: sa.URL, access: Access) -> sa.Engine:
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
    if access != "create":
        parsed = _existing_file(url, parsed, access)
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


def _existing_file(url: str, parsed: sa.URL, access: Access) -> sa.URL:
    """Return `parsed` as an SQLite URI that opens the file without ever creating it.

    Raises `StoreNotFound` when the file is missing, `StorageUnavailable` when a read-only file
    cannot be read for the write-ahead log left beside it.
    """
    path = Path(str(parsed.database))
    if not path.exists():
        raise StoreNotFound(url, f"the file {path.resolve()} does not exist")
    query = {"mode": "rw" if access == "write" else "ro", "uri": "true"}
    if access == "read" and not _readable_in_place(path):
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StorageUnavailable(
                url,
                f"cannot read: the file and its directory are read-only and {wal.name} holds "
                "changes not yet in the file; open it once where it can be written",
            )
        query["immutable"] = "1"  # no log left, and we cannot lock it: read the file as it is
    located = parsed.set(database=f"file:{quote(str(path.resolve()))}")
    return located.update_query_dict(query)  # the URL's other options are kept


def _readable_in_place(path: Path) -> bool:
    """Whether SQLite can read `path` in read-only mode (it may need to make its -shm file)."""
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error:
        return True  # not for this check to report: the real open says what is wrong
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        return "readonly" not in str(error) and "unable to open" not in str(error)
    except sqlite3.Error:
        return True
    finally:
        connection.close()
    return True


def use_wal(
    engine: sa.Engine, guard: Callable[[str], contextlib.AbstractContextManager[None]]
) -> None:
    """Switch the SQLite database of `engine` to WAL mode (a persistent setting).

    SQLite does not wait for other connections here as it does for a transaction: a switch
    made while another process reads or writes fails at once with `database is locked`. So it
    is tried again, backing off, for as long as a transaction would wait (30 s). Raises
    `StorageUnavailable` (through `guard`) when it still fails.
    """
    deadline = time.monotonic() + 30.0
    pause = 0.001
    while True:
        with guard("switch the database to WAL mode"):
            raw = engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            finally:
                raw.close()
        time.sleep(pause)  # another connection holds the lock: wait as SQLite's busy handler
        pause = min(pause * 2, 0.05)


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
