"""The ZooKeeper lock service on real servers: what the conformance suite cannot show.

Its nodes (one per lock, whatever the name), the server's time, a decision taken on a stale
read that does not land, racing clients, a holder whose session the server expired, a server
that goes away and comes back, and opening it (by URL, unreachable, without kazoo).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.protocol.states import KazooState

from provenflow.errors import CorruptRecord, LockHeld, LockLost, StorageUnavailable, UsageError
from provenflow.locks import Lease, _zookeeper, new_owner, open_locks
from provenflow.locks._zookeeper import ZooKeeperLocks
from provenflow.locks._zookeeper_nodes import parse_url
from tests.zookeeper_helpers import (
    ZooKeeperServer,
    expire_session,
    hosts_and_path,
    zookeeper_client,
)


@pytest.fixture
def service(zookeeper_url: str) -> Iterator[ZooKeeperLocks]:
    opened = ZooKeeperLocks(zookeeper_url)
    try:
        yield opened
    finally:
        opened.close()


class States:
    """The connection states a service's kazoo client goes through, to wait for one."""

    def __init__(self, service: ZooKeeperLocks) -> None:
        self._seen: queue.Queue[str] = queue.Queue()
        service._client.add_listener(self._seen.put)

    def wait_for(self, state: str, timeout: float = 30.0) -> None:
        while True:
            try:
                seen = self._seen.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"the client never became {state}") from None
            if seen == state:
                return


def test_open_locks_gives_the_zookeeper_service(zookeeper_url: str) -> None:
    service = open_locks(zookeeper_url)
    try:
        assert isinstance(service, ZooKeeperLocks)
        assert service.url == zookeeper_url
        assert service.leases()[0] == {}
    finally:
        service.close()


def test_each_lock_is_one_node_of_json_whatever_its_name(
    service: ZooKeeperLocks, zookeeper_url: str
) -> None:
    owner = new_owner()
    names = ["a", "a/b", "a/b/c", "../a", "a%2Fb", "."]
    for name in names:
        service.acquire(name, owner, 30.0)
    hosts, root = hosts_and_path(zookeeper_url)
    with zookeeper_client(hosts) as client:
        nodes = client.get_children(f"{root}/locks")
        assert len(nodes) == len(names)
        for node in nodes:  # no name made a node inside another
            assert client.get_children(f"{root}/locks/{node}") == []
        data, _ = client.get(parse_url(zookeeper_url).lock_path("a/b"))
    record = json.loads(data)
    assert record["token"] == 1 and record["held"] is True
    assert record["owner"] == {"host": owner.host, "pid": owner.pid, "id": owner.id}
    assert set(service.leases()[0]) == set(names)


def test_time_is_the_server_s_time_of_a_write_to_the_clock_node(
    service: ZooKeeperLocks, zookeeper_url: str
) -> None:
    lease = service.acquire("orders", new_owner(), 10.0)
    hosts, _ = hosts_and_path(zookeeper_url)
    with zookeeper_client(hosts) as client:
        _, clock = client.get(parse_url(zookeeper_url).clock)
    assert lease.expires_at == pytest.approx(clock.mtime / 1000 + 10.0, abs=1e-6)
    _, now = service.leases()
    assert now >= clock.mtime / 1000


@pytest.mark.parametrize("before", ["never held", "released"])
def test_a_decision_on_a_stale_read_does_not_land(zookeeper_url: str, before: str) -> None:
    slow, quick = ZooKeeperLocks(zookeeper_url), ZooKeeperLocks(zookeeper_url)
    try:
        token = 0
        if before == "released":  # the write is a version-checked set, else a create
            first = new_owner()
            token = quick.acquire("orders", first, 30.0).token
            quick.release("orders", first, token)
        rival = new_owner()
        real_read = slow._read
        reads: list[object] = []

        def read_then_lose_the_race(path: str, doing: str) -> Any:
            found = real_read(path, doing)
            reads.append(found)
            if len(reads) == 1:  # between slow's read and its write, another client acquires
                quick.acquire("orders", rival, 30.0)
            return found

        slow._read = read_then_lose_the_race  # type: ignore[method-assign]
        with pytest.raises(LockHeld) as held:
            slow.acquire("orders", new_owner(), 30.0)
        assert held.value.holder == str(rival)
        assert len(reads) == 2  # refused on a fresh read, after its write was turned down
        leases, _ = quick.leases()
        assert (leases["orders"].owner, leases["orders"].token) == (rival, token + 1)
    finally:
        slow.close()
        quick.close()


