"""The measuring harness shared by `provenflow_cases.py` and `taskflow_cases.py`.

Each case script runs in a fresh interpreter, measures one case at one size and prints exactly
one JSON object on stdout (anything the libraries print goes to stderr). The steps are the same
for both libraries:

1. the bare loop (provenflow side only): `noop()` called once per task in a plain loop (a loop
   of fewer than `BARE_LOOP_CALLS` calls is run several times in a row and the time divided);
2. a warm-up run of the same case with `WARM_UP_N`, so lazy imports and plug-in loading are not
   counted as per-task memory, then the same small run timed (`small_run_seconds`): the fixed
   cost of one run, whatever its size;
3. the memory pass: one build + run under `tracemalloc`; its peak is what build + run held at
   once (Python allocations only, not the interpreter or the imports);
4. the timing pass: build + run timed with `time.perf_counter`, repeated while there is budget
   (`MAX_RUNS`, `TIME_BUDGET_SECONDS`), the best run kept; tracemalloc is off.

Every run, warm-up included, is checked afterwards (outside the timing): the flow and every task
must have ended in SUCCESS, so a run that did nothing can never produce a number.

The store cases (`STORE_CASES`: a linear flow on a durable store) run the same steps, each run on
a fresh store (a new SQLite file, or a new PostgreSQL schema) that the library opens before the
run and deletes after it, outside the timing: what is timed is still build + run, where the run
records every transition in that store. The time to open a fresh store is reported on its own
(`store_open_seconds`, the best of the runs), and the check also reads the run back from the
store. A case a library measures its own way (provenflow's `resume`) is passed to `main` in
`custom`.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

CASES = ("linear", "unordered", "diamond", "sqlite", "sqlite-full", "postgresql", "resume")
STORE_CASES = ("sqlite", "sqlite-full", "postgresql")  # a linear flow on a durable store
MAX_RUNS = 5
TIME_BUDGET_SECONDS = 3.0
WARM_UP_N = 10
BARE_LOOP_CALLS = 100_000  # a bare loop of fewer calls is repeated up to this many


def noop() -> None:
    """Do nothing: the work of every benchmarked task, and of the bare loop."""


def task_names(case: str, n: int) -> list[str]:
    """Return the task names of `case` at size `n`, in the order they are added to the flow.

    Linear and unordered flows have `n` tasks; the diamond has one source, `n // 2` middle tasks
    and one sink (1 -> N/2 -> 1).
    """
    if case == "diamond":
        return ["source", *(f"middle-{i}" for i in range(n // 2)), "sink"]
    return [f"task-{i}" for i in range(n)]


class Unavailable(Exception):
    """The library, or the part of its API a case needs, is not there to be measured."""


class Library(Protocol):
    """One side of the comparison, as a case script presents it to `main`."""

    def fresh_store(self, case: str) -> AbstractContextManager[Any]:
        """Return a context that opens a fresh store for one run of `case` and deletes it after.

        It gives None for the in-memory cases. Raises `Unavailable` when the store cannot be had
        (a database server that cannot be reached, a driver that is not installed).
        """
        ...

    def run(self, case: str, names: list[str], store: Any) -> object:
        """Build the flow of `case` with tasks named `names`, run it on `store` (None: in
        memory), and return the engine."""
        ...

    def check(self, engine: object, names: list[str], store: Any) -> None:
        """Raise `RuntimeError` unless the flow and every named task ended in SUCCESS (and, on
        a store, the store holds the run as ended)."""
        ...

    def details(self, case: str) -> dict[str, Any]:
        """Return what the report should say about how `case` ran (store settings, server)."""
        ...


Run = Callable[[Any], object]
Check = Callable[[object, Any], None]
Fresh = Callable[[], AbstractContextManager[Any]]


def _no_store() -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


def _best_time(run: Run, check: Check, fresh: Fresh = _no_store) -> tuple[float, int, float]:
    """Time `run` up to `MAX_RUNS` times within the budget, each on a `fresh()` store opened
    and deleted outside the timing; return (best seconds, runs made, best store opening)."""
    best = opened = float("inf")
    runs = 0
    spent = 0.0
    while runs < MAX_RUNS and (runs == 0 or spent < TIME_BUDGET_SECONDS):
        opening = time.perf_counter()
        with fresh() as store:
            opened = min(opened, time.perf_counter() - opening)
            gc.collect()
            start = time.perf_counter()
            result = run(store)
            elapsed = time.perf_counter() - start
            check(result, store)
            del result
        best = min(best, elapsed)
        spent += elapsed
        runs += 1
    return best, runs, opened


def _peak_bytes(run: Run, check: Check, fresh: Fresh = _no_store) -> int:
    """Return the peak of Python memory allocated while `run` built and ran its flow."""
    with fresh() as store:
        gc.collect()
        tracemalloc.start()
        try:
            result = run(store)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        check(result, store)
        del result
    return peak


def _bare_loop(tasks: int) -> dict[str, Any]:
    """Time a plain loop calling `noop` once per task; small loops are repeated to be timed."""
    repeats = max(1, BARE_LOOP_CALLS // tasks)

    def loop(_store: object) -> None:
        for _ in range(repeats):
            for _ in range(tasks):
                noop()

    seconds, runs, _ = _best_time(loop, lambda _result, _store: None)
    return {"seconds": seconds / repeats, "runs": runs, "repeats": repeats}


def _measure(library: Library, case: str, n: int) -> dict[str, Any]:
    warm_up = task_names(case, WARM_UP_N)
    names = task_names(case, n)

    def fresh() -> AbstractContextManager[Any]:
        return library.fresh_store(case)

    def run(store: Any) -> object:
        return library.run(case, names, store)

    def check(engine: object, store: Any) -> None:
        library.check(engine, names, store)

    def run_small(store: Any) -> object:
        return library.run(case, warm_up, store)

    def check_small(engine: object, store: Any) -> None:
        library.check(engine, warm_up, store)

    with fresh() as store:
        check_small(run_small(store), store)
    small_seconds, _, _ = _best_time(run_small, check_small, fresh)
    peak = _peak_bytes(run, check, fresh)
    seconds, runs, opened = _best_time(run, check, fresh)
    result = {
        "ok": True,
        "seconds": seconds,
        "runs": runs,
        "peak_bytes": peak,
        "small_run_seconds": small_seconds,
    }
    if case in STORE_CASES:
        result["store_open_seconds"] = opened
    result["details"] = library.details(case)
    return result


def main(
    argv: list[str] | None,
    *,
    library_name: str,
    load: Callable[[], Library],
    versions: Callable[[], dict[str, str]],
    bare_loop: bool,
    cases: tuple[str, ...] = CASES,
    custom: Mapping[str, Callable[[Library, str, int], dict[str, Any]]] | None = None,
) -> int:
    """Measure the case named on the command line and print its JSON result on stdout.

    `cases` are the cases this library has; `custom` maps a case measured its own way to the
    function that measures it (given the library, the case and N, it returns the result's fields).
    Returns the exit status: 0 when the case was measured, 1 when the library was unavailable
    or a run failed (the JSON then has `ok: false` and `error`; `case_unavailable: true` when
    the library is there but what the case needs, a database say, is not).
    """
    parser = argparse.ArgumentParser(description=f"Measure one {library_name} benchmark case.")
    parser.add_argument("--case", choices=cases, required=True)
    parser.add_argument("--n", type=int, required=True, help="flow size N")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "library": library_name,
        "case": args.case,
        "n": args.n,
        "tasks": len(task_names(args.case, args.n)),
    }
    with contextlib.redirect_stdout(sys.stderr):
        result["versions"] = versions()
        if bare_loop:
            result["bare_loop"] = _bare_loop(result["tasks"])
        try:
            library = load()
        except Unavailable as error:
            result.update(ok=False, available=False, error=str(error))
        else:
            measure = (custom or {}).get(args.case, _measure)
            try:
                result.update(measure(library, args.case, args.n))
            except Unavailable as error:
                result.update(ok=False, available=False, case_unavailable=True, error=str(error))
            except Exception as error:
                result.update(ok=False, available=True, error=f"{type(error).__name__}: {error}")
                result["traceback"] = traceback.format_exc()
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1
