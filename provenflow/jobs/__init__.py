"""Job boards and conductors (to come).

A job board holds units of work (jobs) that conductors claim and run with an engine; a job
moves through the `job` lifecycle of `provenflow.fsm.job` (posted, claimed, abandoned or lost,
completed or trashed). Nothing is implemented here yet; this package exists so the layout and
its import rules (jobs may import the engine) are in place.
"""

from __future__ import annotations

__all__: list[str] = []
