"""Flow diagrams: a flow's structure as Mermaid, DOT or Markdown text, optionally with a run.

`flow(my_flow)` draws what `compile_flow` makes of the flow: each atom (tasks as rounded boxes,
retries as hexagons naming their controller, e.g. `Times(3)`), each nested flow as a frame
labelled with its name and pattern (linear, unordered, graph) with its retry inside, the order
edges, the symbols each atom takes from another atom or from the store, and decider links
(dashed, labelled with the decider and its depth). `flow(my_flow, run=flow_id,
backend="sqlite:///runs.db")` also loads that run and colours each atom by its recorded state,
with its state and number of attempts in its label, a title with the flow's state and a legend.
`flow(my_flow, "md")` describes the same in words: a table of the atoms (kind, the flows they
sit in, the symbols they require, each from an atom or the store, and provide; with a run,
state and attempts) and a list of the decider and order links.

The work is done in layers: `_flow_run` reads and replays a run, `_flow_model` builds an
abstract diagram (atoms, boxes, clusters, arrows) from the flow, its compiled graph and the
run, `_flow_text` spells it in Mermaid or DOT and `_flow_markdown` in Markdown. The text is
byte-stable: ids come from names, every list is in the flow's own order or sorted, and nothing
depends on the clock (a run's timestamps are not shown), so diagrams can be kept in docs and
compared with golden files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from provenflow.diagrams._flow_markdown import to_markdown
from provenflow.diagrams._flow_model import Diagram, build_diagram
from provenflow.diagrams._flow_run import load_run, run_view
from provenflow.diagrams._flow_text import to_dot, to_mermaid
from provenflow.errors import UsageError
from provenflow.flows import Flow, compile_flow
from provenflow.persistence import Storage

__all__ = ["FORMATS", "WRITERS", "flow"]

WRITERS: dict[str, Callable[[Diagram], str]] = {
    "dot": to_dot,
    "md": to_markdown,
    "mermaid": to_mermaid,
}
"""Each text format `flow` writes, and its writer."""

FORMATS = tuple(WRITERS)
"""The text formats `flow` writes: dot, md, mermaid."""


def flow(
    flow: Flow,
    format: str = "mermaid",
    *,
    run: str | None = None,
    backend: str | Storage | None = None,
    store_keys: Iterable[str] = (),
) -> str:
    """Return a diagram of `flow` as Mermaid (`format="mermaid"`), DOT (`"dot"`) or Markdown
    (`"md"`: a table of the atoms and a list of the links) text.

    `store_keys` are the symbols the run's store would hold (compilation needs them to accept
    a flow whose atoms take inputs from the store). With `run` (a flow id) and `backend` (a
    store URL such as `sqlite:///runs.db` or `dir:///runs`, or a `Storage`), the diagram shows
    that run: each atom's recorded state and attempts, the flow's state; the run's store keys
    are added to `store_keys`.

    Raises `UsageError` for an unknown format (naming the allowed ones), a `run` without a
    `backend` or a `backend` without a `run`, and a run whose atoms are not the flow's (naming
    the difference); `UnknownRun` when the store has no such run; a `FlowDefinitionError`
    when the flow does not compile. Nothing is written anywhere.
    """
    if format not in FORMATS:
        raise UsageError(f"diagram format {format!r} is not known (allowed: {', '.join(FORMATS)})")
    if isinstance(store_keys, str | bytes):
        raise UsageError(f"store_keys must be an iterable of symbol names, got {store_keys!r}")
    keys = set(store_keys)
    view = None
    if run is None:
        if backend is not None:
            raise UsageError("backend= names where a run is stored: pass run= (its flow id) too")
        compiled = compile_flow(flow, store_keys=keys)
    else:
        if backend is None:
            raise UsageError(
                f"run {run!r}: pass backend= too (the store holding it, e.g. sqlite:///runs.db)"
            )
        info, transitions = load_run(backend, run)
        compiled = compile_flow(flow, store_keys=keys | set(info.store))
        view = run_view(info, transitions, compiled)
    diagram = build_diagram(flow, compiled, view)
    return WRITERS[format](diagram)
