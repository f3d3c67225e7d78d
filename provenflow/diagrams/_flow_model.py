"""The abstract flow diagram: atoms, boxes, clusters and arrows, before any syntax is chosen.

Theory of operation. `build_diagram` reads a flow and its compiled form and returns a
`Diagram` that the writers (`_flow_text`: Mermaid, DOT; `_flow_markdown`) only spell out:

- one `AtomEntry` per atom, in the compiled (topological) order: kind, retry controller,
  enclosing flows, symbols taken (each from an atom or the store) and provided, and with a run
  its state and attempts; the boxes' labels are made from them, so every format agrees;
- one `LinkEntry` per explicit link of a graph flow, in the order flows and links were written;
- one `Box` per compiled node: tasks, retries (labelled with their controller, e.g.
  `Times(3)`), and join nodes (the no-op barriers compilation adds), plus a `store` box when
  some argument comes from the run's store;
- one `Cluster` per flow, nested as the flows are, labelled with the flow's name and pattern;
  a retry sits inside the cluster of the flow it guards, first;
- one `Arrow` per pair of nodes that something joins: an order edge of the compiled graph, the
  symbols an argument takes from another atom or from the store (data), a decider link. An
  order edge that also carries data is one arrow labelled with the symbols; data that flows
  without an order edge of its own is a `data` arrow; a decider link between two atoms is one
  `decider` arrow labelled with the decider's name and depth, and a decider link with a subflow
  at either end is drawn between the clusters (besides the order edges that realise it).

Ids are a pure function of names: `n_` + the atom's or join's name, `f_` + the flow's name,
encoded so that different names never share an id (letters and digits stay, `_` doubles, any
other character becomes `_x<hex>_`). Boxes are listed in the order the flow was written, with
each flow's joins last; arrows are sorted by the compiled (topological) order of their ends.
Nothing here does I/O, reads a clock or depends on a hash order: the same flow (and run)
always gives the same diagram.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from provenflow.diagrams._flow_run import STATE_STYLES, AtomRun, RunView
from provenflow.flows import (
    AlwaysRevert,
    AlwaysRevertAll,
    Atom,
    CompiledFlow,
    Flow,
    ForEach,
    GraphFlow,
    Node,
    ParameterizedForEach,
    Retry,
    Times,
)

__all__ = [
    "STORE_ID",
    "Arrow",
    "ArrowKind",
    "AtomEntry",
    "Box",
    "BoxKind",
    "Cluster",
    "Diagram",
    "Input",
    "LinkEntry",
    "build_diagram",
    "describe_retry",
    "flow_id",
    "node_id",
]

BoxKind = Literal["task", "retry", "join", "store", "legend"]
ArrowKind = Literal["order", "data", "decider"]

STORE_ID = "store"
"""The id of the box standing for the run's store (no encoded name can be `store`)."""


@dataclass(frozen=True, slots=True)
class Input:
    """A symbol an atom takes: from atom `provider`, or from the store when `provider` is None."""

    symbol: str
    provider: str | None


@dataclass(frozen=True, slots=True)
class AtomEntry:
    """One atom as every format describes it: `controller` is a retry's (`describe_retry`),
    `flows` the enclosing flows' names, outermost first (a retry's end with the flow it guards),
    `inputs` sorted by symbol, `provides` as declared, `run` its state and attempts, if drawn."""

    name: str
    kind: Literal["task", "retry"]
    controller: str | None
    flows: tuple[str, ...]
    inputs: tuple[Input, ...]
    provides: tuple[str, ...]
    run: AtomRun | None = None


@dataclass(frozen=True, slots=True)
class LinkEntry:
    """An explicit link of a graph flow between atoms or flows (`*_is_flow`), with its decider's
    name (None for a link that only orders) and `depth`, how far a veto reaches (`ALL`, ...)."""

    source: str
    source_is_flow: bool
    target: str
    target_is_flow: bool
    decider: str | None
    depth: str


@dataclass(frozen=True, slots=True)
class Box:
    """One node of the drawing: its `id`, `kind`, label `lines`, and atom `state` (with a run)."""

    id: str
    kind: BoxKind
    lines: tuple[str, ...]
    state: str | None = None


@dataclass(frozen=True, slots=True)
class Cluster:
    """A group of boxes and clusters drawn as one frame: a flow, or the legend."""

    id: str
    label: str
    items: tuple[Box | Cluster, ...]


@dataclass(frozen=True, slots=True)
class Arrow:
    """An arrow from box `source` to box `target`.

    When an end is a whole subflow, `source_cluster` / `target_cluster` names its cluster and
    `source` / `target` is the cluster's last / first node (DOT needs a node to attach to).
    """

    source: str
    target: str
    kind: ArrowKind
    label: str
    source_cluster: str | None = None
    target_cluster: str | None = None


