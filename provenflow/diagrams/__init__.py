"""Diagrams of lifecycles, flows, runs and counterexamples (to come).

They will be pure functions of the transition tables, compiled flows and recorded histories,
giving byte-stable Mermaid and DOT text, and SVG or PNG through Graphviz. Nothing is implemented
here yet; `provenflow lifecycles` prints the tables as text and JSON.
"""

from __future__ import annotations

__all__: list[str] = []
