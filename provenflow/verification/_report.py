"""What a model check reports: the `Report` of a search and each `Violation` it found.

A violation carries the path to it twice: as `choices` (what `replay` takes to play it again)
and as `steps` (text, oldest first) with `events` (the same steps as data, which the trace
diagrams draw); `reproduction()` prints a short program that replays it with the same store,
bounds and user checks. `to_data()` is the form `provenflow verify --json` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Report", "Violation"]


@dataclass(frozen=True)
class Violation:
    """A broken invariant, with a path to it that takes the fewest faults (crashes, failures).

    `steps` are the path's events in order; `choices` replay it (`replay`). `str()` prints the
    steps; `reproduction()` a short program that replays it.
    """

    message: str
    choices: tuple[int, ...]
    steps: tuple[str, ...]
    factory: str | None = None
    bounds: tuple[tuple[str, int], ...] = ()
    """The `crashes` and `suspends` the path was found with (`replay` needs the same)."""
    events: tuple[dict[str, Any], ...] = ()
    """The steps as data (`Simulation.events`): what the trace diagrams draw."""
    checks: tuple[tuple[str, str | None], ...] = ()
    """The user checks the search ran: (`invariant` / `always` / `eventually`, spec or None
    when the function is not importable by name)."""
    store: tuple[tuple[str, Any], ...] = ()
    """The store the flow ran with (`replay` needs the same)."""

    def __str__(self) -> str:
        lines = [f"violation: {self.message}", "trace:"]
        lines += [f"  {number:>2}. {step}" for number, step in enumerate(self.steps, 1)]
        return "\n".join(lines)

    def reproduction(self) -> str:
        """Return a short Python program that replays this path and shows the violation.

        Factories and checks importable by name (`FILE_OR_MODULE:NAME`) are named so; others
        appear as the placeholders `make_flow` / `<kind>_check` with a comment to fill them in.
        """
        lines = ["from provenflow.verification import replay"]
        if not self.factory:
            lines.append("# make_flow: your factory, the function that builds the flow")
        arguments = [repr(self.factory) if self.factory else "make_flow"]
        arguments.append(f"choices={list(self.choices)!r}")
        if self.store:
            arguments.append(f"store={dict(self.store)!r}")
        arguments += [f"{name}={value}" for name, value in self.bounds]
        for kind, spec in self.checks:
            if spec is None:
                lines.append(f"# {kind}_check: the {kind}= function the search was given")
            arguments.append(f"{kind}={spec!r}" if spec else f"{kind}={kind}_check")
        lines.append(f"print(replay({', '.join(arguments)}))")
        return "\n".join(lines)

    def to_data(self) -> dict[str, Any]:
        """Return the violation as plain data (for JSON and for diagrams)."""
        return {
            "message": self.message,
            "choices": list(self.choices),
            "steps": list(self.steps),
            "factory": self.factory,
            "bounds": dict(self.bounds),
            "events": [dict(event) for event in self.events],
            "store": dict(self.store),
            "checks": dict(self.checks),
        }


@dataclass
class Report:
    """What a check found: `ok` when no violation was found and the search was complete."""

    states_explored: int = 0
    """The distinct states reached: every write and every outcome (see `choices`)."""
    choices: int = 0
    """Of `states_explored`, those with more than one option (the others had one)."""
    transitions: int = 0
    paths: int = 0
    elapsed: float = 0.0
    incomplete: str | None = None
    violations: list[Violation] = field(default_factory=list)
    unmerged: tuple[str, ...] = ()
    """What the search could not capture by value (a world that is not plain data), so did
    not merge states on: each such state was explored on its own (sound, only slower)."""

    @property
    def ok(self) -> bool:
        """True when the whole space was explored and no invariant broke."""
        return not self.violations and self.incomplete is None

    def __str__(self) -> str:
        rate = self.states_explored / self.elapsed if self.elapsed > 0 else 0.0
        lines = [
            f"states explored: {self.states_explored} (choices: {self.choices}), "
            f"transitions: {self.transitions}, "
            f"complete paths: {self.paths}, time: {self.elapsed:.2f} s ({rate:,.0f} states/s)",
        ]
        if self.incomplete:
            lines.append(f"INCOMPLETE: {self.incomplete}")
        lines += [
            f"not merged: {what}, so no state holding it was merged" for what in self.unmerged
        ]
        if not self.violations:
            lines.append("no violation found" + ("" if self.incomplete else " (complete)"))
        lines += [str(violation) for violation in self.violations]
        return "\n".join(lines)
