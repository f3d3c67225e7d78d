"""Property tests of compilation: random nested flows compile to a sound execution graph.

Random flows of every pattern, nested up to three deep, with retries, links and deciders, and
atoms requiring and providing symbols from a small pool, are compiled against a random store.
Compilation either refuses the flow with a `FlowDefinitionError`, or gives a graph that is
acyclic, an order that is topological, and bindings whose providers provide the symbol and
come before the consumer in the graph. For flows made of linear flows only, the bindings equal
a reference: the nearest earlier provider in the flattened order, else the store, else missing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import networkx as nx
from hypothesis import event, given, settings
from hypothesis import strategies as st

from provenflow.errors import FlowDefinitionError, MissingInput
from provenflow.flows import (
    Atom,
    CompiledFlow,
    Flow,
    GraphFlow,
    LinearFlow,
    ParameterizedForEach,
    Retry,
    Times,
    UnorderedFlow,
    compile_flow,
)
from tests.flows.helpers import needs

SYMBOLS = ("s0", "s1", "s2", "s3", "s4")
PATTERNS = {"linear": LinearFlow, "unordered": UnorderedFlow, "graph": GraphFlow}


def _always(history: dict[str, object]) -> bool:
    return True


@st.composite
def flow_trees(draw: st.DrawFn, patterns: tuple[str, ...] = tuple(PATTERNS)) -> Flow:
    """Draw a random flow tree whose patterns are among `patterns`."""
    counter = itertools.count()
    symbols = st.lists(st.sampled_from(SYMBOLS), max_size=2, unique=True)

    def atom() -> Atom:
        provides = tuple(draw(symbols))
        return needs(f"a{next(counter)}", draw(symbols), provides or None)

    def retry() -> Retry | None:
        choice = draw(st.integers(0, 5))
        provides = draw(st.sampled_from((None, *SYMBOLS)))
        if choice == 0:
            return Times(2, name=f"r{next(counter)}", provides=provides)
        if choice == 1:
            rebind = {"values": draw(st.sampled_from(SYMBOLS))}
            return ParameterizedForEach(name=f"r{next(counter)}", rebind=rebind, provides=provides)
        return None

    def flow(depth: int) -> Flow:
        pattern = PATTERNS[draw(st.sampled_from(patterns))]
        built = pattern(f"f{next(counter)}", retry=retry())
        members: list[Atom | Flow] = []
        for _ in range(draw(st.integers(0, 4))):
            nested = depth < 3 and draw(st.integers(0, 3)) == 0
            members.append(flow(depth + 1) if nested else atom())
        built.add(*members)
        if isinstance(built, GraphFlow) and len(members) > 1:
            index = st.integers(0, len(members) - 1)
            for a, b in draw(st.lists(st.tuples(index, index), max_size=3, unique=True)):
                if a != b:
                    decider = _always if draw(st.booleans()) else None
                    built.link(members[a], members[b], decider=decider)
        return built

    return flow(0)


def atoms_of(flow: Flow) -> Iterator[Atom]:
    """Yield every atom of `flow` (retries first in their flow), in the order written."""
    if flow.retry is not None:
        yield flow.retry
    for member in flow:
        if isinstance(member, Flow):
            yield from atoms_of(member)
        else:
            yield member


def check_sound(flow: Flow, compiled: CompiledFlow) -> None:
    graph = compiled.graph
    assert nx.is_directed_acyclic_graph(graph)
    assert list(compiled.nodes) == list(compiled.order)
    assert set(graph.nodes) == set(compiled.order)
    position = {name: rank for rank, name in enumerate(compiled.order)}
    for source, target in graph.edges:
        assert position[source] < position[target]
    atoms = {atom.name: atom for atom in atoms_of(flow)}
    assert {name for name, node in compiled.nodes.items() if node.kind != "join"} == set(atoms)
    for name, node in compiled.nodes.items():
        assert graph.nodes[name]["kind"] == node.kind
        assert set(node.predecessors) == set(graph.predecessors(name))
        assert set(node.successors) == set(graph.successors(name))
        for binding in node.bindings.values():
            if binding.kind == "atom":
                assert binding.provider is not None
                assert binding.symbol in atoms[binding.provider].provides
                assert nx.has_path(graph, binding.provider, name)
            if binding.kind == "store":
                assert binding.symbol in compiled.store_requires
    for retry, guarded in compiled.guarded.items():
        descendants = nx.descendants(graph, retry)
        assert set(guarded) <= descendants
        assert all(compiled.nodes[name].retry is not None for name in guarded)


@settings(max_examples=300)
@given(flow_trees(), st.sets(st.sampled_from(SYMBOLS)))
def test_random_flows_compile_soundly_or_are_refused(flow: Flow, store: set[str]) -> None:
    try:
        compiled = compile_flow(flow, store)
    except FlowDefinitionError as refused:
        event(type(refused).__name__)
        return
    event("compiled")
    check_sound(flow, compiled)
    assert compile_flow(flow, store).order == compiled.order


def reference_bindings(flow: Flow, store: set[str]) -> dict[tuple[str, str], str | None]:
    """For linear-only trees: (atom, symbol) -> nearest earlier provider, "store" or None."""
    expected: dict[tuple[str, str], str | None] = {}
    latest: dict[str, str] = {}
    for atom in atoms_of(flow):
        for symbol in atom.requires:
            expected[atom.name, symbol] = latest.get(symbol, "store" if symbol in store else None)
        for symbol in atom.provides:
            latest[symbol] = atom.name
    return expected


def _retry_flow_of(flow: Flow, retry: Retry) -> bool:
    return flow.retry is retry or any(
        isinstance(member, Flow) and _retry_flow_of(member, retry) for member in flow
    )


@settings(max_examples=300)
@given(flow_trees(patterns=("linear",)), st.sets(st.sampled_from(SYMBOLS)))
def test_linear_lookup_matches_the_flattened_reference(flow: Flow, store: set[str]) -> None:
    expected = reference_bindings(flow, store)
    missing = {key for key, provider in expected.items() if provider is None}
    try:
        compiled = compile_flow(flow, store)
    except MissingInput as refused:
        assert (refused.atom, refused.symbol) in missing
        return
    assert not missing
    check_sound(flow, compiled)
    for (atom, symbol), provider in expected.items():
        (binding,) = (b for b in compiled.nodes[atom].bindings.values() if b.symbol == symbol)
        assert (binding.provider if binding.kind == "atom" else binding.kind) == provider
