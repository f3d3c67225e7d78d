"""Pins the public names of provenflow.flows (the engine and the docs rely on them)."""

from __future__ import annotations

import provenflow.flows

FLOWS_NAMES = [
    "AlwaysRevert",
    "AlwaysRevertAll",
    "Atom",
    "Attempt",
    "Binding",
    "CompiledFlow",
    "Decider",
    "Decision",
    "Depth",
    "Flow",
    "ForEach",
    "FunctionTask",
    "GraphFlow",
    "History",
    "LinearFlow",
    "Link",
    "Node",
    "ParameterizedForEach",
    "Retry",
    "Task",
    "Times",
    "UnorderedFlow",
    "compile_flow",
    "reporting_progress",
    "task",
]


def test_all_is_exactly_the_pinned_names() -> None:
    assert sorted(provenflow.flows.__all__) == FLOWS_NAMES
    assert len(set(provenflow.flows.__all__)) == len(provenflow.flows.__all__)


def test_every_name_resolves_and_is_defined_in_flows() -> None:
    for name in FLOWS_NAMES:
        value = getattr(provenflow.flows, name)
        assert getattr(value, "__module__", "provenflow.flows").startswith("provenflow.flows")
