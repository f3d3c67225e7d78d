"""The lock service's rules, checked on every backend (`locks` runs each test on each one)."""

from __future__ import annotations

import pickle
import threading

import pytest

from provenflow.errors import LockHeld, LockLost, UsageError
from provenflow.locks import Owner, new_owner
from provenflow.locks._protocol import MAX_NAME_BYTES
from tests.locks.conftest import Backend


def test_one_holder_at_a_time(locks: Backend) -> None:
    service = locks.open()
    first, second = new_owner(), new_owner()
    lease = service.acquire("orders", first, 30.0)
    assert (lease.owner, lease.held) == (first, True)
    with pytest.raises(LockHeld) as held:
        service.acquire("orders", second, 30.0)
    assert held.value.name == "orders"
    assert held.value.holder == str(first)
    assert held.value.expires_at == pytest.approx(lease.expires_at)
    assert "orders" in str(held.value) and str(first) in str(held.value)
    assert pickle.loads(pickle.dumps(held.value)).args == held.value.args
    leases, _ = service.leases()
    assert leases["orders"].owner == first  # the refusal changed nothing
    assert leases["orders"].token == lease.token


def test_the_holder_acquiring_again_keeps_its_token(locks: Backend) -> None:
    service = locks.open()
    owner = new_owner()
    lease = service.acquire("orders", owner, 30.0)
    again = service.acquire("orders", owner, 60.0)
    assert again.token == lease.token
    assert again.expires_at > lease.expires_at


def test_tokens_strictly_increase_across_holders_and_after_release(locks: Backend) -> None:
    service = locks.open()
    tokens = []
    for _ in range(3):
        owner = new_owner()
        lease = service.acquire("orders", owner, 30.0)
        tokens.append(lease.token)
        service.release("orders", owner, lease.token)
    owner = new_owner()
    tokens.append(service.acquire("orders", owner, 30.0).token)
    assert tokens == sorted(set(tokens)), tokens
    other = service.acquire("invoices", owner, 30.0)  # tokens are per lock
    assert other.token >= 1


def test_a_released_lock_is_kept_with_its_token(locks: Backend) -> None:
    service = locks.open()
    owner = new_owner()
    lease = service.acquire("orders", owner, 30.0)
    service.release("orders", owner, lease.token)
    leases, _ = service.leases()
    assert leases["orders"].held is False
    assert leases["orders"].token == lease.token
    with pytest.raises(LockLost) as lost:
        service.check("orders", lease.token)
    assert lost.value.holder is None
    assert "released" in str(lost.value)


def test_renew_extends_the_lease(locks: Backend) -> None:
    service = locks.open()
    owner = new_owner()
    lease = service.acquire("orders", owner, 1.0)
    renewed = service.renew("orders", owner, lease.token, 60.0)
    assert renewed.token == lease.token
    assert renewed.expires_at > lease.expires_at + 30
    assert service.leases()[0]["orders"].expires_at == pytest.approx(renewed.expires_at)


def test_only_the_holder_renews_or_releases(locks: Backend) -> None:
    service = locks.open()
    owner, stranger = new_owner(), new_owner()
    lease = service.acquire("orders", owner, 30.0)
    for attempt in (
        lambda: service.renew("orders", stranger, lease.token, 30.0),
        lambda: service.release("orders", stranger, lease.token),
        lambda: service.renew("orders", owner, lease.token + 1, 30.0),
        lambda: service.release("orders", owner, lease.token - 1),
    ):
        with pytest.raises(LockLost):
            attempt()
    assert service.leases()[0]["orders"] == lease  # nothing changed
    service.check("orders", lease.token)


def test_a_lock_never_held_is_refused_clearly(locks: Backend) -> None:
    service = locks.open()
    owner = new_owner()
    for attempt in (
        lambda: service.renew("nobody", owner, 1, 30.0),
        lambda: service.release("nobody", owner, 1),
        lambda: service.check("nobody", 1),
    ):
        with pytest.raises(LockLost, match="never granted"):
            attempt()
    assert "nobody" not in service.leases()[0]


def test_an_expired_lock_is_taken_over_and_its_old_holder_fenced(locks: Backend) -> None:
    service = locks.open()
    old, new = new_owner(), new_owner()
    lease = service.acquire("orders", old, locks.short_ttl)
    locks.expire(lease)
    service.check("orders", lease.token)  # expired, but nobody else acted: still fenced right
    taken = service.acquire("orders", new, 30.0)
    assert taken.token > lease.token
    assert taken.owner == new
    for attempt in (
        lambda: service.renew("orders", old, lease.token, 30.0),
        lambda: service.release("orders", old, lease.token),
        lambda: service.check("orders", lease.token),
    ):
        with pytest.raises(LockLost) as lost:
            attempt()
        assert lost.value.token == lease.token
        assert lost.value.holder == str(new)
        assert f"current token is {taken.token}" in str(lost.value)
    service.check("orders", taken.token)
    assert service.leases()[0]["orders"] == taken


