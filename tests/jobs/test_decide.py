"""The pure decisions of a board: one job, requests at chosen times, no board around it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenflow.errors import ClaimLost, IllegalTransition, InternalError, UsageError
from provenflow.fsm.job import Event, State
from provenflow.jobs import Claim, Job
from provenflow.jobs._decide import claim_job, discard, finish, new_job, renew_claim
from provenflow.jobs._records import history_from_json, history_to_json, load_state
from provenflow.persistence import Owner

OWNERS = [Owner("host", n, f"{n:032d}") for n in range(3)]


def test_a_new_job_is_posted_through_the_table() -> None:
    job = new_job("flows.py:make", 10.0)
    assert job.state is State.UNCLAIMED
    assert [(s.seq, s.event, s.at) for s in job.history] == [(1, "post", 10.0)]
    assert job.ready(10.0)


def test_a_claim_that_is_not_ready_or_without_a_ttl_is_refused() -> None:
    job = new_job("flows.py:make", 0.0, not_before=5.0)
    with pytest.raises(InternalError, match="not ready"):
        claim_job(job, OWNERS[0], 1.0, 10.0)
    with pytest.raises(UsageError, match="positive number of seconds"):
        claim_job(job, OWNERS[0], 6.0, 0.0)


def test_finishing_with_an_event_that_is_no_end_of_a_claim_is_refused() -> None:
    job, claim = claim_job(new_job("flows.py:make", 0.0), OWNERS[0], 0.0, 10.0)
    with pytest.raises(UsageError, match="complete, abandon or trash"):
        finish(job, claim, Event.CLAIM, 1.0)


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        (Event.COMPLETE, {"outcome": 1}),
        (Event.COMPLETE, {}),
        (Event.ABANDON, {"reason": None}),
        (Event.TRASH, {"reason": ["x"]}),
    ],
)
def test_a_reason_or_outcome_that_is_not_text_is_refused(
    event: Event, fields: dict[str, object]
) -> None:
    job, claim = claim_job(new_job("flows.py:make", 0.0), OWNERS[0], 0.0, 10.0)
    with pytest.raises(UsageError, match="must be text"):
        finish(job, claim, event, 1.0, **fields)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="the reason must be text"):
        discard(new_job("flows.py:make", 0.0), 1.0, 7)  # type: ignore[arg-type]


def test_discarding_a_finished_job_is_refused_by_the_table() -> None:
    job = discard(new_job("flows.py:make", 0.0), 1.0, "mistake")
    with pytest.raises(IllegalTransition, match="cannot 'trash' from TRASHED"):
        discard(job, 2.0, "again")


def test_a_history_reads_back_from_its_json() -> None:
    job, claim = claim_job(new_job("flows.py:make", 0.0), OWNERS[1], 1.0, 10.0)
    job = finish(job, claim, Event.COMPLETE, 2.0, outcome="SUCCESS")
    history = history_from_json(history_to_json(job.history), "here")
    assert history == job.history
    assert load_state(history, "COMPLETE", job.lease, "here") is State.COMPLETE


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["claim", "renew", "complete", "abandon", "trash", "discard", "wait"]),
        st.integers(0, 2),  # which owner acts (with the last claim it got)
        st.floats(0.0, 20.0),  # how much time passes first
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(ACTIONS)
def test_one_owner_at_a_time_and_tokens_only_grow(actions: list[tuple[str, int, float]]) -> None:
    now = 0.0
    job = new_job("flows.py:make", now)
    claims: dict[int, Claim] = {}
    tokens: list[int] = []
    for action, who, wait in actions:
        now += wait
        before = job
        try:
            job = _act(job, action, who, claims=claims, now=now, tokens=tokens)
        except (ClaimLost, IllegalTransition) as error:
            assert job == before, error  # a refused request changes nothing
        holders = [n for n, c in claims.items() if c.token == (job.lease and job.lease.token)]
        if job.state is State.CLAIMED:
            assert job.lease is not None and job.lease.held and len(holders) == 1
        assert tokens == sorted(set(tokens))
        assert load_state(job.history, str(job.state), job.lease, "job") is job.state


def _act(
    job: Job, action: str, who: int, *, claims: dict[int, Claim], now: float, tokens: list[int]
) -> Job:
    claim = claims.get(who)
    if action == "claim":
        if not job.ready(now):
            return job
        job, claims[who] = claim_job(job, OWNERS[who], now, 10.0)
        tokens.append(claims[who].token)
        return job
    if action == "discard":
        return (
            job
            if job.state is State.CLAIMED and job.lease and job.lease.live(now)
            else (discard(job, now, "operator"))
        )
    if claim is None or action == "wait":
        return job
    if action == "renew":
        job, claims[who] = renew_claim(job, claim, now, 10.0)
        return job
    ends = {
        "complete": (Event.COMPLETE, {"outcome": "SUCCESS"}),
        "abandon": (Event.ABANDON, {"reason": "stopping", "delay": 1.0}),
        "trash": (Event.TRASH, {"reason": "bad data"}),
    }
    event, fields = ends[action]
    return finish(job, claim, event, now, **fields)  # type: ignore[arg-type]
