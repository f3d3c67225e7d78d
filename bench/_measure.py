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
from collections.abc import Callable
from typing import Any, Protocol

CASES = ("linear", "unordered", "diamond")
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

    def run(self, case: str, names: list[str]) -> object:
        """Build the flow of `case` with tasks named `names`, run it, and return the engine."""
        ...

    def check(self, engine: object, names: list[str]) -> None:
        """Raise `RuntimeError` unless the flow and every named task ended in SUCCESS."""
        ...


def _best_time(run: Callable[[], object], check: Callable[[object], None]) -> tuple[float, int]:
    """Time `run` up to `MAX_RUNS` times within the budget; return (best seconds, runs made)."""
    best = float("inf")
    runs = 0
    spent = 0.0
    while runs < MAX_RUNS and (runs == 0 or spent < TIME_BUDGET_SECONDS):
        gc.collect()
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
        check(result)
        del result
        best = min(best, elapsed)
        spent += elapsed
        runs += 1
    return best, runs


def _peak_bytes(run: Callable[[], object], check: Callable[[object], None]) -> int:
    """Return the peak of Python memory allocated while `run` built and ran its flow."""
    gc.collect()
    tracemalloc.start()
    try:
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    check(result)
    return peak


def _bare_loop(tasks: int) -> dict[str, Any]:
    """Time a plain loop calling `noop` once per task; small loops are repeated to be timed."""
    repeats = max(1, BARE_LOOP_CALLS // tasks)

    def loop() -> None:
        for _ in range(repeats):
            for _ in range(tasks):
                noop()

    seconds, runs = _best_time(loop, lambda _result: None)
    return {"seconds": seconds / repeats, "runs": runs, "repeats": repeats}


def _measure(library: Library, case: str, n: int) -> dict[str, Any]:
    warm_up = task_names(case, WARM_UP_N)
    library.check(library.run(case, warm_up), warm_up)
    names = task_names(case, n)

    def run() -> object:
        return library.run(case, names)

    def check(engine: object) -> None:
        library.check(engine, names)

    def run_small() -> object:
        return library.run(case, warm_up)

    def check_small(engine: object) -> None:
        library.check(engine, warm_up)

    small_seconds, _ = _best_time(run_small, check_small)
    peak = _peak_bytes(run, check)
    seconds, runs = _best_time(run, check)
    return {
        "ok": True,
        "seconds": seconds,
        "runs": runs,
        "peak_bytes": peak,
        "small_run_seconds": small_seconds,
    }


def main(
    argv: list[str] | None,
    *,
    library_name: str,
    load: Callable[[], Library],
    versions: Callable[[], dict[str, str]],
    bare_loop: bool,
) -> int:
    """Measure the case named on the command line and print its JSON result on stdout.

    Returns the exit status: 0 when the case was measured, 1 when the library was unavailable
    or a run failed (the JSON then has `ok: false` and `error`).
    """
    parser = argparse.ArgumentParser(description=f"Measure one {library_name} benchmark case.")
    parser.add_argument("--case", choices=CASES, required=True)
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
            try:
                result.update(_measure(library, args.case, args.n))
            except Exception as error:
                result.update(ok=False, available=True, error=f"{type(error).__name__}: {error}")
                result["traceback"] = traceback.format_exc()
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1
