"""Diagrams of lifecycles, flows, runs and counterexamples: Mermaid, DOT and Markdown text, SVG
and PNG.

Every function here is a pure function of its data (the transition tables of `provenflow.fsm`,
a compiled flow and its recorded run, a model checker's violation) and returns byte-stable
text: sorted by meaning, no timestamps, the same bytes for the same input. `render` turns DOT
text into SVG or PNG through Graphviz.

- `lifecycle(name, format="mermaid", *, highlight=(), covered=None)`: a lifecycle's table as a
  Mermaid state diagram, a DOT digraph or a Markdown table; `highlight` emphasises a path's
  edges, `covered` marks every edge taken or never taken.
- `trace(violation, format="mermaid")`: a counterexample from `provenflow.verification.check`
  as a Mermaid sequence diagram, a Markdown list of steps, or DOT lifecycles with its paths.
- `trace_path(violation, lifecycle="flow", atom=None, format="mermaid")`: one entity's path
  through its lifecycle in a counterexample.
- `flow(flow, format="mermaid", *, run=None, backend=None, store_keys=())`: a flow's atoms,
  nested flows, retries, order and data edges and decider links as a Mermaid flowchart, a DOT
  digraph or a Markdown table; with `run` (a flow id) and `backend`, each atom coloured (or, in
  Markdown, labelled) by its recorded state, with its attempts.
- `render(dot_source, format)`: SVG or PNG bytes from DOT text (needs Graphviz's `dot`).
- `lifecycle_docs()`: the text of `docs/lifecycles.md` (`python3 -m provenflow.diagrams`
  rewrites that file).
"""

from __future__ import annotations

from provenflow.diagrams._docs import lifecycle_docs
from provenflow.diagrams._flow import flow
from provenflow.diagrams._lifecycle import lifecycle
from provenflow.diagrams._render import render
from provenflow.diagrams._trace import trace, trace_path

__all__ = ["flow", "lifecycle", "lifecycle_docs", "render", "trace", "trace_path"]
