"""provenflow: reliable, resumable task workflows on a formal state-machine core.

Write tasks (`Task` subclasses or `@task` functions), compose them into flows (`LinearFlow`,
`UnorderedFlow`, `GraphFlow`, with retry controllers), and run them with `run` or an `Engine`.
Every lifecycle is a checked transition table in `provenflow.fsm`.

The public API is re-exported here; `tests/test_public_api.py` pins these names.
"""

from __future__ import annotations

from provenflow import diagrams, fsm, verification
from provenflow.engine import (
    CaptureListener,
    Engine,
    LoggingListener,
    PrintingListener,
    TimingListener,
    run,
)
from provenflow.errors import (
    EngineStopped,
    FlowDefinitionError,
    IllegalTransition,
    InternalError,
    Interrupted,
    LeaseLost,
    LifecycleDefinitionError,
    MultipleFailures,
    ProvenflowError,
    RecordError,
    RunOwned,
    StaleVersion,
    StorageError,
    UnknownRun,
    UsageError,
)
from provenflow.failure import Failure, RecordedFailure
from provenflow.flows import (
    AlwaysRevert,
    AlwaysRevertAll,
    Decision,
    Depth,
    Flow,
    ForEach,
    GraphFlow,
    History,
    LinearFlow,
    ParameterizedForEach,
    Retry,
    Task,
    Times,
    UnorderedFlow,
    task,
)

__all__ = [
    "AlwaysRevert",
    "AlwaysRevertAll",
    "CaptureListener",
    "Decision",
    "Depth",
    "Engine",
    "EngineStopped",
    "Failure",
    "Flow",
    "FlowDefinitionError",
    "ForEach",
    "GraphFlow",
    "History",
    "IllegalTransition",
    "InternalError",
    "Interrupted",
    "LeaseLost",
    "LifecycleDefinitionError",
    "LinearFlow",
    "LoggingListener",
    "MultipleFailures",
    "ParameterizedForEach",
    "PrintingListener",
    "ProvenflowError",
    "RecordError",
    "RecordedFailure",
    "Retry",
    "RunOwned",
    "StaleVersion",
    "StorageError",
    "Task",
    "Times",
    "TimingListener",
    "UnknownRun",
    "UnorderedFlow",
    "UsageError",
    "__version__",
    "diagrams",
    "fsm",
    "run",
    "task",
    "verification",
]

__version__ = "0.1.0"
