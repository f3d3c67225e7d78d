"""Conductors killed for real: three `provenflow conductor` processes on one board and one
SQLite store, SIGKILLed at random while jobs run, and nothing is lost or done twice.

Each job runs a flow of three tasks that append `job task pid` lines to a side-effect log
(O_APPEND). The middle task, `hold`, waits until the test creates a `release` file, so the
first kills land mid-flow: after `first` was recorded done and while `hold` runs. The test
kills a conductor whose `hold` started, starts a replacement, and does so a few times; then it
releases the jobs, kills once more while they run, and lets the survivors finish.

Then, from the board's history, the store's run histories and the log: every job ended
COMPLETE exactly once, its run ended SUCCESS, a task ran again only when the execution before
it was cut short by a kill before its success was recorded (the last execution of each task is
the one recorded; each earlier one was by a killed conductor, and no task has more executions
than the attempts the store recorded), and each job a killed conductor held was lost and
claimed again by another conductor with a higher token.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from provenflow.jobs import Board, job_run_id, open_board
from provenflow.persistence import Storage, open_storage
from tests.locks.conftest import redis_url  # noqa: F401 (a fixture used by name)
from tests.persistence.conftest import postgres_url  # noqa: F401 (a fixture used by name)

ROOT = Path(__file__).resolve().parent.parent.parent
JOBS = 100
TTL = 2.0
GATED_KILLS = 3
FREE_KILLS = 2

FLOWS = """
import os
import time
import provenflow as pf

HERE = os.path.dirname(os.path.abspath(__file__))
LOG = os.path.join(HERE, "log.txt")


def note(tag, task):
    line = f"{tag} {task} {os.getpid()}\\n".encode()
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def first(tag):
    note(tag, "first")


def hold(tag):
    note(tag, "hold-start")
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(HERE, "release")) and time.monotonic() < deadline:
        time.sleep(0.01)  # the test creates the file once its kills landed
    note(tag, "hold")


def last(tag):
    note(tag, "last")


def make_flow():
    return pf.LinearFlow("killed").add(
        pf.task(first, name="first"), pf.task(hold, name="hold"), pf.task(last, name="last")
    )
