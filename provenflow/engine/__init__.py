"""The engine: a pure scheduling core and the runner around it.

`Engine` runs a flow on an executor, recording every transition through a store and telling
listeners; `run` is the one-call form. `Core` is the pure decision-maker the runner (and the
model checker) drives.
"""

from __future__ import annotations

from provenflow.engine._core import Core
from provenflow.engine._executors import perform
from provenflow.engine._factory import factory_spec, load_factory, load_object
from provenflow.engine._listeners import (
    CaptureListener,
    Listener,
    LoggingListener,
    PrintingListener,
    TimingListener,
    printing_durations,
)
from provenflow.engine._matching import check_flow, flow_differences
from provenflow.engine._resume import records_from
from provenflow.engine._runner import Engine, run
from provenflow.engine._trust import (
    TRUST_SETTING,
    TRUST_VARIABLE,
    canonical_spec,
    is_trusted,
    resume_factory,
    trusted_patterns,
)
from provenflow.engine._work import AtomRecord, Work

__all__ = [
    "TRUST_SETTING",
    "TRUST_VARIABLE",
    "AtomRecord",
    "CaptureListener",
    "Core",
    "Engine",
    "Listener",
    "LoggingListener",
    "PrintingListener",
    "TimingListener",
    "Work",
    "canonical_spec",
    "check_flow",
    "factory_spec",
    "flow_differences",
    "is_trusted",
    "load_factory",
    "load_object",
    "perform",
    "printing_durations",
    "records_from",
    "resume_factory",
    "run",
    "trusted_patterns",
]
