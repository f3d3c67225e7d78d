"""Locks in ZooKeeper (`zookeeper://host:port[,host:port...]/path`), through kazoo.

Theory of operation. Each lock is one persistent node, `<path>/locks/<name>` (the name
percent-encoded into a single node name, see `provenflow.locks._zookeeper_nodes`), holding its
lease as JSON: the lease `provenflow.persistence._lease` last decided for it, kept after a
release so that tokens never go back. Every operation reads the node (its data and version),
asks `_lease` with the server's time, and writes the result with a **version-checked** `set`
(or a `create` for a lock never held): a compare-and-set. When another client changed the node
in between, the write is refused by the server and the operation starts again from a fresh read,
so every decision is taken on the lease as it is; nothing is merged.

Time. ZooKeeper has no clock query, but it stamps every write with the time of the server that
orders it (the leader of an ensemble): each operation first writes the node `<path>/clock` and
takes its modification time as `now` (millisecond resolution). Leases are thus decided with
the server's clock, not the clocks of the machines that hold locks, so skew between them does
not matter (a change of the leader's clock, or a new leader whose clock differs, moves `now`
like a clock change on a database server). That write also makes the read that follows it
at least as recent as the write itself (ZooKeeper serves each client its own writes in order),
as a `sync` would.

Sessions. Each client session that holds a lock has an ephemeral node
`<path>/sessions/<session id>`, which the server removes when the session ends: the client
closed it (`close`), or the server expired it because it heard nothing for the session timeout
(the holder's process was killed, paused or cut off). The lease records the writer's session,
and `acquire` takes over a live lease whose session node is gone (the `gone` rule of
`_lease.acquire`): unlike a bare lease, ZooKeeper knows such a holder, and the lock need not
wait for the lease to expire. A holder whose session expired but whose lease nobody took over
renews it as usual (from its new session). The fencing token, not the session, is what keeps a
stale holder's writes out: check it with `check`.

Outages. kazoo reconnects in the background after a connection is lost. A request made
meanwhile waits for it up to `_RECONNECT_WAIT` (2 s), and then fails with `StorageUnavailable`
having sent nothing; the next call tries again. A connection cut while a write was on its way,
or a write not answered within the timeout, leaves its outcome unknown, and the error says so:
`acquire` and `renew` can simply be asked again (the same owner gets the same lease back), and
a `release` asked again is refused as `released` when the first one had landed. After `close`,
a call starts a new client (and session), as the other services open new connections.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState

from provenflow.errors import StorageUnavailable
from provenflow.locks._protocol import LockService, check_name, check_ttl, refused
from provenflow.locks._zookeeper_nodes import (
    LeaseRecord,
    decode_lease,
    encode_lease,
    lock_name,
    parse_url,
)
from provenflow.persistence import _lease
from provenflow.persistence._lease import Lease, Owner, Refusal

__all__ = ["ZooKeeperLocks"]

_ATTEMPTS = 100
"""How many times one operation starts again after losing a race to another client's write."""


_RECONNECT_WAIT = 2.0
"""How long a request waits for a client that is reconnecting before it fails unsent (s)."""

