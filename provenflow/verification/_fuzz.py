"""Fuzzing: a flow run many times through the real engine and store, with random faults.

`fuzz(factory)` runs the user's flow again and again on a real `Engine` and a real store
(`memory://`, SQLite, ...). In each run hypothesis decides, piece of work by piece of work and
write by write, where a fault strikes: an `execute` raises (`InjectedFailure`, before the user's
code runs), the process dies before a side effect, after it (before its outcome is recorded),
or before a batch of transitions is written. After each death the run is resumed with
`Engine.load` on the same store, as a restarted process would. Each run's record is then
checked against DESIGN.md's invariants (`violations`):

- only table transitions are recorded, and the flow ends in a terminal state, with nothing
  left RUNNING, REVERTING or RETRYING (but a retry whose subflow holds a failed revert cannot
  be undone, and keeps its RETRYING in a FAILURE run);
- write-ahead: every `execute` runs while its RUNNING record (of that attempt) is durable,
  every `revert` while its REVERTING record is; so a recorded success is never executed again
  and no attempt is executed twice;
- dependents are reverted first: no revert starts while an atom that depends on it, directly
  or not, holds work or failed to revert;
- SUCCESS: every atom succeeded or was ignored, and `run()` returned; REVERTED: every atom
  that started was undone, and `run()` raised the failure; FAILURE (a revert raised: work done
  and not undone) is a violation for a user's flow, and for the engine's own suite is allowed
  only when a revert really raised;
- the user's `invariant(context, outcome)` holds.

A failing run shrinks (hypothesis makes the faults fewer and earlier) and `fuzz` raises an
AssertionError with the shrunk run's trace and the seed: `fuzz(factory, seed=N)` replays it.
Runs are serial, so a seed always gives the same runs; the order of ready atoms is the engine's
own (`check` explores every order). `check_plan` runs a `FlowPlan` (see `_strategies`) the same
way and adds the checks its journal allows: the engine's own suite uses it.
"""

from __future__ import annotations

import concurrent.futures as cf
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import networkx as nx

from provenflow.engine import Engine, Work
from provenflow.errors import MissingValue, UsageError
from provenflow.flows import CompiledFlow, Flow, compile_flow
from provenflow.fsm import LIFECYCLES
from provenflow.persistence import RunInfo, Storage, Transition, open_storage
from provenflow.verification._simulation import InjectedFailure
from provenflow.verification._strategies import (
    FlowPlan,
    Journal,
    PlannedFailure,
    ProcessCrash,
    _strategies,
)

__all__ = [
    "DrawnFaults",
    "Faults",
    "FaultyRun",
    "FuzzReport",
    "check_plan",
    "fuzz",
    "run_with_faults",
    "violations",
]

HOLDS_WORK = frozenset({"SUCCESS", "FAILURE", "RUNNING", "REVERTING", "RETRYING"})
"""Atom states that mean it started and is not undone."""
NOT_UNDONE = HOLDS_WORK | {"REVERT_FAILURE"}
"""What a dependency waits for before its revert: a failed revert blocks it for good."""
OPEN = frozenset({"RUNNING", "REVERTING", "RETRYING"})
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
    and ("raised", atom, action) when a call raised. `steps`: the same, in words, with the
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

    def check_value(self, flow_id: str, atom: str | None, field: str, value: object) -> None:
        self.inner.check_value(flow_id, atom, field, value)

    def record(self, flow_id: str, transitions: Sequence[Transition], expected_version: int) -> int:
        self.writes += 1
        what = ", ".join(f"{t.atom or 'flow'} {t.new_state}" for t in transitions)
        if self.faults.before_write(self.writes, transitions):
            self.run.steps.append(f"CRASH before writing [{what}]")
            raise ProcessCrash(f"crash before write {self.writes}")
        version = self.inner.record(flow_id, transitions, expected_version)
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
            future.set_result(fn(*args, **kwargs))
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


def violations(run: FaultyRun, *, failure_allowed: bool = False) -> list[str]:
    """Return every invariant of the module docstring that `run` breaks, one line each.

    With `failure_allowed` (the engine's own suite, where reverts raise on purpose), a run
    ending FAILURE is a violation only when no revert raised.
    """
    problems = _replay_tables(run)
    problems += _check_timeline(run)
    problems += _check_end(run, failure_allowed)
    return problems


