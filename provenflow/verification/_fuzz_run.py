"""One fuzzing run: a flow run to its end through the real engine and store, faults injected.

`run_with_faults(flow, storage, faults)` runs the flow on a real `Engine` (one worker, so ready
atoms go in the engine's own order) and a real store, through a store wrapper and an executor
that ask `faults` where a fault strikes: an `execute` raises (`InjectedFailure`, before the
user's code runs), the process dies before a side effect, after it (before its outcome is
recorded), or before a batch of transitions is written. After each death the run is resumed
with `Engine.load` on the same store, as a restarted process would. `DrawnFaults` draws these
choices from hypothesis data as the run goes, rarely and shrinking to none.

The `FaultyRun` it returns holds the run's record, the order of records and side effects (which
`_fuzz_violations` checks) and the run's steps in words (the trace a failure prints).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from provenflow.engine import Engine, Work
from provenflow.flows import CompiledFlow, Flow, compile_flow
from provenflow.persistence import Grant, Lease, Owner, RunInfo, RunListing, Storage, Transition
from provenflow.verification._simulation import InjectedFailure
from provenflow.verification._strategies import _strategies
from provenflow.verification._strategies_tasks import ProcessCrash

__all__ = [
    "DrawnFaults",
    "Faults",
    "FaultyRun",
    "run_with_faults",
]

MAX_PROCESSES = 64
"""A run that needs more processes than this is reported as not ending."""


class Faults(Protocol):
    """Where faults strike in one run."""

    def for_work(self, work: Work) -> str:
        """Return "run", "raise", "crash before" or "crash after" for this piece of work."""
        ...

    def before_write(self, number: int, transitions: Sequence[Transition]) -> bool:
        """Return whether the process dies before write `number` (1-based, all processes)."""
        ...


class DrawnFaults:
    """Faults drawn from hypothesis data as the run goes: rare, and shrinking to none.

    At most `crashes` process deaths per run. An injected `raise` strikes `execute` only.
    """

    WORK = ("run",) * 12 + ("raise", "raise", "crash before", "crash after")
    WRITE = ("write",) * 15 + ("crash",)

    def __init__(self, data: Any, crashes: int) -> None:
        self.data = data
        self.crashes_left = crashes
        self.st = _strategies()

    def for_work(self, work: Work) -> str:
        options = [o for o in self.WORK if o != "raise" or work.action == "execute"]
        if self.crashes_left <= 0:
            options = [o for o in options if not o.startswith("crash")]
        choice: str = self.data.draw(self.st.sampled_from(options))
        self.crashes_left -= choice.startswith("crash")
        return choice

    def before_write(self, number: int, transitions: Sequence[Transition]) -> bool:
        if self.crashes_left <= 0:
            return False
        crash = bool(self.data.draw(self.st.sampled_from(self.WRITE)) == "crash")
        self.crashes_left -= crash
        return crash


@dataclass
class FaultyRun:
    """One run with its faults: the record, and the order of records and side effects.

    `timeline`: ("record", Transition), ("execute" | "revert", atom, attempt) before the call,
    ("raised", atom, action) when a call raised, ("returned", atom, action, attempt, result)
    when it returned. `steps`: the same, in words, with the
    crashes and resumes. `raised`: what the last `run()` raised (None: it returned).
    """

    compiled: CompiledFlow
    context: Any
    flow_id: str = ""
    history: list[Transition] = field(default_factory=list)
    timeline: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    raised: BaseException | None = None
    processes: int = 1

    @property
    def outcome(self) -> str:
        """The flow's last recorded state (PENDING when nothing was recorded)."""
        states = [t.new_state for t in self.history if t.atom is None]
        return states[-1] if states else "PENDING"

    def states(self) -> dict[str, str]:
        """Return every atom's last recorded state (PENDING when it has no record)."""
        found = {name: "PENDING" for name, node in self.compiled.nodes.items() if node.atom}
        found.update((t.atom, t.new_state) for t in self.history if t.atom is not None)
        return found

    def trace(self) -> str:
        """Return the numbered steps of the run."""
        return "\n".join(f"  {number:>3}. {step}" for number, step in enumerate(self.steps, 1))


