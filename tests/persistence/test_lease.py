"""The lease decisions (`provenflow.persistence._lease`), pure: given a lease, a time, a request."""

from __future__ import annotations

import pickle

import pytest

import provenflow as pf
from provenflow.persistence._lease import (
    Grant,
    Lease,
    Owner,
    Refusal,
    acquire,
    check_write,
    release,
    renew,
    run_refused,
)

ALICE = Owner("host-a", 11, "a" * 32)
BOB = Owner("host-b", 22, "b" * 32)


def granted(decided: Grant | Refusal) -> Grant:
    assert isinstance(decided, Grant), decided
    return decided


def test_a_thing_never_leased_is_granted_with_token_1() -> None:
    grant = granted(acquire(None, ALICE, 100.0, 30.0))
    assert grant == Grant(Lease(ALICE, 1, 130.0))


def test_a_live_lease_of_another_owner_is_refused_and_an_expired_one_taken_over() -> None:
    current = Lease(ALICE, 3, 130.0)
    assert acquire(current, BOB, 129.9, 30.0) == Refusal("held", current)
    grant = granted(acquire(current, BOB, 130.0, 30.0))
    assert grant == Grant(Lease(BOB, 4, 160.0), taken_over=current)


def test_the_lease_of_an_owner_known_to_be_gone_is_taken_over_before_it_expires() -> None:
    current = Lease(ALICE, 3, 130.0)
    grant = granted(acquire(current, BOB, 100.0, 30.0, gone=lambda owner: owner == ALICE))
    assert grant == Grant(Lease(BOB, 4, 130.0), taken_over=current)


def test_the_holder_gets_its_lease_again_with_the_same_token() -> None:
    current = Lease(ALICE, 3, 130.0)
    assert granted(acquire(current, ALICE, 120.0, 30.0)) == Grant(Lease(ALICE, 3, 150.0))


def test_a_released_lease_is_granted_with_the_next_token_and_no_takeover() -> None:
    released = Lease(ALICE, 3, 130.0, held=False)
    assert granted(acquire(released, ALICE, 100.0, 30.0)) == Grant(Lease(ALICE, 4, 130.0))
    assert granted(acquire(released, BOB, 100.0, 30.0)) == Grant(Lease(BOB, 4, 130.0))


def test_tokens_strictly_increase_through_releases_and_takeovers() -> None:
    lease: Lease | None = None
    tokens = []
    now = 0.0
    for step in range(12):
        owner = (ALICE, BOB)[step % 2]
        grant = granted(acquire(lease, owner, now, 10.0))
        lease = grant.lease
        tokens.append(lease.token)
        if step % 3 == 0:
            released = release(lease, owner, lease.token)
            assert isinstance(released, Lease)
            lease = released
        now += 10.0  # every lease has expired by the next step
    assert tokens == sorted(set(tokens)) == list(range(1, 13))


def test_only_the_holder_renews_even_after_expiry_until_someone_takes_over() -> None:
    current = Lease(ALICE, 3, 130.0)
    assert renew(current, ALICE, 3, 200.0, 30.0) == Lease(ALICE, 3, 230.0)
    assert renew(current, ALICE, 2, 100.0, 30.0) == Refusal("lost", current)
    assert renew(current, BOB, 3, 100.0, 30.0) == Refusal("lost", current)
    assert renew(None, ALICE, 3, 100.0, 30.0) == Refusal("unleased", None)
    taken = granted(acquire(current, BOB, 131.0, 30.0)).lease
    assert renew(taken, ALICE, 3, 131.0, 30.0) == Refusal("lost", taken)


def test_release_keeps_the_token_and_only_the_holder_may_release() -> None:
    current = Lease(ALICE, 3, 130.0)
    assert release(current, ALICE, 3) == Lease(ALICE, 3, 130.0, held=False)
    assert release(current, BOB, 3) == Refusal("lost", current)
    released = Lease(ALICE, 3, 130.0, held=False)
    assert release(released, ALICE, 3) == Refusal("lost", released)


def test_a_write_must_carry_the_current_token_of_a_held_lease() -> None:
    current = Lease(ALICE, 3, 130.0)
    assert check_write(current, 3) is None
    assert check_write(current, 2) == Refusal("lost", current)
    assert check_write(current, None) == Refusal("held", current)
    released = Lease(ALICE, 3, 130.0, held=False)
    assert check_write(released, 3) == Refusal("lost", released)
    assert check_write(released, None) is None
    assert check_write(None, None) is None
    assert check_write(None, 1) == Refusal("lost", None)


def test_an_expired_lease_nobody_took_over_still_lets_its_holder_write() -> None:
    assert check_write(Lease(ALICE, 3, 130.0), 3) is None  # the store reads no clock to fence


def test_refusals_become_errors_that_name_the_owner_the_expiry_and_the_tokens() -> None:
    owned = run_refused("run-7", Refusal("held", Lease(ALICE, 3, 130.0)), 100.0, None)
    assert isinstance(owned, pf.RunOwned)
    assert owned.owner == str(ALICE) and owned.expires_at == 130.0
    assert "run 'run-7' is owned by engine aaaaaaaa (pid 11 on host-a)" in str(owned)
    assert "1970-01-01 00:02:10 UTC (in 30.0 s)" in str(owned)
    lost = run_refused("run-7", Refusal("lost", Lease(BOB, 4, 160.0)), 140.0, 3)
    assert isinstance(lost, pf.LeaseLost) and isinstance(lost, pf.StaleVersion)
    assert str(lost) == (
        "run 'run-7': this engine's lease (token 3) was taken over (the current token is 4); "
        "it is now held by engine bbbbbbbb (pid 22 on host-b). This engine must stop (nothing "
        "was written); load the run again to continue it"
    )
    released = run_refused("run-7", Refusal("lost", Lease(ALICE, 3, 1.0, held=False)), 2.0, 3)
    assert "(token 3) was released; nobody holds it now" in str(released)


@pytest.mark.parametrize(
    "error",
    [
        pf.RunOwned("run-7", str(ALICE), 130.0, 100.0),
        pf.LeaseLost("run-7", 3, str(BOB), "taken over (the current token is 4)"),
    ],
)
def test_the_lease_errors_pickle(error: Exception) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.args, str(again)) == (type(error), error.args, str(error))
