"""The retry lifecycle, checked against a table written out here independently of the module."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import EntityState
from provenflow.fsm.retry import LIFECYCLE, Event, State
from tests.fsm._expected import ExpectedLifecycle

EXPECTED = ExpectedLifecycle.parse(
    "retry",
    states="PENDING RUNNING SUCCESS FAILURE RETRYING REVERTING REVERTED REVERT_FAILURE IGNORE",
    events="start succeed fail crash_recovered retry revert reverted revert_failed ignore reset",
    initial="PENDING",
    terminal="REVERT_FAILURE",
    edges="""
        PENDING     start            RUNNING
        PENDING     ignore           IGNORE
        RUNNING     succeed          SUCCESS
        RUNNING     fail             FAILURE
        RUNNING     crash_recovered  RUNNING
        RUNNING     revert           REVERTING
        SUCCESS     retry            RETRYING
        SUCCESS     revert           REVERTING
        FAILURE     revert           REVERTING
        RETRYING    start            RUNNING
        RETRYING    revert           REVERTING
        REVERTING   reverted         REVERTED
        REVERTING   revert_failed    REVERT_FAILURE
        REVERTING   crash_recovered  REVERTING
        REVERTED    reset            PENDING
        IGNORE      reset            PENDING
    """,
)
ENTITY = "card_retry"
FLOW = "order-7"


@pytest.mark.parametrize(
    ("entity", "flow", "state", "event", "message"),
    [
        (
            "card_retry",
            "order-7",
            State.SUCCESS,
            Event.START,
            "retry 'card_retry' in flow 'order-7': cannot 'start' from SUCCESS"
            " (allowed: retry, revert)",
        ),
        (
            "card_retry",
            None,
            State.SUCCESS,
            Event.START,
            "retry 'card_retry': cannot 'start' from SUCCESS (allowed: retry, revert)",
        ),
        (
            None,
            "order-7",
            State.SUCCESS,
            Event.START,
            "retry in flow 'order-7': cannot 'start' from SUCCESS (allowed: retry, revert)",
        ),
        (
            None,
            None,
            State.RETRYING,
            Event.SUCCEED,
            "retry: cannot 'succeed' from RETRYING (allowed: revert, start)",
        ),
        (
            "card_retry",
            "order-7",
            State.REVERT_FAILURE,
            Event.RESET,
            "retry 'card_retry' in flow 'order-7': cannot 'reset' from REVERT_FAILURE"
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
        ("start succeed retry start succeed", "SUCCESS"),
        ("start succeed retry start succeed retry start fail revert reverted", "REVERTED"),
        ("start succeed retry revert reverted", "REVERTED"),
        ("start succeed revert crash_recovered reverted reset start succeed", "SUCCESS"),
        ("start crash_recovered succeed", "SUCCESS"),
        ("start succeed revert revert_failed", "REVERT_FAILURE"),
        ("ignore reset start succeed", "SUCCESS"),
    ],
    ids=lambda value: value.replace(" ", ","),
)
def test_documented_paths(events: str, final: str) -> None:
    holder = EntityState.replay(LIFECYCLE, [Event(event) for event in events.split()], ENTITY)
    assert holder.state is State(final)
