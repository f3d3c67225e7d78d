"""Functions that run in child processes (spawned, so they are importable by name)."""

from __future__ import annotations

import os
import signal
from typing import Any

from provenflow.errors import ProvenflowError, StaleVersion
from provenflow.persistence import RunInfo, open_storage
from tests.persistence._samples import running


def race(url: str, flow_id: str, me: int, rounds: int, *, barrier: Any, results: Any) -> None:
    """At each version in turn, try to record one transition; report the versions won."""
    store = open_storage(url)
    won = []
    try:
        for version in range(rounds):
            barrier.wait()
            try:
                store.record(flow_id, [running(f"atom{version}", attempt=me)], version)
                won.append(version)
            except StaleVersion as stale:
                if stale.args != (flow_id, version, version + 1):
                    raise
    except BaseException as error:
        barrier.abort()
        results.put((me, repr(error)))
        raise
    results.put((me, won))


def record_then_die(url: str, flow_id: str, batches: int, done: Any) -> None:
    """Record `batches` batches, say so, and kill this process with SIGKILL (no cleanup)."""
    store = open_storage(url)
    version = 0
    for n in range(batches):
        version = store.record(flow_id, [running(f"a{n}")], version)
    done.send(version)  # a pipe writes at once (a Queue's feeder thread would die unsent)
    os.kill(os.getpid(), signal.SIGKILL)


def first_opens(urls: list[str], me: int, *, barrier: Any, results: Any) -> None:
    """Open each store of `urls` in turn (a new one each round, all workers together after the
    barrier), record a run in it and list its runs; report the failures."""
    failures = []
    for url in urls:
        barrier.wait()
        try:
            store = open_storage(url)
            store.create(RunInfo(f"run-{me}", "f", ()))
            store.runs()
            close = getattr(store, "close", None)
            if close is not None:
                close()
        except ProvenflowError as error:
            failures.append(f"{url}: {error!r}")
    results.put(failures)
