"""The retry lifecycle: an atom that guards a subflow and decides what a failure in it means.

A retry is an atom like a task (see `provenflow.fsm.task`), with one more state:

- A retry runs first in its subflow: PENDING -> `start` -> RUNNING -> `succeed` -> SUCCESS,
  providing the value of this attempt (the attempt number, the next value to try, ...). Its own
  `execute` may `fail` (no values left to try), which undoes the subflow's scope like any
  failure.
- When an atom of its subflow fails, the retry decides. RETRY: it moves SUCCESS -> `retry` ->
  RETRYING, which records the decision durably; the subflow is reverted and reset; then the
  retry runs again (`start`, RETRYING -> RUNNING, a new attempt that sees the history). REVERT or
  REVERT_ALL: once its subflow is undone the retry itself is `revert`ed, and the outer scope
  decides next. A pending decision (an atom FAILURE while the retry is SUCCESS) is simply made
  again on resume, so it needs no state of its own.
- A planned re-run can be cancelled, when a REVERT_ALL from elsewhere in the flow wins over this
  retry's RETRY: RETRYING -> `revert` -> REVERTING.
- Crash recovery, ignoring, resetting and REVERT_FAILURE behave as for a task.
"""

from __future__ import annotations

from enum import StrEnum, unique

from provenflow.fsm._lifecycle import build_lifecycle

__all__ = ["LIFECYCLE", "Event", "State"]


@unique
class State(StrEnum):
    """Where a retry is in its lifecycle; persisted by value."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    RETRYING = "RETRYING"
    REVERTING = "REVERTING"
    REVERTED = "REVERTED"
    REVERT_FAILURE = "REVERT_FAILURE"
    IGNORE = "IGNORE"


@unique
class Event(StrEnum):
    """What happened to a retry."""

    START = "start"
    SUCCEED = "succeed"
    FAIL = "fail"
    CRASH_RECOVERED = "crash_recovered"
    RETRY = "retry"
    REVERT = "revert"
    REVERTED = "reverted"
    REVERT_FAILED = "revert_failed"
    IGNORE = "ignore"
    RESET = "reset"


LIFECYCLE = build_lifecycle(
    name="retry",
    states=State,
    events=Event,
    initial=State.PENDING,
    terminal=[State.REVERT_FAILURE],
    rows={
        State.PENDING: [(Event.START, State.RUNNING), (Event.IGNORE, State.IGNORE)],
        State.RUNNING: [
            (Event.SUCCEED, State.SUCCESS),
            (Event.FAIL, State.FAILURE),
            (Event.CRASH_RECOVERED, State.RUNNING),
            (Event.REVERT, State.REVERTING),
        ],
        State.SUCCESS: [(Event.RETRY, State.RETRYING), (Event.REVERT, State.REVERTING)],
        State.FAILURE: [(Event.REVERT, State.REVERTING)],
        State.RETRYING: [(Event.START, State.RUNNING), (Event.REVERT, State.REVERTING)],
        State.REVERTING: [
            (Event.REVERTED, State.REVERTED),
            (Event.REVERT_FAILED, State.REVERT_FAILURE),
            (Event.CRASH_RECOVERED, State.REVERTING),
        ],
        State.REVERTED: [(Event.RESET, State.PENDING)],
        State.IGNORE: [(Event.RESET, State.PENDING)],
        State.REVERT_FAILURE: [],
    },
)
