"""Lifecycles as frozen transition tables, and the one chokepoint that applies them.

Every lifecycle of provenflow is a module here: `task` (an atom), `retry`, `flow`, `engine` (the
run loop) and `job`. Each holds a `State` and an `Event` enum and one `LIFECYCLE`, checked when
it is built. `LIFECYCLES` maps each name to its `Lifecycle`; `Lifecycle.apply(state, event)`
returns the next state or raises `IllegalTransition`; `EntityState` holds one entity's state
and changes it only through `apply`; `to_machine` embeds a lifecycle in a `transitions.Machine`.

This package imports nothing of provenflow but `provenflow.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from provenflow.fsm import engine, flow, job, retry, task
from provenflow.fsm._bridge import to_machine
from provenflow.fsm._checks import CHECKS, Check
from provenflow.fsm._lifecycle import EntityState, Lifecycle, build_lifecycle

__all__ = [
    "CHECKS",
    "LIFECYCLES",
    "Check",
    "EntityState",
    "Lifecycle",
    "build_lifecycle",
    "engine",
    "flow",
    "job",
    "retry",
    "task",
    "to_machine",
]

LIFECYCLES: Mapping[str, Lifecycle[Any, Any]] = MappingProxyType(
    {
        lifecycle.name: lifecycle
        for lifecycle in (
            task.LIFECYCLE,
            retry.LIFECYCLE,
            flow.LIFECYCLE,
            engine.LIFECYCLE,
            job.LIFECYCLE,
        )
    }
)
"""Every lifecycle of provenflow by name: task, retry, flow, engine, job."""
