"""The flow lifecycle, checked against a table written out here independently of the module."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import EntityState
from provenflow.fsm.flow import LIFECYCLE, Event, State
from tests.fsm._expected import ExpectedLifecycle

EXPECTED = ExpectedLifecycle.parse(
    "flow",
    states="PENDING RUNNING SUSPENDING SUSPENDED REVERTING SUCCESS REVERTED FAILURE",
    events=(
        "start succeed fail suspend suspended resume crash_recovered taken_over reverted "
        "revert_failed"
    ),
    initial="PENDING",
    terminal="SUCCESS REVERTED FAILURE",
    edges="""
        PENDING     start            RUNNING
        PENDING     taken_over       PENDING
        RUNNING     succeed          SUCCESS
        RUNNING     fail             REVERTING
        RUNNING     suspend          SUSPENDING
        RUNNING     crash_recovered  RUNNING
        RUNNING     taken_over       RUNNING
        SUSPENDING  suspended        SUSPENDED
        SUSPENDING  succeed          SUCCESS
        SUSPENDING  fail             REVERTING
        SUSPENDING  crash_recovered  RUNNING
        SUSPENDING  taken_over       SUSPENDING
        SUSPENDED   resume           RUNNING
        SUSPENDED   taken_over       SUSPENDED
        REVERTING   reverted         REVERTED
        REVERTING   revert_failed    FAILURE
        REVERTING   crash_recovered  REVERTING
        REVERTING   taken_over       REVERTING
    """,
)
# The entity of the flow lifecycle is the flow itself, so no enclosing flow is named.
ENTITY = "order-7"
FLOW = None


@pytest.mark.parametrize(
    ("entity", "flow", "state", "event", "message"),
    [
        (
            "order-7",
            "nightly",
            State.REVERTING,
            Event.SUSPEND,
            "flow 'order-7' in flow 'nightly': cannot 'suspend' from REVERTING"
            " (allowed: crash_recovered, revert_failed, reverted, taken_over)",
        ),
        (
            "order-7",
            None,
            State.REVERTING,
            Event.SUSPEND,
            "flow 'order-7': cannot 'suspend' from REVERTING"
            " (allowed: crash_recovered, revert_failed, reverted, taken_over)",
        ),
        (
            None,
            "nightly",
            State.SUSPENDED,
            Event.CRASH_RECOVERED,
            "flow in flow 'nightly': cannot 'crash_recovered' from SUSPENDED"
            " (allowed: resume, taken_over)",
        ),
        (
            None,
            None,
            State.PENDING,
            Event.RESUME,
            "flow: cannot 'resume' from PENDING (allowed: start, taken_over)",
        ),
        (
            "order-7",
            None,
            State.SUCCESS,
            Event.START,
            "flow 'order-7': cannot 'start' from SUCCESS (allowed: none, SUCCESS is terminal)",
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
        ("start fail reverted", "REVERTED"),
        ("start fail crash_recovered revert_failed", "FAILURE"),
        ("start suspend suspended resume succeed", "SUCCESS"),
        ("start suspend succeed", "SUCCESS"),
        ("start suspend fail reverted", "REVERTED"),
        ("start suspend crash_recovered crash_recovered succeed", "SUCCESS"),
    ],
    ids=lambda value: value.replace(" ", ","),
)
def test_documented_paths(events: str, final: str) -> None:
    holder = EntityState.replay(LIFECYCLE, [Event(event) for event in events.split()], ENTITY)
    assert holder.state is State(final)
