"""How the durable backends turn records into JSON and back, checking both ways.

Values (a task's result, a retry's history, the run's store) follow `_values`: JSON, never
pickle, so that loading a store runs no code; checked before anything is written (a value the
store cannot keep is refused with `UnstorableValue`, and nothing of the batch is written); each
type kept, tuples included (`dumps` tags them, `loads` reads the tags back), so a value reads
back as the engine handed it on. Failures are stored as `Failure.to_dict()` and read back with
`Failure.from_dict()`; histories as `History.to_list()` makes them.

Reading back is strict too: text that is not JSON (or uses NaN / Infinity), a row naming a
lifecycle, state or event that `provenflow.fsm.LIFECYCLES` does not know, or an edge its table
lacks, is refused with `CorruptRecord` naming the store, the run, the row and the value. Recorded
transitions are checked against the same tables before they are written
(`UnrecordableTransition`), so a store only ever holds transitions it can read back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from provenflow.errors import (
    CorruptRecord,
    RecordError,
    UnrecordableTransition,
)
from provenflow.failure import Failure
from provenflow.fsm import LIFECYCLES
from provenflow.persistence._records import AtomInfo, RunInfo, Transition
from provenflow.persistence._values import check_value, tagged, untagged

__all__ = [
    "SCHEMA_VERSION",
    "atoms_from_json",
    "atoms_to_json",
    "check_run",
    "check_transition",
    "check_value",
    "dumps",
    "failure_from_json",
    "loads",
    "store_from_json",
    "transition_from_fields",
]

SCHEMA_VERSION = 1
"""The layout version the durable backends write; they refuse to open a store with a newer one."""

_STATES: dict[str, dict[str, Any]] = {
    name: {str(state): state for state in lifecycle.states}
    for name, lifecycle in LIFECYCLES.items()
}
_EVENTS: dict[str, dict[str, Any]] = {
    name: {str(event): event for event in lifecycle.events}
    for name, lifecycle in LIFECYCLES.items()
}
_JSON_DUMPS = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":")
).encode


def dumps(value: object) -> str:
    """Return the compact JSON text of a value already passed by `check_value`, its tuples
    tagged (see `_values`)."""
    return _JSON_DUMPS(tagged(value))


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def loads(text: str | bytes, where: str) -> Any:
    """Return the value in JSON `text`, its tags read back (see `_values`); raises
    `CorruptRecord` naming `where` if it is not JSON."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_hook=untagged)
    except (ValueError, RecursionError) as error:
        raise CorruptRecord(where, f"not valid JSON ({error})") from None


def atoms_to_json(atoms: Sequence[AtomInfo]) -> list[dict[str, str | None]]:
    """Return a run's atoms as a JSON-safe list (the scope only where it is known)."""
    entries: list[dict[str, str | None]] = []
    for atom in atoms:
        entry: dict[str, str | None] = {"name": atom.name, "kind": atom.kind}
        entry["version"] = atom.version
        if atom.flow is not None:
            entry["flow"], entry["retry"] = atom.flow, atom.retry
        entries.append(entry)
    return entries


def atoms_from_json(data: object, where: str) -> tuple[AtomInfo, ...]:
    """Return the atoms recorded in `data`; raises `CorruptRecord` naming the bad entry.

    An entry without `flow` (recorded before scopes were kept) gives an atom of unknown scope.
    """
    if not isinstance(data, list):
        raise CorruptRecord(where, f"atoms: expected a list, got {type(data).__name__}")
    atoms = []
    for index, entry in enumerate(data):
        fields = [entry.get(key) if isinstance(entry, dict) else None for key in _ATOM_KEYS]
        name, kind, version, flow, retry = fields
        if not (isinstance(name, str) and isinstance(kind, str) and isinstance(version, str)):
            raise CorruptRecord(
                where, f"atoms[{index}]: expected name, kind and version strings, got {entry!r}"
            )
        if not (flow is None or isinstance(flow, str)) or not (
            retry is None or isinstance(retry, str)
        ):
            raise CorruptRecord(
                where, f"atoms[{index}]: expected flow and retry strings or null, got {entry!r}"
            )
        atoms.append(AtomInfo(name, kind, version, flow, retry if flow is not None else None))
    return tuple(atoms)


_ATOM_KEYS = ("name", "kind", "version", "flow", "retry")


def check_run(run: RunInfo) -> None:
    """Check that a run's description can be stored; raises `UnstorableValue` or `UsageError`."""
    check_value(dict(run.store), run.flow_id, None, "store")


