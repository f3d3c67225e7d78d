"""What compilation produces: plain, frozen data that an engine or a model checker can drive.

A `CompiledFlow` is the execution graph of a flow: one `Node` per atom (and per `join`, a no-op
barrier that keeps the edge count linear), the edges that order them, where each argument of
each atom comes from (`Binding`), the deciders that may veto a node (`Decider`) and, per retry,
the nodes it guards. Nothing here runs anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import networkx as nx

from provenflow.flows._atom import Atom
from provenflow.flows._patterns import Depth

__all__ = ["Binding", "BindingKind", "CompiledFlow", "Decider", "Node", "NodeKind"]

BindingKind = Literal["inject", "atom", "store", "default"]
NodeKind = Literal["task", "retry", "join"]


@dataclass(frozen=True, slots=True)
class Binding:
    """Where one execute argument's value comes from.

    `kind`: "inject" (the atom's own constant, in `value`), "atom" (the result of atom
    `provider`, published as `symbol`), "store" (the run's store, key `symbol`) or "default"
    (the parameter's default; the engine leaves the argument out). `symbol` is the symbol
    looked up (after rebind); for inject and default it is the argument's name.
    """

    kind: BindingKind
    symbol: str
    provider: str | None
    value: object = None


@dataclass(frozen=True, slots=True)
class Decider:
    """A decider link: whether its target runs depends on `decide(history)`.

    `sources`: the atoms whose results form the history ({name: result}), in topological
    order. `depth`: how far a veto reaches (see `Depth`). `flow`: the graph flow that declared
    the link. `targets`: the atoms ignored at ATOM depth (for a subflow target, its atoms).
    """

    sources: tuple[str, ...]
    decide: Callable[[dict[str, object]], bool]
    depth: Depth
    flow: str
    targets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the execution graph.

    `kind`: "task", "retry" or "join" (a no-op barrier, not an atom, never persisted; `atom`
    is None). `flows`: the enclosing flows' names, outermost first. `retry`: the nearest retry
    guarding this node (for a retry node, the one guarding its flow from outside), or None.
    `predecessors` must all finish (SUCCESS or IGNORE) before the node starts; `successors`
    are the reverse edges; both in topological order. `bindings`: execute argument -> Binding
    (for a retry, its requirements, not the history). `deciders`: the decider links whose
    target includes this node.
    """

    name: str
    kind: NodeKind
    atom: Atom | None
    flows: tuple[str, ...]
    retry: str | None
    predecessors: tuple[str, ...]
    successors: tuple[str, ...]
    bindings: Mapping[str, Binding]
    deciders: tuple[Decider, ...]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        fields = [getattr(self, name) for name in self.__slots__]
        fields[7] = dict(self.bindings)
        return _node, tuple(fields)


@dataclass(frozen=True)
class CompiledFlow:
    """A compiled flow: its nodes in a deterministic topological order, and what they need.

    `name`: the outermost flow's name. `nodes` and `order`: every node, in the same
    topological order (ties broken by the order the flow was written in). `graph`: the same
    nodes and edges as a networkx DiGraph, each node with attribute "kind". `guarded`: retry
    name -> every node of its subflow, nested ones included, in order (not the retry itself).
    `providers`: symbol -> the atoms providing it, in order. `store_requires`: the symbols
    that must come from the store.
    """

    name: str
    nodes: Mapping[str, Node]
    order: tuple[str, ...]
    graph: nx.DiGraph[str]
    guarded: Mapping[str, tuple[str, ...]]
    providers: Mapping[str, tuple[str, ...]]
    store_requires: frozenset[str]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _compiled_flow, (
            self.name,
            dict(self.nodes),
            self.order,
            self.graph,
            dict(self.guarded),
            dict(self.providers),
            self.store_requires,
        )


def _node(*fields: Any) -> Node:
    """Rebuild a pickled Node, its bindings read-only again."""
    node = Node(*fields)
    object.__setattr__(node, "bindings", MappingProxyType(dict(node.bindings)))
    return node


def _compiled_flow(  # noqa: PLR0917 (the positional form pickling needs)
    name: str,
    nodes: dict[str, Node],
    order: tuple[str, ...],
    graph: nx.DiGraph[str],
    guarded: dict[str, tuple[str, ...]],
    providers: dict[str, tuple[str, ...]],
    store_requires: frozenset[str],
) -> CompiledFlow:
    """Rebuild a pickled CompiledFlow, its mappings read-only again."""
    return CompiledFlow(
        name,
        MappingProxyType(nodes),
        order,
        graph,
        MappingProxyType(guarded),
        MappingProxyType(providers),
        store_requires,
    )
