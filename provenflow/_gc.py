"""Pausing Python's cyclic garbage collector while provenflow builds or searches.

Compiling a flow, building an engine core and a model checker's search allocate many small
objects that form no reference cycle and are not garbage while the work lasts; each collection
would walk everything built so far, which makes the work superlinear. `collector_paused` turns
the collector off for a block and restores its previous state on exit, whatever happens; what
the block frees is still freed at once by reference counting. A leaf module: it imports
nothing of provenflow, so every layer may use it.
"""

from __future__ import annotations

import gc

__all__ = ["collector_paused"]


class collector_paused:  # noqa: N801 (used like a function: `with collector_paused():`)
    """A context manager that pauses the cyclic collector and restores its previous state.

    A class, not a generator, because it is entered for every core built: thousands of times
    in a model checker's search.
    """

    __slots__ = ("_was_enabled",)

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self._was_enabled:
            gc.enable()
