"""The engine-loop lifecycle, checked against a table written out here independently."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import EntityState
from provenflow.fsm.engine import LIFECYCLE, Event, State
from tests.fsm._expected import ExpectedLifecycle

EXPECTED = ExpectedLifecycle.parse(
    "engine",
    states="PENDING RESUMING SCHEDULING WAITING ANALYZING SUCCESS REVERTED FAILURE SUSPENDED",
    events="start schedule wait analyze succeed reverted revert_failed suspended",
    initial="PENDING",
    terminal="SUCCESS REVERTED FAILURE SUSPENDED",
    edges="""
        PENDING     start          RESUMING
        RESUMING    schedule       SCHEDULING
        RESUMING    analyze        ANALYZING
        SCHEDULING  wait           WAITING
        WAITING     analyze        ANALYZING
        ANALYZING   schedule       SCHEDULING
        ANALYZING   wait           WAITING
        ANALYZING   succeed        SUCCESS
        ANALYZING   reverted       REVERTED
        ANALYZING   revert_failed  FAILURE
        ANALYZING   suspended      SUSPENDED
    """,
)
ENTITY = "run-1"
FLOW = "order-7"


@pytest.mark.parametrize(
    ("entity", "flow", "state", "event", "message"),
    [
        (
            "run-1",
            "order-7",
            State.SCHEDULING,
            Event.ANALYZE,
            "engine 'run-1' in flow 'order-7': cannot 'analyze' from SCHEDULING (allowed: wait)",
        ),
        (
            "run-1",
            None,
            State.SCHEDULING,
            Event.ANALYZE,
            "engine 'run-1': cannot 'analyze' from SCHEDULING (allowed: wait)",
        ),
        (
            None,
            "order-7",
            State.RESUMING,
            Event.WAIT,
            "engine in flow 'order-7': cannot 'wait' from RESUMING (allowed: analyze, schedule)",
        ),
        (
            None,
            None,
            State.WAITING,
            Event.SUCCEED,
            "engine: cannot 'succeed' from WAITING (allowed: analyze)",
        ),
        (
            "run-1",
            "order-7",
            State.SUSPENDED,
            Event.START,
            "engine 'run-1' in flow 'order-7': cannot 'start' from SUSPENDED"
            " (allowed: none, SUSPENDED is terminal)",
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
        ("start schedule wait analyze succeed", "SUCCESS"),
        ("start schedule wait analyze schedule wait analyze wait analyze reverted", "REVERTED"),
        ("start analyze succeed", "SUCCESS"),
        ("start schedule wait analyze revert_failed", "FAILURE"),
        ("start schedule wait analyze suspended", "SUSPENDED"),
    ],
    ids=lambda value: value.replace(" ", ","),
)
def test_documented_paths(events: str, final: str) -> None:
    holder = EntityState.replay(LIFECYCLE, [Event(event) for event in events.split()], ENTITY)
    assert holder.state is State(final)
