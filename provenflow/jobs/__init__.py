"""Jobs and job boards: work posted once, claimed under a lease, never lost.

A job names the flow factory that builds its flow (`FILE_OR_MODULE:NAME`, never imported by a
board: whoever runs the job decides which factories it trusts), the store its run starts with,
a name, a priority and details. It moves through the `job` lifecycle of `provenflow.fsm.job`
(posted, claimed, abandoned or lost, completed or trashed), every change applied through the
lifecycle's one chokepoint and kept in the job's own history.

A claim is a lease with a fencing token (`provenflow.persistence`'s one lease mechanism): the
owner renews it while it works, and completes, abandons or trashes the job with it; a request
whose token is stale is refused (`ClaimLost`) and changes nothing; a claim that expired is
recorded as lost and the job is claimed again.

`open_board(url)` opens a board: `memory://`, `sqlite:///path`, `postgresql://...`,
`redis://host:port/db`; every board follows the `Board` protocol. A claimer is an `Owner`
(`new_owner()` makes one for this process: its host, its pid and a random id). `SqlBoard` and
`RedisBoard` are imported on first use, so that SQLAlchemy and redis-py are only loaded by a
program that uses them. A `Conductor` claims jobs and runs their flows (`_conductor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from provenflow.jobs._conductor import Conductor, Dispatch, job_run_id
from provenflow.jobs._decide import check_factory
from provenflow.jobs._memory import MemoryBoard
from provenflow.jobs._protocol import BOARD_SCHEMES, Board, open_board
from provenflow.jobs._records import Claim, CorruptJob, Job, JobListing, JobStep
from provenflow.persistence import Owner
from provenflow.persistence._lease import new_owner

if TYPE_CHECKING:
    from provenflow.jobs._redis import RedisBoard
    from provenflow.jobs._sql import SqlBoard

__all__ = [
    "BOARD_SCHEMES",
    "Board",
    "Claim",
    "Conductor",
    "CorruptJob",
    "Dispatch",
    "Job",
    "JobListing",
    "JobStep",
    "MemoryBoard",
    "Owner",
    "RedisBoard",
    "SqlBoard",
    "check_factory",
    "job_run_id",
    "new_owner",
    "open_board",
]


def __getattr__(name: str) -> object:
    if name == "SqlBoard":
        from provenflow.jobs._sql import SqlBoard  # noqa: PLC0415 (imports SQLAlchemy)

        return SqlBoard
    if name == "RedisBoard":
        from provenflow.jobs._redis import RedisBoard  # noqa: PLC0415 (imports redis-py)

        return RedisBoard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
