"""A lock server that goes away: one clear error, nothing changed, and the next call works."""

from __future__ import annotations

import pytest

from provenflow.errors import StorageUnavailable
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
