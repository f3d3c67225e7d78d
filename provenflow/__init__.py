"""provenflow: reliable, resumable task workflows on a formal state-machine core.

The public API is re-exported here; `tests/test_public_api.py` pins these names.
"""

from __future__ import annotations

from provenflow import fsm
from provenflow.errors import (
    IllegalTransition,
    InternalError,
    LifecycleDefinitionError,
    ProvenflowError,
    RecordError,
    StorageError,
    UsageError,
)

__all__ = [
    "IllegalTransition",
    "InternalError",
    "LifecycleDefinitionError",
    "ProvenflowError",
    "RecordError",
    "StorageError",
    "UsageError",
    "__version__",
    "fsm",
]

__version__ = "0.1.0"
