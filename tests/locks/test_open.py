"""`open_locks`: a lock service by URL, and clear refusals for URLs it cannot serve."""

from __future__ import annotations

import sys

import pytest

from provenflow.errors import UsageError
from provenflow.locks import LockService, MemoryLocks, open_locks
from tests.locks.conftest import FakeClock


def test_memory_gives_a_memory_service_with_the_clock_given() -> None:
    clock = FakeClock()
    service = open_locks("memory://", clock=clock)
    assert isinstance(service, MemoryLocks)
    assert isinstance(service, LockService)
    assert service.leases() == ({}, clock.now)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("orders", "not a URL"),
        ("ftp://host/locks", "unknown scheme 'ftp'"),
        ("postgresql://postgres@127.0.0.1/test", None),
        ("redis://127.0.0.1:6379/0", None),
    ],
)
def test_urls_it_cannot_serve_are_refused_clearly(url: str, problem: str | None) -> None:
    if problem is None:  # a server keeps its own time: no clock is taken
        with pytest.raises(UsageError, match="a clock is not taken"):
            open_locks(url, clock=FakeClock())
        return
    with pytest.raises(UsageError, match=problem):
        open_locks(url)


def test_zookeeper_without_its_backend_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "provenflow.locks._zookeeper", None)  # cannot be imported
    with pytest.raises(UsageError, match=r"install provenflow\[zookeeper\]"):
        open_locks("zookeeper://127.0.0.1:2181/locks")
