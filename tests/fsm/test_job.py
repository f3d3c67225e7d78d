"""The job lifecycle, checked against a table written out here independently of the module."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import LIFECYCLES, EntityState
from provenflow.fsm.job import LIFECYCLE, Event, State
from tests.fsm._expected import ExpectedLifecycle

EXPECTED = ExpectedLifecycle.parse(
    "job",
    states="DRAFT UNCLAIMED CLAIMED COMPLETE TRASHED",
    events="post claim abandon claim_lost complete trash",
    initial="DRAFT",
    terminal="COMPLETE TRASHED",
    edges="""
        DRAFT      post        UNCLAIMED
        UNCLAIMED  claim       CLAIMED
        CLAIMED    abandon     UNCLAIMED
        CLAIMED    claim_lost  UNCLAIMED
        CLAIMED    complete    COMPLETE
        CLAIMED    trash       TRASHED
    """,
)
ENTITY = "job-42"
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
    assert LIFECYCLE.name == "job"
    assert LIFECYCLE.initial is State(EXPECTED.initial)
    assert LIFECYCLE.terminal == {State(state) for state in EXPECTED.terminal}
    assert LIFECYCLES["job"] is LIFECYCLE


@pytest.mark.parametrize(("state", "event", "target"), EXPECTED.legal_pairs())
def test_legal_pair_leads_to_its_target(state: str, event: str, target: str) -> None:
    assert LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW) is State(target)


@pytest.mark.parametrize(("state", "event"), EXPECTED.illegal_pairs())
def test_illegal_pair_is_refused_with_a_full_error(state: str, event: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLE.apply(State(state), Event(event), ENTITY, FLOW)
    error = caught.value
    assert (error.lifecycle, error.entity, error.state, error.event, error.flow) == (
        "job",
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
    assert len(legal | illegal) == 5 * 6


@pytest.mark.parametrize(
    ("entity", "flow", "state", "event", "message"),
    [
        (
            "job-42",
            "order-7",
            State.UNCLAIMED,
            Event.COMPLETE,
            "job 'job-42' in flow 'order-7': cannot 'complete' from UNCLAIMED (allowed: claim)",
        ),
        (
            "job-42",
            None,
            State.UNCLAIMED,
            Event.COMPLETE,
            "job 'job-42': cannot 'complete' from UNCLAIMED (allowed: claim)",
        ),
        (
            None,
            "order-7",
            State.CLAIMED,
            Event.CLAIM,
            "job in flow 'order-7': cannot 'claim' from CLAIMED"
            " (allowed: abandon, claim_lost, complete, trash)",
        ),
        (
            None,
            None,
            State.DRAFT,
            Event.CLAIM,
            "job: cannot 'claim' from DRAFT (allowed: post)",
        ),
        (
            "job-42",
            "order-7",
            State.TRASHED,
            Event.POST,
            "job 'job-42' in flow 'order-7': cannot 'post' from TRASHED"
            " (allowed: none, TRASHED is terminal)",
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
        ("post claim complete", "COMPLETE"),
        ("post claim abandon claim complete", "COMPLETE"),
        ("post claim claim_lost claim claim_lost claim trash", "TRASHED"),
    ],
    ids=lambda value: value.replace(" ", ","),
)
def test_documented_paths(events: str, final: str) -> None:
    holder = EntityState.replay(LIFECYCLE, [Event(event) for event in events.split()], ENTITY)
    assert holder.state is State(final)
