"""Opening a store changes nothing it should not: `open_storage(create=False / read_only=True /
initialise=True)`, foreign databases and directories, and `list_runs` with a corrupt run.

Each backend is opened on real data: SQLite files, directories, PostgreSQL schemas.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from provenflow.errors import (
    CorruptRecord,
    ForeignStore,
    StorageUnavailable,
    StoreNotFound,
    UsageError,
)
from provenflow.persistence import CorruptRun, DirStorage, RunInfo, open_storage
from provenflow.persistence._sql_lease import LEASE_COLUMNS
from tests.persistence.conftest import Backend, durable, postgres_url  # noqa: F401 (fixtures)
from tests.persistence.test_durable import RUN, start

FOREIGN_TABLES = ("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",)


def foreign_sqlite(path: Path) -> bytes:
    """Make another application's SQLite database (rollback journal) at `path`; return it."""
    with sqlite3.connect(path) as connection:
        for statement in FOREIGN_TABLES:
            connection.execute(statement)
        connection.execute("INSERT INTO customers VALUES (1, 'Ada')")
    connection.close()
    return path.read_bytes()


def journal_mode(path: Path) -> str:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        mode: str = connection.execute("PRAGMA journal_mode").fetchone()[0]
        return mode
    finally:
        connection.close()


# -- a missing store is never made by a reader ------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
@pytest.mark.parametrize("options", [{"create": False}, {"read_only": True}])
def test_a_missing_store_is_not_made_when_opened_without_create(
    tmp_path: Path, kind: str, options: dict[str, bool]
) -> None:
    place = tmp_path / ("typo.db" if kind == "sqlite" else "typo")
    url = f"sqlite:///{place}" if kind == "sqlite" else f"dir://{place}"
    with pytest.raises(StoreNotFound, match=r"no store at .*typo.* does not exist") as caught:
        open_storage(url, **options)
    assert caught.value.url == url
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options", [{"create": False}, {"read_only": True}])
def test_an_empty_database_or_directory_is_no_store_to_read(
    tmp_path: Path, options: dict[str, bool]
) -> None:
    empty_db = tmp_path / "empty.db"
    sqlite3.connect(empty_db).close()  # a file of 0 bytes
    with pytest.raises(StoreNotFound, match="holds no provenflow tables"):
        open_storage(f"sqlite:///{empty_db}", **options)
    assert empty_db.read_bytes() == b""
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreNotFound, match=r"holds no provenflow-store\.json"):
        open_storage(f"dir://{tmp_path / 'empty'}", **options)
    assert list((tmp_path / "empty").iterdir()) == []


def test_reading_an_sqlite_store_changes_neither_tables_nor_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    writer = open_storage(f"sqlite:///{path}")
    writer.create(RUN)
    writer.close()  # type: ignore[attr-defined]
    with sqlite3.connect(path) as connection:  # as if an operator had turned WAL off
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    before = path.read_bytes()
    reader = open_storage(f"sqlite:///{path}", read_only=True)
    assert reader.runs() == [(RUN, "PENDING")]
    reader.close()  # type: ignore[attr-defined]
    assert journal_mode(path) == "delete"
    assert path.read_bytes() == before


def test_a_store_opened_read_only_refuses_writes(tmp_path: Path) -> None:
    open_storage(f"sqlite:///{tmp_path / 'runs.db'}").create(RUN)
    open_storage(f"dir://{tmp_path / 'runs'}").create(RUN)
    other = RunInfo("run-2", "f", ())
    with pytest.raises(UsageError, match="opened read-only: cannot create a run"):
        open_storage(f"dir://{tmp_path / 'runs'}", read_only=True).create(other)
    with pytest.raises(UsageError, match="opened read-only: cannot record transitions"):
        open_storage(f"dir://{tmp_path / 'runs'}", read_only=True).record("run-1", [start()], 0)
    sql = open_storage(f"sqlite:///{tmp_path / 'runs.db'}", read_only=True)
    with pytest.raises(Exception, match="readonly database"):
        sql.create(other)
    assert [info.flow_id for info, _ in sql.runs()] == ["run-1"]


# -- another application's data is refused, unless asked for ----------------------------------


