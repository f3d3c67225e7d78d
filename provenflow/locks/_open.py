"""Opening a lock service by its URL (`open_locks`).

`memory://` keeps locks in this process; `sqlite:///path` and `postgresql://...` in a
`provenflow_locks` table (SQLAlchemy); `redis://host:port/db` in Redis (redis-py);
`zookeeper://host:port/path` in ZooKeeper (kazoo). Each backend is imported on first use, so
that a program loads only the client library it needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from provenflow.errors import UsageError
from provenflow.locks._memory import MemoryLocks
from provenflow.locks._protocol import LockService

__all__ = ["SCHEMES", "open_locks"]

SCHEMES = ("memory", "sqlite", "postgresql", "redis", "rediss", "zookeeper")
"""The URL schemes `open_locks` knows (a SQLAlchemy driver may follow `+`)."""


def open_locks(
    url: str, *, clock: Callable[[], float] | None = None, read_only: bool = False
) -> LockService:
    """Return the lock service named by `url` (see the module docstring).

    `read_only=True` (for listing) makes nothing: an SQLite file or table that is missing is
    not created (a missing table holds no locks; a missing file is refused). `clock` replaces
    the local clock where the service has no server clock of its own (memory, SQLite): a fake
    clock for tests. Raises `UsageError` for an unknown URL or a
    backend whose client library is missing (naming the extra to install), a `clock` given
    to a service with a server clock, and what the backend raises when it cannot be opened
    (`StorageUnavailable`).
    """
    if not isinstance(url, str) or "://" not in url:
        raise UsageError(
            f"lock service {url!r}: not a URL (known: {', '.join(s + '://' for s in SCHEMES)})"
        )
    scheme = url.partition("://")[0].partition("+")[0]
    if scheme == "memory":
        return MemoryLocks(url) if clock is None else MemoryLocks(url, clock)
    if scheme in ("sqlite", "postgresql"):
        if clock is not None and scheme == "postgresql":
            raise UsageError(f"lock service {url!r}: PostgreSQL keeps time; a clock is not taken")
        extra = "postgres" if scheme == "postgresql" else ""
        return _backend(url, "_sql", "SqlLocks", extra)(url, clock=clock, read_only=read_only)
    if clock is not None and scheme in ("redis", "rediss", "zookeeper"):
        raise UsageError(f"lock service {url!r}: the server keeps time; a clock is not taken")
    if scheme in ("redis", "rediss"):
        return _backend(url, "_redis", "RedisLocks", "redis")(url)
    if scheme == "zookeeper":
        return _backend(url, "_zookeeper", "ZooKeeperLocks", "zookeeper")(url)
    raise UsageError(
        f"lock service {url!r}: unknown scheme {scheme!r} "
        f"(known: {', '.join(s + '://' for s in SCHEMES)})"
    )


def _backend(url: str, module: str, name: str, extra: str) -> Callable[..., LockService]:
    """Return the class `name` of the backend module `provenflow.locks.{module}`; `UsageError`
    naming the `extra` to install when it, or the client library it needs, cannot be imported."""
    try:
        found: Callable[..., LockService] = getattr(
            importlib.import_module(f"provenflow.locks.{module}"), name
        )
        return found
    except ImportError as error:
        install = f"install provenflow[{extra}]" if extra else "install provenflow's dependencies"
        raise UsageError(
            f"lock service {url!r}: this backend needs a library that is not installed "
            f"({error}); {install}"
        ) from None
