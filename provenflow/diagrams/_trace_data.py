"""A model checker's violation read back as checked data, for the counterexample diagrams.

The trace diagrams take a `provenflow.verification.Violation` or the plain data of one (its
`to_data()`, which `provenflow verify --json` prints): `message`, `choices`, `steps`, `factory`,
`bounds` and `events` (and, when given, `store` and `checks`, for the replay call), where
each event is a dict with `kind` and `text` (see
`Simulation.events`):

- `record`: a transition written to the store, with `lifecycle` (task, retry or flow), `atom`
  (None for the flow), `old`, `event`, `new`;
- `execute` / `revert`: an atom's code, with `atom` and `outcome` (runs, raises, times out,
  lands: an abandoned call finishing late, crash before, crash after);
- `lost_write` (a crash before a batch was written), `crash`, `resume`, `suspend`.

A run that can go on forever also has `loop`: `{"first_step": N, "retries": {name: [before,
after]}}`, the number of its loop's first step (the steps from it to the last repeat; the last
leads back to the state before step N) and the retries whose histories grew in it.

`read_violation` checks all of it (a record must be an edge of its lifecycle's table) and
raises `UsageError` naming the first thing that is wrong, so a diagram is never drawn from
data that is not a violation. Steps are numbered from 1, as `str(violation)` numbers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provenflow.errors import UsageError
from provenflow.fsm import LIFECYCLES

__all__ = ["ATOM_LIFECYCLES", "Counterexample", "Step", "read_violation"]

KINDS = ("record", "execute", "revert", "lost_write", "crash", "resume", "suspend")
OUTCOMES = ("runs", "raises", "times out", "lands", "crash before", "crash after")
ATOM_LIFECYCLES = ("task", "retry")
_EXPECTED = (
    "a provenflow.verification.Violation, or its to_data() dict (what `provenflow verify "
    "--json` prints per violation): message, choices, steps, factory, bounds, events"
)


@dataclass(frozen=True)
class Step:
    """One event of a counterexample, numbered from 1; fields not used by its kind are None."""

    number: int
    kind: str
    text: str
    atom: str | None = None
    lifecycle: str | None = None
    old: str | None = None
    event: str | None = None
    new: str | None = None
    outcome: str | None = None

    @property
    def entity(self) -> str:
        """Who the step is about: the atom's name, `flow`, or `process` for a crash."""
        if self.atom is not None:
            return self.atom
        return "flow" if self.kind in ("record", "suspend") else "process"


@dataclass(frozen=True)
class Counterexample:
    """A violation's message, steps and how to replay it."""

    message: str
    steps: tuple[Step, ...]
    factory: str | None
    bounds: tuple[tuple[str, int], ...]
    choices: tuple[int, ...]
    store: dict[str, Any] | None = None
    checks: tuple[tuple[str, str | None], ...] | None = None
    """The user checks the search ran, when the data says (None: it does not say)."""
    world: object | None = None
    """The world when the invariant broke, as plain data (None: no context, or not said)."""
    loop_first: int | None = None
    """For a run that can go on forever: the number of its loop's first step (the steps from
    it to the last repeat forever); None for other violations."""

    def loop_caption(self) -> str | None:
        """A line saying which steps loop forever, or None when the run does not loop."""
        if self.loop_first is None:
            return None
        last, first = len(self.steps), self.loop_first
        return (
            f"steps {first}-{last} loop forever: after step {last} the run is back where it "
            f"was before step {first} (apart from retry histories and attempt numbers)"
        )

    def atoms(self) -> list[tuple[str, str]]:
        """Return `(lifecycle, atom)` for each atom with a record, in order of first record."""
        found: dict[str, str] = {}
        for step in self.steps:
            if step.kind == "record" and step.atom is not None:
                found.setdefault(step.atom, step.lifecycle or "task")
        return [(lifecycle, atom) for atom, lifecycle in found.items()]

    def participants(self) -> list[str]:
        """Return every atom the steps name, in order of first appearance."""
        return list(dict.fromkeys(step.atom for step in self.steps if step.atom is not None))

    def path(self, lifecycle: str, atom: str | None) -> dict[tuple[str, str, str], tuple[int, ...]]:
        """Return the edges one entity's records took, each with the numbers of its steps."""
        taken: dict[tuple[str, str, str], tuple[int, ...]] = {}
        for step in self.steps:
            if step.kind == "record" and step.lifecycle == lifecycle and step.atom == atom:
                edge = (str(step.old), str(step.event), str(step.new))
                taken[edge] = (*taken.get(edge, ()), step.number)
        return taken

    def replay(self) -> str:
        """Return the `replay(...)` call that plays this path again, as far as the data says.

        Arguments in the order `Violation.reproduction` gives them: factory, choices, store,
        bounds, checks (a check not importable by name appears as `<kind>_check`).
        """
        arguments = [repr(self.factory) if self.factory else "make_flow"]
        arguments.append(f"choices={list(self.choices)!r}")
        if self.store:
            arguments.append(f"store={self.store!r}")
        arguments += [f"{name}={value}" for name, value in self.bounds]
        for kind, spec in self.checks or ():
            arguments.append(f"{kind}={spec!r}" if spec else f"{kind}={kind}_check")
        return f"replay({', '.join(arguments)})"


