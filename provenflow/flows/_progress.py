"""Progress reporting: how `Task.update_progress` reaches whoever runs the task.

A task calls `self.update_progress(fraction)` from inside `execute` or `revert`. The runner
decides where that goes: it wraps each call of an atom in `reporting_progress(callback)`, and
every `update_progress` made inside (in the same thread, or the same asyncio task) hands the
checked, clamped fraction to `callback`. Outside such a block `update_progress` does nothing, so
a task can be called directly in a unit test.

The callback travels in a `contextvars.ContextVar`, so concurrent calls in threads or asyncio
tasks each reach their own callback: enter `reporting_progress` in the thread or task that makes
the call (`contextvars.copy_context().run` carries it into an executor).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from numbers import Real

from provenflow.errors import UsageError

__all__ = ["ProgressCallback", "report_progress", "reporting_progress"]

ProgressCallback = Callable[[float], None]
"""Receives a progress fraction in [0, 1]."""

_callback: ContextVar[ProgressCallback | None] = ContextVar("provenflow_progress", default=None)


@contextmanager
def reporting_progress(callback: ProgressCallback) -> Iterator[None]:
    """Send every `update_progress` made inside this block (in this context) to `callback`.

    The previous callback (or none) is restored on exit, also when the block raises.
    """
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)


def report_progress(who: str, fraction: object) -> None:
    """Check `fraction`, clamp it to [0, 1] and hand it to the current callback, if any.

    Raises `UsageError` naming `who` (e.g. "task 'fetch'") when `fraction` is not a real number
    (a bool and NaN are refused); nothing is reported then.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or math.isnan(fraction):
        raise UsageError(f"{who}: update_progress takes a number from 0 to 1, got {fraction!r}")
    callback = _callback.get()
    if callback is not None:
        callback(min(1.0, max(0.0, float(fraction))))
