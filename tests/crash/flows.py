"""The flows the crash tests kill and resume, and the journal their tasks write.

Every flow is built by a module-level factory without arguments, because that is what a new
process has after a crash: `Engine.resume(backend, flow_id)` calls the factory recorded with the
run. What a factory cannot take as arguments lives in `HARNESS`, which each process sets up
before it builds a flow:

- `journal`: a file where each task appends one JSON line per side effect (`execute`,
  `revert`, or `revert_failed` for a revert that raises and undoes nothing), fsync'ed before
  the task goes on, so the test reads what really happened even in a process that died. Each
  line names the atom, the attempt the engine recorded for the call (`AttemptTracker` hears the
  RUNNING or REVERTING record, which comes before the call) and the round (the process) that
  made it.
- `crash_in`: `("execute", atom)` or `("revert", atom)` makes that task kill its own process
  right after its side effect, before its result can be recorded; `how` says how it dies
  (`os._exit(137)`, or SIGKILL).

`CASES` names each flow with its executor and the one way a run of it may end.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import provenflow as pf
from provenflow.persistence import Transition

__all__ = [
    "CASES",
    "HARNESS",
    "AttemptTracker",
    "Case",
    "JournalEntry",
    "Step",
    "die",
    "read_journal",
]

How = Literal["exit", "kill"]


@dataclass
class Harness:
    """What the tasks of this process need to know: see the module docstring."""

    journal: Path | None = None
    round: int = 0
    crash_in: tuple[str, str] | None = None
    how: How = "exit"
    attempts: dict[str, int] = field(default_factory=dict)

    def reset(self, journal: Path, round_number: int) -> None:
        """Prepare for a new round that writes to `journal`, with no crash planned."""
        self.journal = journal
        self.round = round_number
        self.crash_in = None
        self.how = "exit"
        self.attempts.clear()


HARNESS = Harness()
_journal_lock = threading.Lock()


@dataclass(frozen=True)
class JournalEntry:
    """One side effect: `action` on `atom` at the recorded `attempt`, in round `round`."""

    action: str
    atom: str
    attempt: int
    round: int
    pid: int


def journal(action: str, atom: str) -> None:
    """Append one side effect to the journal and make it durable before returning."""
    if HARNESS.journal is None:
        raise RuntimeError("tests.crash.flows.HARNESS.journal is not set")
    entry = {
        "action": action,
        "atom": atom,
        "attempt": HARNESS.attempts.get(atom, 0),
        "round": HARNESS.round,
        "pid": os.getpid(),
    }
    line = (json.dumps(entry) + "\n").encode()
    with _journal_lock:
        fd = os.open(HARNESS.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def read_journal(path: Path) -> list[JournalEntry]:
    """Return every side effect written to the journal at `path`, oldest first."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [JournalEntry(**json.loads(line)) for line in lines if line]


def die(how: How) -> None:
    """End this process at once, without cleanup: `os._exit(137)` or SIGKILL."""
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # the signal is delivered before this returns; never reached
    os._exit(137)


def _maybe_die(action: str, atom: str) -> None:
    if HARNESS.crash_in == (action, atom):
        die(HARNESS.how)


class AttemptTracker:
    """A listener that tells the tasks which attempt the engine recorded for their call."""

    def on_transition(self, transition: Transition) -> None:
        """Note the attempt of each RUNNING or REVERTING record (made before the call)."""
        if transition.atom is not None and transition.new_state in ("RUNNING", "REVERTING"):
            HARNESS.attempts[transition.atom] = transition.attempt


