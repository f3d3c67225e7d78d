"""The PostgreSQL backend: its URL and an unreachable server."""

from __future__ import annotations

import pytest

pytest.importorskip("sqlalchemy")

from provenflow.errors import StorageUnavailable
from provenflow.persistence import SqlStorage, open_storage
from provenflow.persistence._sql_engine import _make_engine


def test_postgresql_urls_use_psycopg_3() -> None:
    engine, shown, dialect = _make_engine("postgresql://me:secret@db.example/runs")
    assert engine.url.drivername == "postgresql+psycopg"
    assert (shown, dialect) == ("postgresql://me:***@db.example/runs", "postgresql")
    engine.dispose()


def test_an_unreachable_server_is_one_clear_error_without_the_password() -> None:
    url = "postgresql://me:secret@127.0.0.1:1/runs"
    with pytest.raises(StorageUnavailable) as caught:
        open_storage(url)
    message = str(caught.value)
    assert message.startswith("storage postgresql://me:***@127.0.0.1:1/runs: ")
    assert "cannot open the database" in message
    assert "secret" not in message and "secret" not in repr(caught.value.args)


def test_a_store_in_its_own_schema(postgres_url: str) -> None:
    with SqlStorage(postgres_url) as store:
        assert store.runs() == []
        assert "search_path" in store.url
