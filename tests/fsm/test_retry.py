"""The retry lifecycle, checked against a table written out here independently of the module."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import LIFECYCLES, EntityState
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


def test_states_and_events_are_exactly_the_expected_ones() -> None:
    assert {str(state) for state in State} == EXPECTED.states
    assert {str(event) for event in Event} == EXPECTED.events
    assert set(LIFECYCLE.states) == EXPECTED.states
    assert set(LIFECYCLE.events) == EXPECTED.events


def test_edges_are_exactly_the_expected_table() -> None:
    actual = {(str(state), str(event), str(target)) for state, event, target in LIFECYCLE.edges()}
    assert actual == EXPECTED.edges
    assert set(LIFECYCLE.table) == EXPECTED.states


def test_initial_and_terminal_states() -> None:
    assert LIFECYCLE.name == "retry"
    assert LIFECYCLE.initial is State(EXPECTED.initial)
    assert LIFECYCLE.terminal == {State(state) for state in EXPECTED.terminal}
    assert LIFECYCLES["retry"] is LIFECYCLE


@pytest.mark.parametrize(("state", "event", "target"), EXPECTED.legal_pairs())
def test_legal_pair_leads_to_its_target(state: str, event: str, target: str) -> None:
    assert LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW) is State(target)


@pytest.mark.parametrize(("state", "event"), EXPECTED.illegal_pairs())
def test_illegal_pair_is_refused_with_a_full_error(state: str, event: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW)
    error = caught.value
    assert (error.lifecycle, error.entity, error.state, error.event, error.flow) == (
        "retry",
        ENTITY,
        state,
        event,
        FLOW,
    )
    assert error.allowed == EXPECTED.allowed(state)
    assert str(error) == EXPECTED.message(state, event, ENTITY, FLOW)


def test_every_pair_is_covered_once() -> None:
    legal = {(state, event) for state, event, _ in EXPECTED.legal_pairs()}
    illegal = set(EXPECTED.illegal_pairs())
    assert not legal & illegal
    assert legal | illegal == EXPECTED.all_pairs()
    assert len(legal | illegal) == 9 * 10


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