"""

TASKS = ("first", "hold", "last")
EXECUTIONS = {"first": "first", "hold-start": "hold", "last": "last"}


def _board_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    if kind == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path / 'jobs.db'}"


def _log(tmp_path: Path) -> list[tuple[str, str, int]]:
    path = tmp_path / "log.txt"
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [(tag, task, int(pid)) for tag, task, pid in (line.split() for line in lines)]


def _wait(condition: Callable[[], object], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # other processes make it true: poll, with a deadline
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Conductors:
    """The conductor processes of one test: started, killed, and all stopped in `close()`."""

    def __init__(self, tmp_path: Path, board_url: str) -> None:
        self.tmp_path = tmp_path
        self.command = [sys.executable, "-m", "provenflow", "conductor", "--board", board_url]
        self.command += ["--backend", f"sqlite:///{tmp_path / 'runs.db'}"]
        self.command += ["--ttl", str(TTL), "--concurrency", "2", "--trust", f"{tmp_path}/*"]
        self.environ = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.environ.pop("PROVENFLOW_TRUSTED_FACTORIES", None)
        self.live: list[subprocess.Popen[str]] = []
        self.killed: list[subprocess.Popen[str]] = []
        self.logs: list[IO[str]] = []

    def start(self) -> subprocess.Popen[str]:
        stderr = open(self.tmp_path / f"conductor-{len(self.logs)}.err", "w")  # noqa: SIM115
        self.logs.append(stderr)
        process = subprocess.Popen(
            self.command, cwd=self.tmp_path, env=self.environ, stderr=stderr, text=True
        )
        self.live.append(process)
        return process

    def kill(self, process: subprocess.Popen[str]) -> None:
        process.kill()
        process.wait(30)
        self.live.remove(process)
        self.killed.append(process)

    def close(self) -> None:
        for process in self.live:
            process.send_signal(signal.SIGTERM)
        for process in self.live + self.killed:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stderr in self.logs:
            stderr.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "redis"])
def test_killed_conductors_lose_nothing_and_redo_nothing_recorded(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    board_url = _board_url(kind, tmp_path, request)
    (tmp_path / "flows.py").write_text(FLOWS)
    board = open_board(board_url)
    tags = {}
    for n in range(JOBS):
        job = board.post(f"{tmp_path}/flows.py:make_flow", store={"tag": f"t{n:03}"})
        tags[f"t{n:03}"] = job.id
    chance = random.Random()
    conductors = Conductors(tmp_path, board_url)
    try:
        for _ in range(3):
            conductors.start()
        for round_ in range(GATED_KILLS):  # kills while every running job is held in `hold`
            live = {process.pid: process for process in conductors.live}

            def holding(live: dict[int, subprocess.Popen[str]] = live) -> set[int]:
                return {pid for _, task, pid in _log(tmp_path) if task == "hold-start"} & set(live)

            _wait(holding, f"a held job in a live conductor (round {round_})")
            conductors.kill(live[chance.choice(sorted(holding()))])
            conductors.start()
        (tmp_path / "release").touch()
        for round_ in range(FREE_KILLS):  # kills while jobs run freely, each after progress
            live_pids = {process.pid for process in conductors.live}
            finished = len(_log(tmp_path))

            def progressed(live_pids: set[int] = live_pids, finished: int = finished) -> bool:
                return not _unfinished(board) or any(
                    task == "last" and pid in live_pids
                    for _, task, pid in _log(tmp_path)[finished:]
                )

            _wait(progressed, f"a job finishing in a live conductor (free round {round_})")
            if not _unfinished(board):
                break
            conductors.kill(chance.choice(conductors.live))
            conductors.start()
        _wait(lambda: not _unfinished(board), "every job finished", seconds=120.0)
    finally:
        conductors.close()
    storage = open_storage(f"sqlite:///{tmp_path / 'runs.db'}")
    try:
        _check(board, storage, tags, tmp_path, {process.pid for process in conductors.killed})
    finally:
        board.close()
        close = getattr(storage, "close", None)
        if close is not None:
            close()


def _unfinished(board: Board) -> list[str]:
    return [job.id for job in board.jobs().jobs if not job.finished]


def _check(
    board: Board, storage: Storage, tags: dict[str, str], tmp_path: Path, killed: set[int]
) -> None:
    assert GATED_KILLS <= len(killed) <= GATED_KILLS + FREE_KILLS
    log = _log(tmp_path)
    executions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for tag, mark, pid in log:  # an execution of `hold` is told by its first line
        if mark in EXECUTIONS:
            executions[(tag, EXECUTIONS[mark])].append(pid)
    resumed = 0
    for tag, job_id in tags.items():
        job = board.get(job_id)
        events = [step.event for step in job.history]
        assert job.state == "COMPLETE" and events.count("complete") == 1, (tag, events)
        assert job.outcome == "SUCCESS", (tag, job.history)
        _info, transitions, _version = storage.load(job_run_id(job_id))
        flow = [t for t in transitions if t.atom is None]
        assert flow[-1].new_state == "SUCCESS", (tag, flow)
        for task in TASKS:
            done = [t for t in transitions if t.atom == task and t.new_state == "SUCCESS"]
            # an attempt starts with `start`, or `crash_recovered` when it is run again
            starts = [t for t in transitions if t.atom == task and t.new_state == "RUNNING"]
            pids = executions[(tag, task)]
            assert len(done) == 1, (tag, task, done)
            # the recorded success is the last attempt: nothing started after it
            assert done[0].attempt == max(t.attempt for t in starts), (tag, task, starts)
            assert transitions.index(done[0]) > transitions.index(starts[-1]), (tag, task)
            # no execution the store did not start, and every execution but the last (the
            # recorded one) was cut short by a kill before its success was recorded
            assert 1 <= len(pids) <= len(starts), (tag, task, pids, starts)
            assert set(pids[:-1]) <= killed, (tag, task, pids, killed)
        claims = [step for step in job.history if step.event == "claim"]
        tokens = [step.token or 0 for step in claims]
        assert tokens == sorted(set(tokens)), (tag, tokens)  # strictly increasing
        for at, step in enumerate(job.history):
            if step.event != "claim" or step.owner is None or step.owner.pid not in killed:
                continue
            after = job.history[at + 1]  # the claim ended by its killed owner, or lost
            assert after.token == step.token, (tag, job.history)
            if after.event in ("complete", "abandon"):
                assert after.owner == step.owner, (tag, job.history)
                continue
            assert after.event == "claim_lost", (tag, job.history)
            again = [s for s in job.history[at + 2 :] if s.event == "claim"]
            assert again and again[0].owner is not None and again[0].owner != step.owner
            assert (again[0].token or 0) > (step.token or 0), (tag, job.history)
            resumed += 1
    assert resumed >= GATED_KILLS, resumed  # each gated kill left at least one job held