def test_an_expired_lock_not_taken_over_can_still_be_renewed(locks: Backend) -> None:
    service = locks.open()
    owner = new_owner()
    lease = service.acquire("orders", owner, locks.short_ttl)
    locks.expire(lease)
    renewed = service.renew("orders", owner, lease.token, 30.0)
    assert renewed.token == lease.token


def test_services_on_the_same_data_share_the_locks(locks: Backend) -> None:
    one, two = locks.open(), locks.open()
    owner = new_owner()
    lease = one.acquire("orders", owner, 30.0)
    with pytest.raises(LockHeld):
        two.acquire("orders", new_owner(), 30.0)
    two.check("orders", lease.token)
    two.release("orders", owner, lease.token)
    assert one.acquire("orders", new_owner(), 30.0).token == lease.token + 1


HOSTILE_NAMES = [
    'it\'s "quoted"',
    "a/b/../c",
    "/",
    "..",
    "\\",
    "*?[]{}",
    "%s %d ;DROP TABLE provenflow_locks;--",
    "名前 🔒 ñ",
    " ",
    "line\nbreak\ttab\x1b[2J",
    "x" * MAX_NAME_BYTES,
    "é" * (MAX_NAME_BYTES // 2),
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_names_are_locks_like_any_other(locks: Backend, name: str) -> None:
    service = locks.open()
    owner = new_owner()
    lease = service.acquire(name, owner, 30.0)
    with pytest.raises(LockHeld):
        service.acquire(name, new_owner(), 30.0)
    service.check(name, lease.token)
    service.renew(name, owner, lease.token, 30.0)
    assert set(service.leases()[0]) == {name}
    service.release(name, owner, lease.token)
    assert [lease.held for lease in service.leases()[0].values()] == [False]
    assert service.acquire(name, owner, 30.0).token == lease.token + 1


BAD_NAMES = [
    ("", "must not be empty"),
    ("nul\x00byte", "NUL"),
    ("\udc80", "surrogate"),
    ("x" * (MAX_NAME_BYTES + 1), "more than the 1000"),
    ("é" * (MAX_NAME_BYTES // 2 + 1), "1002 bytes"),
    (42, "must be a str"),
]


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES, ids=range(len(BAD_NAMES)))
def test_bad_names_are_refused_clearly(locks: Backend, name: object, problem: str) -> None:
    service = locks.open()
    owner = new_owner()
    for attempt in (
        lambda: service.acquire(name, owner, 30.0),  # type: ignore[arg-type]
        lambda: service.renew(name, owner, 1, 30.0),  # type: ignore[arg-type]
        lambda: service.release(name, owner, 1),  # type: ignore[arg-type]
        lambda: service.check(name, 1),  # type: ignore[arg-type]
    ):
        with pytest.raises(UsageError, match=problem):
            attempt()
    assert service.leases()[0] == {}


@pytest.mark.parametrize("ttl", [0, -1.0, float("nan"), float("inf"), "10", True])
def test_bad_ttls_are_refused(locks: Backend, ttl: object) -> None:
    service = locks.open()
    with pytest.raises(UsageError, match="ttl"):
        service.acquire("orders", new_owner(), ttl)  # type: ignore[arg-type]
    assert service.leases()[0] == {}


def test_owners_with_the_same_id_elsewhere_are_different_owners(locks: Backend) -> None:
    service = locks.open()
    here = Owner("host-a", 10, "same-id")
    there = Owner("host-b", 10, "same-id")
    service.acquire("orders", here, 30.0)
    with pytest.raises(LockHeld):
        service.acquire("orders", there, 30.0)


def test_contending_holders_take_turns_with_increasing_tokens(locks: Backend) -> None:
    """Four threads, each with a service of its own, take one lock five times each."""
    inside: list[int] = []
    tokens: list[int] = []
    problems: list[BaseException] = []
    guard = threading.Lock()

    def worker() -> None:
        service = locks.open()
        try:
            for _ in range(5):
                with service.lease("orders", ttl=30, wait=30) as held:
                    with guard:
                        inside.append(held.token)
                        assert len(inside) == 1, f"two holders at once: {inside}"
                        tokens.append(held.token)
                    service.check("orders", held.token)
                    with guard:
                        inside.remove(held.token)
        except BaseException as error:
            problems.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert problems == []
    assert len(tokens) == 20
    assert tokens == sorted(set(tokens)), tokens  # strictly increasing, in the order taken
