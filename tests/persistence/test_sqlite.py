"""The SQLite backend: its URL, its durability settings, and files it must not touch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from provenflow.errors import CorruptRecord, StorageUnavailable, UsageError
from provenflow.persistence import SqlStorage, open_storage
from tests.persistence._samples import RUN, start


def pragma(store: SqlStorage, name: str) -> object:
    raw = store._engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]
    finally:
        raw.close()


def test_wal_mode_and_synchronous_normal_by_default(tmp_path: Path) -> None:
    store = open_storage(f"sqlite:///{tmp_path / 'runs.db'}")
    assert isinstance(store, SqlStorage)
    assert pragma(store, "journal_mode") == "wal"
    assert pragma(store, "synchronous") == 1  # NORMAL
    store.close()


def test_synchronous_full_on_request(tmp_path: Path) -> None:
    with SqlStorage(f"sqlite:///{tmp_path / 'runs.db'}?synchronous=full") as store:
        assert pragma(store, "synchronous") == 2  # FULL
        store.create(RUN)
        assert store.record("run-1", [start()], 0) == 1


def test_a_relative_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with SqlStorage("sqlite:///provenflow.db") as store:
        store.create(RUN)
    assert (tmp_path / "provenflow.db").is_file()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite://", "name a file"),
        ("sqlite:///:memory:", "name a file"),
        ("sqlite:///x.db?synchronous=sometimes", "synchronous=sometimes is not one of"),
    ],
)
def test_bad_sqlite_urls_are_refused(url: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        open_storage(url)


def test_a_file_that_is_not_a_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(CorruptRecord, match="not an SQLite database") as caught:
        open_storage(f"sqlite:///{path}")
    assert str(path) in caught.value.where
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.db"]


def test_a_foreign_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE provenflow_runs (id INTEGER)")
        conn.execute("INSERT INTO provenflow_runs VALUES (1)")
    content = path.read_bytes()
    with pytest.raises(CorruptRecord, match="without provenflow_meta"):
        open_storage(f"sqlite:///{path}")
    assert path.read_bytes() == content  # not even switched to WAL


def test_an_unopenable_path_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'runs.db'}"
    with pytest.raises(StorageUnavailable, match="unable to open database file") as caught:
        open_storage(url)
    assert caught.value.url == url
    with pytest.raises(StorageUnavailable, match="cannot open the database"):
        open_storage(f"sqlite:///{tmp_path}")  # a directory


def test_a_committed_batch_is_in_the_file_for_a_plain_sqlite3_reader(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with SqlStorage(f"sqlite:///{path}") as store:
        store.create(RUN)
        store.record("run-1", [start()], 0)
        with sqlite3.connect(path) as conn:  # another connection, while the store is open
            rows = conn.execute("SELECT seq, event FROM provenflow_transitions").fetchall()
    assert rows == [(1, "start")]
