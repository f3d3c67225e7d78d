"""Persistence: the storage protocol, the records it keeps, and the backends.

Every transition of a run is recorded through a `Storage` before its side effect, as a
compare-and-set on the run's version; the transitions of a run are its audit trail. Backends:
`MemoryStorage` (`memory://`), `SqlStorage` (`sqlite:///path`, `postgresql://...`) and
`DirStorage` (`dir:///path`); `open_storage(url)` picks one, and makes the store only when
asked to (`create`, the default; `read_only=True` reads and changes nothing). `list_runs()`
gives a `RunListing`: the runs that read back, and each one that does not as a `CorruptRun`.
`SqlStorage` is imported on first use, so that SQLAlchemy is only loaded by a program that
uses a database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from provenflow.persistence._dir import DirStorage
from provenflow.persistence._lease import Grant, Lease, Owner
from provenflow.persistence._memory import MemoryStorage
from provenflow.persistence._protocol import Storage, open_storage
from provenflow.persistence._records import AtomInfo, CorruptRun, RunInfo, RunListing, Transition

if TYPE_CHECKING:
    from provenflow.persistence._sql import SqlStorage

__all__ = [
    "AtomInfo",
    "CorruptRun",
    "DirStorage",
    "Grant",
    "Lease",
    "MemoryStorage",
    "Owner",
    "RunInfo",
    "RunListing",
    "SqlStorage",
    "Storage",
    "Transition",
    "open_storage",
]


def __getattr__(name: str) -> object:
    if name == "SqlStorage":
        from provenflow.persistence._sql import SqlStorage  # noqa: PLC0415 (imports SQLAlchemy)

        return SqlStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
