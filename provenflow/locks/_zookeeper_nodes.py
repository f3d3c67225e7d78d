"""How the ZooKeeper lock service lays out its nodes: its URL, node names and lease records.

Pure: no client and no I/O, so the layout is tested without a server.

- The URL is `zookeeper://host:port[,host:port...]/path[?timeout=SECONDS]`; `timeout` is the
  session timeout (default 10 s). The path (default `/provenflow`) is where the service keeps
  everything: `<path>/locks/<lock>` holds each lock's lease,
  `<path>/sessions/<session id>` is an ephemeral node per client session, and `<path>/clock`
  is written to read the server's time (see `provenflow.locks._zookeeper`).
- A lock's name becomes one node name, whatever it holds: its UTF-8 bytes percent-encoded
  (`/` is `%2F`, `.` is `%2E`, so no name can make `.` or `..` or reach another node), letters,
  digits, `-`, `_` and `~` kept as they are, so that names stay readable in `zkCli.sh`.
- A lease is kept as JSON: `{"owner": {"host", "pid", "id"}, "token", "expires_at", "held",
  "session"}`, where `session` is the ZooKeeper session id (hex) of the client that last wrote it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

from provenflow.errors import CorruptRecord, UsageError
from provenflow.persistence._lease import Lease, Owner

__all__ = ["LeaseRecord", "ZooKeeperAddress", "decode_lease", "encode_lease", "parse_url"]

DEFAULT_PATH = "/provenflow"
DEFAULT_TIMEOUT = 10.0
"""The session timeout, in seconds, when the URL gives none."""


@dataclass(frozen=True, slots=True)
class ZooKeeperAddress:
    """Where a zookeeper:// URL points: the `host:port` list kazoo takes and the root path."""

    hosts: str
    root: str
    timeout: float = DEFAULT_TIMEOUT

    def lock_path(self, name: str) -> str:
        """Return the node that holds the lease of the lock `name` (one node, any name)."""
        return f"{self.locks}/{node_name(name)}"

    @property
    def locks(self) -> str:
        """The parent of every lock's node."""
        return f"{self.root.rstrip('/')}/locks"

    @property
    def sessions(self) -> str:
        """The parent of the ephemeral node of each client session that holds a lock."""
        return f"{self.root.rstrip('/')}/sessions"

    @property
    def clock(self) -> str:
        """The node written to read the server's time (its modification time)."""
        return f"{self.root.rstrip('/')}/clock"


def parse_url(url: str) -> ZooKeeperAddress:
    """Return where `url` (`zookeeper://host:port[,host:port...][/path][?timeout=SECONDS]`)
    points, and its session timeout.

    Raises `UsageError` naming what is wrong: another scheme, no host, credentials, a query
    other than a positive `timeout`, or a path with empty, `.` or `..` parts.
    """
    parts = urlsplit(url)
    form = "zookeeper://host:port[,host:port...][/path][?timeout=SECONDS]"
    if parts.scheme != "zookeeper" or not parts.netloc:
        raise UsageError(f"lock service {url!r}: not a ZooKeeper URL ({form})")
    if "@" in parts.netloc:
        raise UsageError(f"lock service {url!r}: credentials in the URL are not supported")
    if parts.fragment:
        raise UsageError(f"lock service {url!r}: takes no fragment ({form})")
    timeout = _timeout(url, parse_qs(parts.query, keep_blank_values=True), form)
    path = parts.path.rstrip("/") or DEFAULT_PATH
    if any(part in ("", ".", "..") for part in path.split("/")[1:]):
        raise UsageError(
            f"lock service {url!r}: the path {parts.path!r} has an empty, '.' or '..' part"
        )
    return ZooKeeperAddress(parts.netloc, path, timeout)


def _timeout(url: str, query: dict[str, list[str]], form: str) -> float:
    unknown = sorted(set(query) - {"timeout"})
    if unknown:
        raise UsageError(f"lock service {url!r}: unknown option {unknown[0]!r} ({form})")
    if "timeout" not in query:
        return DEFAULT_TIMEOUT
    try:
        timeout = float(query["timeout"][-1])
    except ValueError:
        timeout = math.nan
    if not (timeout > 0 and math.isfinite(timeout)):
        raise UsageError(
            f"lock service {url!r}: timeout must be a positive number of seconds, "
            f"got {query['timeout'][-1]!r}"
        )
    return timeout


def node_name(name: str) -> str:
    """Return the node name that stands for the lock `name` (see the module docstring)."""
    return quote(name, safe="").replace(".", "%2E")


def lock_name(node: str) -> str:
    """Return the lock name a node name stands for (the inverse of `node_name`)."""
    return unquote(node, errors="strict")


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """A lease as a lock's node keeps it, with the session of the client that wrote it (None
    when unknown)."""

    lease: Lease
    session: int | None


def encode_lease(lease: Lease, session: int | None) -> bytes:
    """Return the JSON bytes a lock's node keeps for `lease`, written by `session`."""
    owner = {"host": lease.owner.host, "pid": lease.owner.pid, "id": lease.owner.id}
    record = {
        "owner": owner,
        "token": lease.token,
        "expires_at": lease.expires_at,
        "held": lease.held,
        "session": None if session is None else f"{session:x}",
    }
    return json.dumps(record, sort_keys=True, allow_nan=False).encode()


def decode_lease(data: bytes, where: str) -> LeaseRecord:
    """Return the lease kept as `data`; `CorruptRecord` naming `where` when it is not one."""
    try:
        record = json.loads(data)
        owner, session = record["owner"], record["session"]
        lease = Lease(
            Owner(_text(owner["host"]), _integer(owner["pid"]), _text(owner["id"])),
            _integer(record["token"]),
            _seconds(record["expires_at"]),
            _flag(record["held"]),
        )
        return LeaseRecord(lease, None if session is None else int(_text(session), 16))
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
        problem = f"not a lease record ({type(error).__name__}: {error}): {data[:200]!r}"
        raise CorruptRecord(where, problem) from None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    return value


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number of seconds")
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not finite")
    return float(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{value!r} is not true or false")
    return value
