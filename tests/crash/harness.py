"""Driving one run through rounds of processes that die, and collecting what they left behind.

`drive` starts a run in a new process and, each time that process dies, resumes the run in
another new process, dying again where the next planned `Crash` says, until a round ends the
run. After each round it reads the run's history from the store, so every recorded transition
is known to have been written by one round (one process). The `Run` it returns holds the
rounds, the whole history and the journal of side effects; `tests.crash.invariants` checks it.

Rounds run in one of two ways. `"forkserver"` (the default) starts each round as a process
forked from a multiprocessing fork server that has imported provenflow and the flows once: a
real, separate process (its own pid, its own storage connections, killed for real), without
paying for a fresh interpreter each time. `"interpreter"` runs
`python -m tests.crash.child ...` from the repository root: a cold start, as a user's restart
would be. `drive_in_process` is the same loop in this process, each round on a new store object
opened on the same database and wrapped in a `CrashingStorage` that "crashes" before its Nth
write.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import provenflow as pf
from provenflow.persistence import Storage, Transition, open_storage
from tests.crash import child
from tests.crash.flows import CASES, HARNESS, AttemptTracker, Case, How, JournalEntry, read_journal
from tests.helpers import Crash as StorageCrash
from tests.helpers import CrashingStorage

__all__ = ["Crash", "Round", "Run", "drive", "drive_in_process"]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
DEATHS = frozenset({137, -signal.SIGKILL})
"""Exit statuses of a process that died as planned: `os._exit(137)`, or killed by SIGKILL."""
_FORKSERVER = multiprocessing.get_context("forkserver")
_FORKSERVER.set_forkserver_preload(["tests.crash.child"])


@dataclass(frozen=True)
class Crash:
    """Where a round dies (a `tests.crash.child` SPEC) and how (`exit` or `kill`)."""

    spec: str
    how: How = "exit"

    def __str__(self) -> str:
        return f"{self.spec} ({self.how})"


@dataclass(frozen=True)
class Round:
    """One process of a run: what it planned, whether it died, and where its writes end."""

    number: int
    crash: Crash | str | None
    died: bool
    history_end: int
    output: str = ""


@dataclass(frozen=True)
class Run:
    """Everything a run left: its rounds, its recorded history and its journal."""

    case: Case
    flow_id: str
    rounds: list[Round]
    history: list[Transition]
    journal: list[JournalEntry]

    def describe(self) -> str:
        """Return the rounds, history and journal as text, for a failure message."""
        lines = [f"case {self.case.name}, run {self.flow_id}"]
        for one in self.rounds:
            fate = "died" if one.died else "ended"
            lines.append(
                f"  round {one.number}: crash {one.crash}, {fate}, wrote up to {one.history_end}"
            )
        lines.append("history (index, round: atom old --event--> new @attempt):")
        round_of = rounds_of_transitions(self)
        for index, t in enumerate(self.history):
            lines.append(
                f"  {index:3} r{round_of[index]}: {t.atom or 'flow'} {t.old_state} "
                f"--{t.event}--> {t.new_state} @{t.attempt}"
            )
        lines.append("journal (round: action atom @attempt):")
        lines.extend(f"  r{e.round}: {e.action} {e.atom} @{e.attempt}" for e in self.journal)
        return "\n".join(lines)


def rounds_of_transitions(run: Run) -> list[int]:
    """Return, for each transition of the history, the round that recorded it."""
    out: list[int] = []
    start = 0
    for one in run.rounds:
        out.extend([one.number] * (one.history_end - start))
        start = one.history_end
    return out


def drive(
    case_name: str,
    url: str,
    workdir: Path,
    crashes: Sequence[Crash],
    launcher: str = "forkserver",
) -> Run:
    """Run `case_name` on `url`, one process per round, dying at each of `crashes` in turn.

    A last round plans no crash. A planned crash that is never reached (its atom does not run)
    lets its round end the run, and the rest of the plan is dropped. Raises `AssertionError`
    when a round exits in any other way than ending the run or dying as planned.
    """
    flow_id = uuid.uuid4().hex
    journal = workdir / f"journal-{flow_id}.jsonl"
    rounds: list[Round] = []
    plan: list[Crash | None] = [*crashes, None]
    for number, crash in enumerate(plan):
        argv = [case_name, "--backend", url, "--flow-id", flow_id, "--journal", str(journal)]
        argv += ["--round", str(number)]
        if number == 0:
            argv.append("--start")
        if crash is not None:
            argv += ["--crash", crash.spec, "--how", crash.how]
        code, output = _launch(argv, launcher)
        history = load_history(url, flow_id)
        died = code in DEATHS
        rounds.append(Round(number, crash, died, len(history), output))
        if not died and code != 0:
            raise AssertionError(f"round {number} ({crash}) exited with {code}:\n{output}")
        if not died:
            break
    else:
        raise AssertionError(f"the last round of {case_name} died although it planned no crash")
    return Run(CASES[case_name], flow_id, rounds, history, read_journal(journal))


def _launch(argv: list[str], launcher: str) -> tuple[int, str]:
    if launcher == "forkserver":
        process = _FORKSERVER.Process(target=child.main, args=(argv,))
        process.start()
        process.join(TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()
            raise AssertionError(f"round did not finish in {TIMEOUT} s: {argv}")
        assert process.exitcode is not None
        return process.exitcode, ""
    command = [sys.executable, "-m", "tests.crash.child", *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            output, _ = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise AssertionError(f"round did not finish in {TIMEOUT} s: {command}") from None
        return process.returncode, output


def load_history(backend: str | Storage, flow_id: str) -> list[Transition]:
    """Return the recorded transitions of `flow_id`, read through a new store object."""
    storage = open_storage(backend)
    try:
        return storage.load(flow_id)[1]
    finally:
        close(storage)


def close(storage: object) -> None:
    """Close a store object that can be closed (SQL ones hold connection pools)."""
    closer = getattr(storage, "close", None)
    if closer is not None:
        closer()


def drive_in_process(case_name: str, url: str, workdir: Path, crashes: Sequence[int]) -> Run:
    """Run `case_name` on `url` through stores that crash before their Nth write, N in `crashes`.

    Each round opens a new store object on `url`, as a new process would, wrapped in a
    `CrashingStorage` that raises before its Nth transition write (an exception no engine code
    catches), so the database holds exactly the writes before it. The first round starts the run
    (`Engine.from_factory`), the others resume it (`Engine.resume`, naming the factory); a last
    round plans no crash.
    A round whose crash is not reached ends the run, and the rest of the plan is dropped.
    """
    case = CASES[case_name]
    flow_id = uuid.uuid4().hex
    journal = workdir / f"journal-{flow_id}.jsonl"
    rounds: list[Round] = []
    plan: list[int | None] = [*crashes, None]
    for number, crash_at in enumerate(plan):
        HARNESS.reset(journal, number)
        storage = CrashingStorage(open_storage(url), crash_at=crash_at)
        died = False
        try:
            if number == 0:
                engine = pf.Engine.from_factory(
                    case.factory,
                    backend=storage,
                    executor=case.executor,
                    flow_id=flow_id,
                    listeners=[AttemptTracker()],
                )
            else:
                engine = pf.Engine.resume(
                    storage,
                    flow_id,
                    case.executor,
                    factory=case.factory,
                    listeners=[AttemptTracker()],
                )
            with contextlib.suppress(Exception):
                engine.run()
        except StorageCrash:
            died = True
        finally:
            close(storage.inner)
        crash = None if crash_at is None else f"before write {crash_at}"
        rounds.append(Round(number, crash, died, len(load_history(url, flow_id))))
        if not died:
            break
    return Run(case, flow_id, rounds, load_history(url, flow_id), read_journal(journal))


def writes_of(case_name: str) -> int:
    """Return how many transitions a run of `case_name` without a crash writes (in memory).

    With the threads executor the count may differ from run to run (a branch may or may not
    start before the other fails); this is one run's count.
    """
    case = CASES[case_name]
    with tempfile.TemporaryDirectory() as workdir:
        HARNESS.reset(Path(workdir) / "journal.jsonl", 0)
        storage = CrashingStorage()
        engine = pf.Engine.from_factory(
            case.factory, backend=storage, executor=case.executor, listeners=[AttemptTracker()]
        )
        with contextlib.suppress(Exception):
            engine.run()
    return storage.writes
