"""`open_storage`: which backend a URL names, and URLs it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from provenflow.errors import UsageError
from provenflow.persistence import DirStorage, MemoryStorage, Storage, open_storage


def test_none_and_memory_urls_give_a_new_memory_store() -> None:
    assert isinstance(open_storage(None), MemoryStorage)
    assert open_storage("memory://") is not open_storage("memory://")


def test_a_store_object_is_returned_as_it_is() -> None:
    store = MemoryStorage()
    assert open_storage(store) is store


def test_durable_urls_give_their_backends(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    from provenflow.persistence import SqlStorage  # noqa: PLC0415 (imports SQLAlchemy)

    stores = [
        open_storage(f"dir://{tmp_path / 'runs'}"),
        open_storage(f"sqlite:///{tmp_path / 'runs.db'}"),
        open_storage(f"sqlite+pysqlite:///{tmp_path / 'other.db'}"),
    ]
    assert [type(store) for store in stores] == [DirStorage, SqlStorage, SqlStorage]
    assert all(isinstance(store, Storage) for store in stores)


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "ftp://host/x", "runs.db", ""])
def test_unknown_urls_are_refused_naming_the_known_schemes(url: str) -> None:
    with pytest.raises(UsageError, match="known: memory://, sqlite:///path, postgresql://"):
        open_storage(url)


def test_something_else_is_refused() -> None:
    with pytest.raises(UsageError, match="expected a URL or a Storage"):
        open_storage(42)  # type: ignore[arg-type]