class _Store:
    """Wraps the real store: asks the faults before each write and logs what lands."""

    def __init__(self, inner: Storage, run: FaultyRun, faults: Faults) -> None:
        self.inner, self.run, self.faults = inner, run, faults
        self.url = inner.url
        self.writes = 0

    def create(self, info: RunInfo) -> int:
        return self.inner.create(info)

    def load(self, flow_id: str) -> tuple[RunInfo, list[Transition], int]:
        return self.inner.load(flow_id)

    def runs(self) -> list[tuple[RunInfo, str]]:
        return self.inner.runs()

    def list_runs(self) -> RunListing:
        return self.inner.list_runs()

    def check_value(self, flow_id: str, atom: str | None, field: str, value: object) -> None:
        self.inner.check_value(flow_id, atom, field, value)

    def stored_value(self, flow_id: str, atom: str | None, field: str, value: object) -> Any:
        return self.inner.stored_value(flow_id, atom, field, value)

    def take_lease(self, flow_id: str, owner: Owner, ttl: float) -> Grant:
        return self.inner.take_lease(flow_id, owner, ttl)

    def renew_lease(self, flow_id: str, owner: Owner, token: int, ttl: float) -> Lease:
        return self.inner.renew_lease(flow_id, owner, token, ttl)

    def release_lease(self, flow_id: str, owner: Owner, token: int) -> None:
        self.inner.release_lease(flow_id, owner, token)

    def leases(self) -> tuple[dict[str, Lease], float]:
        return self.inner.leases()

    def record(
        self,
        flow_id: str,
        transitions: Sequence[Transition],
        expected_version: int,
        token: int | None = None,
    ) -> int:
        self.writes += 1
        what = ", ".join(f"{t.atom or 'flow'} {t.new_state}" for t in transitions)
        if self.faults.before_write(self.writes, transitions):
            self.run.steps.append(f"CRASH before writing [{what}]")
            raise ProcessCrash(f"crash before write {self.writes}")
        version = self.inner.record(flow_id, transitions, expected_version, token)
        for t in transitions:
            self.run.timeline.append(("record", t))
            self.run.steps.append(
                f"record {t.atom or 'flow'}: {t.old_state} --{t.event}--> {t.new_state}"
            )
        return version


class _Executor(cf.Executor):
    """Performs each piece of work at once, in the engine's thread, injecting faults."""

    def __init__(self, run: FaultyRun, faults: Faults) -> None:
        self.run, self.faults = run, faults
        self._max_workers = 1

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        work: Work = args[0]
        what = f"{work.action} {work.node!r}"
        choice = self.faults.for_work(work)
        future: cf.Future[Any] = cf.Future()
        if choice == "crash before":
            self.run.steps.append(f"CRASH before {what} does anything")
            raise ProcessCrash(f"crash before {what}")
        if choice == "raise":
            self.run.steps.append(f"{what} raises (injected)")
            future.set_exception(InjectedFailure(work.node))
            return future
        self.run.timeline.append((work.action, work.node, work.attempt))
        try:
            result = fn(*args, **kwargs)
            future.set_result(result)
            self.run.timeline.append(("returned", work.node, work.action, work.attempt, result))
        except ProcessCrash:
            self.run.steps.append(f"CRASH in {what}: the process dies")
            raise
        except Exception as exc:
            self.run.timeline.append(("raised", work.node, work.action))
            self.run.steps.append(f"{what} raises {type(exc).__name__}: {exc}")
            future.set_exception(exc)
        else:
            self.run.steps.append(f"{what} runs")
        if choice == "crash after":
            self.run.steps.append(f"CRASH after {what}, before its outcome is recorded")
            raise ProcessCrash(f"crash after {what}")
        return future


def run_with_faults(
    flow: Flow,
    storage: Storage,
    faults: Faults,
    *,
    store: Mapping[str, Any] | None = None,
    context: Any = None,
) -> FaultyRun:
    """Run `flow` on `storage` to its end, dying where `faults` say and resuming each time
    with `Engine.load` (the same flow object: its tasks' world survives, as outside state
    would). Returns the run; what `run()` raised is in `.raised`, not raised."""
    run = FaultyRun(compile_flow(flow, store_keys=store or {}), context)
    wrapped = _Store(storage, run, faults)
    executor = _Executor(run, faults)
    engine = Engine(flow, store=store, backend=wrapped, executor=executor, max_workers=1)
    run.flow_id = engine.flow_id
    while True:
        try:
            engine.run()
        except ProcessCrash:
            run.processes += 1
            if run.processes > MAX_PROCESSES:
                run.raised = RuntimeError(f"the run did not end in {MAX_PROCESSES} processes")
                break
            run.steps.append("RESUME: a new process loads the run (Engine.load)")
            engine = Engine.load(flow, wrapped, run.flow_id, executor=executor, max_workers=1)
            continue
        except Exception as exc:
            run.raised = exc
        break
    run.history = storage.load(run.flow_id)[1]
    return run
