"""Atoms and patterns: what a flow is made of, and how it compiles to an execution graph."""

from __future__ import annotations

from provenflow.flows._atom import Atom
from provenflow.flows._history import Attempt, History
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
    "Decision",
    "ForEach",
    "FunctionTask",
    "History",
    "ParameterizedForEach",
    "Retry",
    "Task",
    "Times",
    "reporting_progress",
    "task",
]