def _replay_tables(run: FaultyRun) -> list[str]:
    states: dict[str | None, str] = {}
    problems = []
    for t in run.history:
        lifecycle = LIFECYCLES[t.lifecycle]
        current = states.get(t.atom, str(lifecycle.initial))
        allowed = lifecycle.table.get(current, {})
        who = f"{t.lifecycle} {t.atom or 'flow'!r}"
        if t.old_state != current or allowed.get(t.event) != t.new_state:
            problems.append(
                f"{who}: recorded {t.old_state} --{t.event}--> {t.new_state}, but the table "
                f"from {current} allows {sorted(map(str, allowed))}"
            )
        states[t.atom] = t.new_state
    if run.history and [t.event for t in run.history if t.atom is None] == []:
        problems.append("the run recorded atoms but never its flow")
    return problems


def _dependents(compiled: CompiledFlow, name: str) -> list[str]:
    return sorted(
        d for d in nx.descendants(compiled.graph, name) if compiled.nodes[d].kind != "join"
    )


def _check_timeline(run: FaultyRun) -> list[str]:
    """Write-ahead, no repeated success or attempt, dependents reverted first."""
    replay = _Replay(run.compiled)
    for entry in run.timeline:
        if entry[0] == "record":
            replay.record(entry[1])
        elif entry[0] == "execute":
            replay.execute(entry[1], entry[2])
        elif entry[0] == "revert":
            replay.revert(entry[1])
    return replay.problems


class _Replay:
    """The record as it stood at each side effect of a run, and what each effect broke."""

    def __init__(self, compiled: CompiledFlow) -> None:
        self.compiled = compiled
        self.recorded: dict[str, str] = {}
        self.attempts: dict[str, int] = {}
        self.succeeded: set[str] = set()
        self.executed: set[tuple[str, int]] = set()
        self.problems: list[str] = []

    def record(self, t: Transition) -> None:
        if t.atom is None:
            return
        self.recorded[t.atom] = t.new_state
        if t.new_state == "RUNNING":
            self.attempts[t.atom] = t.attempt
        if t.event == "succeed":
            self.succeeded.add(t.atom)
        elif t.event in ("revert", "reset", "retry"):
            self.succeeded.discard(t.atom)

    def execute(self, atom: str, attempt: int) -> None:
        state = self.recorded.get(atom, "PENDING")
        if atom in self.succeeded:
            self.problems.append(f"{atom!r} is executed again after its success was recorded")
        if state != "RUNNING" or self.attempts.get(atom) != attempt:
            self.problems.append(
                f"execute of {atom!r} (attempt {attempt}) started while its record says "
                f"{state} (attempt {self.attempts.get(atom)}): RUNNING must be durable first"
            )
        if (atom, attempt) in self.executed:
            self.problems.append(f"attempt {attempt} of {atom!r} is executed twice")
        self.executed.add((atom, attempt))

    def revert(self, atom: str) -> None:
        state = self.recorded.get(atom, "PENDING")
        if state != "REVERTING":
            self.problems.append(f"revert of {atom!r} started while its record says {state}")
        recorded = self.recorded
        busy = [d for d in _dependents(self.compiled, atom) if recorded.get(d) in NOT_UNDONE]
        if busy:
            self.problems.append(
                f"{atom!r} is reverted while {busy}, which depend on it, still hold work "
                f"({', '.join(recorded[d] for d in busy)}): dependents go first"
            )


