"""The model checker: every order, outcome and crash point of a flow's run, breadth-first.

`check(flow_or_factory)` explores the runs of one flow as `Simulation` paths (see
`_simulation`): the real engine core and resume path, the user's real code, a simulated store.
It searches breadth-first over the choices a path can make, and remembers the state at every
choice point (a key of the core's states, the durable record, the work in flight, the crashes
so far and the user's context); a state seen before is not explored again. So the first
violation found comes with a shortest trace, and a flow is explored once per distinct state,
whatever order of events led there. This is the reduction that keeps parallel flows
tractable: two orders of independent atoms that reach the same state are explored once.

Bounds: `max_states` and `max_seconds`. When one stops the search, the report says
`incomplete` and why: nothing is claimed for what was not explored.

Each path is replayed from the start (the factory builds a fresh flow and context for it), so a
path costs time linear in its length; the factory must build the same flow every time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from provenflow.engine import factory_spec
from provenflow.errors import ProvenflowError, UsageError
from provenflow.flows import Flow
from provenflow.verification._simulation import Branch, Broken, Finished, Simulation

__all__ = ["Report", "Violation", "check", "replay"]

Check = Callable[..., Any]


@dataclass(frozen=True)
class Violation:
    """A broken invariant, with the shortest path found to it.

    `steps` are the path's events in order; `choices` replay it (`replay`). `str()` prints the
    steps; `reproduction()` a short program that replays it.
    """

    message: str
    choices: tuple[int, ...]
    steps: tuple[str, ...]
    factory: str | None = None

    def __str__(self) -> str:
        lines = [f"violation: {self.message}", "trace:"]
        lines += [f"  {number:>2}. {step}" for number, step in enumerate(self.steps, 1)]
        return "\n".join(lines)

    def reproduction(self) -> str:
        """Return a short Python program that replays this path and shows the violation."""
        factory = self.factory or "make_flow  # your factory: a function that builds the flow"
        target = repr(self.factory) if self.factory else "make_flow"
        return "\n".join(
            [
                "from provenflow.verification import replay",
                *([] if self.factory else [f"# {factory}"]),
                f"print(replay({target}, choices={list(self.choices)!r}))",
            ]
        )

    def to_data(self) -> dict[str, Any]:
        """Return the violation as plain data (for JSON and for diagrams)."""
        return {
            "message": self.message,
            "choices": list(self.choices),
            "steps": list(self.steps),
            "factory": self.factory,
        }


@dataclass
class Report:
    """What a check found: `ok` when no violation was found and the search was complete."""

    states_explored: int = 0
    transitions: int = 0
    paths: int = 0
    elapsed: float = 0.0
    incomplete: str | None = None
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the whole space was explored and no invariant broke."""
        return not self.violations and self.incomplete is None

    def __str__(self) -> str:
        rate = self.states_explored / self.elapsed if self.elapsed > 0 else 0.0
        lines = [
            f"states explored: {self.states_explored}, transitions: {self.transitions}, "
            f"complete paths: {self.paths}, time: {self.elapsed:.2f} s ({rate:,.0f} states/s)",
        ]
        if self.incomplete:
            lines.append(f"INCOMPLETE: {self.incomplete}")
        if not self.violations:
            lines.append("no violation found" + ("" if self.incomplete else " (complete)"))
        lines += [str(violation) for violation in self.violations]
        return "\n".join(lines)


def _factory_of(flow_or_factory: Flow | Callable[[], Any]) -> Callable[[], Any]:
    if isinstance(flow_or_factory, Flow):
        flow = flow_or_factory
        return lambda: flow
    if callable(flow_or_factory):
        return flow_or_factory
    raise UsageError(
        f"check() takes a flow or a factory that builds one, not {type(flow_or_factory).__name__}"
    )


def _user_checks(
    invariant: Check | None, always: Check | None, eventually: Check | None
) -> list[tuple[str, Check]]:
    given = (("invariant", invariant), ("always", always), ("eventually", eventually))
    return [(kind, check) for kind, check in given if check is not None]


def check(
    flow_or_factory: Flow | Callable[[], Any],
    store: dict[str, Any] | None = None,
    *,
    crashes: int = 2,
    suspends: int = 0,
    max_states: int = 200_000,
    max_seconds: float = 60.0,
    invariant: Check | None = None,
    always: Check | None = None,
    eventually: Check | None = None,
    all_violations: bool = False,
) -> Report:
    """Explore every run of a flow and return a `Report`; see the module docstring.

    `flow_or_factory`: a flow, or a function without arguments returning a flow or a
    `(flow, context)` pair; the context (e.g. a fake world the tasks change) is given to
    `always(context)` (after every side effect), `invariant(context, outcome)` and
    `eventually(context)` (at every end). `crashes` bounds the crashes per path, `suspends`
    the suspensions (each followed by a resume). The search stops at the first violation
    unless `all_violations`.
    """
    if crashes < 0:
        raise UsageError(f"crashes={crashes}: must be 0 or more")
    factory = _factory_of(flow_or_factory)
    spec = factory_spec(flow_or_factory) if not isinstance(flow_or_factory, Flow) else None
    checks = _user_checks(invariant, always, eventually)
    report = Report()
    started = time.perf_counter()
    seen: set[Any] = set()
    queue: deque[tuple[int, ...]] = deque([()])
    while queue:
        if len(seen) >= max_states:
            report.incomplete = f"stopped at max_states={max_states}"
            break
        if time.perf_counter() - started > max_seconds:
            report.incomplete = f"stopped at max_seconds={max_seconds}"
            break
        path = queue.popleft()
        simulation = Simulation(factory, store or {}, path, crashes, checks, suspends)
        try:
            simulation.run()
        except Branch as branch:
            if branch.key in seen:
                continue
            seen.add(branch.key)
            report.transitions += len(branch.options)
            queue.extend((*path, choice) for choice in range(len(branch.options)))
        except Finished:
            report.paths += 1
        except Broken as broken:
            report.violations.append(_violation(broken.message, path, simulation, spec))
        except ProvenflowError as error:
            message = f"the engine raised {type(error).__name__}: {error}"
            report.violations.append(_violation(message, path, simulation, spec))
        if report.violations and not all_violations:
            break
    report.states_explored = len(seen)
    report.elapsed = time.perf_counter() - started
    return report


def _violation(
    message: str, path: Sequence[int], simulation: Simulation, spec: str | None
) -> Violation:
    return Violation(message, tuple(path), tuple(simulation.steps), spec)


def replay(
    factory: str | Callable[[], Any],
    choices: Sequence[int],
    store: dict[str, Any] | None = None,
    *,
    crashes: int = 2,
    suspends: int = 0,
    invariant: Check | None = None,
    always: Check | None = None,
    eventually: Check | None = None,
) -> str:
    """Replay one path (from a `Violation`'s `choices`) and return its steps and its end.

    `factory` may be a `FILE_OR_MODULE:NAME` spec; pass the same bounds and user checks as to
    `check`. The text ends with the violation, the outcome, or the choice the path would make
    next.
    """
    if isinstance(factory, str):
        from provenflow.engine import load_factory  # noqa: PLC0415

        factory = load_factory(factory)
    checks = _user_checks(invariant, always, eventually)
    simulation = Simulation(_factory_of(factory), store or {}, choices, crashes, checks, suspends)
    try:
        simulation.run()
    except Broken as broken:
        end = f"violation: {broken.message}"
    except Finished as finished:
        end = f"finished: {finished.outcome}"
    except Branch as branch:
        end = f"next choice: {', '.join(branch.options)}"
    return "\n".join([*simulation.steps, end])
