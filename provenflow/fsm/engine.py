"""The engine-loop lifecycle: the phases of one `Engine.run()` (what `run_iter()` yields).

- The loop starts PENDING (an engine built, not yet run) and is `start`ed into RESUMING, where it
  loads the recorded state of the run and finds the atoms to continue.
- From RESUMING it goes to `schedule` work (SCHEDULING), or straight to `analyze` (ANALYZING)
  when there is nothing to submit (a run that was already over, or only outcomes to settle).
- SCHEDULING submits the ready atoms, then the loop `wait`s (WAITING) for one to finish and
  `analyze`s the outcome (ANALYZING): record it, resolve failures through retries, find what
  became ready.
- From ANALYZING it can `schedule` more, `wait` for atoms still running, or finish with the
  run's outcome: `succeed` (SUCCESS), `reverted` (REVERTED), `revert_failed` (FAILURE) or
  `suspended` (SUSPENDED). These four are terminal; a new `run()` starts a new loop.
- The loop is not persisted: a crash ends it, and the next run starts a new one in RESUMING.
"""

from __future__ import annotations

from enum import StrEnum, unique

from provenflow.fsm._lifecycle import build_lifecycle

__all__ = ["LIFECYCLE", "Event", "State"]


@unique
class State(StrEnum):
    """Where the engine's run loop is."""

    PENDING = "PENDING"
    RESUMING = "RESUMING"
    SCHEDULING = "SCHEDULING"
    WAITING = "WAITING"
    ANALYZING = "ANALYZING"
    SUCCESS = "SUCCESS"
    REVERTED = "REVERTED"
    FAILURE = "FAILURE"
    SUSPENDED = "SUSPENDED"


@unique
class Event(StrEnum):
    """What the engine's run loop did."""

    START = "start"
    SCHEDULE = "schedule"
    WAIT = "wait"
    ANALYZE = "analyze"
    SUCCEED = "succeed"
    REVERTED = "reverted"
    REVERT_FAILED = "revert_failed"
    SUSPENDED = "suspended"


LIFECYCLE = build_lifecycle(
    name="engine",
    states=State,
    events=Event,
    initial=State.PENDING,
    terminal=[State.SUCCESS, State.REVERTED, State.FAILURE, State.SUSPENDED],
    rows={
        State.PENDING: [(Event.START, State.RESUMING)],
        State.RESUMING: [(Event.SCHEDULE, State.SCHEDULING), (Event.ANALYZE, State.ANALYZING)],
        State.SCHEDULING: [(Event.WAIT, State.WAITING)],
        State.WAITING: [(Event.ANALYZE, State.ANALYZING)],
        State.ANALYZING: [
            (Event.SCHEDULE, State.SCHEDULING),
            (Event.WAIT, State.WAITING),
            (Event.SUCCEED, State.SUCCESS),
            (Event.REVERTED, State.REVERTED),
            (Event.REVERT_FAILED, State.FAILURE),
            (Event.SUSPENDED, State.SUSPENDED),
        ],
        State.SUCCESS: [],
        State.REVERTED: [],
        State.FAILURE: [],
        State.SUSPENDED: [],
    },
)
