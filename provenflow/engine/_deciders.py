"""How far a decider's veto reaches: the nodes a nay ignores, by depth.

A decider on a link votes when its target becomes ready. A nay ignores the target (ATOM), the
target and its direct successors (NEIGHBORS), the target and what follows it inside the graph
flow that declared the link (FLOW), or the target and everything after it (ALL). Join nodes
pass a veto through without counting as a step. A pure function of the compiled graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from provenflow.flows import Depth, Node

__all__ = ["vetoed_by"]


def vetoed_by(
    nodes: Mapping[str, Node], targets: Iterable[str], depth: Depth, flow: str
) -> set[str]:
    """Return the names of the nodes a nay on `targets` ignores at `depth`.

    `flow` is the name of the graph flow that declared the link (used by `Depth.FLOW`).
    """
    vetoed = set(targets)
    if depth == Depth.ATOM:
        return vetoed
    frontier = list(vetoed)
    while frontier:
        for successor in nodes[frontier.pop()].successors:
            node = nodes[successor]
            if successor in vetoed or (depth == Depth.FLOW and flow not in node.flows):
                continue
            vetoed.add(successor)
            if depth != Depth.NEIGHBORS or node.kind == "join":
                frontier.append(successor)
    return vetoed