@dataclass(frozen=True, slots=True)
class Diagram:
    """A whole flow diagram: its `name`, an optional `title`, top-level items and arrows, the
    `atoms` and `links` it describes (in every format) and the `run` drawn, if any."""

    name: str
    title: str | None
    items: tuple[Box | Cluster, ...]
    arrows: tuple[Arrow, ...]
    atoms: tuple[AtomEntry, ...] = ()
    links: tuple[LinkEntry, ...] = ()
    run: RunView | None = None


def encode(name: str) -> str:
    """Return `name` as `[A-Za-z0-9_]` text; different names always give different text."""
    parts: list[str] = []
    for character in name:
        if character.isascii() and character.isalnum():
            parts.append(character)
        elif character == "_":
            parts.append("__")
        else:
            parts.append(f"_x{ord(character):02x}_")
    return "".join(parts)


def node_id(name: str) -> str:
    """Return the id of the box of the atom or join node called `name`."""
    return f"n_{encode(name)}"


def flow_id(name: str) -> str:
    """Return the id of the cluster of the flow called `name`."""
    return f"f_{encode(name)}"


def describe_retry(retry: Retry) -> str:
    """Return a retry controller as it reads in a diagram, e.g. `Times(3)`, `ForEach(4 values)`.

    A controller of another class shows its class name, e.g. `RetryTimeouts()`.
    """
    kind = type(retry).__name__
    arguments: list[str] = []
    if isinstance(retry, Times):
        arguments.append(str(retry.attempts))
    elif isinstance(retry, ForEach):
        count = len(retry.values)
        arguments.append(f"{count} value" if count == 1 else f"{count} values")
    elif isinstance(retry, ParameterizedForEach):
        arguments.append(f"values={retry.rebind.get('values', 'values')}")
    if getattr(retry, "revert_all", False) and not isinstance(
        retry, AlwaysRevert | AlwaysRevertAll
    ):
        arguments.append("revert_all")
    return f"{kind}({', '.join(arguments)})"


def build_diagram(flow: Flow, compiled: CompiledFlow, run: RunView | None = None) -> Diagram:
    """Return the diagram of `flow`, compiled as `compiled`, coloured by `run` when given."""
    entries = {
        name: _entry(node, run) for name, node in compiled.nodes.items() if node.atom is not None
    }
    boxes = {name: _box(node, entries.get(name)) for name, node in compiled.nodes.items()}
    joins: dict[str, list[str]] = {}
    for name in compiled.order:
        node = compiled.nodes[name]
        if node.kind == "join":
            joins.setdefault(node.flows[-1], []).append(name)
    arrows = _Arrows(compiled)
    arrows.collect(flow)
    items: list[Box | Cluster] = []
    if arrows.uses_store:
        items.append(Box(STORE_ID, "store", ("store",)))
    items.append(_cluster(flow, boxes, joins))
    title = None
    if run is not None:
        items.append(_legend(run))
        title = f"run {run.flow_id} of flow {run.flow_name}: {run.flow_state}"
    atoms = tuple(entries[name] for name in compiled.order if name in entries)
    return Diagram(
        compiled.name, title, tuple(items), arrows.sorted(), atoms, tuple(arrows.links), run
    )


def _entry(node: Node, run: RunView | None) -> AtomEntry:
    """Return the description of atom node `node` (not a join), with its run when given."""
    inputs = {
        Input(binding.symbol, binding.provider if binding.kind == "atom" else None)
        for binding in node.bindings.values()
        if binding.kind == "store" or (binding.kind == "atom" and binding.provider is not None)
    }
    atom = node.atom
    return AtomEntry(
        node.name,
        "retry" if node.kind == "retry" else "task",
        describe_retry(atom) if isinstance(atom, Retry) else None,
        node.flows,
        tuple(sorted(inputs, key=lambda each: (each.symbol, each.provider or ""))),
        atom.provides if atom is not None else (),
        None if run is None else run.atoms[node.name],
    )


def _box(node: Node, entry: AtomEntry | None) -> Box:
    if entry is None:
        return Box(node_id(node.name), "join", ())
    lines = [entry.name]
    if entry.controller is not None:
        lines.append(entry.controller)
    state = None
    if entry.run is not None:
        state = entry.run.state
        lines.extend((entry.run.state, f"attempts: {entry.run.attempts}"))
    return Box(node_id(node.name), entry.kind, tuple(lines), state)


def _cluster(flow: Flow, boxes: Mapping[str, Box], joins: Mapping[str, list[str]]) -> Cluster:
    items: list[Box | Cluster] = []
    if flow.retry is not None:
        items.append(boxes[flow.retry.name])
    for member in flow:
        if isinstance(member, Flow):
            items.append(_cluster(member, boxes, joins))
        else:
            items.append(boxes[member.name])
    items.extend(boxes[name] for name in joins.get(flow.name, ()))
    return Cluster(flow_id(flow.name), f"{flow.name} ({flow.kind})", tuple(items))


