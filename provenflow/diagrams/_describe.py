"""A lifecycle's drawing as plain data: which states and edges, in which order, of which kinds.

This is the first layer of every lifecycle diagram (`_text` writes it as Mermaid, DOT or
Markdown; `_style` says how each kind looks). `describe` reads a `Lifecycle` and returns a
`Diagram`; it does no formatting.

Order is fixed by the table's meaning, not by how its rows happen to be written: states in
breadth-first order from the initial state, taking events in name order; edges by their
source's place in that order, then by event name. So the same table always gives the same bytes,
and the drawing reads from the initial state onwards.

Kinds: a state is `initial`, `terminal`, `on_path` (an edge of the highlighted path touches it);
an edge is `highlight` (on the path), and, when coverage is drawn, `covered` or `uncovered`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provenflow.errors import UsageError
from provenflow.fsm import Lifecycle

__all__ = ["Arrow", "Diagram", "State", "describe", "edge_set", "state_order"]

EdgeKey = tuple[str, str, str]


@dataclass(frozen=True)
class State:
    """One state to draw: its name and kinds (`initial`, `terminal`, `on_path`)."""

    name: str
    kinds: frozenset[str]


@dataclass(frozen=True)
class Arrow:
    """One table edge to draw, its kinds, and the trace steps that took it (if drawn from one)."""

    source: str
    event: str
    target: str
    kinds: frozenset[str]
    steps: tuple[int, ...] = ()


@dataclass(frozen=True)
class Diagram:
    """A lifecycle's drawing: ordered states and arrows, and the caption's lines."""

    lifecycle: str
    initial: str
    terminal: tuple[str, ...]
    states: tuple[State, ...]
    arrows: tuple[Arrow, ...]
    columns: tuple[str, ...] = ()
    """Extra Markdown columns, from `on path` (a highlight) and `taken` (coverage)."""
    caption: tuple[str, ...] = ()
    legend: tuple[str, ...] = ()
    """The kinds whose drawing needs explaining (`covered`, `highlight`), for `_style.LEGENDS`."""


def state_order(lifecycle: Lifecycle[Any, Any]) -> list[str]:
    """Return the states in breadth-first order from the initial state, events by name.

    States the initial state cannot reach (a checked table has none) follow in declaration
    order.
    """
    table = _by_value(lifecycle)
    order: list[str] = []
    queue = deque([str(lifecycle.initial)])
    while queue:
        state = queue.popleft()
        if state in order:
            continue
        order.append(state)
        queue.extend(target for _, target in sorted(table[state].items()))
    order += [str(state) for state in lifecycle.states if str(state) not in order]
    return order


def _by_value(lifecycle: Lifecycle[Any, Any]) -> dict[str, dict[str, str]]:
    return {
        str(state): {str(event): str(target) for event, target in row.items()}
        for state, row in lifecycle.table.items()
    }


def edge_set(
    lifecycle: Lifecycle[Any, Any], edges: Iterable[tuple[str, str, str]], role: str
) -> frozenset[EdgeKey]:
    """Return `edges` as a set of `(state, event, target)` strings, each checked to be an edge.

    An edge may be a list (as JSON gives it). Raises `UsageError` naming the first item that is
    not a 3-tuple or not an edge of the
    table, and the edges its state has (`role` says what the edges were given as).
    """
    table = _by_value(lifecycle)
    found: set[EdgeKey] = set()
    for edge in edges:
        if not isinstance(edge, tuple | list) or len(edge) != 3:
            raise UsageError(
                f"lifecycle {lifecycle.name!r}: {role} takes (state, event, target) tuples, "
                f"got {edge!r}"
            )
        state, event, target = (str(part) for part in edge)
        row = table.get(state)
        if row is None or row.get(event) != target:
            if row is None:
                allowed = f"states: {', '.join(table)}"
            else:
                edges_here = [f"{state} --{e}--> {t}" for e, t in sorted(row.items())]
                allowed = (
                    f"edges from {state}: {', '.join(edges_here) or f'none, {state} is terminal'}"
                )
            raise UsageError(
                f"lifecycle {lifecycle.name!r}: {role} edge {state} --{event}--> {target} "
                f"is not an edge of the table ({allowed})"
            )
        found.add((state, event, target))
    return frozenset(found)


def describe(
    lifecycle: Lifecycle[Any, Any],
    *,
    highlight: Iterable[tuple[str, str, str]] = (),
    covered: Iterable[tuple[str, str, str]] | None = None,
    steps: Mapping[EdgeKey, tuple[int, ...]] | None = None,
    caption: Iterable[str] = (),
) -> Diagram:
    """Return the `Diagram` of `lifecycle` with `highlight` (and `steps`'s edges) on the path.

    `covered`, when not None, marks every edge `covered` or `uncovered` and adds a caption line
    with the count. `steps` maps edges of a trace's path to the step numbers that took them.
    Raises `UsageError` (see `edge_set`) for an edge the table lacks; nothing else is checked.
    """
    steps = dict(steps or {})
    path = edge_set(lifecycle, [*highlight, *steps], "highlight")
    taken = None if covered is None else edge_set(lifecycle, covered, "covered")
    order = state_order(lifecycle)
    rank = {state: index for index, state in enumerate(order)}
    table = _by_value(lifecycle)
    terminal = {str(state) for state in lifecycle.terminal}
    on_path = {state for edge in path for state in (edge[0], edge[2])}

    states = tuple(
        State(
            state,
            frozenset(
                kind
                for kind, present in (
                    ("initial", state == str(lifecycle.initial)),
                    ("terminal", state in terminal),
                    ("on_path", state in on_path),
                )
                if present
            ),
        )
        for state in order
    )
    arrows = []
    for state in sorted(table, key=rank.__getitem__):
        for event, target in sorted(table[state].items()):
            edge = (state, event, target)
            kinds = {"highlight"} if edge in path else set()
            if taken is not None:
                kinds.add("covered" if edge in taken else "uncovered")
            arrows.append(Arrow(state, event, target, frozenset(kinds), steps.get(edge, ())))

    lines = list(caption)
    if taken is not None:
        lines.append(f"coverage {len(taken)} of {len(arrows)} edges taken")
    return Diagram(
        lifecycle=lifecycle.name,
        initial=str(lifecycle.initial),
        terminal=tuple(state for state in order if state in terminal),
        states=states,
        arrows=tuple(arrows),
        columns=(*(["on path"] if path else []), *(["taken"] if taken is not None else [])),
        caption=tuple(lines),
        legend=(*(["highlight"] if path else []), *(["covered"] if taken is not None else [])),
    )
