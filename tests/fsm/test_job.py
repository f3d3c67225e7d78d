"""The job lifecycle, checked against a table written out here independently of the module."""

from __future__ import annotations

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import EntityState
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
        UNCLAIMED  trash       TRASHED
        CLAIMED    abandon     UNCLAIMED
        CLAIMED    claim_lost  UNCLAIMED
        CLAIMED    complete    COMPLETE
        CLAIMED    trash       TRASHED
    """,
)
ENTITY = "job-42"
FLOW = "order-7"


@pytest.mark.parametrize(
    ("entity", "flow", "state", "event", "message"),
    [
        (
            "job-42",
            "order-7",
            State.UNCLAIMED,
            Event.COMPLETE,
            "job 'job-42' in flow 'order-7': cannot 'complete' from UNCLAIMED"
            " (allowed: claim, trash)",
        ),
        (
            "job-42",
            None,
            State.UNCLAIMED,
            Event.COMPLETE,
            "job 'job-42': cannot 'complete' from UNCLAIMED (allowed: claim, trash)",
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
        ("post trash", "TRASHED"),
        ("post claim abandon trash", "TRASHED"),
    ],
    ids=lambda value: value.replace(" ", ","),
)
def test_documented_paths(events: str, final: str) -> None:
    holder = EntityState.replay(LIFECYCLE, [Event(event) for event in events.split()], ENTITY)
    assert holder.state is State(final)