def test_an_operation_that_keeps_losing_races_gives_up_clearly(
    zookeeper_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_zookeeper, "_ATTEMPTS", 3)
    slow, quick = ZooKeeperLocks(zookeeper_url), ZooKeeperLocks(zookeeper_url)
    try:
        rival = new_owner()
        lease = quick.acquire("orders", rival, 30.0)
        real_read = slow._read

        def read_then_lose_the_race(path: str, doing: str) -> Any:
            found = real_read(path, doing)
            quick.renew("orders", rival, lease.token, 30.0)  # changes the node each time
            return found

        slow._read = read_then_lose_the_race  # type: ignore[method-assign]
        with pytest.raises(StorageUnavailable, match="changed it 3 times in a row") as gave_up:
            slow.renew("orders", rival, lease.token, 60.0)
        assert "cannot renew lock 'orders'" in str(gave_up.value)
        assert "nothing was changed" in str(gave_up.value)
        leases, now = quick.leases()
        assert leases["orders"].expires_at <= now + 30.0  # quick's renewals, not slow's 60 s
    finally:
        slow.close()
        quick.close()


def contend(services: list[ZooKeeperLocks], name: str) -> list[tuple[ZooKeeperLocks, Lease]]:
    """Let every service try to acquire `name` at the same moment, each for an owner of its
    own; return the (service, lease) of those that got it (the others got `LockHeld`)."""
    barrier = threading.Barrier(len(services))
    winners: list[tuple[ZooKeeperLocks, Lease]] = []
    outcomes: list[object] = []

    def attempt(service: ZooKeeperLocks) -> None:
        owner = new_owner()
        barrier.wait()
        try:
            winners.append((service, service.acquire(name, owner, 30.0)))
            outcomes.append("won")
        except LockHeld as error:
            outcomes.append(error)

    threads = [threading.Thread(target=attempt, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == len(services), outcomes  # every attempt won or was refused held
    return winners


def test_racing_clients_get_one_holder_and_increasing_tokens(zookeeper_url: str) -> None:
    services = [ZooKeeperLocks(zookeeper_url) for _ in range(4)]
    try:
        tokens = []
        for _ in range(10):
            winners = contend(services, "orders")
            assert len(winners) == 1, winners
            winner, lease = winners[0]
            tokens.append(lease.token)
            winner.release("orders", lease.owner, lease.token)
        assert tokens == list(range(1, 11))
    finally:
        for service in services:
            service.close()


def test_a_holder_whose_session_expired_is_taken_over_and_fenced(zookeeper_url: str) -> None:
    holder_service, other = ZooKeeperLocks(zookeeper_url), ZooKeeperLocks(zookeeper_url)
    try:
        states = States(holder_service)
        holder = new_owner()
        lease = holder_service.acquire("orders", holder, 600.0)
        with pytest.raises(LockHeld):
            other.acquire("orders", new_owner(), 30.0)

        expire_session(holder_service._client)

        taken = other.acquire("orders", new_owner(), 30.0)  # long before the lease expires
        assert taken.token == lease.token + 1
        assert taken.expires_at < lease.expires_at
        states.wait_for(KazooState.LOST)
        states.wait_for(KazooState.CONNECTED)  # kazoo opened a new session
        with pytest.raises(LockLost, match=f"current token is {taken.token}"):
            holder_service.renew("orders", holder, lease.token, 30.0)
        with pytest.raises(LockLost):
            other.check("orders", lease.token)
        other.check("orders", taken.token)
    finally:
        holder_service.close()
        other.close()


HOLDER = """
import sys
from provenflow.locks import new_owner, open_locks

service = open_locks(sys.argv[1] + "?timeout=4")  # the server ends its session 4 s after
print(service.acquire("orders", new_owner(), 600.0).token, flush=True)
sys.stdin.read()  # holds the lock until killed
"""


def test_a_killed_holder_is_taken_over_once_the_server_expires_its_session(
    zookeeper_url: str,
) -> None:
    root = Path(__file__).resolve().parents[2]
    environment = {
        **os.environ,
        "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, zookeeper_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=environment,
    )
    other = None
    try:
        assert holder.stdout is not None
        token = int(holder.stdout.readline())
        other = ZooKeeperLocks(zookeeper_url)
        with pytest.raises(LockHeld) as held:
            other.acquire("orders", new_owner(), 30.0)
        address = parse_url(zookeeper_url)
        with zookeeper_client(address.hosts) as client:
            session = json.loads(client.get(address.lock_path("orders"))[0])["session"]
            ended = threading.Event()
            assert client.exists(f"{address.sessions}/{session}", watch=lambda _: ended.set())

            holder.kill()  # no goodbye to the server: its session ends when the server says so
            holder.wait(timeout=30)
            assert ended.wait(30.0), "the server did not expire the killed holder's session"

        taken = other.acquire("orders", new_owner(), 30.0)
        assert taken.token == token + 1
        assert taken.expires_at - 30.0 < held.value.expires_at - 500  # taken over long before
    finally:
        holder.kill()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
        if holder.stdin is not None:
            holder.stdin.close()
        if other is not None:
            other.close()


def test_a_holder_whose_session_expired_renews_when_nobody_took_over(
    zookeeper_url: str,
) -> None:
    holder_service, other = ZooKeeperLocks(zookeeper_url), ZooKeeperLocks(zookeeper_url)
    try:
        states = States(holder_service)
        holder = new_owner()
        lease = holder_service.acquire("orders", holder, 600.0)
        expire_session(holder_service._client)
        states.wait_for(KazooState.LOST)
        states.wait_for(KazooState.CONNECTED)
        renewed = holder_service.renew("orders", holder, lease.token, 600.0)
        assert renewed.token == lease.token
        with pytest.raises(LockHeld):  # its new session is alive: no takeover
            other.acquire("orders", new_owner(), 30.0)
    finally:
        holder_service.close()
        other.close()


def test_closing_the_holder_s_service_lets_another_take_over_at_once(
    zookeeper_url: str,
) -> None:
    holder_service, other = ZooKeeperLocks(zookeeper_url), ZooKeeperLocks(zookeeper_url)
    try:
        lease = holder_service.acquire("orders", new_owner(), 600.0)
        holder_service.close()
        taken = other.acquire("orders", new_owner(), 30.0)
        assert taken.token == lease.token + 1
        assert holder_service.leases()[0]["orders"] == taken  # used again: a new session
    finally:
        other.close()


def test_a_server_outage_is_reported_and_the_service_goes_on_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_zookeeper, "_RECONNECT_WAIT", 0.2)  # each call waits this long
    with ZooKeeperServer(tmp_path / "zookeeper") as server:
        service = ZooKeeperLocks(server.url("/locks"), timeout=10.0)
        try:
            states = States(service)
            owner = new_owner()
            lease = service.acquire("orders", owner, 600.0)

            server.stop()
            states.wait_for(KazooState.SUSPENDED)
            for attempt in (
                lambda: service.acquire("orders", new_owner(), 30.0),
                lambda: service.renew("orders", owner, lease.token, 30.0),
                lambda: service.release("orders", owner, lease.token),
                lambda: service.check("orders", lease.token),
                service.leases,
            ):
                with pytest.raises(StorageUnavailable) as unavailable:
                    attempt()
                assert server.hosts in str(unavailable.value)
                assert "still reconnecting after 0.2 s" in str(unavailable.value)
                assert "nothing was changed" in str(unavailable.value)

            server.start()
            states.wait_for(KazooState.CONNECTED)
            assert service.renew("orders", owner, lease.token, 600.0).token == lease.token
            service.check("orders", lease.token)
            with pytest.raises(LockHeld):
                service.acquire("orders", new_owner(), 30.0)
        finally:
            service.close()


def test_a_write_cut_off_on_its_way_says_it_may_have_landed(tmp_path: Path) -> None:
    with ZooKeeperServer(tmp_path / "zookeeper") as server:
        service = ZooKeeperLocks(server.url("/locks"), timeout=2.0)
        try:
            states = States(service)
            real_create = service._client.create_async

            def create_as_the_server_dies(path: str, *args: Any) -> Any:
                if "/locks/locks/" in path:  # the lock's own write: the server goes first
                    server.stop()
                return real_create(path, *args)

            service._client.create_async = create_as_the_server_dies
            owner = new_owner()
            with pytest.raises(StorageUnavailable, match="may have landed") as unavailable:
                service.acquire("orders", owner, 600.0)
            assert "ask again" in str(unavailable.value)

            server.start()
            states.wait_for(KazooState.CONNECTED)
            lease = service.acquire("orders", owner, 600.0)  # asking again is safe
            assert lease.token == 1
        finally:
            service.close()


def test_an_unreachable_server_is_refused_when_opening(tmp_path: Path) -> None:
    server = ZooKeeperServer(tmp_path / "zookeeper")  # never started: nothing listens
    with pytest.raises(StorageUnavailable, match="cannot connect to ZooKeeper") as unavailable:
        ZooKeeperLocks(server.url(), timeout=1.0)
    assert unavailable.value.url == server.url()


def test_without_kazoo_open_locks_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "provenflow.locks._zookeeper")
    monkeypatch.setitem(sys.modules, "kazoo.client", None)
    with pytest.raises(UsageError, match=r"install provenflow\[zookeeper\]"):
        open_locks("zookeeper://127.0.0.1:2181/locks")


def test_a_corrupt_lock_node_is_reported_and_left_alone(
    service: ZooKeeperLocks, zookeeper_url: str
) -> None:
    path = parse_url(zookeeper_url).lock_path("orders")
    hosts, _ = hosts_and_path(zookeeper_url)
    with zookeeper_client(hosts) as client:
        client.create(path, b"not json", makepath=True)
        for attempt in (
            lambda: service.acquire("orders", new_owner(), 30.0),
            lambda: service.check("orders", 1),
            service.leases,
        ):
            with pytest.raises(CorruptRecord, match=r"node .*/locks/orders: not a lease record"):
                attempt()
        assert client.get(path)[0] == b"not json"
