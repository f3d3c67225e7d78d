"""A lock record damaged by hand: one clear error naming it, nothing changed, others unharmed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from provenflow.errors import CorruptRecord
from provenflow.locks import new_owner
from tests.locks.conftest import Backend


def _damage_sql(url: str, name: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE provenflow_locks SET lease_owner = NULL, lease_pid = -1 WHERE name = :n"
            ),
            {"n": name},
        )
    engine.dispose()


def _damage_redis(url: str, name: str, value: str) -> None:
    import redis  # noqa: PLC0415

    from provenflow.locks._redis import RedisLocks  # noqa: PLC0415

    service = RedisLocks(url)
    client = redis.Redis.from_url(url.partition("?")[0])
    client.hset(service.key, name, value)
    client.close()
    service.close()


def _damage(backend: Backend, name: str) -> None:
    if backend.name == "redis":
        _damage_redis(backend.url, name, '{"token": "one"}')
    else:
        _damage_sql(backend.url, name)


@pytest.mark.parametrize("locks", ["sqlite", "postgresql", "redis"], indirect=True)
def test_a_damaged_lock_is_named_and_left_as_it_is(locks: Backend) -> None:
    service = locks.open()
    owner = new_owner()
    damaged = service.acquire("damaged", owner, 30.0)
    healthy = service.acquire("healthy", owner, 30.0)
    _damage(locks, "damaged")
    for attempt in (
        lambda: service.acquire("damaged", new_owner(), 30.0),
        lambda: service.renew("damaged", owner, damaged.token, 30.0),
        lambda: service.release("damaged", owner, damaged.token),
        lambda: service.check("damaged", damaged.token),
    ):
        with pytest.raises(CorruptRecord) as corrupt:
            attempt()
        assert "'damaged'" in corrupt.value.where
        assert "provenflow_runs" not in str(corrupt.value)
    leases, _ = service.leases()
    assert leases == {"healthy": healthy}  # a listing shows the healthy locks
    service.renew("healthy", owner, healthy.token, 30.0)


@pytest.mark.parametrize("locks", ["redis"], indirect=True)
def test_a_redis_key_of_another_type_is_named(locks: Backend) -> None:
    import redis  # noqa: PLC0415

    service = locks.open()
    client = redis.Redis.from_url(locks.url.partition("?")[0])
    client.set(service.key, "not a hash")  # type: ignore[attr-defined]
    client.close()
    with pytest.raises(CorruptRecord, match="not a hash of locks"):
        service.acquire("orders", new_owner(), 30.0)
    with pytest.raises(CorruptRecord, match="not a hash of locks"):
        service.leases()
