"""Playing one explored path again: `replay(factory, violation)` (or a `Violation`'s `choices`).

The path runs as the search ran it (`Simulation`), with the same store, bounds and user checks,
and its steps come back as text ending with the world (when the factory gives one) and what
stopped it. A path's choices mean something only under the bounds it was found with (a crash
option exists only while crashes are left), so `replay` refuses other bounds or another store
than a given violation's, and a choice its path does not have.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from provenflow.engine import load_object
from provenflow.errors import UsageError
from provenflow.verification._checker import Check, factory_of, user_checks
from provenflow.verification._report import WORLD_LONGEST, Violation
from provenflow.verification._signals import Broken, Finished
from provenflow.verification._simulation import Simulation
from provenflow.verification._steps import shortened
from provenflow.verification._world import describe_world, world_text

__all__ = ["replay"]

DEFAULT_BOUNDS: dict[str, int] = {"crashes": 2, "suspends": 0, "revert_failures": 0, "workers": 2}
"""What `check` explores when not told otherwise (a violation omits revert_failures=0 and
workers=2)."""


def _loaded(check: Check | str | None, kind: str) -> Check | None:
    return load_object(check, kind) if isinstance(check, str) else check


def replay(
    factory: str | Callable[[], Any],
    choices: Sequence[int] | Violation | Mapping[str, Any],
    store: dict[str, Any] | None = None,
    *,
    crashes: int | None = None,
    suspends: int | None = None,
    revert_failures: bool | None = None,
    workers: int | None = None,
    invariant: Check | str | None = None,
    always: Check | str | None = None,
    eventually: Check | str | None = None,
) -> str:
    """Replay one path and return its steps, the world, and its end, as text.

    `choices` is a `Violation` (or its `to_data()`), whose bounds and store are then used, or
    its `choices`, with the same store and bounds as `check` was given (the defaults are
    check's: crashes=2, suspends=0, revert_failures=False, workers=2). Pass the same user checks (a
    `Violation`'s `reproduction()` does); `factory` and the checks may be `FILE_OR_MODULE:NAME`
    specs. The text ends with the violation, the outcome, or the choice the path would make
    next. Raises `UsageError` for a spec that cannot be loaded, for bounds or a store that
    differ from the violation's (naming both), and for a choice the path does not have.
    """
    if isinstance(factory, str):
        factory = load_object(factory, "factory")
    given = {
        "crashes": crashes,
        "suspends": suspends,
        "revert_failures": revert_failures,
        "workers": workers,
    }
    path, bounds, store = _bounds_of(choices, given, store)
    low = {name: value for name, value in bounds.items() if value < (name == "workers")}
    if low:
        named = ", ".join(f"{name}={value}" for name, value in low.items())
        raise UsageError(
            f"replay: {named}: crashes and suspends must be 0 or more, workers 1 or more"
        )
    checks = user_checks(
        *(
            _loaded(c, k)
            for c, k in ((invariant, "invariant"), (always, "always"), (eventually, "eventually"))
        )
    )
    simulation = Simulation(
        factory_of(factory),
        store,
        (),
        max_crashes=bounds["crashes"],
        user_checks=checks,
        max_suspends=bounds["suspends"],
        revert_failures=bool(bounds["revert_failures"]),
        workers=bounds["workers"],
    )
    try:
        end = f"next choice: {', '.join(_follow(simulation, path, bounds))}"
    except (Broken, Finished) as ended:
        end = _end(ended)
    world = describe_world(simulation.context)
    lines = [*simulation.steps]
    if world is not None:
        lines.append(f"world: {shortened(world_text(world), WORLD_LONGEST)}")
    return "\n".join([*lines, end])


def _follow(
    simulation: Simulation, path: Sequence[int], bounds: Mapping[str, int]
) -> tuple[str, ...]:
    """Take `path`'s choices and return the options of the next choice; `Finished` / `Broken`
    propagate where the path ends after its last choice. Raises `UsageError` at a choice the
    path does not have, or when it ends before its last choice."""
    named = ", ".join(f"{name}={value}" for name, value in bounds.items())
    hint = "replay with the bounds and store the path was found with (pass the Violation)"
    for number, choice in enumerate(path, 1):
        try:
            options = simulation.advance()
        except (Finished, Broken) as ended:
            raise UsageError(
                f"replay: with {named} the path ends ({_end(ended)}) before choice {number} "
                f"of its {len(path)}; {hint}"
            ) from None
        if not 0 <= choice < options:
            raise UsageError(
                f"replay: choice {number} is {choice}, but with {named} the path has "
                f"{options} options there (0 to {options - 1}); {hint}"
            )
        simulation.apply(choice)
    return simulation.next_choice()


def _end(ended: Finished | Broken) -> str:
    """The line that says how a path ended."""
    if isinstance(ended, Broken):
        return f"violation: {ended.message}"
    return f"finished: {ended.outcome}"


def _bounds_of(
    choices: Sequence[int] | Violation | Mapping[str, Any],
    given: Mapping[str, int | bool | None],
    store: dict[str, Any] | None,
) -> tuple[tuple[int, ...], dict[str, int], dict[str, Any]]:
    """The path, bounds and store to replay: a violation's (refusing other ones given), or
    the ones given (check's defaults for those not given)."""
    if isinstance(choices, Violation):
        path, found, found_store = choices.choices, dict(choices.bounds), dict(choices.store)
    elif isinstance(choices, Mapping):
        path = tuple(choices["choices"])
        found, found_store = dict(choices.get("bounds", {})), dict(choices.get("store", {}))
    else:
        bounds = {
            name: DEFAULT_BOUNDS[name] if value is None else int(value)
            for name, value in given.items()
        }
        return tuple(choices), bounds, dict(store or {})
    bounds = {name: int(found.get(name, DEFAULT_BOUNDS[name])) for name in DEFAULT_BOUNDS}
    differ: list[tuple[str, object, object]] = [
        (name, int(value), bounds[name])
        for name, value in given.items()
        if value is not None and int(value) != bounds[name]
    ]
    if store is not None and dict(store) != found_store:
        differ.append(("store", store, found_store))
    if differ:
        asked = ", ".join(f"{name}={value!r}" for name, value, _ in differ)
        found_with = ", ".join(f"{name}={value!r}" for name, _, value in differ)
        raise UsageError(
            f"replay: {asked} given, but the violation was found with {found_with}; its "
            "choices mean another path under other bounds (leave them out to use the "
            "violation's)"
        )
    return tuple(path), bounds, found_store
