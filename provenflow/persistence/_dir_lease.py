"""Leases in a directory store: one lease file per leased thing, changed under a file lock.

A leased thing is a directory (a run's, in `dir://` stores; later a lock's or a job's) holding
`lease.json`, `{"host", "pid", "owner", "token", "expires_at", "held"}`, absent until the first
lease. Every change of the lease, and every write fenced by it, happens while holding an
exclusive `flock` on `lease.lock` beside it (`locked`), so that processes on one machine (the
only ones that can share a directory safely) are serialized: `change_lease` reads the lease,
asks `provenflow.persistence._lease` what to do with the local clock's time, and replaces the
file whole (written to a temporary file, fsynced, renamed over it, the directory fsynced).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

from provenflow.errors import CorruptRecord, StorageUnavailable, UnknownRun
from provenflow.persistence import _lease
from provenflow.persistence._lease import Grant, Lease, Owner, Refusal
from provenflow.persistence._run_leases import RunLeases

if sys.platform != "win32":
    import fcntl

__all__ = ["LEASE_FILE", "DirRunLeases", "change_lease", "locked", "read_lease"]

LEASE_FILE = "lease.json"
LOCK_FILE = "lease.lock"
Decided = TypeVar("Decided", Grant, Lease)
_IN_PROCESS = threading.Lock()
"""Where `flock` is missing (Windows): the lock, for this process only."""


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the exclusive lock of the leased thing in `directory` (blocks until it is free).

    Without `flock` (Windows) the lock holds within this process only: there, one `dir://`
    store must not be written by two processes at once.
    """
    descriptor = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if sys.platform == "win32":
            with _IN_PROCESS:
                yield
        else:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
    finally:
        os.close(descriptor)  # closing releases the lock


def read_lease(directory: Path) -> Lease | None:
    """Return the lease kept in `directory`, None when it never had one.

    Raises `CorruptRecord` naming the file when it cannot be trusted.
    """
    path = directory / LEASE_FILE
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        owner = Owner(str(data["host"]), int(data["pid"]), str(data["owner"]))
        token, expires_at, held = data["token"], data["expires_at"], data["held"]
    except (ValueError, TypeError, KeyError) as error:
        raise CorruptRecord(str(path), f"not a lease ({error!r})") from None
    if not isinstance(token, int) or token < 1 or not isinstance(held, bool):
        raise CorruptRecord(str(path), f"bad token {token!r} or held {held!r}")
    if not isinstance(expires_at, int | float):
        raise CorruptRecord(str(path), f"bad expires_at {expires_at!r}")
    return Lease(owner, token, float(expires_at), held)


def change_lease(
    directory: Path, decide: Callable[[Lease | None, float], Decided | Refusal]
) -> tuple[Decided | Refusal, float]:
    """Under the lock, apply `decide(current lease, now)` to the lease kept in `directory`;
    return its answer and now. A `Grant` or `Lease` answer is written; a `Refusal` is not."""
    with locked(directory):
        now = time.time()
        decided = decide(read_lease(directory), now)
        if not isinstance(decided, Refusal):
            _write(directory, decided.lease if isinstance(decided, Grant) else decided)
        return decided, now


def _write(directory: Path, lease: Lease) -> None:
    document = {
        "host": lease.owner.host,
        "pid": lease.owner.pid,
        "owner": lease.owner.id,
        "token": lease.token,
        "expires_at": lease.expires_at,
        "held": lease.held,
    }
    temporary = directory / f".tmp-{uuid.uuid4().hex}"
    with open(temporary, "xb") as file:
        file.write(json.dumps(document).encode())
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, directory / LEASE_FILE)
    if not hasattr(os, "O_DIRECTORY"):  # Windows cannot open a directory to sync it
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class DirRunLeases(RunLeases):
    """The lease methods of the storage protocol for `DirStorage` (kept here, beside the lease
    files they change). Expects `url`, `_runs` (the runs' directory) and `_run_dir(flow_id)`."""

    url: str
    _runs: Path

    def _run_dir(self, flow_id: str) -> Path:
        raise NotImplementedError

    def leases(self) -> tuple[dict[str, Lease], float]:
        """Return the lease of every run that ever had one, by flow id, and now (a run whose
        lease file is damaged is left out)."""
        found: dict[str, Lease] = {}
        with self._os_errors("read leases"):
            directories = sorted(self._runs.iterdir()) if self._runs.is_dir() else []
            for directory in directories:
                if directory.name.startswith(".") or not directory.is_dir():
                    continue
                with contextlib.suppress(CorruptRecord):  # a listing shows the healthy ones
                    lease = read_lease(directory)
                    if lease is not None:
                        found[unquote(directory.name)] = lease
        return found, time.time()

    def check_write(self, directory: Path, flow_id: str, token: int | None) -> None:
        """Raise why a write with `token` must be refused (call while `locked(directory)`)."""
        refusal = _lease.check_write(read_lease(directory), token)
        if refusal is not None:
            raise _lease.run_refused(flow_id, refusal, time.time(), token)

    def _change_lease(
        self,
        flow_id: str,
        token: int | None,
        action: str,
        decide: Callable[[Lease | None, float], Decided | Refusal],
    ) -> Decided:
        directory = self._run_dir(flow_id)
        with self._os_errors(action):
            if not (directory / "run.json").exists():
                raise UnknownRun(flow_id, self.url)
            decided, now = change_lease(directory, decide)
        if isinstance(decided, Refusal):
            raise _lease.run_refused(flow_id, decided, now, token)
        return decided

    @contextlib.contextmanager
    def _os_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            raise StorageUnavailable(self.url, f"cannot {action}: {error}") from error
