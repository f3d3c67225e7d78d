"""Run leases on every backend: taken, refused, renewed, released, taken over, and fencing.

Each backend decides with the rules of `_lease` inside its own atomic step and with its own
time; these tests check that every one of them keeps the rules, and that a write carrying a
stale token is refused with nothing written. Expiry is real time here: leases of a fraction of
a second, waited for by polling with a deadline.
"""

from __future__ import annotations

import multiprocessing
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from provenflow.errors import CorruptRecord, LeaseLost, RunOwned, UnknownRun
from provenflow.persistence import Grant, Owner, Storage
from tests.persistence._samples import RUN, running, start, succeeded
from tests.persistence.conftest import Backend, _driver_url

ALICE = Owner("host-a", 11, "a" * 32)
BOB = Owner("host-b", 22, "b" * 32)
SHORT = 0.3
"""A lease short enough to wait for its expiry."""


def until(condition: Callable[[], bool], what: str, deadline: float = 20.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def expired(store: Storage, flow_id: str) -> Callable[[], bool]:
    def check() -> bool:
        leases, now = store.leases()
        return not leases[flow_id].live(now)

    return check


def take_after_expiry(store: Storage, owner: Owner, ttl: float = 30.0) -> Grant:
    until(expired(store, RUN.flow_id), "the lease to expire")
    return store.take_lease(RUN.flow_id, owner, ttl)


@pytest.fixture
def store(backend: Backend) -> Storage:
    store = backend.open()
    store.create(RUN)
    return store


def test_the_first_lease_has_token_1_and_its_holder_gets_it_again(store: Storage) -> None:
    grant = store.take_lease(RUN.flow_id, ALICE, 30.0)
    assert (grant.lease.owner, grant.lease.token, grant.lease.held) == (ALICE, 1, True)
    assert grant.taken_over is None
    again = store.take_lease(RUN.flow_id, ALICE, 30.0)
    assert (again.lease.token, again.taken_over) == (1, None)
    leases, now = store.leases()
    assert leases == {RUN.flow_id: again.lease}
    assert leases[RUN.flow_id].live(now)


def test_a_live_lease_refuses_another_owner_naming_the_holder(store: Storage) -> None:
    held = store.take_lease(RUN.flow_id, ALICE, 30.0).lease
    with pytest.raises(RunOwned) as caught:
        store.take_lease(RUN.flow_id, BOB, 30.0)
    assert caught.value.owner == str(ALICE)
    assert caught.value.expires_at == pytest.approx(held.expires_at)
    assert "is owned by engine aaaaaaaa (pid 11 on host-a), whose lease expires at" in str(
        caught.value
    )
    assert store.leases()[0] == {RUN.flow_id: held}  # nothing changed


def test_a_released_lease_goes_to_the_next_owner_with_a_higher_token(store: Storage) -> None:
    store.take_lease(RUN.flow_id, ALICE, 30.0)
    store.release_lease(RUN.flow_id, ALICE, 1)
    assert store.leases()[0][RUN.flow_id].held is False
    grant = store.take_lease(RUN.flow_id, BOB, 30.0)
    assert (grant.lease.owner, grant.lease.token, grant.taken_over) == (BOB, 2, None)


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced(store: Storage) -> None:
    store.take_lease(RUN.flow_id, ALICE, SHORT)
    store.record(RUN.flow_id, [start()], 0, token=1)
    grant = take_after_expiry(store, BOB)
    assert (grant.lease.owner, grant.lease.token) == (BOB, 2)
    assert grant.taken_over is not None and grant.taken_over.owner == ALICE
    with pytest.raises(LeaseLost, match=r"lease \(token 1\) was taken over"):
        store.record(RUN.flow_id, [running("charge")], 1, token=1)
    with pytest.raises(LeaseLost):
        store.renew_lease(RUN.flow_id, ALICE, 1, 30.0)
    with pytest.raises(LeaseLost):
        store.release_lease(RUN.flow_id, ALICE, 1)
    assert len(store.load(RUN.flow_id)[1]) == 1  # the stale write wrote nothing
    assert store.record(RUN.flow_id, [running("charge")], 1, token=2) == 2
    assert store.leases()[0][RUN.flow_id].owner == BOB


def test_a_write_without_a_token_is_refused_while_the_lease_is_held(store: Storage) -> None:
    store.record(RUN.flow_id, [start()], 0)  # never leased: unfenced writes are fine
    store.take_lease(RUN.flow_id, ALICE, 30.0)
    with pytest.raises(RunOwned):
        store.record(RUN.flow_id, [running("charge")], 1)
    with pytest.raises(RunOwned):
        store.record(RUN.flow_id, [], 1)
    store.release_lease(RUN.flow_id, ALICE, 1)
    with pytest.raises(LeaseLost, match="was released"):
        store.record(RUN.flow_id, [running("charge")], 1, token=1)
    assert store.record(RUN.flow_id, [running("charge")], 1) == 2


def test_a_stale_token_is_refused_before_the_version_is_compared(store: Storage) -> None:
    store.take_lease(RUN.flow_id, ALICE, SHORT)
    take_after_expiry(store, BOB)
    with pytest.raises(LeaseLost):
        store.record(RUN.flow_id, [start()], 5, token=1)  # a wrong version too
    assert store.record(RUN.flow_id, [start(), running("charge")], 0, token=2) == 2
    assert store.record(RUN.flow_id, [succeeded("charge", 1)], 2, token=2) == 3


def test_renewing_keeps_a_lease_alive_past_its_first_expiry(store: Storage) -> None:
    first = store.take_lease(RUN.flow_id, ALICE, SHORT).lease
    renewed = store.renew_lease(RUN.flow_id, ALICE, 1, 30.0)
    assert renewed.token == 1 and renewed.expires_at > first.expires_at
    until(lambda: store.leases()[1] > first.expires_at, "the first expiry to pass")
    with pytest.raises(RunOwned):
        store.take_lease(RUN.flow_id, BOB, 30.0)


def test_the_holder_may_renew_an_expired_lease_nobody_took_over(store: Storage) -> None:
    store.take_lease(RUN.flow_id, ALICE, SHORT)
    until(expired(store, RUN.flow_id), "the lease to expire")
    assert store.renew_lease(RUN.flow_id, ALICE, 1, 30.0).token == 1
    assert store.record(RUN.flow_id, [start()], 0, token=1) == 1


def test_leases_of_an_unknown_run_are_refused(store: Storage) -> None:
    with pytest.raises(UnknownRun):
        store.take_lease("no-such-run", ALICE, 30.0)
    with pytest.raises(UnknownRun):
        store.renew_lease("no-such-run", ALICE, 1, 30.0)


def _exit_at_once() -> None:
    pass


def test_the_lease_of_a_process_gone_from_this_host_is_taken_over_at_once(
    store: Storage,
) -> None:
    process = multiprocessing.get_context("spawn").Process(target=_exit_at_once)
    process.start()
    process.join(timeout=60)
    gone = Owner(socket.gethostname(), process.pid or 0, "c" * 32)
    store.take_lease(RUN.flow_id, gone, 3600.0)
    grant = store.take_lease(RUN.flow_id, BOB, 30.0)  # no waiting: its process is gone
    assert grant.taken_over is not None and grant.taken_over.owner == gone
    assert grant.lease.token == 2


def test_tokens_strictly_increase_per_run(backend: Backend, store: Storage) -> None:
    tokens = []
    for owner in (ALICE, BOB, ALICE):
        grant = store.take_lease(RUN.flow_id, owner, 30.0)
        tokens.append(grant.lease.token)
        store.release_lease(RUN.flow_id, owner, grant.lease.token)
    assert tokens == [1, 2, 3]
    second = backend.open()  # another store object on the same data sees the same lease
    lease = second.leases()[0][RUN.flow_id]
    assert (lease.owner, lease.token, lease.held) == (ALICE, 3, False)


def damage_the_lease(backend: Backend) -> None:
    """Make run-1's lease unreadable, as a person or another program might."""
    if backend.name == "dir":
        directory = Path(backend.url[len("dir://") :]) / "runs" / RUN.flow_id
        (directory / "lease.json").write_text('{"token": "many"}')
        return
    import sqlalchemy as sa  # noqa: PLC0415

    engine = sa.create_engine(_driver_url(backend.url), poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE provenflow_runs SET lease_owner = NULL, lease_token = 5"))
    engine.dispose()


def test_a_damaged_lease_is_refused_and_left_out_of_the_listing(durable: Backend) -> None:
    store = durable.open()
    store.create(RUN)
    store.take_lease(RUN.flow_id, ALICE, 30.0)
    damage_the_lease(durable)
    with pytest.raises(CorruptRecord, match="lease"):
        store.take_lease(RUN.flow_id, BOB, 30.0)  # never granted anew: tokens must not restart
    assert store.leases()[0] == {}
