"""The flow lifecycle: one run of a whole flow, as recorded in storage.

- A flow starts PENDING and is `start`ed (RUNNING).
- RUNNING ends `succeed` (SUCCESS: every atom succeeded or was ignored), or a failure that no
  retry absorbs makes it `fail` into REVERTING, where everything that started is undone. The
  flow stays RUNNING while a retry reverts and re-runs its own subflow.
- REVERTING ends `reverted` (REVERTED: everything that ran is undone) or `revert_failed`
  (FAILURE: a revert raised; work done and not undone, both failures on record).
- `suspend` asks a RUNNING flow to stop scheduling (SUSPENDING). Running atoms finish; then it is
  `suspended` (SUSPENDED), unless the last atoms completed it (`succeed`) or one failed (`fail`).
  A SUSPENDED flow is `resume`d (RUNNING). Suspension is not offered while reverting: undoing
  work is never left half done on request.
- After a crash the record still says RUNNING, REVERTING or SUSPENDING. `crash_recovered`
  continues from there: RUNNING and REVERTING carry on, SUSPENDING (whose requester died with the
  process) goes back to RUNNING.
- `taken_over` records that an engine took the run's lease over from another whose lease had
  expired (or whose process was gone): a self-loop on every state that is not terminal, so the
  flow carries on from its state as it would after a crash (the next event says how).
- SUCCESS, REVERTED and FAILURE are terminal: a run that ended is never run again; start a new
  run of the flow instead.
"""

from __future__ import annotations

from enum import StrEnum, unique

from provenflow.fsm._lifecycle import build_lifecycle

__all__ = ["LIFECYCLE", "Event", "State"]


@unique
class State(StrEnum):
    """Where a flow run is in its lifecycle; persisted by value."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUSPENDING = "SUSPENDING"
    SUSPENDED = "SUSPENDED"
    REVERTING = "REVERTING"
    SUCCESS = "SUCCESS"
    REVERTED = "REVERTED"
    FAILURE = "FAILURE"


@unique
class Event(StrEnum):
    """What happened to a flow run."""

    START = "start"
    SUCCEED = "succeed"
    FAIL = "fail"
    SUSPEND = "suspend"
    SUSPENDED = "suspended"
    RESUME = "resume"
    CRASH_RECOVERED = "crash_recovered"
    TAKEN_OVER = "taken_over"
    REVERTED = "reverted"
    REVERT_FAILED = "revert_failed"


LIFECYCLE = build_lifecycle(
    name="flow",
    states=State,
    events=Event,
    initial=State.PENDING,
    terminal=[State.SUCCESS, State.REVERTED, State.FAILURE],
    rows={
        State.PENDING: [(Event.START, State.RUNNING), (Event.TAKEN_OVER, State.PENDING)],
        State.RUNNING: [
            (Event.SUCCEED, State.SUCCESS),
            (Event.FAIL, State.REVERTING),
            (Event.SUSPEND, State.SUSPENDING),
            (Event.CRASH_RECOVERED, State.RUNNING),
            (Event.TAKEN_OVER, State.RUNNING),
        ],
        State.SUSPENDING: [
            (Event.SUSPENDED, State.SUSPENDED),
            (Event.SUCCEED, State.SUCCESS),
            (Event.FAIL, State.REVERTING),
            (Event.CRASH_RECOVERED, State.RUNNING),
            (Event.TAKEN_OVER, State.SUSPENDING),
        ],
        State.SUSPENDED: [(Event.RESUME, State.RUNNING), (Event.TAKEN_OVER, State.SUSPENDED)],
        State.REVERTING: [
            (Event.REVERTED, State.REVERTED),
            (Event.REVERT_FAILED, State.FAILURE),
            (Event.CRASH_RECOVERED, State.REVERTING),
            (Event.TAKEN_OVER, State.REVERTING),
        ],
        State.SUCCESS: [],
        State.REVERTED: [],
        State.FAILURE: [],
    },
)