def _check_end(run: FaultyRun, failure_allowed: bool) -> list[str]:
    outcome = run.outcome
    states = run.states()
    problems = []
    left = sorted(name for name, state in states.items() if state in OPEN)
    if outcome == "FAILURE":  # a retry whose subflow a failed revert blocks keeps its state
        left = [name for name in left if not _blocked(run, states, name)]
    if left:
        problems.append(f"the run ended {outcome} with {left} still RUNNING/REVERTING/RETRYING")
    if outcome == "SUCCESS":
        undone = sorted(n for n, s in states.items() if s not in ("SUCCESS", "IGNORE"))
        if undone:
            problems.append(f"the run ended SUCCESS with {undone} not done")
        if run.raised is not None:
            problems.append(f"the run ended SUCCESS but run() raised {run.raised!r}")
    elif outcome == "REVERTED":
        kept = sorted(n for n, s in states.items() if s not in ("REVERTED", "PENDING", "IGNORE"))
        if kept:
            problems.append(f"the run ended REVERTED with {kept} not undone")
        if run.raised is None:
            problems.append("the run ended REVERTED but run() returned without raising")
    elif outcome == "FAILURE":
        problems += _check_failure(run, states, failure_allowed)
    else:
        raised = f" ({type(run.raised).__name__}: {run.raised})" if run.raised else ""
        problems.append(f"the run stopped in {outcome}, which is not a terminal state{raised}")
    return problems


def _blocked(run: FaultyRun, states: dict[str, str], retry: str) -> bool:
    """Whether `retry` is RETRYING and cannot be undone: an atom it guards failed to revert."""
    guarded = run.compiled.guarded.get(retry, ())
    return states[retry] == "RETRYING" and any(states.get(n) == "REVERT_FAILURE" for n in guarded)


def _check_failure(run: FaultyRun, states: dict[str, str], failure_allowed: bool) -> list[str]:
    failed = sorted(n for n, s in states.items() if s == "REVERT_FAILURE")
    raised = {entry[1] for entry in run.timeline if entry[0] == "raised" and entry[2] == "revert"}
    if not failure_allowed:
        why = "; ".join(
            f"{t.atom}: {t.failure.message if t.failure else '?'}"
            for t in run.history
            if t.event == "revert_failed" and t.atom is not None
        )
        return [f"the run ended FAILURE: a revert raised, so work was done and not undone ({why})"]
    problems = []
    if not failed:
        problems.append("the run ended FAILURE although no atom is REVERT_FAILURE")
    unexplained = [name for name in failed if name not in raised]
    if unexplained:
        problems.append(f"{unexplained} are REVERT_FAILURE although their revert never raised")
    return problems


def check_plan(plan: FlowPlan, storage: Storage, faults: Faults) -> tuple[FaultyRun, list[str]]:
    """Run `plan`'s flow with `faults` (besides its tasks' own) and return the run and every
    violation: the module's invariants (FAILURE allowed when a revert raised) and the
    journal's (see `Journal.violations`)."""
    journal = Journal()
    run = run_with_faults(plan.build(journal), storage, faults, context=journal)
    problems = violations(run, failure_allowed=True) + journal.violations(run.states(), plan)
    return run, problems + _unplanned_failures(run)


def _unplanned_failures(run: FaultyRun) -> list[str]:
    """Failures on record that neither a behaviour nor the faults caused. A missing value is
    planned only when a decider ignored its provider."""
    planned = {PlannedFailure.__qualname__, InjectedFailure.__qualname__}
    if "IGNORE" in run.states().values():
        planned.add(MissingValue.__qualname__)
    return [
        f"{t.atom!r} recorded {t.event} with {t.failure.type_name}: {t.failure.message}"
        for t in run.history
        if t.failure is not None and t.failure.type_name.rpartition(".")[2] not in planned
    ]


# -- fuzz(): the user's entry point --------------------------------------------------------------


@dataclass(frozen=True)
class FuzzReport:
    """What `fuzz` ran: the seed, the runs (fewer than asked when hypothesis ran out of
    distinct ones), how they ended, and the process deaths injected in all."""

    seed: int
    runs: int
    outcomes: Mapping[str, int]
    crashes: int
    elapsed: float

    def __str__(self) -> str:
        ends = ", ".join(f"{state}: {count}" for state, count in sorted(self.outcomes.items()))
        return (
            f"fuzz: {self.runs} runs, seed {self.seed}, {self.crashes} crashes, "
            f"{self.elapsed:.2f} s; outcomes {ends}; no violation"
        )


class FuzzViolation(AssertionError):
    """A run broke an invariant: the message has the violations and the run's trace."""


def _open(backend: str | Path | Storage) -> Storage:
    if isinstance(backend, Path) or (isinstance(backend, str) and "://" not in backend):
        return open_storage(f"sqlite:///{Path(backend).resolve()}")
    return open_storage(backend)