def test_a_foreign_sqlite_database_is_refused_untouched_and_named(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    before = foreign_sqlite(path)
    for options in ({}, {"create": False}, {"read_only": True}):
        with pytest.raises(ForeignStore) as caught:
            open_storage(f"sqlite:///{path}", **options)
        assert caught.value.found == ("table customers",)
        assert "holds table customers and no provenflow store" in str(caught.value)
        assert "--init-store" in str(caught.value)
        assert isinstance(caught.value, CorruptRecord)
    assert path.read_bytes() == before
    assert journal_mode(path) == "delete"


def test_a_foreign_sqlite_database_initialised_keeps_its_tables_and_journal_mode(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.db"
    foreign_sqlite(path)
    store = open_storage(f"sqlite:///{path}", initialise=True)
    store.create(RUN)
    store.close()  # type: ignore[attr-defined]
    assert journal_mode(path) == "delete"  # the application's choice stays
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT name FROM customers").fetchall() == [("Ada",)]
    connection.close()
    assert open_storage(f"sqlite:///{path}", read_only=True).runs() == [(RUN, "PENDING")]


def test_a_new_sqlite_store_is_switched_to_wal(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    open_storage(f"sqlite:///{path}").close()  # type: ignore[attr-defined]
    assert journal_mode(path) == "wal"


def test_a_foreign_directory_is_refused_unless_initialised(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ForeignStore, match=r"holds file notes\.txt and no provenflow store"):
        open_storage(f"dir://{tmp_path}")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    store = open_storage(f"dir://{tmp_path}", initialise=True)
    store.create(RUN)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert open_storage(f"dir://{tmp_path}", read_only=True).runs() == [(RUN, "PENDING")]


def test_a_foreign_postgresql_schema_is_refused_unless_initialised(postgres_url: str) -> None:  # noqa: F811
    import sqlalchemy as sa  # noqa: PLC0415

    admin = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE TABLE invoices (id integer PRIMARY KEY)"))
    for options in ({}, {"read_only": True}, {"create": False}):
        with pytest.raises(ForeignStore, match="holds table invoices and no provenflow store"):
            open_storage(postgres_url, **options)
    with admin.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
    assert tables == ["invoices"]
    store = open_storage(postgres_url, initialise=True)
    store.create(RUN)
    store.close()  # type: ignore[attr-defined]
    assert open_storage(postgres_url, read_only=True).runs() == [(RUN, "PENDING")]
    admin.dispose()


def test_an_empty_postgresql_schema_is_no_store_to_read(postgres_url: str) -> None:  # noqa: F811
    for options in ({"read_only": True}, {"create": False}):
        with pytest.raises(StoreNotFound, match="holds no provenflow tables"):
            open_storage(postgres_url, **options)
    store = open_storage(postgres_url)  # made by a writer
    store.create(RUN)
    reader = open_storage(postgres_url, read_only=True)
    with pytest.raises(Exception, match="read-only transaction"):
        reader.create(RunInfo("run-2", "f", ()))
    assert reader.runs() == [(RUN, "PENDING")]
    for opened in (store, reader):
        opened.close()  # type: ignore[attr-defined]


# -- one corrupt run spoils no listing --------------------------------------------------------


def corrupt_one_run(backend: Backend) -> None:
    """Damage run-2 of `backend` (another run, run-1, stays healthy)."""
    if backend.name == "dir":
        path = Path(backend.url[len("dir://") :]) / "runs" / "run-2" / "run.json"
        path.write_text(json.dumps({"flow_id": "run-2"}))
        return
    import sqlalchemy as sa  # noqa: PLC0415

    url = backend.url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        update = "UPDATE provenflow_run_details SET atoms = :atoms WHERE flow_id = 'run-2'"
        conn.execute(sa.text(update), {"atoms": '{"not": "atoms"}'})
    engine.dispose()


def test_list_runs_names_a_corrupt_run_and_lists_the_others(durable: Backend) -> None:  # noqa: F811
    store = durable.open()
    store.create(RUN)
    store.create(RunInfo("run-2", "g", ()))
    store.create(RunInfo("run-3", "h", ()))
    corrupt_one_run(durable)
    healthy, corrupt = open_storage(durable.url, read_only=True).list_runs()
    assert [info.flow_id for info, _ in healthy] == ["run-1", "run-3"]
    assert [bad.flow_id for bad in corrupt] == ["run-2"]
    assert isinstance(corrupt[0], CorruptRun)
    assert "run-2" in corrupt[0].where
    assert isinstance(corrupt[0].error, CorruptRecord)
    with pytest.raises(CorruptRecord, match="run-2"):
        store.runs()  # all or nothing, as before


def test_a_dir_store_is_listed_without_its_runs_directory(tmp_path: Path) -> None:
    DirStorage(f"dir://{tmp_path}")
    (tmp_path / "runs").rmdir()
    reader = open_storage(f"dir://{tmp_path}", read_only=True)
    assert reader.list_runs() == ([], [])
    assert not (tmp_path / "runs").exists()


def test_a_store_made_before_leases_is_upgraded_by_a_writer_only(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    writer = open_storage(f"sqlite:///{path}")
    writer.create(RUN)
    writer.close()  # type: ignore[attr-defined]
    with sqlite3.connect(path) as connection:  # as a store made before leases existed
        for name in LEASE_COLUMNS:
            connection.execute(f"ALTER TABLE provenflow_runs DROP COLUMN {name}")
    connection.close()
    before = path.read_bytes()
    with pytest.raises(StorageUnavailable, match="made before run leases") as caught:
        open_storage(f"sqlite:///{path}", read_only=True)
    assert "open it once to write" in str(caught.value)
    assert path.read_bytes() == before
    open_storage(f"sqlite:///{path}", create=False).close()  # type: ignore[attr-defined]
    assert open_storage(f"sqlite:///{path}", read_only=True).runs() == [(RUN, "PENDING")]


def test_an_sqlite_store_read_keeps_the_urls_options(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}?synchronous=full&timeout=7"
    open_storage(url).create(RUN)
    for options in ({"create": False}, {"read_only": True}):
        store = open_storage(url, **options)
        engine = store._engine  # type: ignore[attr-defined]
        assert engine.url.query["timeout"] == "7"
        assert engine.url.query["mode"] == ("ro" if options.get("read_only") else "rw")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert store.runs() == [(RUN, "PENDING")]
        store.close()  # type: ignore[attr-defined]
