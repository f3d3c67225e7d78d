"""How far a search that a bound stopped got: the fault level it finished, and the next's share.

The search is a 0-1 breadth-first search by faults (a crash, an injected failure or a
suspension costs one; see `_checker`): every branch with n faults is taken before any with
n + 1. So when a bound stops it while it takes branches with L faults, every run with fewer
than L faults was explored, and the report may say so (`Report.fault_level`). How much of
level L was done is only known of the branches found so far: `Levels` counts those taken, the
queue holds those waiting, and the branches they would still uncover are counted nowhere, so
the share is an upper bound (`Report.fault_level_explored`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from provenflow.verification._report import Report

__all__ = ["Levels"]


class Levels:
    """The branches (with snapshots: states) a search took, counted by their faults."""

    def __init__(self) -> None:
        self.taken: dict[int, int] = {}

    def take(self, faults: int) -> None:
        """Count a branch with `faults` faults taken from the queue."""
        self.taken[faults] = self.taken.get(faults, 0) + 1

    def stopped(
        self, report: Report, level: int, queued: Iterable[tuple[Any, ...]], cut: bool = False
    ) -> None:
        """Say in `report` that a bound stopped the search while it took branches with `level`
        faults; `queued` are the entries left (each starts with its faults), `cut` whether the
        last branch taken was cut short (it is not counted as done)."""
        taken = self.taken.get(level, 0)
        found = taken + sum(1 for entry in queued if entry[0] == level)
        report.fault_level = level
        report.fault_level_explored = (taken - cut) / found if found else 0.0
