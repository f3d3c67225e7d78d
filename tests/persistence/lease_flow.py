"""The flow of the multi-process lease test: `first`, then `slow` (held while a file exists),
then `last`; each task appends `<name> <pid>` to the side-effect log named in the run's store.

`slow` creates the `entered` file once it runs, then waits while the `hold` file exists (polling
it, with a deadline): the test knows the process is inside it, and lets it go by removing the
file. Run as `provenflow run tests/persistence/lease_flow.py:make_flow --store ...`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import provenflow as pf


def _log(log: str, name: str) -> None:
    with open(log, "a", encoding="utf-8") as file:
        file.write(f"{name} {os.getpid()}\n")
        file.flush()
        os.fsync(file.fileno())


def first(log: str) -> str:
    _log(log, "first")
    return "one"


def slow(log: str, hold: str, entered: str) -> str:
    _log(log, "slow")
    Path(entered).write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + 120
    while os.path.exists(hold):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{hold} was never removed")
        time.sleep(0.02)
    return "two"


def last(log: str) -> None:
    _log(log, "last")


def make_flow() -> pf.Flow:
    return pf.LinearFlow("leased").add(
        pf.task(first, name="first"), pf.task(slow, name="slow"), pf.task(last, name="last")
    )
