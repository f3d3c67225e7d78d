"""Spelling a flow `Diagram` out as Mermaid (`flowchart TD`) or Graphviz DOT (`digraph`) text.

Both writers walk the diagram in its own order and add nothing of their own but syntax, so the
text is byte-stable when the diagram is. Shapes: a task is a rounded box, a retry a hexagon, a
join a small point (Mermaid: a small circle labelled `join`), the store a cylinder. Arrows: an
order edge is solid (labelled with the symbols it carries, if any), data that flows without an
order edge of its own is dotted and blue, a decider link is dashed and orange, labelled with the
decider. With a run, each atom is filled with its state's colours from `STATE_STYLES`.

Text is escaped for each syntax: Mermaid labels are quoted, with `"`, `#`, `<`, `>`, `&`, `|`,
backquotes and control characters written as numeric entity codes (`#34;`); DOT labels are
quoted, with backslashes and quotes escaped. Ids need no escaping: they are `[A-Za-z0-9_]`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from provenflow.diagrams._flow_model import Arrow, ArrowKind, Box, BoxKind, Cluster, Diagram
from provenflow.diagrams._flow_run import STATE_STYLES

__all__ = ["to_dot", "to_mermaid"]

_INDENT = "    "
_DATA_COLOUR = "#1565c0"
_DECIDER_COLOUR = "#e65100"
_MERMAID_SHAPES: dict[BoxKind, tuple[str, str]] = {
    "task": ('("', '")'),
    "retry": ('{{"', '"}}'),
    "join": ('(("', '"))'),
    "store": ('[("', '")]'),
    "legend": ('["', '"]'),
}
_MERMAID_CONNECTORS: dict[ArrowKind, str] = {"order": "-->", "data": "-.->", "decider": "-.->"}
_MERMAID_LINK_STYLES: dict[ArrowKind, str] = {
    "data": f"stroke:{_DATA_COLOUR},color:{_DATA_COLOUR},stroke-dasharray:2 3",
    "decider": f"stroke:{_DECIDER_COLOUR},color:{_DECIDER_COLOUR},stroke-width:2px",
}
_MERMAID_ESCAPED = frozenset('"#<>&|`')
_DOT_SHAPES: dict[BoxKind, str] = {
    "task": "",
    "retry": ", shape=hexagon, style=filled",
    "join": ', shape=point, width=0.08, fillcolor="#616161"',
    "store": ", shape=cylinder, style=filled",
    "legend": "",
}
_DOT_ARROWS: dict[ArrowKind, str] = {
    "order": "",
    "data": f', style=dotted, color="{_DATA_COLOUR}", fontcolor="{_DATA_COLOUR}"',
    "decider": f', style=dashed, color="{_DECIDER_COLOUR}", fontcolor="{_DECIDER_COLOUR}"',
}


def _boxes(items: tuple[Box | Cluster, ...]) -> Iterator[Box]:
    """Yield every box in `items`, clusters opened, in the order listed."""
    for item in items:
        if isinstance(item, Cluster):
            yield from _boxes(item.items)
        else:
            yield item


def _state_class(state: str) -> str:
    return "state_" + "".join(c if c.isascii() and c.isalnum() else "_" for c in state)


# Mermaid.


def to_mermaid(diagram: Diagram) -> str:
    """Return `diagram` as a Mermaid flowchart, ending with a newline."""
    lines: list[str] = []
    if diagram.title is not None:
        lines.extend(("---", f"title: {json.dumps(diagram.title)}", "---"))
    lines.append("flowchart TD")
    for item in diagram.items:
        _mermaid_item(item, 1, lines)
    link_styles: dict[ArrowKind, list[str]] = {}
    for index, arrow in enumerate(diagram.arrows):
        lines.append(_INDENT + _mermaid_arrow(arrow))
        if arrow.kind in _MERMAID_LINK_STYLES:
            link_styles.setdefault(arrow.kind, []).append(str(index))
    boxes = list(_boxes(diagram.items))
    if any(box.kind == "join" for box in boxes):
        lines.append(f"{_INDENT}classDef join fill:#616161,stroke:#616161,color:#ffffff")
        joins = ",".join(box.id for box in boxes if box.kind == "join")
        lines.append(f"{_INDENT}class {joins} join")
    for state, style in STATE_STYLES.items():
        members = ",".join(box.id for box in boxes if box.state == state)
        if members:
            name = _state_class(state)
            colours = f"fill:{style.fill},stroke:{style.stroke},color:{style.text}"
            lines.append(f"{_INDENT}classDef {name} {colours}")
            lines.append(f"{_INDENT}class {members} {name}")
    for kind, link_style in _MERMAID_LINK_STYLES.items():
        if kind in link_styles:
            lines.append(f"{_INDENT}linkStyle {','.join(link_styles[kind])} {link_style}")
    return "\n".join(lines) + "\n"


def _mermaid_item(item: Box | Cluster, depth: int, lines: list[str]) -> None:
    indent = _INDENT * depth
    if isinstance(item, Box):
        opening, closing = _MERMAID_SHAPES[item.kind]
        text = "join" if item.kind == "join" else "<br/>".join(map(_mermaid_text, item.lines))
        lines.append(f"{indent}{item.id}{opening}{text}{closing}")
        return
    lines.append(f'{indent}subgraph {item.id}["{_mermaid_text(item.label)}"]')
    for member in item.items:
        _mermaid_item(member, depth + 1, lines)
    lines.append(f"{indent}end")


def _mermaid_arrow(arrow: Arrow) -> str:
    source = arrow.source_cluster or arrow.source
    target = arrow.target_cluster or arrow.target
    connector = _MERMAID_CONNECTORS[arrow.kind]
    label = f'|"{_mermaid_text(arrow.label)}"|' if arrow.label else ""
    return f"{source} {connector}{label} {target}"


def _mermaid_text(text: str) -> str:
    """Return `text` safe inside a quoted Mermaid label (entity codes for special characters)."""
    return "".join(
        f"#{ord(c)};" if c in _MERMAID_ESCAPED or not c.isprintable() else c for c in text
    )


# DOT.


def to_dot(diagram: Diagram) -> str:
    """Return `diagram` as a Graphviz digraph, ending with a newline."""
    graph = ["compound=true", 'fontname="Helvetica"', "rankdir=TB"]
    if diagram.title is not None:
        graph.extend((f"label={_dot_text(diagram.title)}", "labelloc=t"))
    lines = [
        f"digraph {_dot_text(diagram.name)} {{",
        f"{_INDENT}graph [{', '.join(graph)}];",
        f'{_INDENT}node [fontname="Helvetica", fontsize=11, shape=box, '
        'style="rounded,filled", fillcolor="#ffffff", color="#424242"];',
        f'{_INDENT}edge [fontname="Helvetica", fontsize=10, color="#424242"];',
    ]
    for item in diagram.items:
        _dot_item(item, 1, lines)
    lines.extend(_INDENT + _dot_arrow(arrow) for arrow in diagram.arrows)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_item(item: Box | Cluster, depth: int, lines: list[str]) -> None:
    indent = _INDENT * depth
    if isinstance(item, Box):
        label = "" if item.kind == "join" else "\n".join(item.lines)
        attributes = f"label={_dot_text(label)}{_DOT_SHAPES[item.kind]}"
        style = STATE_STYLES.get(item.state) if item.state is not None else None
        if style is not None:
            attributes += (
                f', fillcolor="{style.fill}", color="{style.stroke}", fontcolor="{style.text}"'
            )
        lines.append(f"{indent}{item.id} [{attributes}];")
        return
    lines.append(f"{indent}subgraph cluster_{item.id} {{")
    frame = "dashed" if item.id == "legend" else "rounded"
    lines.append(f'{indent}{_INDENT}label={_dot_text(item.label)}; style={frame}; color="#9e9e9e";')
    for member in item.items:
        _dot_item(member, depth + 1, lines)
    lines.append(f"{indent}}}")


def _dot_arrow(arrow: Arrow) -> str:
    attributes = [f"label={_dot_text(arrow.label)}"] if arrow.label else []
    if arrow.source_cluster is not None:
        attributes.append(f"ltail=cluster_{arrow.source_cluster}")
    if arrow.target_cluster is not None:
        attributes.append(f"lhead=cluster_{arrow.target_cluster}")
    listed = ", ".join(attributes) + _DOT_ARROWS[arrow.kind]
    listed = listed.removeprefix(", ")
    return f"{arrow.source} -> {arrow.target}" + (f" [{listed}];" if listed else ";")


def _dot_text(text: str) -> str:
    """Return `text` as a quoted DOT string; a newline in it becomes a line break (`\\n`)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
