"""The task lifecycle: one atom that executes and may be reverted.

Rules, in the order a task meets them:

- A task starts PENDING. The engine `start`s it (RUNNING is recorded before `execute` is
  called), or a decider vetoes it and it is `ignore`d (IGNORE).
- A RUNNING task either `succeed`s (SUCCESS, with its result) or `fail`s (FAILURE, with the
  failure; a timeout is a failure). When the process died while the task ran, resume finds it
  RUNNING and either runs it again as a new attempt (`crash_recovered`, RUNNING -> RUNNING, an
  explicit event that listeners see like any start) or, when the flow is being undone, reverts
  it at once (`revert`), since its side effects may have happened.
- A task that started executing is reverted when its scope is undone: `revert` from SUCCESS,
  FAILURE or RUNNING leads to REVERTING (recorded before `revert` is called), which ends
  `reverted` (REVERTED) or `revert_failed` (REVERT_FAILURE). A revert interrupted by a crash is
  run again (`crash_recovered`, REVERTING -> REVERTING).
- A retry re-runs its subflow by `reset`ting REVERTED and IGNORE atoms to PENDING.
- REVERT_FAILURE is the only terminal state: a revert that raised blocks every retry and leaves
  the flow FAILURE. SUCCESS, REVERTED and IGNORE are where a finished run rests, but they are
  not terminal: a later failure reverts a SUCCESS, a retry resets a REVERTED or an IGNORE.
"""

from __future__ import annotations

from enum import StrEnum, unique

from provenflow.fsm._lifecycle import build_lifecycle

__all__ = ["LIFECYCLE", "Event", "State"]


@unique
class State(StrEnum):
    """Where a task is in its lifecycle; persisted by value."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVERTING = "REVERTING"
    REVERTED = "REVERTED"
    REVERT_FAILURE = "REVERT_FAILURE"
    IGNORE = "IGNORE"


@unique
class Event(StrEnum):
    """What happened to a task."""

    START = "start"
    SUCCEED = "succeed"
    FAIL = "fail"
    CRASH_RECOVERED = "crash_recovered"
    REVERT = "revert"
    REVERTED = "reverted"
    REVERT_FAILED = "revert_failed"
    IGNORE = "ignore"
    RESET = "reset"


LIFECYCLE = build_lifecycle(
    name="task",
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
        State.SUCCESS: [(Event.REVERT, State.REVERTING)],
        State.FAILURE: [(Event.REVERT, State.REVERTING)],
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
