"""The engine-loop lifecycle, checked against a table written out here independently."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import LIFECYCLES, EntityState
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
    assert LIFECYCLE.name == "engine"
    assert LIFECYCLE.initial is State(EXPECTED.initial)
    assert LIFECYCLE.terminal == {State(state) for state in EXPECTED.terminal}
    assert LIFECYCLES["engine"] is LIFECYCLE


@pytest.mark.parametrize(("state", "event", "target"), EXPECTED.legal_pairs())
def test_legal_pair_leads_to_its_target(state: str, event: str, target: str) -> None:
    assert LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW) is State(target)


@pytest.mark.parametrize(("state", "event"), EXPECTED.illegal_pairs())
def test_illegal_pair_is_refused_with_a_full_error(state: str, event: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW)
    error = caught.value
    assert (error.lifecycle, error.entity, error.state, error.event, error.flow) == (
        "engine",
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
    assert len(legal | illegal) == 9 * 8


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
