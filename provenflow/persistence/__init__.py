"""Persistence: the storage protocol, the records it keeps, and the backends.

Every transition of a run is recorded through a `Storage` before its side effect, as a
compare-and-set on the run's version; the transitions of a run are its audit trail.
"""

from __future__ import annotations

from provenflow.persistence._memory import MemoryStorage
from provenflow.persistence._protocol import Storage, open_storage
from provenflow.persistence._records import AtomInfo, RunInfo, Transition

__all__ = ["AtomInfo", "MemoryStorage", "RunInfo", "Storage", "Transition", "open_storage"]
