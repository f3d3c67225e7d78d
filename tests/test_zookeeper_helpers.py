"""The test ZooKeeper server and its helpers: a path of its own per test, removed after; a real
session expiry; skipped when unreachable, failed under CI=true."""

from __future__ import annotations

import threading

import pytest
from kazoo.protocol.states import KazooState

from tests import zookeeper_helpers
from tests.zookeeper_helpers import (
    expire_session,
    fresh_zookeeper_url,
    hosts_and_path,
    zookeeper_client,
)


def test_each_test_gets_a_fresh_path_removed_after() -> None:
    with fresh_zookeeper_url() as url, fresh_zookeeper_url() as other:
        assert url != other
        hosts, path = hosts_and_path(url)
        with zookeeper_client(hosts) as client:
            assert client.exists(path) is None
            client.create(f"{path}/a/b", b"x", makepath=True)
    with zookeeper_client(hosts) as client:
        assert client.exists(path) is None


def test_the_fixture_is_a_zookeeper_url_under_the_configured_path(zookeeper_url: str) -> None:
    _, base = hosts_and_path(zookeeper_helpers.ZOOKEEPER_URL)
    _, path = hosts_and_path(zookeeper_url)
    assert path.startswith(base.rstrip("/") + "/")


def test_expire_session_drops_the_session_and_its_ephemeral_nodes(zookeeper_url: str) -> None:
    hosts, path = hosts_and_path(zookeeper_url)
    lost = threading.Event()
    with zookeeper_client(hosts) as holder, zookeeper_client(hosts) as observer:
        holder.add_listener(lambda state: lost.set() if state == KazooState.LOST else None)
        holder.create(f"{path}/mine", b"", ephemeral=True, makepath=True)
        gone = threading.Event()
        observer.exists(f"{path}/mine", watch=lambda event: gone.set())

        expire_session(holder)

        assert gone.wait(10.0), "the expired session's ephemeral node was not removed"
        assert observer.exists(f"{path}/mine") is None
        assert lost.wait(10.0), "the client was not told that its session expired"


def test_unreachable_server_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zookeeper_helpers, "ZOOKEEPER_URL", "zookeeper://127.0.0.1:1/x")
    problem = zookeeper_helpers._probe()
    assert problem is not None
    assert "ZooKeeper at zookeeper://127.0.0.1:1/x is unreachable" in problem
    monkeypatch.setattr(zookeeper_helpers, "_problem", [problem])
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="unreachable"):
        zookeeper_helpers.require_zookeeper()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: ZooKeeper tests must run"):
        zookeeper_helpers.require_zookeeper()


def test_a_url_that_is_not_zookeeper_is_refused() -> None:
    with pytest.raises(ValueError, match="not a zookeeper://"):
        hosts_and_path("redis://127.0.0.1:6379/0")
