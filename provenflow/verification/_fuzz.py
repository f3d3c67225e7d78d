"""Fuzzing: a flow run many times through the real engine and store, with random faults.

`fuzz(factory)` runs the user's flow again and again on a real `Engine` and a real store
(`memory://`, SQLite, ...). In each run hypothesis decides, piece of work by piece of work and
write by write, where a fault strikes: an `execute` raises, the process dies before or after a
side effect, or before a write; after each death the run is resumed with `Engine.load`
(`_fuzz_run`). Each run's record is then checked against DESIGN.md's invariants
(`_fuzz_violations`: table transitions only, a terminal end with nothing left open, write-ahead,
dependents reverted first, what each end means) and the user's `invariant(context, outcome)`.

A failing run shrinks (hypothesis makes the faults fewer and earlier) and `fuzz` raises an
AssertionError with the shrunk run's trace and the seed: `fuzz(factory, seed=N)` replays it.
Runs are serial, so a seed always gives the same runs; the order of ready atoms is the engine's
own (`check` explores every order). `check_plan` runs a `FlowPlan` (see `_strategies_plans`) the
same way and adds the checks its journal allows: the engine's own suite uses it.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenflow.errors import MissingValue, UsageError
from provenflow.flows import Flow, compile_flow
from provenflow.persistence import Storage, open_storage
from provenflow.verification._fuzz_run import DrawnFaults, Faults, FaultyRun, run_with_faults
from provenflow.verification._fuzz_violations import violations
from provenflow.verification._simulation import InjectedFailure
from provenflow.verification._strategies import _strategies
from provenflow.verification._strategies_plans import FlowPlan
from provenflow.verification._strategies_tasks import Journal, PlannedFailure

__all__ = [
    "FuzzReport",
    "check_plan",
    "fuzz",
]


def check_plan(plan: FlowPlan, storage: Storage, faults: Faults) -> tuple[FaultyRun, list[str]]:
    """Run `plan`'s flow with `faults` (besides its tasks' own) and return the run and every
    violation: `violations`' invariants (FAILURE allowed when a revert raised) and the
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
