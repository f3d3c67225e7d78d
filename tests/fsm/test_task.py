"""The task lifecycle, checked against a table written out here independently of the module."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import EntityState
from provenflow.fsm.task import LIFECYCLE, Event, State
from tests.fsm._expected import ExpectedLifecycle

EXPECTED = ExpectedLifecycle.parse(
    "task",
    states="PENDING RUNNING SUCCESS FAILURE REVERTING REVERTED REVERT_FAILURE IGNORE",
    events="start succeed fail crash_recovered revert reverted revert_failed ignore reset",
    initial="PENDING",
    terminal="REVERT_FAILURE",
    edges="""
        PENDING     start            RUNNING
        PENDING     ignore           IGNORE
        RUNNING     succeed          SUCCESS
        RUNNING     fail             FAILURE
        RUNNING     crash_recovered  RUNNING
        RUNNING     revert           REVERTING
        SUCCESS     revert           REVERTING
        FAILURE     revert           REVERTING
        REVERTING   reverted         REVERTED
        REVERTING   revert_failed    REVERT_FAILURE
        REVERTING   crash_recovered  REVERTING
        REVERTED    reset            PENDING
        IGNORE      reset            PENDING
    """,
)
ENTITY = "charge_card"
FLOW = "order-7"


@pytest.mark.parametrize(
    ("entity", "flow", "state", "event", "message"),
    [
        (
            "charge_card",
            "order-7",
            State.PENDING,
            Event.REVERT,
            "task 'charge_card' in flow 'order-7': cannot 'revert' from PENDING"
            " (allowed: ignore, start)",
        ),
        (
            "charge_card",
            None,
            State.PENDING,
            Event.REVERT,
            "task 'charge_card': cannot 'revert' from PENDING (allowed: ignore, start)",
        ),
        (
            None,
            "order-7",
            State.PENDING,
            Event.REVERT,
            "task in flow 'order-7': cannot 'revert' from PENDING (allowed: ignore, start)",
        ),
        (
            None,
            None,
            State.RUNNING,
            Event.RESET,
            "task: cannot 'reset' from RUNNING (allowed: crash_recovered, fail, revert, succeed)",
        ),
        (
            "charge_card",
            "order-7",
            State.REVERT_FAILURE,
            Event.REVERT,
            "task 'charge_card' in flow 'order-7': cannot 'revert' from REVERT_FAILURE"
            " (allowed: none, REVERT_FAILURE is terminal)",
        ),
    ],
    ids=["entity-and-flow", "no-flow", "no-entity", "neither", "terminal"],
)
def test_message_forms(
    entity: str | None, flow: str | None, state: State, event: Event, message: str
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLE.apply(state, event, entity=entity, flow=flow)
    assert str(caught.value) == message
    assert (caught.value.entity, caught.value.flow) == (entity, flow)


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ("start succeed", "SUCCESS"),
        ("start fail revert reverted", "REVERTED"),
        ("start fail revert reverted reset start succeed", "SUCCESS"),
        ("start crash_recovered succeed", "SUCCESS"),
        ("start crash_recovered revert reverted", "REVERTED"),
        ("start succeed revert crash_recovered revert_failed", "REVERT_FAILURE"),
        ("ignore reset start succeed", "SUCCESS"),
    ],
    ids=lambda value: value.replace(" ", ","),
)
def test_documented_paths(events: str, final: str) -> None:
    holder = EntityState.replay(LIFECYCLE, [Event(event) for event in events.split()], ENTITY)
    assert holder.state is State(final)
