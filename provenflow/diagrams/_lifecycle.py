"""Lifecycle diagrams: a transition table drawn as Mermaid, DOT or a Markdown table.

`lifecycle(name_or_lifecycle, format)` is the public entry point. It is layered like the
`transitions` library's diagrams: the table is first described as plain data (`_describe`:
ordered states and edges with their kinds), then written in the asked format (`_text`), with
the looks kept as data (`_style`). The output is byte-stable: the same table and arguments
always give the same text, ordered by the table's meaning (breadth-first from the initial state,
events by name), with no timestamps.

Options: `highlight` draws some edges (a path, such as a trace's) emphasised; `covered` marks
every edge as taken or never taken, for coverage drawings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from provenflow.diagrams._describe import Diagram, describe
from provenflow.diagrams._text import to_dot, to_markdown, to_mermaid
from provenflow.errors import UsageError
from provenflow.fsm import LIFECYCLES, Lifecycle

__all__ = ["FORMATS", "check_format", "lifecycle", "resolve_lifecycle", "write"]

WRITERS: dict[str, Callable[[Diagram], str]] = {
    "mermaid": to_mermaid,
    "dot": to_dot,
    "md": to_markdown,
}
FORMATS = tuple(WRITERS)
"""The text formats of lifecycle diagrams: mermaid, dot, md."""


def check_format(format: str, allowed: Iterable[str] = FORMATS, what: str = "diagram") -> str:
    """Return `format` when it is one of `allowed`; else raise `UsageError` naming them."""
    allowed = tuple(allowed)
    if format not in allowed:
        hint = "" if what == "image" else "; svg and png: render the dot text with render()"
        raise UsageError(f"unknown {what} format {format!r} (allowed: {', '.join(allowed)}{hint})")
    return format


def resolve_lifecycle(name_or_lifecycle: str | Lifecycle[Any, Any]) -> Lifecycle[Any, Any]:
    """Return the `Lifecycle` given, or the one of `provenflow.fsm.LIFECYCLES` by that name.

    Raises `UsageError` naming the known lifecycles for an unknown name or another type.
    """
    if isinstance(name_or_lifecycle, Lifecycle):
        return name_or_lifecycle
    known = ", ".join(LIFECYCLES)
    if not isinstance(name_or_lifecycle, str):
        raise UsageError(
            f"lifecycle() takes a lifecycle's name ({known}) or a Lifecycle, "
            f"not {type(name_or_lifecycle).__name__}"
        )
    try:
        return LIFECYCLES[name_or_lifecycle]
    except KeyError:
        raise UsageError(f"unknown lifecycle {name_or_lifecycle!r} (known: {known})") from None


def write(diagram: Diagram, format: str) -> str:
    """Return `diagram` written in `format` (checked; raises `UsageError` for an unknown one)."""
    return WRITERS[check_format(format)](diagram)


def lifecycle(
    name_or_lifecycle: str | Lifecycle[Any, Any],
    format: str = "mermaid",
    *,
    highlight: Iterable[tuple[str, str, str]] = (),
    covered: Iterable[tuple[str, str, str]] | None = None,
) -> str:
    """Return the diagram of a lifecycle as text: `mermaid`, `dot` or `md`.

    `name_or_lifecycle`: `task`, `retry`, `flow`, `engine`, `job`, or any `Lifecycle`.
    `mermaid` is a `stateDiagram-v2` (`[*] --> INITIAL`, terminal states `--> [*]`); `dot` a
    Graphviz digraph (the initial state entered from a point, terminal states double circles);
    `md` a line naming the initial and terminal states and a `state | event | target` table.

    `highlight`: `(state, event, target)` edges drawn emphasised (bold blue in DOT, marked
    `(on path)` in Mermaid, an `on path` column in Markdown), with the states they touch.
    `covered`: when not None, the edges taken; every edge is then drawn taken (green, `✓`) or
    never taken (dashed red, `✗`), with a caption counting them.

    Raises `UsageError` for an unknown lifecycle or format, naming what is allowed, and for a
    highlighted or covered edge that is not in the table, naming the edges its state has.
    """
    found = resolve_lifecycle(name_or_lifecycle)
    check_format(format)
    return write(describe(found, highlight=highlight, covered=covered), format)
