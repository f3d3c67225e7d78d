"""Running work on an asyncio event loop, for `Engine.run_async()`.

`async def` atoms are awaited as tasks on the running loop; plain ones run in the loop's default
thread pool, so they never block it. A per-atom `timeout` cancels the atom's task (a plain
atom's thread cannot be stopped: its late outcome is ignored). The interface matches the
thread-based `Dispatcher`, except that `wait` and `close` are coroutines.
"""

from __future__ import annotations

import asyncio
from typing import Any

from provenflow.engine._executors import Completion, ProgressSink, perform, timed_out
from provenflow.engine._work import Work
from provenflow.failure import Failure
from provenflow.flows import reporting_progress

__all__ = ["AsyncDispatcher"]


class AsyncDispatcher:
    """Runs work as asyncio tasks; see the module docstring."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.progress: ProgressSink | None = None
        self._tasks: dict[asyncio.Future[Any], Work] = {}

    @property
    def free(self) -> int:
        """How many more pieces of work may be submitted now."""
        return max(self.capacity - len(self._tasks), 0)

    @property
    def idle(self) -> bool:
        """Whether nothing is running."""
        return not self._tasks

    def submit(self, work: Work) -> None:
        """Start `work` as a task on the running loop."""
        self._tasks[asyncio.ensure_future(self._run(work))] = work

    async def _run(self, work: Work) -> Any:
        call = self._call_async(work) if work.atom.is_async else self._call_in_thread(work)
        if work.atom.timeout is None:
            return await call
        return await asyncio.wait_for(call, work.atom.timeout)

    async def _call_async(self, work: Work) -> Any:
        progress = self.progress
        if progress is None:
            return await _awaitable(work)
        with reporting_progress(lambda fraction: progress(work.node, fraction)):
            return await _awaitable(work)

    async def _call_in_thread(self, work: Work) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, perform, work, self.progress)

    async def wait(self) -> list[Completion]:
        """Wait until at least one piece of work completes; return every completion ready."""
        done, _ = await asyncio.wait(list(self._tasks), return_when=asyncio.FIRST_COMPLETED)
        completions = []
        for task in done:
            work = self._tasks.pop(task)
            exc = task.exception()
            if isinstance(exc, TimeoutError):
                completions.append(Completion(work, failure=timed_out(work)))
            elif exc is not None:
                completions.append(Completion(work, failure=Failure.from_exception(exc)))
            else:
                completions.append(Completion(work, task.result()))
        return completions

    async def close(self) -> None:
        """Cancel whatever is still running (only after the run was abandoned)."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


async def _awaitable(work: Work) -> Any:
    atom = work.atom
    if work.action == "execute":
        return await atom.call_execute(work.args)
    return await atom.call_revert(work.args, work.result, work.flow_failures)