class Step(pf.Task):
    """A task whose execute and revert are journaled side effects.

    `fails`: "never", "always", or "once" (only its first execution ever, by the journal).
    `revert_raises`: its revert journals `revert_failed` and raises, undoing nothing.
    """

    def __init__(
        self,
        name: str,
        *,
        fails: Literal["never", "always", "once"] = "never",
        revert_raises: bool = False,
    ) -> None:
        self.fails = fails
        self.revert_raises = revert_raises
        super().__init__(name)

    def execute(self) -> str:
        """Journal the execution; maybe die; fail as configured; return the task's name."""
        journal("execute", self.name)
        _maybe_die("execute", self.name)
        if self.fails == "always" or (self.fails == "once" and self._executions() == 1):
            raise ValueError(f"{self.name} failed")
        return self.name

    def revert(self, **_: Any) -> None:
        """Journal the undo (or the failed undo, then raise); maybe die."""
        if self.revert_raises:
            journal("revert_failed", self.name)
            _maybe_die("revert", self.name)
            raise RuntimeError(f"{self.name}: revert failed")
        journal("revert", self.name)
        _maybe_die("revert", self.name)

    def _executions(self) -> int:
        assert HARNESS.journal is not None
        entries = read_journal(HARNESS.journal)
        return sum(1 for e in entries if e.action == "execute" and e.atom == self.name)


def make_parallel() -> pf.Flow:
    """Two branches (three and two tasks) run side by side; everything succeeds."""
    left = pf.LinearFlow("left").add(Step("l1"), Step("l2"), Step("l3"))
    right = pf.LinearFlow("right").add(Step("r1"), Step("r2"))
    return pf.UnorderedFlow("branches").add(left, right)


def make_retry() -> pf.Flow:
    """a, then [b, c] under Times(3) where c fails its first execution ever, then d."""
    sub = pf.LinearFlow("sub", retry=pf.Times(3, name="again")).add(
        Step("b"), Step("c", fails="once")
    )
    return pf.LinearFlow("retried").add(Step("a"), sub, Step("d"))


def make_parallel_retry() -> pf.Flow:
    """A branch under Times(3) whose last task fails once, beside a branch of three tasks."""
    left = pf.LinearFlow("left", retry=pf.Times(3, name="again")).add(
        Step("l1"), Step("l2", fails="once")
    )
    right = pf.LinearFlow("right").add(Step("r1"), Step("r2"), Step("r3"))
    return pf.UnorderedFlow("branches").add(left, right)


def make_retry_gives_up() -> pf.Flow:
    """a, then [b, c] under Times(2) where c always fails, then d: the retry gives up."""
    sub = pf.LinearFlow("sub", retry=pf.Times(2, name="twice")).add(
        Step("b"), Step("c", fails="always")
    )
    return pf.LinearFlow("doomed").add(Step("a"), sub, Step("d"))


def make_revert_all() -> pf.Flow:
    """a, then two branches whose right one fails at its end, then z: everything is undone."""
    left = pf.LinearFlow("left").add(Step("l1"), Step("l2"))
    right = pf.LinearFlow("right").add(Step("r1"), Step("r2", fails="always"))
    fanout = pf.UnorderedFlow("fanout").add(left, right)
    return pf.LinearFlow("saga").add(Step("a"), fanout, Step("z"))


def make_revert_raises() -> pf.Flow:
    """a, b, c where c fails and b's revert raises: the run ends FAILURE, a is never undone."""
    return pf.LinearFlow("stuck").add(
        Step("a"), Step("b", revert_raises=True), Step("c", fails="always")
    )


@dataclass(frozen=True)
class Case:
    """A flow under test: its factory spec, the executor it runs on, and how it must end."""

    name: str
    factory: str
    executor: str
    outcome: str


CASES = {
    case.name: case
    for case in (
        Case("parallel", "tests.crash.flows:make_parallel", "threads", "SUCCESS"),
        Case("parallel_retry", "tests.crash.flows:make_parallel_retry", "threads", "SUCCESS"),
        Case("retry", "tests.crash.flows:make_retry", "serial", "SUCCESS"),
        Case("retry_gives_up", "tests.crash.flows:make_retry_gives_up", "serial", "REVERTED"),
        Case("revert_all", "tests.crash.flows:make_revert_all", "threads", "REVERTED"),
        Case("revert_raises", "tests.crash.flows:make_revert_raises", "serial", "FAILURE"),
    )
}