def _refuse(problem: str) -> UsageError:
    return UsageError(f"not a model checker violation: {problem}; expected {_EXPECTED}")


def _data_of(violation: object) -> Mapping[str, Any]:
    to_data = getattr(violation, "to_data", None)
    data = to_data() if callable(to_data) else violation
    if not isinstance(data, Mapping):
        hint = " (draw one of its .violations)" if hasattr(violation, "violations") else ""
        raise _refuse(f"got {type(violation).__name__}{hint}")
    return data


def _text(event: Mapping[str, Any], key: str, where: str) -> str:
    value = event.get(key)
    if not isinstance(value, str):
        raise _refuse(f"{where}: {key!r} must be a string, got {value!r}")
    return value


def _record(number: int, event: Mapping[str, Any], where: str) -> Step:
    lifecycle = event.get("lifecycle")
    if lifecycle not in ("flow", *ATOM_LIFECYCLES):
        raise _refuse(f"{where}: 'lifecycle' must be task, retry or flow, got {lifecycle!r}")
    atom = event.get("atom")
    if (atom is None) != (lifecycle == "flow"):
        raise _refuse(f"{where}: 'atom' must be a name for a {lifecycle} record, None for the flow")
    if atom is not None and not isinstance(atom, str):
        raise _refuse(f"{where}: 'atom' must be a string, got {atom!r}")
    old, name, new = (_text(event, key, where) for key in ("old", "event", "new"))
    table = {
        str(state): {str(e): str(t) for e, t in row.items()}
        for state, row in LIFECYCLES[lifecycle].table.items()
    }
    if table.get(old, {}).get(name) != new:
        raise _refuse(f"{where}: {old} --{name}--> {new} is not an edge of the {lifecycle} table")
    text = _text(event, "text", where)
    return Step(number, "record", text, atom, lifecycle, old, name, new)


def _step(number: int, event: object) -> Step:
    where = f"event {number}"
    if not isinstance(event, Mapping):
        raise _refuse(f"{where} is {type(event).__name__}, not a dict")
    kind = event.get("kind")
    if kind not in KINDS:
        raise _refuse(f"{where}: unknown kind {kind!r} (kinds: {', '.join(KINDS)})")
    if kind == "record":
        return _record(number, event, where)
    text = _text(event, "text", where)
    if kind in ("execute", "revert"):
        outcome = event.get("outcome")
        if outcome not in OUTCOMES:
            raise _refuse(f"{where}: 'outcome' must be one of {', '.join(OUTCOMES)}")
        return Step(number, kind, text, atom=_text(event, "atom", where), outcome=outcome)
    return Step(number, kind, text)


def read_violation(violation: object) -> Counterexample:
    """Return `violation` (a `Violation` or its `to_data()` dict) as a checked `Counterexample`.

    Raises `UsageError` naming the first missing or bad field, or the first event that is not
    a trace event (an unknown kind, a record that is not an edge of its table).
    """
    data = _data_of(violation)
    message = data.get("message")
    if not isinstance(message, str):
        raise _refuse("no 'message' string")
    events = data.get("events")
    if not isinstance(events, list | tuple):
        raise _refuse("no 'events' list")
    if not events and data.get("steps"):
        raise _refuse("it has steps but no 'events' (the steps as data) to draw")
    factory = data.get("factory")
    try:
        bounds = dict(data.get("bounds") or {})
        found_bounds = tuple((str(name), int(value)) for name, value in bounds.items())
        choices = tuple(int(choice) for choice in data.get("choices") or ())
        store = dict(data.get("store") or {})
        checks = data.get("checks")
        if checks is not None:
            pairs = checks.items() if isinstance(checks, Mapping) else checks
            checks = tuple((str(kind), None if spec is None else str(spec)) for kind, spec in pairs)
    except (TypeError, ValueError):
        raise _refuse(
            "'bounds' must map names to numbers, 'choices' be numbers, 'store' a dict and "
            "'checks' (kind, name) pairs"
        ) from None
    steps = tuple(_step(number, event) for number, event in enumerate(events, 1))
    return Counterexample(
        message=message,
        steps=steps,
        factory=factory if isinstance(factory, str) else None,
        bounds=found_bounds,
        choices=choices,
        store=store,
        checks=checks,
        world=data.get("world"),
        loop_first=_loop_first(data.get("loop"), len(steps)),
    )


def _loop_first(loop: object, steps: int) -> int | None:
    """The first step of a `loop` entry (None: no loop); raises `UsageError` when it is not a
    mapping with a `first_step` among the `steps`."""
    if loop is None:
        return None
    first = loop.get("first_step") if isinstance(loop, Mapping) else None
    if not isinstance(first, int) or isinstance(first, bool) or not 1 <= first <= steps:
        raise _refuse(
            f"'loop' must be null or {{'first_step': a step number from 1 to {steps}, ...}}, "
            f"got {loop!r}"
        )
    return first
