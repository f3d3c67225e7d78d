"""Every backend answers like the pure lease rules: random sequences of operations by a few
owners, on a couple of locks, give the same outcomes on each backend as on the memory service
(which applies `provenflow.persistence._lease` directly). The Redis scripts restate those rules
in Lua; this is what keeps them the same. Leases are long here: expiry has its own tests."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenflow.errors import LockHeld, LockLost
from provenflow.locks import LockService, MemoryLocks, Owner
from tests.locks.conftest import Backend

OWNERS = [Owner("host-a", 1, "one"), Owner("host-a", 2, "two"), Owner("host-b", 1, "one")]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("acquire"), st.integers(0, 2), st.integers(0, 1), st.just(0)),
        st.tuples(st.just("renew"), st.integers(0, 2), st.integers(0, 1), st.integers(0, 4)),
        st.tuples(st.just("release"), st.integers(0, 2), st.integers(0, 1), st.integers(0, 4)),
        st.tuples(st.just("check"), st.just(0), st.integers(0, 1), st.integers(0, 4)),
    ),
    max_size=25,
)


def outcome(service: LockService, kind: str, name: str, owner: Owner, token: int) -> object:
    """What one operation gave: its lease's owner, token and held flag, or the refusal."""
    try:
        if kind == "acquire":
            lease = service.acquire(name, owner, 3_600.0)
        elif kind == "renew":
            lease = service.renew(name, owner, token, 3_600.0)
        elif kind == "release":
            return ("ok", service.release(name, owner, token))
        else:
            return ("ok", service.check(name, token))
    except LockHeld as held:
        return ("held", held.holder)
    except LockLost as lost:
        return ("lost", lost.holder, str(lost).split("; ")[0])
    return ("ok", lease.owner, lease.token, lease.held)


def play(service: LockService, prefix: str, steps: list[tuple[str, int, int, int]]) -> list[object]:
    """Return the outcome of each step on locks named `prefix` + 0 or 1, then the listing."""
    seen = [
        outcome(service, kind, f"{prefix}{lock}", OWNERS[who], token)
        for kind, who, lock, token in steps
    ]
    listed = service.leases()[0]
    mine = [
        (name[len(prefix) :], lease) for name, lease in listed.items() if name.startswith(prefix)
    ]
    seen.append(sorted((name, lease.owner, lease.token, lease.held) for name, lease in mine))
    return seen


@pytest.mark.parametrize("locks", ["sqlite", "postgresql", "redis", "zookeeper"], indirect=True)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=operations)
def test_each_backend_follows_the_lease_rules(
    locks: Backend, steps: list[tuple[str, int, int, int]]
) -> None:
    prefix = f"{uuid.uuid4().hex[:8]}/"  # a fresh pair of locks for each example
    expected = play(MemoryLocks(), prefix, steps)
    assert play(locks.open(), prefix, steps) == expected
