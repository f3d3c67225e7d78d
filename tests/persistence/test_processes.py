"""Writers in separate processes: a race on one run, and a writer killed with SIGKILL.

Two processes race on every version of one run (a barrier starts each round together):
exactly one of them advances each version, and the other is told `StaleVersion`. A writer
killed with SIGKILL right after its commits leaves them all readable.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys

import pytest

from provenflow.persistence import RunInfo
from tests.persistence import _workers
from tests.persistence.conftest import Backend

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 120


def test_two_processes_race_and_exactly_one_wins_each_version(durable: Backend) -> None:
    rounds, writers = 25, 2
    durable.open().create(RunInfo("run-1", "f", ()))
    barrier = SPAWN.Barrier(writers, timeout=TIMEOUT)
    results = SPAWN.Queue()
    processes = [
        SPAWN.Process(
            target=_workers.race,
            args=(durable.url, "run-1", me, rounds),
            kwargs={"barrier": barrier, "results": results},
        )
        for me in range(writers)
    ]
    for process in processes:
        process.start()
    reports = dict(results.get(timeout=TIMEOUT) for _ in processes)
    for process in processes:
        process.join(TIMEOUT)
        assert process.exitcode == 0
    won = {me: reports[me] for me in range(writers)}
    assert all(isinstance(versions, list) for versions in won.values()), won
    assert sorted(v for versions in won.values() for v in versions) == list(range(rounds))
    _, transitions, version = durable.open().load("run-1")
    assert version == rounds
    winner = {v: me for me, versions in won.items() for v in versions}
    assert [t.attempt for t in transitions] == [winner[v] for v in range(rounds)]


def test_commits_survive_a_writer_killed_with_sigkill(durable: Backend) -> None:
    durable.open().create(RunInfo("run-1", "f", ()))
    receiver, sender = SPAWN.Pipe(duplex=False)
    process = SPAWN.Process(
        target=_workers.record_then_die, args=(durable.url, "run-1", 30, sender)
    )
    process.start()
    assert receiver.poll(TIMEOUT), "the writer did not report"
    assert receiver.recv() == 30
    process.join(TIMEOUT)
    assert process.exitcode == -signal.SIGKILL
    _, transitions, version = durable.open().load("run-1")
    assert version == 30
    assert [t.atom for t in transitions] == [f"a{n}" for n in range(30)]