def _legend(run: RunView) -> Cluster:
    shown = {atom.state for atom in run.atoms.values()}
    boxes = tuple(
        Box(f"legend_{encode(state)}", "legend", (state,), state)
        for state in STATE_STYLES
        if state in shown
    )
    return Cluster("legend", "legend", boxes)


@dataclass(slots=True)
class _Edge:
    order: bool = False
    symbols: set[str] = field(default_factory=set)
    decider: str | None = None


class _Arrows:
    """Collects what joins each pair of nodes, then turns it into sorted arrows."""

    def __init__(self, compiled: CompiledFlow) -> None:
        self.compiled = compiled
        self.rank = {node_id(name): position for position, name in enumerate(compiled.order)}
        self.rank[STORE_ID] = -1
        self.edges: dict[tuple[str | None, str], _Edge] = {}
        """(source, target) -> what joins them; a source of None is the store."""
        self.uses_store = False
        self.cluster_arrows: list[Arrow] = []
        self.links: list[LinkEntry] = []
        self.members: dict[str, list[str]] = {}
        for name in compiled.order:
            for flow in compiled.nodes[name].flows:
                self.members.setdefault(flow, []).append(name)

    def collect(self, flow: Flow) -> None:
        """Gather the order edges, data bindings and decider links of the compiled flow."""
        for source, target in self.compiled.graph.edges:
            self._edge(source, target).order = True
        for name in self.compiled.order:
            for binding in self.compiled.nodes[name].bindings.values():
                if binding.kind == "atom" and binding.provider is not None:
                    self._edge(binding.provider, name).symbols.add(binding.symbol)
                elif binding.kind == "store":
                    self.uses_store = True
                    self._edge(None, name).symbols.add(binding.symbol)
        for graph in _graph_flows(flow):
            for link in graph.links:
                entry = LinkEntry(
                    link.source.name,
                    isinstance(link.source, Flow),
                    link.target.name,
                    isinstance(link.target, Flow),
                    None if link.decider is None else _decider_name(link.decider),
                    str(link.depth.value),
                )
                self.links.append(entry)
                if entry.decider is not None:
                    label = f"decider: {entry.decider}, depth {entry.depth}"
                    self._decider(link.source, link.target, label)

    def _edge(self, source: str | None, target: str) -> _Edge:
        edge = self.edges.get((source, target))
        if edge is None:
            edge = self.edges[source, target] = _Edge()
        return edge

    def _decider(self, source: Atom | Flow, target: Atom | Flow, label: str) -> None:
        if isinstance(source, Atom) and isinstance(target, Atom):
            edge = self.edges.get((source.name, target.name))
            if edge is not None:
                edge.decider = label
                return
        tail, tail_cluster = self._end(source, last=True)
        head, head_cluster = self._end(target, last=False)
        if tail is None or head is None:
            return  # an end without nodes (an empty subflow that nothing orders)
        self.cluster_arrows.append(
            Arrow(node_id(tail), node_id(head), "decider", label, tail_cluster, head_cluster)
        )

    def _end(self, item: Atom | Flow, *, last: bool) -> tuple[str | None, str | None]:
        """Return the node an arrow to or from `item` attaches to, and its cluster if a flow."""
        if isinstance(item, Atom):
            return item.name, None
        nodes = self.members.get(item.name)
        if not nodes:
            return None, None
        return (nodes[-1] if last else nodes[0]), flow_id(item.name)

    def sorted(self) -> tuple[Arrow, ...]:
        """Return every arrow, ordered by the compiled positions of its ends."""
        arrows = list(self.cluster_arrows)
        for (source, target), edge in self.edges.items():
            parts = []
            if edge.symbols:
                parts.append(", ".join(sorted(edge.symbols)))
            if edge.decider is not None:
                parts.append(edge.decider)
            kind: ArrowKind = (
                "decider" if edge.decider is not None else "order" if edge.order else "data"
            )
            source_id = STORE_ID if source is None else node_id(source)
            arrows.append(Arrow(source_id, node_id(target), kind, "; ".join(parts)))
        ranks = self.rank
        return tuple(
            sorted(
                arrows,
                key=lambda arrow: (
                    ranks[arrow.source],
                    ranks[arrow.target],
                    arrow.kind,
                    arrow.source_cluster or "",
                    arrow.target_cluster or "",
                ),
            )
        )


def _graph_flows(flow: Flow) -> Iterator[GraphFlow]:
    """Yield `flow` and every flow nested in it that is a GraphFlow, in the order written."""
    pending = [flow]
    while pending:
        current = pending.pop()
        if isinstance(current, GraphFlow):
            yield current
        pending.extend(reversed([member for member in current if isinstance(member, Flow)]))


def _decider_name(decide: object) -> str:
    """Return a decider's name: a function's `__name__`, else its class name."""
    name = getattr(decide, "__name__", None)
    return name if isinstance(name, str) else type(decide).__name__