def fuzz(
    factory: Callable[[], Any],
    *,
    runs: int = 100,
    backend: str | Path | Storage = "memory://",
    crashes: int = 2,
    seed: int | None = None,
    store: Mapping[str, Any] | None = None,
    invariant: Callable[[Any, str], Any] | None = None,
) -> FuzzReport:
    """Run the flow `factory` builds `runs` times with random faults; see the module docstring.

    `factory()` returns a flow, or a `(flow, context)` pair whose context (e.g. a fake world
    the tasks change) is given to `invariant(context, outcome)` after each run. `backend`: a
    store URL or a path (an SQLite file); `crashes`: process deaths per run at most; `seed`:
    replay the runs of an earlier call. Returns a `FuzzReport`. Raises `AssertionError` with
    the shrunk failing run's trace and the seed when a run breaks an invariant, `UsageError`
    for bad arguments (and when hypothesis, in the `dev` extra, is not installed), and
    whatever the factory raises when it cannot build the flow.
    """
    if runs < 1 or crashes < 0:
        raise UsageError(f"fuzz(runs={runs}, crashes={crashes}): runs >= 1 and crashes >= 0")
    _built(factory, store or {})  # a flow the engine refuses fails here, with its own error
    st = _strategies()  # a UsageError saying how to install hypothesis when it is missing
    from hypothesis import HealthCheck, given, settings  # noqa: PLC0415 (dev dependency)
    from hypothesis import seed as seeded  # noqa: PLC0415

    chosen = seed if seed is not None else random.SystemRandom().randrange(2**32)
    storage = _open(backend)
    outcomes: Counter[str] = Counter()
    deaths = 0  # process deaths injected, over all runs

    @seeded(chosen)
    @settings(
        max_examples=runs,
        database=None,
        deadline=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def one_run(data: Any) -> None:
        nonlocal deaths
        flow, context = _built(factory, None)
        run = run_with_faults(flow, storage, DrawnFaults(data, crashes), store=store)
        found = violations(run) + _user_invariant(invariant, context, run.outcome)
        outcomes[run.outcome] += 1
        deaths += run.processes - 1
        if found:
            lines = ["violation: " + problem for problem in found]
            raise FuzzViolation("\n".join([*lines, "trace:", run.trace()]))

    name = getattr(factory, "__qualname__", repr(factory))
    replay = f"fuzz({name}, runs={runs}, crashes={crashes}, seed={chosen})"
    started = time.perf_counter()
    try:
        one_run()
    except FuzzViolation as error:
        raise AssertionError(
            f"fuzz({name}) found a run that breaks an invariant (seed {chosen}; shrunk):\n"
            f"{error}\nreproduce: {replay}"
        ) from None
    except Exception as error:  # the user's code, or hypothesis finding the runs not repeatable
        error.add_note(f"while fuzzing (seed {chosen}); reproduce: {replay}")
        raise
    finally:
        close = getattr(storage, "close", None)
        if close is not None and storage is not backend:
            close()
    elapsed = time.perf_counter() - started
    return FuzzReport(chosen, sum(outcomes.values()), dict(outcomes), deaths, elapsed)


def _built(factory: Callable[[], Any], store: Mapping[str, Any] | None) -> tuple[Flow, Any]:
    if not callable(factory) or isinstance(factory, Flow):
        raise UsageError(
            f"fuzz() takes a factory that builds a flow (each run needs a fresh one), not "
            f"{type(factory).__name__}"
        )
    made = factory()
    flow, context = made if isinstance(made, tuple) else (made, None)
    if not isinstance(flow, Flow):
        raise UsageError(f"the factory returned {type(flow).__name__}, not a flow")
    if store is not None:
        compile_flow(flow, store_keys=store)
    return flow, context


def _user_invariant(
    invariant: Callable[[Any, str], Any] | None, context: Any, outcome: str
) -> list[str]:
    if invariant is None:
        return []
    name = getattr(invariant, "__name__", repr(invariant))
    try:
        held = invariant(context, outcome)
    except Exception as exc:
        return [f"invariant {name} raised {exc!r} (outcome {outcome}, context {context!r})"]
    return [] if held else [f"invariant {name} does not hold (outcome {outcome}, {context!r})"]
