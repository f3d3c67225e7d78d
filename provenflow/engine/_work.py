"""The plain data that passes between the engine's pure core and its runner.

The core hands out `Work` (execute or revert one atom, with its arguments resolved); the runner
performs it and hands back the outcome. Everything the core decides is also described as
`Transition`s (see `provenflow.persistence`), which the runner records and announces.
`AtomRecord` is what the runner loads from a store to rebuild a core on resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from provenflow.failure import Failure
from provenflow.flows import Atom, History

__all__ = ["AtomRecord", "Work"]


@dataclass(slots=True, eq=False)
class Work:
    """One side effect to perform: run `atom.execute` or `atom.revert` for node `node`.

    `args` are the resolved arguments (a retry's include `history`). For a revert, `result` is
    what execute returned, or the `Failure` it raised (or an `Interrupted` failure when the
    process died while it ran), and `flow_failures` maps atom names to their failures.
    """

    action: Literal["execute", "revert"]
    node: str
    atom: Atom
    attempt: int
    args: dict[str, Any]
    result: Any = None
    flow_failures: Mapping[str, Failure] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Work {self.action} {self.node!r} attempt {self.attempt}>"


@dataclass(slots=True)
class AtomRecord:
    """What a store says about one atom of a run, rebuilt from its transitions.

    `events` replayed from the initial state give the atom's state. `outcome` is the last
    execute result (or `Failure`) of the current attempt, kept until it is reverted
    (`has_outcome` tells a result of None from no outcome at all); `provides` the result of
    the last execute that succeeded, kept until the atom is reverted or its revert fails,
    whatever happens in between (a retry keeps it while RETRYING and while it runs again, as
    the core keeps what an atom provided: `has_provides` tells a result of None from none);
    `failure` the failure of that attempt, kept until the atom succeeds or is reset (so a
    reverted run still reports why); `history` a retry's history.
    """

    events: list[str] = field(default_factory=list)
    attempt: int = 0
    outcome: Any = None
    has_outcome: bool = False
    provides: Any = None
    has_provides: bool = False
    failure: Failure | None = None
    history: History | None = None
    revert_failure: Failure | None = None