_RECONNECT = {"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 1.0}
"""How kazoo reconnects after losing the server: for ever, at most a second apart (its own
default waits up to an hour between attempts after a long outage)."""


@dataclass(frozen=True, slots=True)
class _Request:
    """One request to send: what it is for (in messages) and whether it writes a lock."""

    doing: str
    writes: bool = False


class ZooKeeperLocks(LockService):
    """A lock service in ZooKeeper; see `LockService` for what each method does and the module
    docstring for how. `timeout` is the ZooKeeper session timeout, and how long opening and each
    request may take (seconds); it defaults to the URL's `?timeout=`, else 10 s."""

    def __init__(self, url: str, *, timeout: float | None = None) -> None:
        self._address = parse_url(url)
        self.url = url
        self._timeout = self._address.timeout if timeout is None else check_ttl(timeout, "timeout")
        self._live = threading.Event()
        self._opening = threading.Lock()
        self._noted_session: int | None = None
        self._client: Any = None
        self._open()

    def _open(self) -> None:
        """Start a client (a new session) and make sure the service's nodes exist.

        Raises `StorageUnavailable` when the server cannot be reached within the timeout.
        """
        client = KazooClient(
            hosts=self._address.hosts, timeout=self._timeout, connection_retry=_RECONNECT
        )
        client.add_listener(lambda state: self._follow(client, state))
        self._client = client
        try:
            client.start(timeout=self._timeout)
        except Exception as error:  # kazoo's timeout, a host name that does not resolve, ...
            self._client = None
            client.stop()
            client.close()
            raise StorageUnavailable(self.url, f"cannot connect to ZooKeeper: {error}") from None
        for path in (self._address.locks, self._address.sessions, self._address.clock):
            self._call(f"create {path}", "ensure_path_async", path)

    def acquire(self, name: str, owner: Owner, ttl: float) -> Lease:
        """See `LockService.acquire`; a holder whose ZooKeeper session ended is taken over."""
        name, ttl = check_name(name), check_ttl(ttl)

        def decide(record: LeaseRecord | None, now: float) -> Lease:
            gone = self._session_gone(record, owner)
            decided = _lease.acquire(_lease_of(record), owner, now, ttl, gone=lambda _: gone)
            if isinstance(decided, Refusal):
                raise refused(name, decided, now, None)
            return decided.lease

        return self._change(name, "acquire", decide)

    def renew(self, name: str, owner: Owner, token: int, ttl: float) -> Lease:
        """See `LockService.renew`."""
        name, ttl = check_name(name), check_ttl(ttl)

        def decide(record: LeaseRecord | None, now: float) -> Lease:
            decided = _lease.renew(_lease_of(record), owner, token, now, ttl)
            if isinstance(decided, Refusal):
                raise refused(name, decided, now, token)
            return decided

        return self._change(name, "renew", decide)

    def release(self, name: str, owner: Owner, token: int) -> None:
        """See `LockService.release`."""
        name = check_name(name)

        def decide(record: LeaseRecord | None, now: float) -> Lease:
            decided = _lease.release(_lease_of(record), owner, token)
            if isinstance(decided, Refusal):
                raise refused(name, decided, now, token)
            return decided

        self._change(name, "release", decide)

    def check(self, name: str, token: int) -> None:
        """See `LockService.check`."""
        name = check_name(name)
        doing = f"check lock {name!r}"
        now = self._now(doing)
        record, _ = self._read(self._address.lock_path(name), doing)
        refusal = _lease.check_write(_lease_of(record), token)
        if refusal is not None:
            raise refused(name, refusal, now, token)

    def leases(self) -> tuple[dict[str, Lease], float]:
        """See `LockService.leases`."""
        doing = "list the locks"
        now = self._now(doing)
        nodes = self._call(doing, "get_children_async", self._address.locks)
        found: dict[str, Lease] = {}
        for node in sorted(nodes):
            record, _ = self._read(f"{self._address.locks}/{node}", doing)
            if record is not None:  # else removed by hand meanwhile
                found[lock_name(node)] = record.lease
        return found, now

    def close(self) -> None:
        """End the ZooKeeper session (a later call starts a new one). Held locks are not
        released, but their session node goes with the session, so another owner can take
        them over at once."""
        with self._opening:
            client, self._client = self._client, None
            self._live.clear()
        if client is not None:
            client.stop()
            client.close()

    def _follow(self, client: Any, state: str) -> None:
        """Keep `_live` set while `client`, the service's client, is connected (kazoo calls
        this on each change of its state)."""
        if client is not self._client:
            return
        if state == KazooState.CONNECTED:
            self._live.set()
        else:
            self._live.clear()

    def _change(
        self, name: str, doing: str, decide: Callable[[LeaseRecord | None, float], Lease]
    ) -> Lease:
        """Read the lock `name`, `decide` its new lease with the server's now, and write it
        if nobody changed the node in between; else start again. Return the lease written.

        `decide` raises to refuse, and nothing is written.
        """
        path, doing = self._address.lock_path(name), f"{doing} lock {name!r}"
        write = _Request(doing, writes=True)
        for _ in range(_ATTEMPTS):
            session = self._note_session(doing)
            now = self._now(doing)
            record, version = self._read(path, doing)
            lease = decide(record, now)
            data = encode_lease(lease, session)
            try:
                if version is None:
                    self._call(write, "create_async", path, data)
                else:
                    self._call(write, "set_async", path, data, version)
            except (BadVersionError, NodeExistsError, NoNodeError):
                continue  # another client wrote first: decide again on what it wrote
            return lease
        raise StorageUnavailable(
            self.url,
            f"cannot {doing}: other clients changed it {_ATTEMPTS} times in a row while "
            "this one tried; nothing was changed, try again",
        )

    def _read(self, path: str, doing: str) -> tuple[LeaseRecord | None, int | None]:
        """Return the lease record a lock's node keeps and the node's version (None, None
        when there is no such node: a lock never held)."""

        try:
            data, stat = self._call(doing, "get_async", path)
        except NoNodeError:
            return None, None
        where = f"lock service {self.url}: node {path}"
        return decode_lease(data, where), int(stat.version)

    def _now(self, doing: str) -> float:
        """Return the server's time: the modification time of a write to the clock node."""
        clock = self._address.clock
        stat = self._call(f"{doing} (reading the server's time)", "set_async", clock, b"")
        return int(stat.mtime) / 1000.0

    def _note_session(self, doing: str) -> int:
        """Return this client's session id, after making sure its session node exists."""
        self._wait_for_connection(_Request(doing))
        client = self._client
        client_id = None if client is None else client.client_id
        if client_id is None:  # lost again, or closed, meanwhile
            raise self._unavailable(_Request(doing), "not connected", sent=False)
        session = int(client_id[0])
        if session != self._noted_session:
            path = f"{self._address.sessions}/{session:x}"
            with contextlib.suppress(NodeExistsError):
                self._call(doing, "create_async", path, b"", None, True)
            self._noted_session = session
        return session

    def _session_gone(self, record: LeaseRecord | None, requester: Owner) -> bool:
        """Return whether `record` holds another owner's lease written by a session that
        ended (its session node is gone)."""
        if record is None or record.session is None or not record.lease.held:
            return False
        if record.lease.owner == requester:
            return False
        path = f"{self._address.sessions}/{record.session:x}"
        found = self._call("look for the holder's session", "exists_async", path)
        return found is None

    def _call(self, request: _Request | str, method: str, *args: Any) -> Any:
        """Send one request (`method` names a kazoo `*_async` method) and return its answer.

        Raises `StorageUnavailable` when the client is still not connected after
        `_RECONNECT_WAIT` (nothing is sent), the connection is lost or the session expired on
        the way, or no answer comes within the
        timeout (or the service was closed meanwhile); kazoo's own errors otherwise.
        """
        request = _Request(request) if isinstance(request, str) else request
        self._wait_for_connection(request)
        client = self._client
        if client is None:
            raise self._unavailable(request, "closed meanwhile", sent=False)
        try:
            return getattr(client, method)(*args).get(timeout=self._timeout)
        except (ConnectionLoss, SessionExpiredError, OperationTimeoutError) as error:
            raise self._unavailable(request, type(error).__name__) from None
        except KazooTimeoutError:
            raise self._unavailable(request, f"no answer within {self._timeout:g} s") from None

    def _wait_for_connection(self, request: _Request) -> None:
        """Return once the client is connected (starting a new one after `close`);
        `StorageUnavailable` (nothing sent) when it is still reconnecting after
        `_RECONNECT_WAIT`, or cannot connect at all."""
        if self._client is None:
            with self._opening:
                if self._client is None:
                    self._open()
        if not self._live.wait(_RECONNECT_WAIT):
            why = f"not connected, still reconnecting after {_RECONNECT_WAIT:g} s"
            raise self._unavailable(request, why, sent=False)

    def _unavailable(self, request: _Request, why: str, *, sent: bool = True) -> StorageUnavailable:
        if request.writes and sent:
            outcome = (
                "the change may have landed before the connection was lost: ask again (a "
                "repeated acquire or renew gives the same lease; a repeated release is refused "
                "as released when the first one landed)"
            )
        else:
            outcome = "nothing was changed; try again once it answers"
        return StorageUnavailable(
            self.url,
            f"cannot {request.doing}: ZooKeeper at {self._address.hosts} unreachable ({why}); "
            f"{outcome}",
        )


def _lease_of(record: LeaseRecord | None) -> Lease | None:
    return None if record is None else record.lease
