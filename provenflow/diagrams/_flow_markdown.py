"""Spelling a flow `Diagram` out as Markdown: a line naming it, a table of its atoms, its links.

The Markdown writer describes what the Mermaid and DOT writers (`_flow_text`) draw, from the
same `Diagram`, so the three formats name the same atoms, controllers, symbols, states and
attempts. Its text is, in order:

- a line naming the flow and counting its atoms; with a run, naming the run and the flow's
  recorded state too, as the other formats' title does;
- a table with one row per atom, in the order the flow runs them (compiled, topological
  order; ties in the order written): `atom | kind | flow | requires | provides`, and with a run
  `state | attempts`. `kind` is `task`, or `retry` with its controller (`Times(3)`); `flow` is
  the path of flows the atom sits in (`order / shipping`); `requires` names each symbol taken
  and where it comes from (an atom, or the store);
- when the flow's graph flows declare links, a list of the decider links
  (`a -> b: decider NAME, depth DEPTH`, a subflow end marked `(flow)`) and one of the links
  that only order, each in the order written.

Every name is a code span (fenced with more backquotes than it holds), so no character in a
name is taken as Markdown; in table cells `|` is escaped (`\\|`) and newlines become spaces.
The text ends with a newline and depends on nothing but the diagram.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from provenflow.diagrams._flow_model import AtomEntry, Diagram, LinkEntry
from provenflow.diagrams._text import markdown_cell

__all__ = ["to_markdown"]

_BACKQUOTES = re.compile(r"`+")


def to_markdown(diagram: Diagram) -> str:
    """Return `diagram` as Markdown (see the module's docstring), ending with a newline."""
    lines = [_heading(diagram), ""]
    header = ["atom", "kind", "flow", "requires", "provides"]
    if diagram.run is not None:
        header += ["state", "attempts"]
    lines.append(_row(header))
    lines.append("|" + " --- |" * len(header))
    lines.extend(_row(_cells(atom)) for atom in diagram.atoms)
    deciders = [_link(link) for link in diagram.links if link.decider is not None]
    orders = [_link(link) for link in diagram.links if link.decider is None]
    for title, items in (("Decider links", deciders), ("Order links", orders)):
        if items:
            lines += ["", f"{title}:", ""]
            lines += [f"- {item}" for item in items]
    return "\n".join(lines) + "\n"


def _heading(diagram: Diagram) -> str:
    count = len(diagram.atoms)
    atoms = f"{count} atom" if count == 1 else f"{count} atoms"
    run = diagram.run
    if run is None:
        return f"Flow {_code(diagram.name)}: {atoms}."
    return (
        f"Run {_code(run.flow_id)} of flow {_code(diagram.name)}: {_code(run.flow_state)}; {atoms}."
    )


def _cells(atom: AtomEntry) -> list[str]:
    kind = atom.kind if atom.controller is None else f"{atom.kind} {_code(atom.controller)}"
    requires = ", ".join(
        f"{_code(each.symbol)} from "
        + ("the store" if each.provider is None else _code(each.provider))
        for each in atom.inputs
    )
    cells = [
        _code(atom.name),
        kind,
        _code(" / ".join(atom.flows)),
        requires,
        _codes(atom.provides),
    ]
    if atom.run is not None:
        cells += [_code(atom.run.state), str(atom.run.attempts)]
    return cells


def _link(link: LinkEntry) -> str:
    source = _code(link.source) + (" (flow)" if link.source_is_flow else "")
    target = _code(link.target) + (" (flow)" if link.target_is_flow else "")
    if link.decider is None:
        return f"{source} -> {target}"
    return f"{source} -> {target}: decider {_code(link.decider)}, depth {_code(link.depth)}"


def _row(cells: Iterable[str]) -> str:
    """Return a table row of `cells`, each with `|` escaped and on one line."""
    return "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"


def _codes(texts: Iterable[str]) -> str:
    return ", ".join(_code(text) for text in texts)


def _code(text: str) -> str:
    """Return `text` as a one-line code span whose fence is longer than any backquote run in it."""
    text = text.replace("\r", " ").replace("\n", " ")
    longest = max((len(run) for run in _BACKQUOTES.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text.strip(" ") and (text[0] in "` " or text[-1] in "` "):
        text = f" {text} "  # Markdown takes one space off each end of such a span
    return f"{fence}{text}{fence}"
