"""A recorded run, as a flow diagram colours it: each atom's state and attempts, the flow's state.

Theory of operation. `load_run` reads a run from a store (a URL or a `Storage`) and `run_view`
turns it into a `RunView`: every atom's state is replayed from its recorded events through its
lifecycle's table (`EntityState.replay`, the one way recorded state is loaded), its attempts
are the highest attempt number on its transitions (each `start`, and each re-run after a crash,
is one more), and the flow's state is replayed the same way. A run belongs to the flow drawn
only when the flow could resume it: the engine's own check (`provenflow.engine.check_flow`:
every recorded atom present, of its kind, version and scope; new atoms only where the run has
not reached, drawn PENDING). Otherwise the diagram would colour the wrong boxes, so it is
refused with a `FlowMismatch` (a `UsageError`) naming every difference.

`STATE_STYLES` is the colour of each atom state, as data: every state of the task and retry
lifecycles has one (a test checks it), and the writers only look it up. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from provenflow.engine import check_flow
from provenflow.flows import CompiledFlow
from provenflow.fsm import LIFECYCLES, EntityState
from provenflow.persistence import RunInfo, Storage, Transition, open_storage

__all__ = ["STATE_STYLES", "AtomRun", "RunView", "StateStyle", "load_run", "run_view"]


@dataclass(frozen=True, slots=True)
class StateStyle:
    """How an atom in one state is drawn: `fill`, `stroke` (border) and `text` colours."""

    fill: str
    stroke: str
    text: str


STATE_STYLES: Mapping[str, StateStyle] = MappingProxyType(
    {
        "PENDING": StateStyle(fill="#ffffff", stroke="#9e9e9e", text="#212121"),
        "RUNNING": StateStyle(fill="#ffe082", stroke="#ff8f00", text="#3e2723"),
        "SUCCESS": StateStyle(fill="#c8e6c9", stroke="#2e7d32", text="#1b5e20"),
        "FAILURE": StateStyle(fill="#ffcdd2", stroke="#c62828", text="#b71c1c"),
        "RETRYING": StateStyle(fill="#fff3c4", stroke="#ffa000", text="#3e2723"),
        "REVERTING": StateStyle(fill="#ffe0b2", stroke="#ef6c00", text="#3e2723"),
        "REVERTED": StateStyle(fill="#e0e0e0", stroke="#616161", text="#212121"),
        "REVERT_FAILURE": StateStyle(fill="#ef9a9a", stroke="#b71c1c", text="#b71c1c"),
        "IGNORE": StateStyle(fill="#fafafa", stroke="#cfcfcf", text="#9e9e9e"),
    }
)
"""Atom state -> its colours: SUCCESS green, FAILURE and REVERT_FAILURE red, REVERTED grey,
RUNNING, RETRYING and REVERTING amber, PENDING white, IGNORE light. The order is the legend's."""


@dataclass(frozen=True, slots=True)
class AtomRun:
    """One atom of a recorded run: its replayed `state` and how many `attempts` it started."""

    state: str
    attempts: int


@dataclass(frozen=True, slots=True)
class RunView:
    """What a diagram shows of a run: its id, flow name and state, and each atom's `AtomRun`."""

    flow_id: str
    flow_name: str
    flow_state: str
    atoms: Mapping[str, AtomRun]


def load_run(backend: str | Storage, flow_id: str) -> tuple[RunInfo, list[Transition]]:
    """Return run `flow_id`'s description and transitions (oldest first) from `backend`.

    `backend` is a URL (`sqlite:///path`, `dir:///path`, `postgresql://...`) or a `Storage`; a
    store opened here from a URL is only read (never created nor changed) and closed again.
    Raises `UnknownRun` when the store has no such run, `StoreNotFound` when there is no store
    at the URL, `UsageError` for a bad URL, and what the store raises when it cannot be read.
    """
    storage = open_storage(backend, read_only=True)
    try:
        info, transitions, _version = storage.load(flow_id)
    finally:
        close = getattr(storage, "close", None)
        if storage is not backend and callable(close):
            close()
    return info, transitions


def run_view(info: RunInfo, transitions: Iterable[Transition], compiled: CompiledFlow) -> RunView:
    """Return the states and attempts of the run `info` recorded, for the flow `compiled`.

    Raises `FlowMismatch` (a `UsageError`) when `compiled` could not resume the run, naming
    every difference (see `provenflow.engine.check_flow`); `IllegalTransition` when a recorded
    event is not in its lifecycle's table (the record is corrupt).
    """
    transitions = list(transitions)
    check_flow(compiled, info, transitions)
    events: dict[str | None, list[str]] = {}
    attempts: dict[str, int] = {}
    for transition in transitions:
        events.setdefault(transition.atom, []).append(transition.event)
        if transition.atom is not None:
            attempts[transition.atom] = max(attempts.get(transition.atom, 0), transition.attempt)
    atoms: dict[str, AtomRun] = {}
    for name, node in compiled.nodes.items():
        if node.atom is not None:
            replayed = EntityState.replay(
                LIFECYCLES[node.kind], events.get(name, ()), name, info.flow_name
            )
            atoms[name] = AtomRun(str(replayed.state), attempts.get(name, 0))
    flow_state = EntityState.replay(LIFECYCLES["flow"], events.get(None, ()), info.flow_name)
    return RunView(info.flow_id, info.flow_name, str(flow_state.state), MappingProxyType(atoms))
