"""Whether a flow is the flow a recorded run ran: the one check before resuming or drawing it.

A run's record names its atoms (name, kind, version, and the scope each was in: the flow
directly holding it and the nearest retry guarding it) and holds their transitions. A flow
rebuilt to resume the run, or to draw it, must agree with that record, or the engine would
execute a recorded success again under a new name, or leave a recorded success unreverted.
`flow_differences` compares the two and names every difference, not only the first:

- a recorded atom (in the run's description or in its transitions) that the flow lacks: a
  removed or renamed atom;
- a recorded atom that is now of another kind (task <-> retry), or of another version;
- a recorded atom now in another scope: another parent flow, or another retry (or none). The
  outermost flow counts as one scope whatever its name, so renaming the flow moves nothing;
- an atom of the flow that the run never recorded, when the run has already reached it: an
  atom ordered after it has a recorded transition, or the run is over. Such an atom would be
  skipped (or run after what depends on it). A new atom where the run has not reached is
  accepted: it runs when its turn comes.

A run recorded before scopes were kept has no scope to compare; atoms first recorded by their
transitions (added on an earlier resume) have a kind but no version or scope on record.
`check_flow` raises `FlowMismatch` with every difference. Nothing here reads or writes a store.
"""

from __future__ import annotations

from collections.abc import Iterable

from provenflow.errors import FlowMismatch
from provenflow.flows import CompiledFlow, Node
from provenflow.fsm import LIFECYCLES
from provenflow.persistence import AtomInfo, RunInfo, Transition

__all__ = ["check_flow", "flow_differences"]

_FLOW_TERMINAL = frozenset(str(state) for state in LIFECYCLES["flow"].terminal)


def check_flow(compiled: CompiledFlow, info: RunInfo, transitions: Iterable[Transition]) -> None:
    """Return if `compiled` may resume (or draw) the run `info` recorded with `transitions`.

    Raises `FlowMismatch` naming every difference (see the module docstring) and the atoms the
    run never recorded; nothing is changed.
    """
    differences, added = flow_differences(compiled, info, transitions)
    if differences:
        raise FlowMismatch(
            info.flow_id, info.flow_name, compiled.name, tuple(differences), tuple(added)
        )


def flow_differences(
    compiled: CompiledFlow, info: RunInfo, transitions: Iterable[Transition]
) -> tuple[list[str], list[str]]:
    """Return the differences between `compiled` and the run's record, one sentence each (in
    record order, then the flow's), and the flow's atoms the run never recorded, in order."""
    described = {atom.name: atom for atom in info.atoms}
    kinds = {atom.name: atom.kind for atom in info.atoms}
    last: dict[str, str] = {}
    flow_state = "PENDING"
    for transition in transitions:
        if transition.atom is None:
            flow_state = str(transition.new_state)
        else:
            kinds.setdefault(transition.atom, str(transition.lifecycle))
            last[transition.atom] = str(transition.new_state)
    differences: list[str] = []
    for name, kind in kinds.items():
        node = compiled.nodes.get(name)
        if node is None or node.atom is None:
            state = last.get(name, "PENDING")
            differences.append(f"recorded {kind} {name!r} ({state}) is not in the flow")
            continue
        differences.extend(_changes(node, kind, described.get(name), info, compiled))
    added = [n for n in compiled.order if compiled.nodes[n].atom is not None and n not in kinds]
    if added and flow_state in _FLOW_TERMINAL:
        differences.extend(f"new atom {name!r}: the run is over ({flow_state})" for name in added)
    elif added:
        reached = _reached(compiled, last)
        differences.extend(
            f"new atom {name!r}: the run already recorded {reached[name]!r}, ordered after it"
            for name in added
            if name in reached
        )
    return differences, added


def _changes(
    node: Node, kind: str, atom: AtomInfo | None, info: RunInfo, compiled: CompiledFlow
) -> list[str]:
    """The differences of one recorded atom that the flow still has."""
    name = node.name
    if node.kind != kind:
        return [f"{name!r} is recorded as a {kind}, but is a {node.kind} in the flow"]
    if atom is None:
        return []
    changes = []
    if node.atom is not None and node.atom.version != atom.version:
        changes.append(
            f"{name!r} is recorded as version {atom.version!r}, but is version "
            f"{node.atom.version!r} in the flow"
        )
    if atom.flow is not None:
        parent = node.flows[-1] if node.flows else compiled.name
        same_flow = atom.flow == parent or (atom.flow == info.flow_name and parent == compiled.name)
        was, now = [], []
        if not same_flow:
            was.append(f"in flow {atom.flow!r}")
            now.append(f"in flow {parent!r}")
        if atom.retry != node.retry:
            was.append(_guard(atom.retry))
            now.append(_guard(node.retry))
        if was:
            changes.append(f"{name!r} moved: recorded {' '.join(was)}, now {' '.join(now)}")
    return changes


def _guard(retry: str | None) -> str:
    return "under no retry" if retry is None else f"under retry {retry!r}"


def _reached(compiled: CompiledFlow, recorded: Iterable[str]) -> dict[str, str]:
    """Every node ordered before an atom with a recorded transition -> one such atom.

    One walk back along the predecessors from the recorded atoms: linear in the graph.
    """
    reached: dict[str, str] = {}
    stack = [(name, name) for name in recorded if name in compiled.nodes]
    while stack:
        name, witness = stack.pop()
        for before in compiled.nodes[name].predecessors:
            if before not in reached:
                reached[before] = witness
                stack.append((before, witness))
    return reached
