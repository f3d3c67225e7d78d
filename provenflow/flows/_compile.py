"""Compilation: a flow becomes an execution graph with every symbol resolved.

Theory of operation, in three passes, each linear in the size of the flow:

1. *Survey* (`_Builder.survey`): walk the flow tree once; refuse duplicate atom or flow
   names, and compute what each flow *exports*: symbol -> the atom whose value is visible
   after the flow (in a linear flow the last provider wins; in a graph or unordered flow one
   symbol may have only one providing member, since their order is not fixed).
2. *Walk* (`_Builder.walk`): create one node per atom, retries first in their flow, and
   resolve each argument lexically through a stack of scopes, innermost first: the atom's own
   inject, then in each enclosing flow the nearest earlier provider (a linear flow: the
   members before this one, then the flow's retry; a graph flow: the one other member
   providing it, which adds a data edge; an unordered flow: only its retry, since siblings
   have no order), then the store, then the parameter's default. Ordering edges join the
   exits of a linear flow's member to the entries of the next one (through a `join` node when
   both sides have several nodes), a retry to the entries of its flow, and linked members.
3. *Freeze* (`Nodes.freeze`, in `_freeze`): sort topologically (Kahn's algorithm, ties broken
   by the order the flow was written in, so the same flow always compiles to the same
   order), refuse a cycle naming its atoms, and build the frozen `CompiledFlow`.

Every refusal is raised before anything runs, as a `FlowDefinitionError` subclass naming the
atom, the symbol and the flow. Compilation reads the flow and changes nothing in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from provenflow._gc import collector_paused
from provenflow.errors import (
    AlreadyAdded,
    AmbiguousProvider,
    DuplicateName,
    MissingInput,
    RetryUsedAsTask,
    UnorderedDependency,
    UsageError,
)
from provenflow.flows._atom import Atom
from provenflow.flows._compiled import Binding, CompiledFlow
from provenflow.flows._freeze import Nodes
from provenflow.flows._patterns import Flow, GraphFlow, Link, _describe
from provenflow.flows._retry import Retry

__all__ = ["compile_flow"]


def compile_flow(flow: Flow, store_keys: Iterable[str] = ()) -> CompiledFlow:
    """Compile `flow` into its execution graph; `store_keys` are the symbols the store holds.

    Raises, before anything runs: `DuplicateName`, `AmbiguousProvider`, `MissingInput`,
    `UnorderedDependency`, `DependencyCycle`, `RetryUsedAsTask` (a retry given as the flow),
    and `UsageError` for something that is not a flow. The flow is not changed.
    """
    if isinstance(flow, Retry):
        raise RetryUsedAsTask(flow.name, None)
    if not isinstance(flow, Flow):
        raise UsageError(
            "compile_flow takes a flow (LinearFlow, UnorderedFlow or GraphFlow), "
            f"got {_describe(flow)}"
        )
    if isinstance(store_keys, str | bytes):
        raise UsageError(f"store_keys must be an iterable of symbol names, got {store_keys!r}")
    builder = _Builder(frozenset(store_keys))
    with collector_paused():
        builder.survey(flow, None, {}, {})
        builder.walk(flow, _Context((), (), None))
        return builder.freeze(flow.name)


@dataclass(eq=False, slots=True)
class _Frame:
    """One flow on the scope stack while its members are walked."""

    flow: Flow
    visible: dict[str, str]
    """symbol -> provider: the retry's, then (linear flows) what earlier members exported."""
    members: dict[str, tuple[str, int]] = field(default_factory=dict)
    """(graph and unordered flows) symbol -> (provider, index of the member exporting it)."""
    current: int = -1
    """The index of the member being walked."""


@dataclass(frozen=True, slots=True)
class _Context:
    frames: tuple[_Frame, ...]
    flows: tuple[str, ...]
    retry: str | None


@dataclass(slots=True)
class _Span:
    """The nodes a member compiled to: its entries and exits, and its insertion range."""

    entries: list[str]
    exits: list[str]
    start: int
    end: int


