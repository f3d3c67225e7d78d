"""Executors: where an atom's `execute` or `revert` actually runs.

The runner submits `Work` and waits for completions; a `Dispatcher` hides how. `serial` runs
each piece of work in the engine's own thread, `threads` in a thread pool, `processes` in a
process pool (atoms, arguments and results must pickle), and any `concurrent.futures.Executor`
given by the caller is used as it is (and not shut down by the engine). A per-atom `timeout`
makes the work a failure (`TimeoutError`) when it does not finish in time; Python cannot stop a
running thread or call, so the late call is abandoned and its outcome ignored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import dataclasses
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provenflow.engine._work import Work
from provenflow.errors import UsageError
from provenflow.failure import Failure
from provenflow.flows import reporting_progress

__all__ = ["Completion", "Dispatcher", "make_dispatcher", "perform", "timed_out"]

ProgressSink = Callable[[str, float], None]


@dataclass(slots=True)
class Completion:
    """The outcome of one piece of work: its result, or the failure it raised."""

    work: Work
    result: Any = None
    failure: Failure | None = None


def perform(work: Work, progress: ProgressSink | None = None) -> Any:
    """Run `work` in the calling thread and return what the user's method returned.

    An `async def` method is run to completion on a new event loop in this thread.
    """
    if progress is None:
        return _call(work)
    node = work.node
    with reporting_progress(lambda fraction: progress(node, fraction)):
        return _call(work)


def _call(work: Work) -> Any:
    atom = work.atom
    if work.action == "execute":
        outcome = atom.call_execute(work.args)
    else:
        outcome = atom.call_revert(work.args, work.result, work.flow_failures)
    if inspect.iscoroutine(outcome):
        return asyncio.run(outcome)
    return outcome


def _perform_detached(work: Work) -> Any:
    """`perform` for a process pool: no progress reporting crosses the process boundary."""
    return perform(work)


def _portable(work: Work) -> Work:
    """Return `work` with its failures stripped of live exceptions, which may not pickle."""
    result = work.result
    if isinstance(result, Failure):
        result = dataclasses.replace(result, exception=None)
    failures = {
        name: dataclasses.replace(failure, exception=None)
        for name, failure in work.flow_failures.items()
    }
    return Work(work.action, work.node, work.atom, work.attempt, work.args, result, failures)


def timed_out(work: Work) -> Failure:
    """Return the failure of `work` that did not finish within its atom's timeout."""
    return Failure.from_exception(
        TimeoutError(
            f"atom {work.node!r}: {work.action} did not finish within {work.atom.timeout} s"
        )
    )


class Dispatcher:
    """Runs work somewhere and reports completions; see the module docstring."""

    def __init__(self, pool: cf.Executor | None, owned: bool, capacity: int) -> None:
        self.pool = pool
        self.owned = owned
        self.capacity = capacity
        self.progress: ProgressSink | None = None
        self._futures: dict[cf.Future[Any], tuple[Work, float | None]] = {}
        self._done: list[Completion] = []
        self._abandoned = 0

    @property
    def free(self) -> int:
        """How many more pieces of work may be submitted now."""
        return max(self.capacity - len(self._futures) - len(self._done), 0)

    @property
    def idle(self) -> bool:
        """Whether nothing is running and no completion waits to be collected."""
        return not self._futures and not self._done

    def submit(self, work: Work) -> None:
        """Start `work`; serial work without a timeout runs right here, to completion."""
        timeout = work.atom.timeout
        if self.pool is None and timeout is None:
            try:
                self._done.append(Completion(work, perform(work, self.progress)))
            except Exception as exc:  # the user's code failed: that is an outcome
                self._done.append(Completion(work, failure=Failure.from_exception(exc)))
            return
        pool = self.pool or cf.ThreadPoolExecutor(max_workers=1)
        if isinstance(pool, cf.ProcessPoolExecutor):
            future = pool.submit(_perform_detached, _portable(work))
        else:
            future = pool.submit(perform, work, self.progress)
        deadline = None if timeout is None else time.monotonic() + timeout
        self._futures[future] = (work, deadline)
        if self.pool is None:
            pool.shutdown(wait=False)

    def wait(self) -> list[Completion]:
        """Block until at least one piece of work completes; return every completion ready."""
        if not self._done and self._futures:
            deadlines = [d for _, d in self._futures.values() if d is not None]
            limit = None if not deadlines else max(min(deadlines) - time.monotonic(), 0.0)
            finished, _ = cf.wait(list(self._futures), timeout=limit, return_when="FIRST_COMPLETED")
            for future in finished:
                work, _ = self._futures.pop(future)
                failure = None
                result = None
                exc = future.exception()
                if exc is not None:
                    failure = Failure.from_exception(exc)
                else:
                    result = future.result()
                self._done.append(Completion(work, result, failure))
            now = time.monotonic()
            for future, (work, deadline) in list(self._futures.items()):
                if deadline is not None and deadline <= now:
                    del self._futures[future]
                    if not future.cancel():
                        self._abandoned += 1
                    self._done.append(Completion(work, failure=timed_out(work)))
        done, self._done = self._done, []
        return done

    def close(self) -> None:
        """Release the pool the engine made (a caller's executor is left running).

        Waits for the pool's threads, unless a timed-out call is still running in one: that
        call cannot be stopped, so the engine does not wait for it.
        """
        if self.owned and self.pool is not None:
            self.pool.shutdown(wait=not self._abandoned, cancel_futures=True)


def make_dispatcher(executor: str | cf.Executor, max_workers: int | None = None) -> Dispatcher:
    """Return a dispatcher for `"serial"`, `"threads"`, `"processes"` or an `Executor`.

    Raises `UsageError` for anything else, naming what is accepted.
    """
    if isinstance(executor, cf.Executor):
        return Dispatcher(executor, owned=False, capacity=max_workers or _workers(executor))
    if executor == "serial":
        return Dispatcher(None, owned=False, capacity=1)
    workers = max_workers or 8
    if max_workers is not None and max_workers < 1:
        raise UsageError(f"max_workers={max_workers}: must be at least 1")
    if executor == "threads":
        return Dispatcher(cf.ThreadPoolExecutor(max_workers=workers), owned=True, capacity=workers)
    if executor == "processes":
        return Dispatcher(cf.ProcessPoolExecutor(max_workers=workers), owned=True, capacity=workers)
    raise UsageError(
        f"executor {executor!r}: expected 'serial', 'threads', 'processes' or a "
        "concurrent.futures.Executor"
    )


def _workers(executor: cf.Executor) -> int:
    workers = getattr(executor, "_max_workers", None)
    return workers if isinstance(workers, int) and workers > 0 else 8
