"""A holder paused past its lease, in a real process: taken over, fenced, and told it lost.

A child process holds a lock (`lease(ttl=1)`) and is stopped with SIGSTOP. Its lease expires in
the service's clock and this process takes the lock over. When the child is continued, its
renewal is refused: `held.lost` is set, `held.check()` raises, and the service refuses its
token. This is the scenario fencing tokens exist for (docs/locks.md).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from provenflow.locks import new_owner, open_locks
from tests.locks.conftest import Backend

ROOT = Path(__file__).resolve().parent.parent.parent

CHILD = """
import json, sys
from provenflow.errors import LockLost
from provenflow.locks import open_locks

service = open_locks(sys.argv[1])
try:
    with service.lease("orders", ttl=1.0) as held:
        print(json.dumps({"token": held.token}), flush=True)
        sys.stdin.readline()  # the parent says when to look
        lost = held.lost.wait(30)
        try:
            held.check()
            checked = None
        except LockLost as error:
            checked = error.holder
        try:
            service.check("orders", held.token)
            fenced = False
        except LockLost:
            fenced = True
except LockLost as error:  # leaving the block says the lock was lost while it ran
    print(json.dumps({"lost": lost, "checked": checked, "fenced": fenced, "exit": str(error)}))
"""


def _holds_the_database(backend: Backend) -> bool:
    """Whether a transaction is open on the lock's row (SQL): a renewal under way."""
    if backend.name == "sqlite":
        path = backend.url.removeprefix("sqlite:///")
        connection = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            connection.close()
    if backend.name == "postgresql":
        engine = sa.create_engine(
            backend.url.replace("postgresql://", "postgresql+psycopg://", 1),
            poolclass=sa.NullPool,
        )
        try:
            with engine.begin() as conn:
                query = "SELECT 1 FROM provenflow_locks WHERE name = 'orders' FOR UPDATE NOWAIT"
                conn.execute(sa.text(query))
            return False
        except sa.exc.OperationalError:
            return True
        finally:
            engine.dispose()
    return False  # Redis: each operation is one script; nothing stays locked


def _pause_between_renewals(pid: int, backend: Backend) -> None:
    """Stop the process `pid` (SIGSTOP) at a moment it holds no database lock: a holder
    stopped inside a renewal's transaction would block everyone until it is continued."""
    deadline = time.monotonic() + 10
    while True:
        os.kill(pid, signal.SIGSTOP)
        if not _holds_the_database(backend):
            return
        os.kill(pid, signal.SIGCONT)
        assert time.monotonic() < deadline, "the holder was always inside a renewal"
        time.sleep(0.01)  # let the renewal finish, then try again


@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP is POSIX")
@pytest.mark.parametrize("locks", ["sqlite", "postgresql", "redis", "zookeeper"], indirect=True)
def test_a_paused_holder_is_taken_over_fenced_and_told(locks: Backend) -> None:
    url = locks.url
    service = open_locks(url)  # the service's own clock: no fake one across processes
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        token = json.loads(child.stdout.readline())["token"]
        _pause_between_renewals(child.pid, locks)
        lease = service.leases()[0]["orders"]
        deadline = time.monotonic() + 10
        while service.leases()[1] <= lease.expires_at:
            assert time.monotonic() < deadline, "the paused holder's lease never expired"
            time.sleep(0.05)  # polling the service's clock, with a deadline
        thief = new_owner()
        taken = service.acquire("orders", thief, 30.0)
        assert taken.token == token + 1
        os.kill(child.pid, signal.SIGCONT)
        child.stdin.write("look\n")
        child.stdin.flush()
        report = json.loads(child.stdout.readline())
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
            child.kill()
            child.wait()
        service.close()
    assert report["lost"] is True
    assert report["checked"] == str(thief)
    assert report["fenced"] is True
    assert f"token {token}" in report["exit"]
    assert service.leases()[0]["orders"] == taken  # the old holder's exit released nothing
