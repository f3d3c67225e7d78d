"""Stopping an engine whose run was cut short in the middle, and what it answers after.

Theory of operation. An engine's core runs ahead of its store between two writes, and its loop
is a queue of small steps (`provenflow.engine._loop`). When a call is cut short in the middle
of a run (a write that raised, whatever the cause: the store unreachable, full or read-only, a
`StaleVersion`, any exception out of the store's `record`; or any other exception or
interruption out of the loop; or `run_iter()` closed before the run ended), the engine holds
what the store may not: a transition it made but could not record, the outcome of a call it
never analysed, or, after a `StaleVersion`, a run that another engine has moved on. Continuing
from there would record a `crash_recovered` that never happened, skip what was lost, and could
end SUCCESS with an atom still RUNNING on record. So the engine is **stopped**: the call that
was cut short raises what cut it short; every later `run()`, `run_iter()` or `run_async()`
raises `EngineStopped` before it touches anything; `state` and `atom_state()` answer UNKNOWN;
`results()` raises `EngineStopped`. The run goes on from the store, through an engine loaded
again (`Engine.load`, `Engine.resume`), which continues it as it would after a crash.

A call whose loop reached a terminal state (the run over or suspended; even if it raises
after, as a listener may), or that raises before its loop started, does not stop the engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from provenflow.engine._loop import Loop
from provenflow.errors import EngineStopped

__all__ = ["UNKNOWN", "Stop"]

UNKNOWN = "UNKNOWN"
"""The flow's and every atom's state as a stopped engine tells them: only the store knows."""


class Stop:
    """Whether the engine of run `flow_id` in the store at `url` is stopped, and why."""

    def __init__(self, flow_id: str, url: str) -> None:
        self.flow_id = flow_id
        self.url = url
        self.error: EngineStopped | None = None
        """The error each later call raises (a new one each time), or None while running."""
        self.cause: BaseException | None = None
        """What cut the run short (the `__cause__` of each `EngineStopped`)."""
        self.driving = False
        """Whether the current call has started the loop (set by the driver when it does)."""

    def refuse(self) -> None:
        """Raise `EngineStopped` if the engine is stopped; nothing changes."""
        if self.error is not None:
            error = EngineStopped(*self.error.args)
            raise error from self.cause

    @contextlib.contextmanager
    def watch(self, loop: Loop) -> Iterator[None]:
        """Refuse a stopped engine, then run the body (one call of the engine); stop the engine
        when the body raises after starting `loop` and before the loop reached a terminal state
        (the run over, or suspended)."""
        self.refuse()
        self.driving = False
        try:
            yield
        except BaseException as exc:
            if self.driving and loop.state.state not in loop.state.lifecycle.terminal:
                self._stop(exc, loop)
            raise

    def _stop(self, exc: BaseException, loop: Loop) -> None:
        if loop.failed_write is not None:
            reason = f"a write to {self.url} failed ({_describe(exc)})"
        elif isinstance(exc, GeneratorExit):
            reason = "run_iter() was closed before the run ended"
        else:
            reason = f"the run was cut short in the middle ({_describe(exc)})"
        self.error = EngineStopped(self.flow_id, self.url, reason)
        self.cause = exc


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
