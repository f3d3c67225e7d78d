"""Fixtures for the crash tests: a backend URL on fresh data, on SQLite and on PostgreSQL.

PostgreSQL reuses `postgres_url` from `tests/persistence/conftest.py`: a schema of its own,
dropped after the test; skipped when the server is unreachable, failing under `CI=true`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.persistence.conftest import postgres_url  # noqa: F401 (a fixture, shared)


def sqlite_url(directory: Path) -> str:
    """Return the URL of a database file in `directory` (absolute: `sqlite:////...`)."""
    path = directory.resolve() / "runs.db"
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty store: an SQLite file under `tmp_path`, or a private PG schema."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    return url
