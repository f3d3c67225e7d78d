"""The job board conformance suite: every board kind posts, claims and fences the same way."""

from __future__ import annotations

import threading
import time

import pytest

from provenflow.errors import ClaimLost, IllegalTransition, JobClaimed, UnknownJob, UsageError
from provenflow.jobs import Board, Claim, Job, MemoryBoard, open_board
from provenflow.persistence import Owner
from tests.jobs.conftest import BoardCase

ALICE = Owner("host-a", 101, "a" * 32)
BOB = Owner("host-b", 202, "b" * 32)
FACTORY = "flows.py:make_flow"


def events(job: Job) -> list[str]:
    return [step.event for step in job.history]


def test_a_posted_job_reads_back_with_every_field(case: BoardCase) -> None:
    board = case.board
    assert isinstance(board, Board)  # the protocol every board follows
    job = board.post(
        FACTORY,
        store={"order": 7, "items": ["a", "b"]},
        name="order-7",
        priority=3,
        details={"by": "shop"},
        key="order-7",
        not_before=1.5,
    )
    assert (job.state, job.name, job.factory, job.priority, job.key) == (
        "UNCLAIMED", "order-7", FACTORY, 3, "order-7",
    )  # fmt: skip
    assert (job.store, job.details, job.not_before) == (
        {"order": 7, "items": ["a", "b"]}, {"by": "shop"}, 1.5,
    )  # fmt: skip
    assert [(s.event, s.old_state, s.new_state) for s in job.history] == [
        ("post", "DRAFT", "UNCLAIMED")
    ]
    assert case.open().get(job.id) == job
    assert board.post("pkg.flows:build").name == "build"  # named after the factory


def test_posting_a_key_again_returns_the_job_posted_with_it(case: BoardCase) -> None:
    first = case.board.post(FACTORY, key="once", store={"n": 1})
    again = case.open().post(FACTORY, key="once", store={"n": 2})
    assert again == first
    assert [job.id for job in case.board.jobs().jobs] == [first.id]


