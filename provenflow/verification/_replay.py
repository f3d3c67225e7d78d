"""Playing one explored path again: `replay(factory, choices)` (a `Violation`'s `choices`).

The path runs as the search ran it (`Simulation.run`), with the same store, bounds and user
checks, and its steps come back as text ending with what stopped it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from provenflow.engine import load_object
from provenflow.verification._checker import Check, factory_of, user_checks
from provenflow.verification._signals import Branch, Broken, Finished
from provenflow.verification._simulation import Simulation

__all__ = ["replay"]


def _loaded(check: Check | str | None, kind: str) -> Check | None:
    return load_object(check, kind) if isinstance(check, str) else check


def replay(
    factory: str | Callable[[], Any],
    choices: Sequence[int],
    store: dict[str, Any] | None = None,
    *,
    crashes: int = 2,
    suspends: int = 0,
    revert_failures: bool = False,
    invariant: Check | str | None = None,
    always: Check | str | None = None,
    eventually: Check | str | None = None,
) -> str:
    """Replay one path (from a `Violation`'s `choices`) and return its steps and its end.

    `factory` and the checks may be `FILE_OR_MODULE:NAME` specs; pass the same store, bounds
    and user checks as to `check` (a `Violation`'s `reproduction()` does). The text ends with
    the violation, the outcome, or the choice the path would make next. Raises `UsageError`
    for a spec that cannot be loaded.
    """
    if isinstance(factory, str):
        factory = load_object(factory, "factory")
    checks = user_checks(
        *(
            _loaded(c, k)
            for c, k in ((invariant, "invariant"), (always, "always"), (eventually, "eventually"))
        )
    )
    simulation = Simulation(
        factory_of(factory),
        store or {},
        choices,
        max_crashes=crashes,
        user_checks=checks,
        max_suspends=suspends,
        revert_failures=bool(revert_failures),
    )
    try:
        simulation.run()
    except Broken as broken:
        end = f"violation: {broken.message}"
    except Finished as finished:
        end = f"finished: {finished.outcome}"
    except Branch as branch:
        end = f"next choice: {', '.join(branch.options)}"
    return "\n".join([*simulation.steps, end])
