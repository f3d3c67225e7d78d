"""How each kind of state and edge is drawn: styles as data, one small dict per kind.

A diagram is described first (`_describe`: states and edges, each with the kinds it has, such
as `terminal`, `on_path`, `covered`) and written out after (`_text`), so how a kind looks lives
here and nowhere else. A drawing with several kinds on one element merges their attributes in
the order `KIND_ORDER` gives, later kinds winning.

- `DOT`: Graphviz attributes for the graph, the defaults of nodes and edges, the entry point
  (the dot the initial arrow starts from), and each kind of state and edge.
- `MERMAID_CLASSES`: Mermaid `classDef` styles for kinds of states (Mermaid's state diagrams
  cannot style an edge, so edges are marked in their labels instead: `MERMAID_MARKS`).
- `MARKDOWN_MARKS`: how a Markdown table shows an edge's kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = [
    "DOT",
    "KIND_ORDER",
    "LEGENDS",
    "MARKDOWN_MARKS",
    "MERMAID_CLASSES",
    "MERMAID_MARKS",
    "merged",
]

Attributes = Mapping[str, str]

_BLUE, _GREEN, _RED = "#1f6feb", "#1a7f37", "#cf222e"

KIND_ORDER = ("initial", "terminal", "covered", "uncovered", "on_path", "highlight")
"""The order in which kinds' attributes are merged: a later kind wins over an earlier one."""

DOT: Mapping[str, Attributes] = MappingProxyType(
    {
        kind: MappingProxyType(attributes)
        for kind, attributes in {
            "graph": {"rankdir": "LR", "fontname": "Helvetica", "fontsize": "12", "labelloc": "t"},
            "node": {"shape": "circle", "fontname": "Helvetica", "fontsize": "10"},
            "edge": {"fontname": "Helvetica", "fontsize": "9"},
            "entry": {"shape": "point", "width": "0.15", "label": ""},
            "cluster": {"style": "rounded", "color": "#8c959f", "fontname": "Helvetica"},
            # kinds of state
            "terminal": {"shape": "doublecircle"},
            "on_path": {"color": _BLUE, "fontcolor": _BLUE, "penwidth": "2"},
            # kinds of edge
            "highlight": {"color": _BLUE, "fontcolor": _BLUE, "penwidth": "2.5"},
            "covered": {"color": _GREEN, "fontcolor": _GREEN},
            "uncovered": {"color": _RED, "fontcolor": _RED, "style": "dashed"},
        }.items()
    }
)
"""Graphviz attributes by kind (values are DOT strings; every value is written quoted)."""

MERMAID_CLASSES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"on_path": ("onPath", f"font-weight:bold,stroke-width:3px,stroke:{_BLUE}")}
)
"""For kinds of state: the Mermaid class name and its `classDef` body."""

MERMAID_MARKS: Mapping[str, str] = MappingProxyType(
    {
        "highlight": "{label} (on path)",
        "covered": "✓ {label}",
        "uncovered": "✗ {label} (never taken)",
    }
)
"""How a Mermaid edge label shows each kind: a format of the plain `label`, applied in order."""

MARKDOWN_MARKS: Mapping[str, str] = MappingProxyType(
    {"highlight": "yes", "covered": "yes", "uncovered": "**no**"}
)
"""What the Markdown table's extra column says for each kind of edge."""

LEGENDS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "mermaid": MappingProxyType({"covered": "✓ taken, ✗ never taken"}),
        "dot": MappingProxyType(
            {"covered": "solid green: taken, dashed red: never taken", "highlight": "path in blue"}
        ),
        "md": MappingProxyType({}),
    }
)
"""Per format, the words that explain how a kind is drawn (added to the diagram's caption)."""


def merged(kinds: Iterable[str], base: Attributes | None = None) -> dict[str, str]:
    """Return `base` updated with the DOT attributes of each of `kinds`, in `KIND_ORDER`."""
    attributes = dict(base or {})
    present = set(kinds)
    for kind in KIND_ORDER:
        if kind in present and kind in DOT:
            attributes.update(DOT[kind])
    return attributes
