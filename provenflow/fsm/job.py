"""The job lifecycle: a unit of work on a job board, claimed and run by a conductor.

- A job is written as a DRAFT and `post`ed to a board (UNCLAIMED). An unclaimed job may wait
  for a not-before time (set when posted, or as a back-off when abandoned); that is data of the
  job, not a state: it is UNCLAIMED and not yet ready.
- A conductor `claim`s it (CLAIMED). A claim ends one of four ways: the owner `abandon`s it
  (back to UNCLAIMED, e.g. the conductor is stopping), the claim is lost (`claim_lost`, back to
  UNCLAIMED: it expired or the owner's session died, so another conductor may take it), the run
  finished and the owner `complete`s the job (COMPLETE), or the job cannot be run at all (bad
  data, a flow that cannot be rebuilt) and the owner `trash`es it (TRASHED) so that it does not
  cycle between conductors forever.
- An operator may `trash` an UNCLAIMED job (nobody holds it) so that it is never run.
- COMPLETE and TRASHED are terminal. Renewing a claim is not a state change. A claim that
  expired is recorded as lost (`claim_lost`) when the job is claimed again or trashed; until
  then its owner may still renew it, since nobody else has acted on the job.
"""

from __future__ import annotations

from enum import StrEnum, unique

from provenflow.fsm._lifecycle import build_lifecycle

__all__ = ["LIFECYCLE", "Event", "State"]


@unique
class State(StrEnum):
    """Where a job is in its lifecycle; persisted by value."""

    DRAFT = "DRAFT"
    UNCLAIMED = "UNCLAIMED"
    CLAIMED = "CLAIMED"
    COMPLETE = "COMPLETE"
    TRASHED = "TRASHED"


@unique
class Event(StrEnum):
    """What happened to a job."""

    POST = "post"
    CLAIM = "claim"
    ABANDON = "abandon"
    CLAIM_LOST = "claim_lost"
    COMPLETE = "complete"
    TRASH = "trash"


LIFECYCLE = build_lifecycle(
    name="job",
    states=State,
    events=Event,
    initial=State.DRAFT,
    terminal=[State.COMPLETE, State.TRASHED],
    rows={
        State.DRAFT: [(Event.POST, State.UNCLAIMED)],
        State.UNCLAIMED: [(Event.CLAIM, State.CLAIMED), (Event.TRASH, State.TRASHED)],
        State.CLAIMED: [
            (Event.ABANDON, State.UNCLAIMED),
            (Event.CLAIM_LOST, State.UNCLAIMED),
            (Event.COMPLETE, State.COMPLETE),
            (Event.TRASH, State.TRASHED),
        ],
        State.COMPLETE: [],
        State.TRASHED: [],
    },
)
