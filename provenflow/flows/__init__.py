"""Atoms and patterns: what a flow is made of, and how it compiles to an execution graph."""

from __future__ import annotations

from provenflow.flows._atom import Atom
from provenflow.flows._compile import compile_flow
from provenflow.flows._compiled import Binding, CompiledFlow, Decider, Node
from provenflow.flows._history import Attempt, History
from provenflow.flows._patterns import Depth, Flow, GraphFlow, LinearFlow, Link, UnorderedFlow
from provenflow.flows._progress import reporting_progress
from provenflow.flows._retry import (
    AlwaysRevert,
    AlwaysRevertAll,
    Decision,
    ForEach,
    ParameterizedForEach,
    Retry,
    Times,
)
from provenflow.flows._task import FunctionTask, Task, task

__all__ = [
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
