"""The task lifecycle, checked against a table written out here independently of the module."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import LIFECYCLES, EntityState
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
    assert LIFECYCLE.name == "task"
    assert LIFECYCLE.initial is State(EXPECTED.initial)
    assert LIFECYCLE.terminal == {State(state) for state in EXPECTED.terminal}
    assert LIFECYCLES["task"] is LIFECYCLE


@pytest.mark.parametrize(("state", "event", "target"), EXPECTED.legal_pairs())
def test_legal_pair_leads_to_its_target(state: str, event: str, target: str) -> None:
    assert LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW) is State(target)


@pytest.mark.parametrize(("state", "event"), EXPECTED.illegal_pairs())
def test_illegal_pair_is_refused_with_a_full_error(state: str, event: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW)
    error = caught.value
    assert (error.lifecycle, error.entity, error.state, error.event, error.flow) == (
        "task",
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
    assert len(legal | illegal) == 8 * 9


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