def check_transition(flow_id: str, index: int, transition: Transition) -> None:
    """Check one transition before it is written.

    Raises `UnrecordableTransition` when its lifecycle, states, event or edge are not in
    `LIFECYCLES` (or a field has the wrong type), and `UnstorableValue` when its result or
    history cannot be stored as JSON. Nothing is written by the caller in either case.
    """
    problem = _transition_problem(transition)
    if problem is not None:
        raise UnrecordableTransition(flow_id, index, problem)
    if transition.result is not None:
        check_value(transition.result, flow_id, transition.atom, "result")
    if transition.history is not None:
        check_value(transition.history, flow_id, transition.atom, "history")


def _transition_problem(transition: Transition) -> str | None:
    atom, attempt, at = transition.atom, transition.attempt, transition.at
    if atom is not None and not isinstance(atom, str):
        return f"atom must be a str or None, got {type(atom).__name__}"
    if not isinstance(attempt, int) or isinstance(attempt, bool):
        return f"attempt must be an int, got {type(attempt).__name__}"
    if not isinstance(at, int | float) or not math.isfinite(at):
        return f"at must be a finite number of seconds, got {at!r}"
    if transition.failure is not None and not isinstance(transition.failure, Failure):
        return f"failure must be a Failure or None, got {type(transition.failure).__name__}"
    if transition.history is not None and not isinstance(transition.history, tuple | list):
        return f"history must be a tuple or None, got {type(transition.history).__name__}"
    return _edge_problem(
        transition.lifecycle, transition.old_state, transition.event, transition.new_state
    )


def _edge_problem(lifecycle: object, old: object, event: object, new: object) -> str | None:
    """Return what is wrong with `old --event--> new` in `lifecycle`, or None if it is an edge."""
    states = _STATES.get(lifecycle) if isinstance(lifecycle, str) else None
    if states is None:
        return f"unknown lifecycle {lifecycle!r} (known: {', '.join(sorted(_STATES))})"
    events = _EVENTS[str(lifecycle)]
    for label, value, known in (
        ("state", old, states),
        ("event", event, events),
        ("state", new, states),
    ):
        if not isinstance(value, str) or value not in known:
            return f"unknown {lifecycle} {label} {value!r} (known: {', '.join(known)})"
    target = LIFECYCLES[str(lifecycle)].table[states[str(old)]].get(events[str(event)])
    if target != new:
        return f"{old} --{event}--> {new} is not an edge of the {lifecycle} lifecycle"
    return None


def failure_from_json(data: object, where: str) -> Failure:
    """Return the Failure recorded in `data`; raises `CorruptRecord` naming the bad field."""
    try:
        return Failure.from_dict(data)
    except RecordError as error:
        raise CorruptRecord(where, str(error)) from error


def transition_from_fields(
    where: str,
    fields: Sequence[Any],
    decode: Callable[[Any, str], Any] = lambda value, _where: value,
) -> Transition:
    """Return the Transition stored as `fields`, checked against the lifecycle tables.

    `fields` are atom, lifecycle, old_state, event, new_state, attempt, at, result, failure,
    history, as stored; `decode(value, where)` turns a stored JSON field (result, failure,
    history) into its value (the SQL backend stores them as JSON text). Raises `CorruptRecord`
    naming `where` and the bad value.
    """
    atom, lifecycle, old, event, new, attempt, at, result, failure, history = fields
    problem = _edge_problem(lifecycle, old, event, new)
    if problem is None:
        problem = _field_problem(atom, attempt, at)
    if problem is not None:
        raise CorruptRecord(where, problem)
    states, events = _STATES[lifecycle], _EVENTS[lifecycle]
    if failure is not None:
        failure = failure_from_json(decode(failure, f"{where}: failure"), f"{where}: failure")
    if history is not None:
        history = decode(history, f"{where}: history")
        if not isinstance(history, list):
            raise CorruptRecord(where, f"history: expected a list, got {type(history).__name__}")
        history = tuple(history)
    return Transition(
        atom,
        lifecycle,
        states[old],
        events[event],
        states[new],
        attempt,
        float(at),
        None if result is None else decode(result, f"{where}: result"),
        failure,
        history,
    )


def _field_problem(atom: object, attempt: object, at: object) -> str | None:
    if atom is not None and not isinstance(atom, str):
        return f"atom: expected a str or null, got {atom!r}"
    if not isinstance(attempt, int) or isinstance(attempt, bool):
        return f"attempt: expected an int, got {attempt!r}"
    if not isinstance(at, int | float) or isinstance(at, bool):
        return f"at: expected a number, got {at!r}"
    return None


def store_from_json(data: object, where: str) -> Mapping[str, Any]:
    """Return a run's store as recorded; raises `CorruptRecord` if it is not a JSON object."""
    if not isinstance(data, dict):
        raise CorruptRecord(where, f"store: expected an object, got {type(data).__name__}")
    return data
