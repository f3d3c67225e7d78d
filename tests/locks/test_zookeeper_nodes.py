"""The ZooKeeper lock service's layout, without a server: URLs, node names and lease records."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenflow.errors import CorruptRecord, UsageError
from provenflow.locks._zookeeper_nodes import (
    decode_lease,
    encode_lease,
    lock_name,
    node_name,
    parse_url,
)
from provenflow.persistence._lease import Lease, Owner


def test_a_url_gives_the_hosts_and_the_root_of_every_node() -> None:
    address = parse_url("zookeeper://zk1:2181,zk2:2181/apps/orders/")
    assert address.hosts == "zk1:2181,zk2:2181"
    assert address.root == "/apps/orders"
    assert address.locks == "/apps/orders/locks"
    assert address.sessions == "/apps/orders/sessions"
    assert address.clock == "/apps/orders/clock"
    assert address.lock_path("a/b") == "/apps/orders/locks/a%2Fb"
    assert address.timeout == 10.0
    assert parse_url("zookeeper://127.0.0.1:2181/x?timeout=2.5").timeout == 2.5
    assert parse_url("zookeeper://127.0.0.1:2181").root == "/provenflow"
    assert parse_url("zookeeper://127.0.0.1:2181/").root == "/provenflow"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://127.0.0.1:6379/0", "not a ZooKeeper URL"),
        ("zookeeper:///locks", "not a ZooKeeper URL"),
        ("zookeeper://me:secret@127.0.0.1:2181/locks", "credentials"),
        ("zookeeper://127.0.0.1:2181/locks#here", "no fragment"),
        ("zookeeper://127.0.0.1:2181/locks?timout=3", "unknown option 'timout'"),
        ("zookeeper://127.0.0.1:2181/locks?timeout=0", "positive number of seconds, got '0'"),
        ("zookeeper://127.0.0.1:2181/locks?timeout=soon", "got 'soon'"),
        ("zookeeper://127.0.0.1:2181/locks?timeout=inf", "got 'inf'"),
        ("zookeeper://127.0.0.1:2181/a//b", "empty, '.' or '..' part"),
        ("zookeeper://127.0.0.1:2181/a/../b", "empty, '.' or '..' part"),
    ],
)
def test_bad_urls_are_refused_clearly(url: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_url(url)


@pytest.mark.parametrize("name", ["a/b", "/", ".", "..", "a.b", "%2F", "zookeeper", "名前 🔒"])
def test_any_name_is_one_node_name_that_cannot_escape(name: str) -> None:
    node = node_name(name)
    assert "/" not in node
    assert node not in (".", "..")
    assert lock_name(node) == name


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1))
def test_node_names_are_one_to_one(name: str) -> None:
    node = node_name(name)
    assert lock_name(node) == name
    assert "/" not in node and "." not in node


def test_distinct_names_get_distinct_nodes() -> None:
    names = ["a/b", "a%2Fb", "a%2fb", "a.b", "a%2Eb", "a b", "a+b"]
    assert len({node_name(name) for name in names}) == len(names)


def test_a_lease_record_round_trips_with_its_session() -> None:
    lease = Lease(Owner("host", 12, "abc"), 7, 1_800_000_000.25, held=False)
    record = decode_lease(encode_lease(lease, 0x1000ABC), "here")
    assert record.lease == lease
    assert record.session == 0x1000ABC
    assert decode_lease(encode_lease(lease, None), "here").session is None


GOOD = {
    "owner": {"host": "h", "pid": 1, "id": "x"},
    "token": 1,
    "expires_at": 1.5,
    "held": True,
    "session": "ff",
}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b"{}",
        json.dumps({**GOOD, "token": "1"}).encode(),
        json.dumps({**GOOD, "token": True}).encode(),
        json.dumps({**GOOD, "held": 1}).encode(),
        json.dumps({**GOOD, "expires_at": None}).encode(),
        json.dumps({**GOOD, "session": "not hex"}).encode(),
        json.dumps({**GOOD, "owner": ["h", 1, "x"]}).encode(),
        b'{"owner": {"host": "h", "pid": 1, "id": "x"}, "token": 1, "expires_at": NaN, '
        b'"held": true, "session": null}',
    ],
)
def test_a_node_that_holds_no_lease_is_a_corrupt_record(data: bytes) -> None:
    with pytest.raises(CorruptRecord, match="not a lease record") as corrupt:
        decode_lease(data, "lock service zookeeper://h/p: node /p/locks/x")
    assert corrupt.value.where == "lock service zookeeper://h/p: node /p/locks/x"