@pytest.mark.parametrize(
    ("factory", "fields", "words"),
    [
        ("flows.py", {}, "expected FILE_OR_MODULE:NAME"),
        ("flows.py:", {}, "expected FILE_OR_MODULE:NAME"),
        (FACTORY, {"store": {"when": object()}}, "the store must be JSON"),
        (FACTORY, {"store": [1, 2]}, "the store must be a JSON object"),
        (FACTORY, {"details": {"t": (1, 2)}}, "does not read back"),
        (FACTORY, {"priority": 1.5}, "priority must be an integer"),
        (FACTORY, {"key": ""}, "idempotency key"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_posted(
    case: BoardCase, factory: str, fields: dict[str, object], words: str
) -> None:
    with pytest.raises(UsageError, match=words):
        case.board.post(factory, **fields)  # type: ignore[arg-type]
    assert case.board.jobs().jobs == ()


def test_claims_take_the_highest_priority_then_the_oldest(case: BoardCase) -> None:
    board = case.board
    low = board.post(FACTORY, name="low", priority=0)
    high_old = board.post(FACTORY, name="high-old", priority=5)
    case.pass_time(1.0)
    high_new = board.post(FACTORY, name="high-new", priority=5)
    taken = [board.claim(ALICE, 60.0) for _ in range(3)]
    assert [claim.job_id for claim in taken if claim] == [high_old.id, high_new.id, low.id]
    assert board.claim(ALICE, 60.0) is None


def test_an_empty_board_has_nothing_to_claim(case: BoardCase) -> None:
    assert case.board.claim(ALICE, 60.0) is None


def test_a_job_is_not_claimed_before_its_not_before_time(case: BoardCase) -> None:
    board = case.board
    later = board.post(FACTORY, not_before=board.now() + case.short_ttl, name="later")
    assert board.claim(ALICE, 60.0) is None
    case.pass_time(case.short_ttl)
    claim = board.claim(ALICE, 60.0)
    assert claim is not None and claim.job_id == later.id


def test_a_claim_carries_its_owner_expiry_and_a_token_in_the_history(case: BoardCase) -> None:
    board = case.board
    job = board.post(FACTORY)
    before = board.now()
    claim = board.claim(ALICE, 60.0)
    assert claim is not None
    assert (claim.job_id, claim.owner, claim.token) == (job.id, ALICE, 1)
    assert before + 60.0 <= claim.expires_at <= board.now() + 60.0
    stored = board.get(job.id)
    assert stored.state == "CLAIMED" and stored.owner == ALICE
    step = stored.history[-1]
    assert (step.event, step.owner, step.token) == ("claim", ALICE, 1)


def test_tokens_strictly_increase_across_claims_of_one_job(case: BoardCase) -> None:
    board = case.board
    board.post(FACTORY)
    tokens = []
    for reason in ("stopping", "again"):
        claim = board.claim(ALICE, 60.0)
        assert claim is not None
        tokens.append(claim.token)
        board.abandon(claim, reason)
    claim = board.claim(BOB, case.short_ttl)
    assert claim is not None
    tokens.append(claim.token)
    case.pass_time(case.short_ttl)
    taken = case.open().claim(ALICE, 60.0)
    assert taken is not None
    tokens.append(taken.token)
    assert tokens == [1, 2, 3, 4]


def test_an_expired_claim_is_recorded_lost_and_the_job_claimed_again(case: BoardCase) -> None:
    board = case.board
    job = board.post(FACTORY)
    first = board.claim(ALICE, case.short_ttl)
    assert first is not None
    assert case.open().claim(BOB, 60.0) is None  # live: nobody else takes it
    case.pass_time(case.short_ttl)
    second = case.open().claim(BOB, 60.0)
    assert second is not None and (second.job_id, second.owner) == (job.id, BOB)
    stored = board.get(job.id)
    assert events(stored) == ["post", "claim", "claim_lost", "claim"]
    lost = stored.history[2]
    assert (lost.owner, lost.token, lost.old_state, lost.new_state) == (
        ALICE, first.token, "CLAIMED", "UNCLAIMED",
    )  # fmt: skip
    assert lost.reason is not None and "expired" in lost.reason


def test_requests_with_a_stale_token_are_refused_and_change_nothing(case: BoardCase) -> None:
    board = case.board
    job = board.post(FACTORY)
    stale = board.claim(ALICE, case.short_ttl)
    assert stale is not None
    case.pass_time(case.short_ttl)
    current = case.open().claim(BOB, 60.0)
    assert current is not None
    before = board.get(job.id)
    requests = [
        lambda: board.renew(stale, 60.0),
        lambda: board.complete(stale, "SUCCESS"),
        lambda: board.abandon(stale, "stopping"),
        lambda: board.trash(stale, "bad"),
    ]
    for request in requests:
        with pytest.raises(ClaimLost) as caught:
            request()
        assert caught.value.job_id == job.id
        assert f"token {stale.token}" in str(caught.value)
        assert "taken over (the job's current token is 2)" in str(caught.value)
        assert board.get(job.id) == before
    assert board.complete(current, "SUCCESS").state == "COMPLETE"


def test_a_claim_of_another_owner_with_the_right_token_is_refused(case: BoardCase) -> None:
    board = case.board
    board.post(FACTORY)
    claim = board.claim(ALICE, 60.0)
    assert claim is not None
    forged = Claim(claim.job, BOB, claim.token, claim.expires_at)
    with pytest.raises(ClaimLost, match="another owner"):
        board.complete(forged, "SUCCESS")
    assert board.get(claim.job_id).state == "CLAIMED"


def test_an_expired_claim_nobody_took_may_still_be_renewed(case: BoardCase) -> None:
    board = case.board
    board.post(FACTORY)
    claim = board.claim(ALICE, case.short_ttl)
    assert claim is not None
    case.pass_time(case.short_ttl)
    renewed = board.renew(claim, 60.0)
    assert renewed.token == claim.token and renewed.expires_at > claim.expires_at
    assert case.open().claim(BOB, 60.0) is None
    assert events(board.get(claim.job_id)) == ["post", "claim"]  # renewing is no transition


def test_completing_records_the_outcome_and_ends_the_job(case: BoardCase) -> None:
    board = case.board
    job = board.post(FACTORY)
    claim = board.claim(ALICE, 60.0)
    assert claim is not None
    done = board.complete(claim, "REVERTED")
    assert (done.state, done.outcome, done.finished, done.owner) == (
        "COMPLETE", "REVERTED", True, None,
    )  # fmt: skip
    assert board.get(job.id) == done
    assert board.claim(BOB, 60.0) is None
    with pytest.raises(ClaimLost, match="released"):
        board.complete(claim, "SUCCESS")
    assert board.get(job.id) == done


def test_an_abandoned_job_waits_its_delay_then_is_claimed_again(case: BoardCase) -> None:
    board = case.board
    job = board.post(FACTORY)
    claim = board.claim(ALICE, 60.0)
    assert claim is not None
    back = board.abandon(claim, "back off", delay=case.short_ttl)
    assert back.state == "UNCLAIMED" and back.history[-1].reason == "back off"
    assert board.claim(BOB, 60.0) is None
    case.pass_time(case.short_ttl)
    again = board.claim(BOB, 60.0)
    assert again is not None and (again.job_id, again.token) == (job.id, 2)


def test_the_owner_trashes_a_job_with_its_reason(case: BoardCase) -> None:
    board = case.board
    board.post(FACTORY)
    claim = board.claim(ALICE, 60.0)
    assert claim is not None
    trashed = board.trash(claim, "the factory cannot be imported")
    assert trashed.state == "TRASHED"
    step = trashed.history[-1]
    assert (step.owner, step.token, step.reason) == (ALICE, 1, "the factory cannot be imported")
    assert board.claim(BOB, 60.0) is None


def test_an_operator_trashes_an_unclaimed_job_but_not_a_claimed_one(case: BoardCase) -> None:
    board = case.board
    free = board.post(FACTORY, name="free")
    assert board.discard(free.id, "posted by mistake").history[-1].reason == "posted by mistake"
    held = board.post(FACTORY, name="held")
    claim = board.claim(ALICE, case.short_ttl)
    assert claim is not None and claim.job_id == held.id
    before = board.get(held.id)
    with pytest.raises(JobClaimed) as caught:
        board.discard(held.id, "no")
    assert caught.value.owner == str(ALICE)
    assert board.get(held.id) == before
    case.pass_time(case.short_ttl)
    trashed = board.discard(held.id, "stuck")
    assert events(trashed) == ["post", "claim", "claim_lost", "trash"]
    with pytest.raises(IllegalTransition):
        board.discard(held.id, "again")
    assert board.get(held.id) == trashed


def test_an_unknown_job_id_is_one_clear_error(case: BoardCase) -> None:
    for request in (case.board.get, lambda job_id: case.board.discard(job_id, "x")):
        with pytest.raises(UnknownJob, match="job 'nope': not found on the board"):
            request("nope")


def test_listing_filters_by_state_oldest_first(case: BoardCase) -> None:
    board = case.board
    first, second, third = (board.post(FACTORY, name=f"job-{n}") for n in range(3))
    claim = board.claim(ALICE, 60.0)
    assert claim is not None and claim.job_id == first.id
    assert [job.id for job in board.jobs().jobs] == [first.id, second.id, third.id]
    assert [job.id for job in board.jobs("UNCLAIMED").jobs] == [second.id, third.id]
    assert [job.id for job in board.jobs("CLAIMED").jobs] == [first.id]


def test_wait_returns_once_another_worker_completes_the_job(case: BoardCase) -> None:
    board = case.board
    job = board.post(FACTORY)
    claim = board.claim(ALICE, 60.0)
    assert claim is not None
    assert not board.wait(job.id, timeout=0.05).finished
    waited: list[Job] = []
    started = threading.Event()

    def waiter() -> None:
        started.set()
        waited.append(case.open().wait(job.id, timeout=30.0))

    thread = threading.Thread(target=waiter)
    thread.start()
    started.wait()
    board.complete(claim, "SUCCESS")
    thread.join(timeout=30.0)
    assert [found.state for found in waited] == ["COMPLETE"]


def test_wait_for_work_wakes_when_a_job_is_posted(case: BoardCase) -> None:
    board = case.board
    assert board.wait_for_work(0.05) is False
    woke: list[bool] = []
    thread = threading.Thread(target=lambda: woke.append(case.open().wait_for_work(30.0)))
    thread.start()
    board.post(FACTORY)
    thread.join(timeout=30.0)
    assert woke == [True]


def test_concurrent_claimers_take_each_job_once(case: BoardCase) -> None:
    boards: list[Board] = [case.open() for _ in range(3)]
    posted = {case.board.post(FACTORY, name=f"job-{n}").id for n in range(12)}
    taken: list[str] = []
    lock = threading.Lock()

    def worker(board: Board, number: int) -> None:
        owner = Owner("host", number, f"{number:032d}")
        while (claim := board.claim(owner, 60.0)) is not None:
            board.complete(claim, "SUCCESS")
            with lock:
                taken.append(claim.job_id)

    threads = [threading.Thread(target=worker, args=(b, n)) for n, b in enumerate(boards)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60.0)
    assert sorted(taken) == sorted(posted)
    assert all(job.state == "COMPLETE" for job in case.board.jobs().jobs)


def test_wait_for_work_wakes_when_a_not_before_time_comes(case: BoardCase) -> None:
    board = MemoryBoard() if case.kind == "memory" else open_board(case.url)  # the real clock
    board.post(FACTORY, not_before=board.now() + 0.3)
    assert board.claim(ALICE, 60.0) is None
    started = time.monotonic()
    assert board.wait_for_work(20.0) is True  # woken by the time, not by a change
    assert time.monotonic() - started < 10.0
    assert board.claim(ALICE, 60.0) is not None
    board.close()


def test_a_job_handed_out_is_a_copy_the_caller_cannot_change_on_the_board(
    case: BoardCase,
) -> None:
    store = {"items": ["a"]}
    job = case.board.post(FACTORY, store=store, details={"tags": ["x"]})
    store["items"].append("posted")
    job.store["items"].append("returned")
    job.details["tags"].append("returned")
    claim = case.board.claim(ALICE, 60.0)
    assert claim is not None
    claim.job.store["items"].append("claimed")
    stored = case.board.get(job.id)
    assert (stored.store, stored.details) == ({"items": ["a"]}, {"tags": ["x"]})
    stored.store["items"].clear()
    assert case.board.jobs().jobs[0].store == {"items": ["a"]}


def test_an_expired_claim_competes_with_unclaimed_jobs_by_priority_then_age(
    case: BoardCase,
) -> None:
    board = case.board
    old = board.post(FACTORY, name="old", priority=1)
    case.pass_time(1.0)
    first = board.claim(ALICE, case.short_ttl)
    assert first is not None and first.job_id == old.id
    newer = board.post(FACTORY, name="newer", priority=1)
    urgent = board.post(FACTORY, name="urgent", priority=2)
    low = board.post(FACTORY, name="low", priority=0)
    case.pass_time(case.short_ttl)  # the claim on `old` expired
    order = []
    while (claim := board.claim(BOB, 600.0)) is not None:
        order.append(claim.job_id)
    assert order == [urgent.id, old.id, newer.id, low.id]
