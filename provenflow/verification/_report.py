"""What a model check reports: the `Report` of a search and each `Violation` it found.

A violation carries the path to it twice: as `choices` (what `replay` takes to play it again)
and as `steps` (text, oldest first) with `events` (the same steps as data, which the trace
diagrams draw); `reproduction()` prints a short program that replays it with the same store,
bounds and user checks. `to_data()` is the form `provenflow verify --json` prints. A violation
also carries the world (the factory's context) as it was when the invariant broke: a canonical,
JSON-able description (`_world.describe_world`), printed with the violation and in the data. A
run that can go on forever is a violation with a `Loop`: its steps are the stem, then the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provenflow.verification._steps import shortened
from provenflow.verification._world import world_text

__all__ = ["Loop", "Report", "Violation"]


@dataclass(frozen=True)
class Loop:
    """Where a run that can go on forever repeats itself (see `_lasso`).

    The violation's steps from number `first` (steps are numbered from 1) to the last are the
    loop: after the last, the run is back in the state it was in before step `first`, apart
    from the `retries`' histories, which grew by a round, and attempt numbers.
    """

    first: int
    choice: int
    """How many of the violation's `choices` lead to the loop: `choices[choice:]` take it once
    (so `choices + choices[choice:]` take it twice)."""
    retries: tuple[tuple[str, int, int], ...] = ()
    """Each retry whose history grew in the loop: (name, attempts before it, after it)."""

    def describe(self, last: int) -> str:
        """A line saying which steps repeat (the last being step `last`) and why."""
        grew = ", ".join(
            f"retry {name!r} {before} -> {after} attempts" for name, before, after in self.retries
        )
        return (
            f"loop: steps {self.first}-{last} repeat forever; after step {last} the run is back "
            f"where it was before step {self.first}, apart from retry histories ({grew or 'none'}) "
            "and attempt numbers"
        )

    def to_data(self) -> dict[str, Any]:
        """Return the loop as plain data (for JSON and for diagrams)."""
        return {
            "first_step": self.first,
            "first_choice": self.choice,
            "retries": {name: [before, after] for name, before, after in self.retries},
        }


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
    world: object | None = None
    """The world (the factory's context) when the invariant broke, described by value
    (`describe_world`: its attributes recursively, or what its `snapshot()` returns); None when
    the factory returns no context."""
    loop: Loop | None = None
    """For a run that can go on forever (message "can run forever"): where its steps loop."""
    worlds: tuple[object, ...] = ()
    """With `check(..., world_at_each_step=True)`: the world after each step (one per step,
    described as `world` is); empty otherwise."""
    rule: str = ""
    """The short, stable name of the rule that broke (`write-ahead`, `record-values`, ...,
    `invariant` for the user's; `can-run-forever` for a loop; `table` when the engine made a
    transition its table refuses, `engine` when it raised otherwise or got stuck): see
    docs/verification.md."""

    def __str__(self) -> str:
        lines = [f"violation: {self.message}"]
        if self.world is not None:
            lines.append(f"world: {shortened(world_text(self.world), WORLD_LONGEST)}")
        lines.append("trace:")
        for number, step in enumerate(self.steps, 1):
            if self.loop is not None and number == self.loop.first:
                lines.append(f"  {self.loop.describe(len(self.steps))}:")
            lines.append(f"  {number:>2}. {step}")
            if self.worlds and (number == 1 or self.worlds[number - 1] != self.worlds[number - 2]):
                world = world_text(self.worlds[number - 1])
                lines.append(f"      world: {shortened(world, WORLD_LONGEST)}")
        if self.loop is not None:
            lines.append(f"  (back to step {self.loop.first}, and so on forever)")
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
        if self.loop is not None:
            lines.append(
                f"# it ends back where it was before step {self.loop.first}: choices"
                f"[{self.loop.choice}:] take the loop again, and again, forever"
            )
        lines.append(f"print(replay({', '.join(arguments)}))")
        return "\n".join(lines)

    def to_data(self) -> dict[str, Any]:
        """Return the violation as plain data (for JSON and for diagrams)."""
        return {
            "message": self.message,
            "rule": self.rule,
            "choices": list(self.choices),
            "steps": list(self.steps),
            "factory": self.factory,
            "bounds": dict(self.bounds),
            "events": [dict(event) for event in self.events],
            "store": dict(self.store),
            "checks": dict(self.checks),
            "world": self.world,
            "worlds": list(self.worlds),
            "loop": None if self.loop is None else self.loop.to_data(),
        }


WORLD_LONGEST = 1_000
"""The most characters of the world a printed violation shows (`to_data()` has all of it)."""


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
    replayed: str | None = None
    """Why the search replayed every path from the start instead of branching from snapshots
    (the world could not be saved by value); None when it did not (or was told to)."""
    collision_probability: float | None = None
    """When the search kept its states as 64-bit fingerprints (the default): an upper bound on
    the probability that two different states had the same one, so that one was taken for the
    other (`_fingerprint`); None when it kept them whole."""
    fault_level: int | None = None
    """When a bound stopped the search: the number of faults (crashes, injected failures,
    suspensions) of the runs it was exploring. Every run with fewer faults was explored (the
    search goes in order of faults), so the report is sound up to `fault_level - 1` faults."""
    pruned: int = 0
    """The options the partial-order reduction did not take (`check(..., reduction=True)`,
    see `_reduction`): transitions not explored, each standing for an order of completion
    another option covers; the states only they lead to are not counted anywhere. 0 with
    `reduction=False` or when no settled revert phase was reached."""
    fault_level_explored: float | None = None
    """Of the branches (with snapshots: states) with `fault_level` faults found so far, the
    share taken when the search stopped. An upper bound: those still to be found from them are
    not counted."""

    @property
    def ok(self) -> bool:
        """True when the whole space was explored and no invariant broke."""
        return not self.violations and self.incomplete is None

    @property
    def complete_up_to(self) -> int | None:
        """When a bound stopped the search: every run with at most this many faults was
        explored (`fault_level - 1`); None when no bound stopped it, or when not even the runs
        without faults were all explored (`fault_level` 0)."""
        return self.fault_level - 1 if self.fault_level else None

    def __str__(self) -> str:
        rate = self.states_explored / self.elapsed if self.elapsed > 0 else 0.0
        lines = [
            f"states explored: {self.states_explored} (choices: {self.choices}), "
            f"transitions: {self.transitions}, "
            f"complete paths: {self.paths}, time: {self.elapsed:.2f} s ({rate:,.0f} states/s)",
        ]
        if self.collision_probability is not None:
            lines[0] += (
                "; states kept as 64-bit fingerprints "
                f"(probability of a collision at most {self.collision_probability:.1g})"
            )
        if self.pruned:
            lines.append(
                f"partial-order reduction: {self.pruned} options not taken (orders of "
                "completion in settled revert phases; reduction=False takes them)"
            )
        if self.incomplete:
            lines.append(f"INCOMPLETE: {self.incomplete}")
        lines += [
            f"not merged: {what}, so no state holding it was merged" for what in self.unmerged
        ]
        if self.replayed:
            lines.append(f"replayed every path from the start: {self.replayed}")
        level = self.describe_level()
        if level:
            lines.append(level)
        if not self.violations:
            lines.append("no violation found" + ("" if self.incomplete else " (complete)"))
        lines += [str(violation) for violation in self.violations]
        return "\n".join(lines)

    def describe_level(self) -> str | None:
        """The fault level a bounded search finished, as a line ("sound up to 1 fault; 2
        faults: 41 % explored", "complete up to ..." when it found violations); None when no
        bound stopped it."""
        level, explored = self.fault_level, self.fault_level_explored
        if level is None or explored is None:
            return None
        share = f"{_faults(level)}: {int(explored * 100)} % explored"  # rounded down
        verdict = "complete" if self.violations else "sound"
        if level == 0:
            return f"{verdict} at no fault level; runs with {share}"
        return (
            f"{verdict} up to {_faults(level - 1)}; {share} "
            "(crashes, injected failures and suspensions are faults)"
        )


def _faults(count: int) -> str:
    return f"{count} fault" if count == 1 else f"{count} faults"
