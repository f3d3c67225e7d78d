"""The flow lifecycle, checked against a table written out here independently of the module."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import LIFECYCLES, EntityState
from provenflow.fsm.flow import LIFECYCLE, Event, State
from tests.fsm._expected import ExpectedLifecycle

EXPECTED = ExpectedLifecycle.parse(
    "flow",
    states="PENDING RUNNING SUSPENDING SUSPENDED REVERTING SUCCESS REVERTED FAILURE",
    events="start succeed fail suspend suspended resume crash_recovered reverted revert_failed",
    initial="PENDING",
    terminal="SUCCESS REVERTED FAILURE",
    edges="""
        PENDING     start            RUNNING
        RUNNING     succeed          SUCCESS
        RUNNING     fail             REVERTING
        RUNNING     suspend          SUSPENDING
        RUNNING     crash_recovered  RUNNING
        SUSPENDING  suspended        SUSPENDED
        SUSPENDING  succeed          SUCCESS
        SUSPENDING  fail             REVERTING
        SUSPENDING  crash_recovered  RUNNING
        SUSPENDED   resume           RUNNING
        REVERTING   reverted         REVERTED
        REVERTING   revert_failed    FAILURE
        REVERTING   crash_recovered  REVERTING
    """,
)
# The entity of the flow lifecycle is the flow itself, so no enclosing flow is named.
ENTITY = "order-7"
FLOW = None


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
    assert LIFECYCLE.name == "flow"
    assert LIFECYCLE.initial is State(EXPECTED.initial)
    assert LIFECYCLE.terminal == {State(state) for state in EXPECTED.terminal}
    assert LIFECYCLES["flow"] is LIFECYCLE


@pytest.mark.parametrize(("state", "event", "target"), EXPECTED.legal_pairs())
def test_legal_pair_leads_to_its_target(state: str, event: str, target: str) -> None:
    assert LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW) is State(target)


@pytest.mark.parametrize(("state", "event"), EXPECTED.illegal_pairs())
def test_illegal_pair_is_refused_with_a_full_error(state: str, event: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW)
    error = caught.value
    assert (error.lifecycle, error.entity, error.state, error.event, error.flow) == (
        "flow",
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
            "order-7",
            "nightly",
            State.REVERTING,
            Event.SUSPEND,
            "flow 'order-7' in flow 'nightly': cannot 'suspend' from REVERTING"
            " (allowed: crash_recovered, revert_failed, reverted)",
        ),
        (
            "order-7",
            None,
            State.REVERTING,
            Event.SUSPEND,
            "flow 'order-7': cannot 'suspend' from REVERTING"
            " (allowed: crash_recovered, revert_failed, reverted)",
        ),
        (
            None,
            "nightly",
            State.SUSPENDED,
            Event.CRASH_RECOVERED,
            "flow in flow 'nightly': cannot 'crash_recovered' from SUSPENDED (allowed: resume)",
        ),
        (
            None,
            None,
            State.PENDING,
            Event.RESUME,
            "flow: cannot 'resume' from PENDING (allowed: start)",
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
