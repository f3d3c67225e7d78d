"""Fixtures for the storage tests: each backend, opened on fresh data, as many times as asked.

`backend` gives every backend (the conformance suite runs on each); `durable` the ones that keep
JSON on disk or in a database; `sql` the two SQL ones. A `Backend` opens any number of store
objects on the same data (`open()`), which is how two writers on one run are simulated; for
memory:// there is one store, so `open()` returns it each time.

PostgreSQL comes from `PROVENFLOW_TEST_POSTGRES_URL` (default
`postgresql://postgres@127.0.0.1:5432/test`). Each test gets a schema of its own, dropped after
it, through libpq's `options=-csearch_path=...`. When the server cannot be reached the tests
that need it are skipped, saying why, except under `CI=true`, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from provenflow.persistence import MemoryStorage, Storage, open_storage

POSTGRES_URL = os.environ.get(
    "PROVENFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_postgres_problem: list[str | None] = []


@dataclass
class Backend:
    """One backend on fresh data: `open()` gives a new store object on that same data."""

    name: str
    url: str
    opener: Callable[[], Storage]
    opened: list[Storage] = field(default_factory=list)

    def open(self) -> Storage:
        store = self.opener()
        self.opened.append(store)
        return store

    def close(self) -> None:
        for store in self.opened:
            close = getattr(store, "close", None)
            if close is not None:
                close()


def postgres_unavailable() -> str | None:
    """Return why PostgreSQL cannot be used for tests, or None when it can (checked once)."""
    if not _postgres_problem:
        _postgres_problem.append(_probe_postgres())
    return _postgres_problem[0]


def _probe_postgres() -> str | None:
    try:
        import sqlalchemy as sa  # noqa: PLC0415
    except ImportError as error:
        return f"SQLAlchemy is not installed ({error}); install provenflow[postgres]"
    try:
        engine = sa.create_engine(
            _driver_url(POSTGRES_URL), connect_args={"connect_timeout": 3}, poolclass=sa.NullPool
        )
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any reason at all: report it
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {first_line}"
    return None


def _driver_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL is unreachable; fail instead under CI=true."""
    problem = postgres_unavailable()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: PostgreSQL tests must run)")
    pytest.skip(problem)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to an empty schema of its own on the test PostgreSQL server (dropped after)."""
    require_postgres()
    import sqlalchemy as sa  # noqa: PLC0415

    schema = f"pf_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_driver_url(POSTGRES_URL), poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _make_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    if name == "memory":
        store = MemoryStorage()
        return Backend(name, store.url, lambda: store)
    if name == "sqlite":
        url = f"sqlite:///{tmp_path / 'runs.db'}"
    elif name == "dir":
        url = f"dir://{tmp_path / 'runs'}"
    else:
        url = request.getfixturevalue("postgres_url")
    return Backend(name, url, lambda: open_storage(url))


def _backend_fixture(names: list[str]) -> Any:
    @pytest.fixture(params=names)
    def fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
        backend = _make_backend(request.param, tmp_path, request)
        try:
            yield backend
        finally:
            backend.close()

    return fixture


backend = _backend_fixture(["memory", "sqlite", "dir", "postgresql"])
durable = _backend_fixture(["sqlite", "dir", "postgresql"])
sql = _backend_fixture(["sqlite", "postgresql"])
