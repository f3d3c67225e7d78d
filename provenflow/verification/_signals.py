"""How an explored path stops or pauses: the signals `Simulation` raises to its search.

`Branch` (a choice not made yet), `Finished` (the run's end), `Broken` (a violated invariant),
`Merged` (a state another path passed with no more faults) and, inside a path, `Crash` (the
simulated process died).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Branch", "Broken", "Crash", "Finished", "Merged"]


class Crash(BaseException):
    """The simulated process died; only what the store holds survives."""


@dataclass
class Branch(Exception):
    """The path needs a choice it has not made: `options` describe each, `key` the state."""

    options: tuple[str, ...]
    key: Any


@dataclass
class Broken(Exception):
    """An invariant failed: `message` says how, `rule` names which (short and stable: see
    `_invariants` and `_record_rules`; "engine" for a run the engine left stuck)."""

    message: str
    rule: str = "engine"


class Merged(Exception):
    """The path passed through a state another path passed through with no more faults: it
    would go on exactly as that one did, so it goes no further (see `Simulation.passed`)."""


@dataclass
class Finished(Exception):
    """The path ran to its end: `outcome` is the flow's final state."""

    outcome: str
