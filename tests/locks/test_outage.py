"""A lock server that goes away: one clear error, nothing changed, and the next call works; and
a server's clock, not the caller's, decides."""

from __future__ import annotations

import time

import pytest

from provenflow.errors import LockHeld, StorageUnavailable
from provenflow.locks import new_owner, open_locks
from tests.locks.conftest import Backend


def test_a_cut_connection_gives_one_clear_error_then_works_again(server_locks: Backend) -> None:
    service = server_locks.open()
    owner = new_owner()
    lease = service.acquire("orders", owner, 30.0)
    assert server_locks.cut is not None
    server_locks.cut(service)
    with pytest.raises(StorageUnavailable) as cut:
        service.renew("orders", owner, lease.token, 60.0)
    assert cut.value.url == service.url
    assert "cannot renew lock 'orders'" in str(cut.value)
    renewed = service.renew("orders", owner, lease.token, 60.0)
    assert renewed.token == lease.token
    service.check("orders", lease.token)
    assert service.leases()[0]["orders"] == renewed


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "postgresql://postgres@127.0.0.1:1/test"])
def test_a_server_that_cannot_be_reached_is_named(url: str) -> None:
    with pytest.raises(StorageUnavailable) as unreachable:
        open_locks(url).acquire("orders", new_owner(), 30.0)
    assert unreachable.value.url == url
    assert "cannot" in str(unreachable.value)


def test_a_server_decides_with_its_own_clock(
    server_locks: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_now = time.time()
    monkeypatch.setattr(time, "time", lambda: real_now + 86_400.0)  # this process is a day ahead
    service = server_locks.open()
    lease = service.acquire("orders", new_owner(), 30.0)
    assert real_now < lease.expires_at < real_now + 60.0
    assert abs(service.leases()[1] - real_now) < 30.0
    with pytest.raises(LockHeld):  # the skewed process does not see the lease as expired
        service.acquire("orders", new_owner(), 30.0)