class _Builder(Nodes):
    """Passes 1 and 2: survey the flow tree, then create nodes, bindings and edges."""

    def __init__(self, store_keys: frozenset[str]) -> None:
        super().__init__()
        self.store_keys = store_keys
        self.exports: dict[int, dict[str, str]] = {}
        self.atom_names: set[str] = set()
        self.places: dict[int, str] = {}
        """id of each atom and flow met -> the flow holding it."""

    # Pass 1: names and exports.

    def survey(
        self,
        flow: Flow,
        parent: str | None,
        atom_places: dict[str, str],
        flow_places: dict[str, str | None],
    ) -> dict[str, str]:
        """Check names under `flow`, record and return what it exports (symbol -> atom)."""
        self._note_object(flow, "flow", flow.name, parent)
        if flow.name in flow_places:
            raise DuplicateName("flow", flow.name, flow_places[flow.name], parent)
        flow_places[flow.name] = parent
        exports: dict[str, str] = {}
        if flow.retry is not None:
            self._note_atom(flow.retry, flow.name, atom_places)
            exports.update(self._exports_of(flow.retry))
        owners: dict[str, str] = {}
        for member in flow:
            if isinstance(member, Flow):
                provided = self.survey(member, flow.name, atom_places, flow_places)
            else:
                self._note_atom(member, flow.name, atom_places)
                provided = self._exports_of(member)
            if flow.kind == "linear":
                exports.update(provided)
                continue
            for symbol, provider in provided.items():
                if symbol in owners:
                    raise AmbiguousProvider(symbol, flow.name, (owners[symbol], provider))
                owners[symbol] = provider
        exports.update(owners)
        self.exports[id(flow)] = exports
        return exports

    def _note_object(self, item: Atom | Flow, kind: str, name: str, flow: str | None) -> None:
        """Refuse an object met a second time in the tree (its name would clash too)."""
        first = self.places.get(id(item))
        if first is not None and flow is not None:
            raise AlreadyAdded(kind, name, flow, first)
        self.places[id(item)] = flow or name

    def _note_atom(self, atom: Atom, flow: str, places: dict[str, str]) -> None:
        self._note_object(atom, atom.kind, atom.name, flow)
        if atom.name in places:
            raise DuplicateName("atom", atom.name, places[atom.name], flow)
        places[atom.name] = flow
        self.atom_names.add(atom.name)

    def _exports_of(self, member: Atom | Flow) -> dict[str, str]:
        if isinstance(member, Flow):
            return self.exports[id(member)]
        return {symbol: member.name for symbol in member.provides}

    # Pass 2: nodes, bindings and edges.

    def walk(self, item: Atom | Flow, context: _Context) -> tuple[list[str], list[str]]:
        """Compile `item`; return its entry and exit nodes (empty for an empty flow)."""
        if isinstance(item, Flow):
            return self._flow(item, context)
        self.add_node(item.name, item.kind, item, context.flows, context.retry)  # type: ignore[arg-type]
        self.bindings[-1] = self._bind(item, context.frames, context.flows[-1])
        return [item.name], [item.name]

    def _flow(self, flow: Flow, context: _Context) -> tuple[list[str], list[str]]:
        flows = (*context.flows, flow.name)
        start = len(self.names)
        retry = flow.retry
        frame = _Frame(flow, {})
        if retry is not None:
            self.add_node(retry.name, "retry", retry, flows, context.retry)
            self.bindings[-1] = self._bind(retry, context.frames, flow.name)
            frame.visible.update(self._exports_of(retry))
        inner = _Context(
            (*context.frames, frame), flows, retry.name if retry is not None else context.retry
        )
        if flow.kind == "linear":
            entries, exits = self._linear(flow, frame, inner)
        else:
            for position, member in enumerate(flow):
                for symbol, provider in self._exports_of(member).items():
                    frame.members[symbol] = (provider, position)
            entries, exits = self._parallel(flow, frame, inner)
        if retry is None:
            return entries, exits
        self.edges.extend((retry.name, entry) for entry in entries)
        self.guarded[retry.name] = (start + 1, len(self.names))
        return [retry.name], exits or [retry.name]

    def _linear(self, flow: Flow, frame: _Frame, context: _Context) -> tuple[list[str], list[str]]:
        entries: list[str] = []
        previous: list[str] = []
        for position, member in enumerate(flow):
            frame.current = position
            first, last = self.walk(member, context)
            if isinstance(member, Flow):
                frame.visible.update(self.exports[id(member)])
            else:
                for symbol in member.provides:
                    frame.visible[symbol] = member.name
            if not first:
                continue
            if previous:
                self._connect(previous, first, f"{flow.name}[join {position}]", context)
            else:
                entries = first
            previous = last
        return entries, previous

    def _parallel(
        self, flow: Flow, frame: _Frame, context: _Context
    ) -> tuple[list[str], list[str]]:
        spans: list[_Span] = []
        for position, member in enumerate(flow):
            frame.current = position
            start = len(self.names)
            first, last = self.walk(member, context)
            spans.append(_Span(first, last, start, len(self.names)))
        frame.current = -1
        sources: set[int] = set()
        targets: set[int] = set()
        if isinstance(flow, GraphFlow):
            members = list(flow)
            for number, link in enumerate(flow.links):
                a = flow.position(link.source)
                b = flow.position(link.target)
                assert a is not None and b is not None
                for end in (a, b):
                    if not spans[end].entries:  # an empty subflow: a barrier keeps the order
                        self._placeholder(members[end], spans[end], context)
                name = f"{flow.name}[join link {number}]"
                self._connect(spans[a].exits, spans[b].entries, name, context)
                sources.add(a)
                targets.add(b)
                if link.decider is not None:
                    source = members[a]
                    atom = source if isinstance(source, Atom) else None
                    self._decider(atom, spans[a], spans[b], link, flow.name)
        entries = [n for i, span in enumerate(spans) if i not in targets for n in span.entries]
        exits = [n for i, span in enumerate(spans) if i not in sources for n in span.exits]
        return entries, exits

    def _placeholder(self, member: Atom | Flow, span: _Span, context: _Context) -> None:
        name = self._join(f"{member.name}[join]", (*context.flows, member.name), context.retry)
        span.entries = [name]
        span.exits = [name]

    def _decider(
        self, atom: Atom | None, source: _Span, target: _Span, link: Link, flow: str
    ) -> None:
        """Record a decider: its history is the source atom's result (a source subflow: the
        results of its atoms that provide something); it vetoes every atom of the target."""
        if atom is not None:
            sources = [self.index[atom.name]]
        else:
            sources = [
                i
                for i in range(source.start, source.end)
                if (member := self.atoms[i]) is not None and member.provides
            ]
        targets = [i for i in range(target.start, target.end) if self.kinds[i] != "join"]
        assert link.decider is not None
        self.deciders.append((sources, targets, link.decider, link.depth, flow))

    def _connect(
        self, sources: list[str], targets: list[str], join: str, context: _Context
    ) -> None:
        edges = self.edges
        if len(sources) == 1 and len(targets) == 1:
            edges.append((sources[0], targets[0]))
        elif len(sources) > 1 and len(targets) > 1:
            join = self._join(join, context.flows, context.retry)
            edges.extend([(source, join) for source in sources])
            edges.extend([(join, target) for target in targets])
        else:
            edges.extend([(source, target) for source in sources for target in targets])

    def _join(self, name: str, flows: tuple[str, ...], retry: str | None) -> str:
        while name in self.atom_names or name in self.index:
            name += "'"
        self.add_node(name, "join", None, flows, retry)
        return name

    def _bind(self, atom: Atom, frames: tuple[_Frame, ...], flow: str) -> Mapping[str, Binding]:
        bindings: dict[str, Binding] = {}
        inject = atom.inject
        for arg in atom.arguments():
            if arg in inject:
                bindings[arg] = Binding("inject", arg, None, inject[arg])
            else:
                bindings[arg] = self._resolve(atom, arg, atom.rebind[arg], frames, flow)
        return MappingProxyType(bindings)

    def _resolve(
        self, atom: Atom, arg: str, symbol: str, frames: tuple[_Frame, ...], flow: str
    ) -> Binding:
        sibling: tuple[str, str] | None = None
        for frame in reversed(frames):
            hit = frame.members.get(symbol)
            if hit is not None and hit[1] != frame.current:
                if frame.flow.kind == "graph":
                    self.edges.append((hit[0], atom.name))
                    return Binding("atom", symbol, hit[0])
                sibling = sibling or (hit[0], frame.flow.name)
            provider = frame.visible.get(symbol)
            if provider is not None:
                return Binding("atom", symbol, provider)
        if symbol in self.store_keys:
            self.store_requires.add(symbol)
            return Binding("store", symbol, None)
        if arg in atom._optional_arguments:
            return Binding("default", arg, None)
        if sibling is not None:
            raise UnorderedDependency(atom.kind, atom.name, symbol, flow, *sibling)
        raise MissingInput(atom.kind, atom.name, symbol, flow)
