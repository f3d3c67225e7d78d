"""Fixtures for the lock service tests: each backend on fresh data, and how to let time pass.

`locks` gives every backend (the conformance suite runs on each); `server_locks` the ones on a
server that can be cut off (PostgreSQL, Redis, ZooKeeper). A `Backend` opens any number of
services on the same data (`open()`; for memory:// one service, returned each time) and lets a
lease expire (`expire(lease)`): memory and SQLite run on a fake clock that is moved past it;
PostgreSQL, Redis and ZooKeeper keep their own time, so `short_ttl` is short there and `expire`
polls the service's clock until the lease is over (with a deadline).

PostgreSQL comes from `PROVENFLOW_TEST_POSTGRES_URL` (a schema per test, as for the storage
tests) and Redis from `PROVENFLOW_TEST_REDIS_URL` (default `redis://127.0.0.1:6379/0`, with a
key prefix per test, whose keys are deleted after it), ZooKeeper from
`PROVENFLOW_TEST_ZOOKEEPER_URL` (a path per test: `tests/zookeeper_helpers.py`). An unreachable
server skips its tests, saying why, except under `CI=true`, where they fail.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from provenflow.locks import Lease, LockService, MemoryLocks, open_locks
from tests.persistence.conftest import (  # postgres_url: a fixture used here
    POSTGRES_URL,
    _driver_url,
    postgres_url,  # noqa: F401
)
from tests.zookeeper_helpers import expire_on_next_request

REDIS_URL = os.environ.get("PROVENFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_redis_problem: list[str | None] = []


class FakeClock:
    """A clock that moves only when told: `clock()` is now, `advance(seconds)` moves it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    """One lock backend on fresh data; see the module docstring."""

    name: str
    url: str
    opener: Callable[[], LockService]
    clock: FakeClock | None = None
    opened: list[LockService] = field(default_factory=list)
    cut: Callable[[LockService], None] | None = None
    """For a server: cut `service`'s connection on the server, so that its next call fails."""

    @property
    def short_ttl(self) -> float:
        """A ttl that `expire` can outwait quickly: long on a fake clock, short on a server."""
        return 30.0 if self.clock is not None else 0.3

    def open(self) -> LockService:
        service = self.opener()
        if service not in self.opened:
            self.opened.append(service)
        return service

    def expire(self, lease: Lease) -> None:
        """Return once `lease` has expired in the service's time."""
        if self.clock is not None:
            self.clock.advance(lease.expires_at - self.clock() + 0.001)
            return
        service = self.open()
        deadline = time.monotonic() + 10.0
        while service.leases()[1] <= lease.expires_at:
            assert time.monotonic() < deadline, f"{self.name}: the lease did not expire in 10 s"
            time.sleep(0.02)  # polling the service's own clock, with a deadline

    def close(self) -> None:
        for service in self.opened:
            service.close()


def redis_unavailable() -> str | None:
    """Return why Redis cannot be used for tests, or None when it can (checked once)."""
    if not _redis_problem:
        _redis_problem.append(_probe_redis())
    return _redis_problem[0]


def _probe_redis() -> str | None:
    try:
        import redis  # noqa: PLC0415
    except ImportError as error:
        return f"redis-py is not installed ({error}); install provenflow[redis]"
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
        client.close()
    except Exception as error:  # any reason at all: report it
        return f"Redis at {REDIS_URL} is unreachable: {error}"
    return None


def require_redis() -> None:
    """Skip the calling test when Redis is unreachable; fail instead under CI=true."""
    problem = redis_unavailable()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: Redis tests must run)")
    pytest.skip(problem)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL with a key prefix of its own (`?prefix=`), whose keys are deleted after."""
    require_redis()
    import redis  # noqa: PLC0415

    prefix = f"provenflow-test:{uuid.uuid4().hex[:12]}:"
    separator = "&" if "?" in REDIS_URL else "?"
    try:
        yield f"{REDIS_URL}{separator}prefix={prefix}"
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def _make_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    if name == "memory":
        clock = FakeClock()
        service = MemoryLocks(clock=clock)
        return Backend(name, service.url, lambda: service, clock)
    if name == "sqlite":
        clock = FakeClock()
        url = f"sqlite:///{tmp_path / 'locks.db'}"
        return Backend(name, url, lambda: open_locks(url, clock=clock), clock)
    if name == "zookeeper":
        url = request.getfixturevalue("zookeeper_url")
        return Backend(name, url, lambda: open_locks(url), cut=expire_on_next_request)
    tag = f"pflocks_{uuid.uuid4().hex[:12]}"
    if name == "postgresql":
        url = f"{request.getfixturevalue('postgres_url')}&application_name={tag}"
        return Backend(name, url, lambda: open_locks(url), cut=lambda _: _terminate(tag))
    url = f"{request.getfixturevalue('redis_url')}&client_name={tag}"
    return Backend(name, url, lambda: open_locks(url), cut=lambda service: _kill(service, tag))


def _terminate(application: str) -> None:
    """End the PostgreSQL sessions of `application` on the server (`pg_terminate_backend`)."""
    import sqlalchemy as sa  # noqa: PLC0415

    admin = sa.create_engine(_driver_url(POSTGRES_URL), poolclass=sa.NullPool)
    query = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :a"
    with admin.begin() as conn:
        assert conn.execute(sa.text(query), {"a": application}).all(), "no session to end"
    admin.dispose()


def _kill(service: LockService, client_name: str) -> None:
    """Make Redis kill `service`'s connection (`CLIENT KILL`) when it next sends a command.

    redis-py checks an idle connection when it takes it from its pool and quietly opens a new
    one if the server closed it; so the kill is made just after that check, as the command is
    sent, which is when a server going away hurts.
    """
    import redis  # noqa: PLC0415

    pool = service._client.connection_pool  # type: ignore[attr-defined]
    connection = pool.get_connection()
    pool.release(connection)
    send = connection.send_packed_command

    def killed_first(*args: Any, **kwargs: Any) -> Any:
        connection.send_packed_command = send  # once
        admin = redis.Redis.from_url(REDIS_URL)
        ids = [c["id"] for c in admin.client_list() if c["name"] == client_name]
        assert ids, "no connection to kill"
        for each in ids:
            admin.client_kill_filter(_id=each)
        admin.close()
        return send(*args, **kwargs)

    connection.send_packed_command = killed_first


def _backend_fixture(names: list[str]) -> Any:
    @pytest.fixture(params=names)
    def fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
        backend = _make_backend(request.param, tmp_path, request)
        try:
            yield backend
        finally:
            backend.close()

    return fixture


BACKENDS = ["memory", "sqlite", "postgresql", "redis", "zookeeper"]
SERVERS = ["postgresql", "redis", "zookeeper"]
locks = _backend_fixture(BACKENDS)
server_locks = _backend_fixture(SERVERS)
