"""`LockService.lease`: a lock held while a block runs, renewed in the background, released."""

from __future__ import annotations

import threading
import time

import pytest

from provenflow.errors import LockHeld, LockLost, StorageUnavailable, UsageError
from provenflow.locks import HeldLock, Lease, MemoryLocks, Owner, new_owner
from tests.locks.conftest import Backend, FakeClock


def _until(condition: object, seconds: float = 10.0) -> None:
    """Poll `condition()` until it holds, failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)


def test_a_lease_holds_the_lock_and_releases_it(locks: Backend) -> None:
    service = locks.open()
    with service.lease("orders", ttl=30) as held:
        assert isinstance(held, HeldLock)
        assert held.token >= 1
        assert not held.lost.is_set()
        held.check()
        service.check("orders", held.token)
        with pytest.raises(LockHeld):
            service.acquire("orders", new_owner(), 30.0)
        leases, now = service.leases()
        assert leases["orders"].owner == held.owner
        assert held.expires_at == pytest.approx(leases["orders"].expires_at)
        assert held.expires_at > now
    assert service.leases()[0]["orders"].held is False
    with service.lease("orders", ttl=30) as again:
        assert again.token == held.token + 1


def test_a_held_lock_is_refused_at_once_without_wait(locks: Backend) -> None:
    service = locks.open()
    with (
        service.lease("orders") as held,
        pytest.raises(LockHeld) as refused,
        service.lease("orders"),
    ):
        pytest.fail("entered a lock held by another owner")
    assert refused.value.holder == str(held.owner)


def test_wait_gives_up_at_its_deadline() -> None:
    service = MemoryLocks()
    with service.lease("orders", ttl=30):
        started = time.monotonic()
        with pytest.raises(LockHeld), service.lease("orders", wait=0.2):
            pytest.fail("entered a lock held by another owner")
        assert time.monotonic() - started >= 0.2


def test_wait_gets_the_lock_once_its_holder_lets_go() -> None:
    service = MemoryLocks()
    waiting = threading.Event()
    got: list[int] = []
    calls = 0
    acquire = service.acquire

    def counting_acquire(name: str, owner: Owner, ttl: float) -> Lease:
        nonlocal calls
        calls += 1
        if calls == 2:
            waiting.set()  # the waiter was refused once and tries again
        return acquire(name, owner, ttl)

    service.acquire = counting_acquire  # type: ignore[method-assign]

    def waiter() -> None:
        with service.lease("orders", wait=30) as held:
            got.append(held.token)

    with service.lease("orders") as first:
        thread = threading.Thread(target=waiter)
        thread.start()
        assert waiting.wait(10)
    thread.join(10)
    assert got == [first.token + 1]


def test_the_lease_is_renewed_while_the_block_runs() -> None:
    service = MemoryLocks()  # the real clock: renewals every 0.1 s
    with service.lease("orders", ttl=0.3) as held:
        first_expiry = held.expires_at
        _until(lambda: held.expires_at > first_expiry + 0.3)  # renewed at least twice
        assert service.leases()[0]["orders"].expires_at == pytest.approx(held.expires_at)
        service.check("orders", held.token)
        assert not held.lost.is_set()


def test_a_refused_renewal_tells_the_holder_it_lost_the_lock() -> None:
    clock = FakeClock()
    service = MemoryLocks(clock=clock)
    with pytest.raises(LockLost) as lost, service.lease("orders", ttl=0.3) as held:
        clock.advance(1.0)  # paused past its lease: taken over
        thief = service.acquire("orders", new_owner(), 30.0)
        assert held.lost.wait(10)
        with pytest.raises(LockLost) as checked:
            held.check()
        assert checked.value.holder == str(thief.owner)
        with pytest.raises(LockLost):
            service.check("orders", held.token)
    assert lost.value is held.error  # the block ended without error: exit says it was lost
    assert service.leases()[0]["orders"] == thief  # the thief's lock was not released


def test_the_body_s_exception_wins_over_a_lost_lock() -> None:
    clock = FakeClock()
    service = MemoryLocks(clock=clock)
    with pytest.raises(KeyError), service.lease("orders", ttl=0.3) as held:
        clock.advance(1.0)
        service.acquire("orders", new_owner(), 30.0)
        assert held.lost.wait(10)
        raise KeyError("the body's own failure")


class Unreachable(MemoryLocks):
    """A memory service whose renewals fail as if its server could not be reached."""

    def renew(self, name: str, owner: Owner, token: int, ttl: float) -> Lease:
        raise StorageUnavailable(self.url, "cannot renew: connection refused")

    def release(self, name: str, owner: Owner, token: int) -> None:
        raise StorageUnavailable(self.url, "cannot release: connection refused")


def test_a_lock_not_renewed_within_its_ttl_counts_as_lost() -> None:
    service = Unreachable()
    with (
        pytest.raises(LockLost, match="not renewed within its ttl"),
        service.lease("orders", ttl=0.3) as held,
    ):
        started = time.monotonic()
        assert held.lost.wait(10)
        assert time.monotonic() - started >= 0.25
        assert held.error is not None and held.error.holder is None


def test_a_release_the_service_cannot_take_is_given_up() -> None:
    service = Unreachable()
    with service.lease("orders", ttl=30) as held:
        pass
    assert not held.lost.is_set()
    assert service.leases()[0]["orders"].held  # it expires on its own


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": "30"}, "ttl"),
        ({"wait": -1}, "wait"),
        ({"wait": "soon"}, "wait"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_held(
    arguments: dict[str, object], problem: str
) -> None:
    service = MemoryLocks()
    with pytest.raises(UsageError, match=problem):
        service.lease("orders", **arguments)  # type: ignore[arg-type]
    assert service.leases()[0] == {}
