"""The test ZooKeeper server: where it is, whether it answers, and how to break a session.

The server comes from `PROVENFLOW_TEST_ZOOKEEPER_URL` (default
`zookeeper://127.0.0.1:2181/provenflow-test`; `.ci/zookeeper` installs and starts Debian's
zookeeperd there). Each test gets a path of its own under the URL's path (the `zookeeper_url`
fixture of `tests/conftest.py`), removed with everything under it after the test. When the server
cannot be reached the tests that need it are skipped, saying why, except under `CI=true`, where
they fail.

`expire_session(client)` expires a client's session on the server for real: a second client
joins the same session (its id and password) and closes it, so the server drops the session
and its ephemeral nodes, and the first client learns it on its next request, as it would after
a partition longer than its session timeout.

`ZooKeeperServer` is a server of a test's own, to stop and start again (an outage made for
real, without stopping the server other tests share).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ZOOKEEPER_URL = os.environ.get(
    "PROVENFLOW_TEST_ZOOKEEPER_URL", "zookeeper://127.0.0.1:2181/provenflow-test"
)
_problem: list[str | None] = []


def hosts_and_path(url: str) -> tuple[str, str]:
    """Return the `host:port[,host:port...]` list and the node path of a zookeeper:// URL."""
    parts = urlsplit(url)
    if parts.scheme != "zookeeper" or not parts.netloc:
        raise ValueError(f"not a zookeeper://host:port/path URL: {url!r}")
    return parts.netloc, parts.path.rstrip("/") or "/"


@contextmanager
def zookeeper_client(hosts: str, timeout: float = 10.0) -> Iterator[Any]:
    """A started kazoo client on `hosts` (not chrooted), stopped and closed after."""
    from kazoo.client import KazooClient  # noqa: PLC0415

    client = KazooClient(hosts=hosts, timeout=timeout)
    client.start(timeout=timeout)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def zookeeper_unavailable() -> str | None:
    """Return why ZooKeeper cannot be used for tests, or None when it can (checked once)."""
    if not _problem:
        _problem.append(_probe())
    return _problem[0]


def _probe() -> str | None:
    try:
        import kazoo  # noqa: F401, PLC0415
    except ImportError as error:
        return f"kazoo is not installed ({error}); install provenflow[zookeeper]"
    hosts, _ = hosts_and_path(ZOOKEEPER_URL)
    logging.getLogger("kazoo.client").setLevel(logging.ERROR)
    try:
        with zookeeper_client(hosts, timeout=3.0) as client:
            client.get_children("/")
    except Exception as error:  # any reason at all: report it
        return (
            f"ZooKeeper at {ZOOKEEPER_URL} is unreachable ({error!r}); "
            "`.ci/zookeeper` installs and starts one"
        )
    return None


def require_zookeeper() -> None:
    """Skip the calling test when ZooKeeper is unreachable; fail instead under CI=true."""
    problem = zookeeper_unavailable()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: ZooKeeper tests must run)")
    pytest.skip(problem)


@contextmanager
def fresh_zookeeper_url() -> Iterator[str]:
    """A zookeeper:// URL to a path of its own (not created), removed with its content after."""
    require_zookeeper()
    hosts, base = hosts_and_path(ZOOKEEPER_URL)
    path = f"{base.rstrip('/')}/t-{uuid.uuid4().hex[:12]}"
    try:
        yield f"zookeeper://{hosts}{path}"
    finally:
        with zookeeper_client(hosts) as client:
            client.delete(path, recursive=True)


def expire_session(client: Any) -> None:
    """Expire the session of the connected kazoo `client` on the server (see the module
    docstring). Returns once the server has closed the session; `client` notices it soon after
    (the server tells it), at the latest on its next request.
    """
    from kazoo.client import KazooClient  # noqa: PLC0415

    session = client.client_id
    assert session is not None, "the client has no session to expire (it is not connected)"
    hosts = ",".join(f"{host}:{port}" for host, port in client.hosts)
    twin = KazooClient(hosts=hosts, client_id=session)
    twin.start(timeout=10.0)
    twin.stop()  # sends closeSession for the shared session
    twin.close()


class ZooKeeperServer:
    """A ZooKeeper server of a test's own (Debian's zookeeperd classes, a JVM started here),
    on a free port with its data in `directory`: for outages made for real, which the shared
    server must not suffer. `start()` starts it (again, on the same port and data, after
    `stop()`) and returns once it serves; `stop()` kills it as a crash would (SIGKILL).
    Use it as a context manager: the process is stopped on exit, whatever happened.
    """

    JAR = Path("/usr/share/java/zookeeper.jar")

    def __init__(self, directory: Path) -> None:
        if not self.JAR.exists():
            problem = f"{self.JAR} is missing; `.ci/zookeeper` installs Debian's zookeeperd"
            if os.environ.get("CI") == "true":
                pytest.fail(f"{problem} (CI=true: ZooKeeper tests must run)")
            pytest.skip(problem)
        self.directory = directory
        self.port = _free_port()
        self.hosts = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "zoo.cfg").write_text(
            f"tickTime=500\ndataDir={directory / 'data'}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
        )

    def url(self, path: str = "/provenflow-test") -> str:
        """Return the zookeeper:// URL of `path` on this server."""
        return f"zookeeper://{self.hosts}{path}"

    def start(self, deadline: float = 60.0) -> None:
        """Start the server and return once a session can be opened on it."""
        assert self.process is None, "the server is already running"
        command = [
            shutil.which("java") or "java",
            "-Xmx96m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Dzookeeper.root.logger=INFO,CONSOLE",
            "-cp",
            f"{self.JAR}:/etc/zookeeper/conf",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.directory / "zoo.cfg"),
        ]
        with (self.directory / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        give_up = time.monotonic() + deadline
        while time.monotonic() < give_up and self.process.poll() is None:
            try:
                with zookeeper_client(self.hosts, timeout=2.0) as client:
                    client.get_children("/")
                return
            except Exception:  # not serving yet: try again until the deadline
                continue
        status = self.process.poll()
        self.stop()
        tail = (self.directory / "server.log").read_text(errors="replace")[-3000:]
        raise AssertionError(
            f"ZooKeeper on {self.hosts} did not serve within {deadline:g} s "
            f"(exit status {status}):\n{tail}"
        )

    def stop(self) -> None:
        """Kill the server (SIGKILL) and wait for it to be gone; nothing if it is not running."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None

    def __enter__(self) -> ZooKeeperServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _free_port() -> int:
    """Return a port free on 127.0.0.1, below the range the kernel gives outgoing connections
    (so that no client's own end takes it while the server is down, or meets itself there)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(low // 2, low), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port found below {low}")


def expire_on_next_request(service: Any) -> None:
    """Make the server end the session of a ZooKeeper lock service (`service._client`) just
    as the service sends its next request, once: that request finds its connection gone.

    kazoo sends every request through its client's `_call`; it is wrapped once, so that the
    session is expired (`expire_session`) the moment before the request is queued.
    """
    client = service._client
    send = client._call

    def expired_first(*args: Any) -> Any:
        client._call = send  # once
        expire_session(client)
        return send(*args)

    client._call = expired_first
