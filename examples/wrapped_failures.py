"""Several tasks failing at once: `MultipleFailures`, an `ExceptionGroup`, handled with `except*`.

The provenflow counterpart of TaskFlow's `wrapped_exception.py`. When one atom fails, `run()`
re-raises its exception as it was. When several fail (two parallel tasks that were both running
when the first failure came in), there is no single original exception: `run()` raises
`pf.MultipleFailures`, a subclass of the built-in `ExceptionGroup` holding each exception. It is
handled like any exception group, for example with `except*`, one clause per kind.

A `threading.Barrier` makes both tasks really run at the same time before they fail, so the
example does not depend on luck. Threads finish in no fixed order, so the failures are sorted.
"""

from __future__ import annotations

import threading
from typing import Any

import provenflow as pf


class FirstError(Exception):
    pass


class SecondError(Exception):
    pass


class Boom(pf.Task):
    """Waits for its sibling to be running too, then raises the error it was given."""

    def __init__(self, name: str, error: type[Exception], barrier: threading.Barrier) -> None:
        self.error = error
        self.barrier = barrier
        super().__init__(name)

    def execute(self) -> None:
        self.barrier.wait()
        raise self.error(f"{self.name} went wrong")

    def revert(self, **_: Any) -> None:
        pass


def build() -> pf.UnorderedFlow:
    barrier = threading.Barrier(2, timeout=10)
    return pf.UnorderedFlow("two-failures").add(
        Boom("first", FirstError, barrier),
        Boom("second", SecondError, barrier),
    )


def main() -> None:
    # Both tasks must run at once, so the executor needs at least two workers.
    engine = pf.Engine(build(), executor="threads", max_workers=2)
    try:
        engine.run()
    except* FirstError as firsts:
        # `firsts` is an exception group holding only the FirstErrors.
        for first in firsts.exceptions:
            print(f"handled {type(first).__name__}: {first}")
    except* SecondError as seconds:
        for second in seconds.exceptions:
            print(f"handled {type(second).__name__}: {second}")

    # The same, caught as a whole: the group says how many atoms failed.
    engine = pf.Engine(build(), executor="threads", max_workers=2)
    try:
        engine.run()
    except pf.MultipleFailures as group:
        print(f"caught: {group.message}")
        print(f"an ExceptionGroup: {isinstance(group, ExceptionGroup)}")
        for line in sorted(f"{type(exc).__name__}: {exc}" for exc in group.exceptions):
            print(f"  {line}")
    print(f"flow state: {engine.state}")
    for name, failure in sorted(engine.failures().items()):
        print(f"  {name}: {engine.atom_state(name)}, failed with {failure}")


if __name__ == "__main__":
    main()
