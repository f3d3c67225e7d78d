"""The Redis board: records the SQL boards' reader validates, outages, and waiting on pub/sub."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from provenflow.errors import ClaimLost, CorruptRecord, StorageUnavailable
from provenflow.jobs import RedisBoard, open_board
from provenflow.jobs._redis_scripts import key_names
from provenflow.jobs._sql_rows import job_values
from tests.jobs.test_conformance import ALICE, FACTORY
from tests.locks.conftest import REDIS_URL, _kill


@pytest.fixture
def board(redis_url: str) -> Iterator[RedisBoard]:
    opened = open_board(redis_url)
    assert isinstance(opened, RedisBoard)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def admin() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        client.close()


def _record(admin: redis.Redis, board: RedisBoard, job_id: str) -> Any:
    return admin.hget(key_names(board.prefix)["records"], job_id)


def test_a_record_holds_the_columns_of_the_sql_boards_row(
    board: RedisBoard, admin: redis.Redis
) -> None:
    job = board.post(FACTORY, store={"n": 1}, key="k", priority=2)
    claim = board.claim(ALICE, 60.0)
    assert claim is not None
    assert json.loads(_record(admin, board, job.id)) == json.loads(
        json.dumps(job_values(claim.job))
    )


def test_the_board_reads_the_servers_clock(board: RedisBoard, admin: redis.Redis) -> None:
    seconds, micros = admin.time()
    job = board.post(FACTORY)
    assert job.posted_at >= seconds + micros / 1_000_000
    assert open_board(board.url.replace("redis://", "rediss://", 1)).url.startswith("rediss://")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda r: "{", "the record is not JSON"),
        (lambda r: json.dumps({**r, "history": "[{"}), "the history does not read back"),
        (lambda r: json.dumps({**r, "state": "CLAIMED"}), "the state is 'CLAIMED' but"),
        (lambda r: json.dumps({**r, "store": "[1]"}), "the store is not a JSON object"),
        (lambda r: json.dumps({k: v for k, v in r.items() if k != "name"}), "the record holds"),
        (lambda r: json.dumps({**r, "lease_token": 3, "lease_owner": "x"}), "hold no lease"),
    ],
    ids=["bad-json", "bad-history", "state", "store", "missing-field", "lease"],
)
def test_a_corrupt_record_is_one_clear_error_and_is_left_as_it_is(
    board: RedisBoard, admin: redis.Redis, edit: Any, words: str
) -> None:
    bad = board.post(FACTORY, name="bad", priority=9)
    good = board.post(FACTORY, name="good")
    records = key_names(board.prefix)["records"]
    edited = edit(json.loads(_record(admin, board, bad.id)))
    admin.hset(records, bad.id, edited)
    with pytest.raises(CorruptRecord, match=words) as caught:
        board.get(bad.id)
    assert caught.value.where == f"{board.url}: job {bad.id!r}"
    listing = board.jobs()
    assert [job.id for job in listing.jobs] == [good.id]
    assert [found.id for found in listing.corrupt] == [bad.id]
    claim = board.claim(ALICE, 60.0)  # passed over, not claimed, not changed
    assert claim is not None and claim.job_id == good.id
    with pytest.raises(CorruptRecord):
        board.discard(bad.id, "cannot read it")
    assert _record(admin, board, bad.id) == edited.encode()


def test_a_key_of_another_type_is_corrupt(board: RedisBoard, admin: redis.Redis) -> None:
    admin.set(key_names(board.prefix)["records"], "not a hash")
    with pytest.raises(CorruptRecord, match="another type"):
        board.get("nope")


def test_a_killed_connection_is_storage_unavailable_and_the_next_call_works(
    redis_url: str,
) -> None:
    tag = f"pfjobs_{uuid.uuid4().hex[:12]}"
    board = open_board(f"{redis_url}&client_name={tag}")
    job = board.post(FACTORY)
    claim = board.claim(ALICE, 60.0)
    assert claim is not None
    _kill(board, tag)
    with pytest.raises(StorageUnavailable, match="cannot complete a job") as caught:
        board.complete(claim, "SUCCESS")
    assert board.url in str(caught.value)
    assert board.get(job.id).state == "CLAIMED"  # the next call opens a new connection
    assert board.complete(claim, "SUCCESS").state == "COMPLETE"
    board.close()


def test_an_unreachable_server_is_storage_unavailable() -> None:
    board = open_board("redis://127.0.0.1:1/0?socket_connect_timeout=1")
    with pytest.raises(StorageUnavailable, match=r"redis://127\.0\.0\.1:1/0.*cannot post a job"):
        board.post(FACTORY)


def test_a_write_that_lost_a_race_decides_again_on_the_new_record(
    board: RedisBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = board.post(FACTORY)
    claim = board.claim(ALICE, 60.0)
    assert claim is not None
    other = open_board(board.url)
    read = board._read

    def read_then_let_another_worker_write(job_id: str, action: str) -> Any:
        found = read(job_id, action)
        if not other.get(job_id).finished:
            other.complete(claim, "SUCCESS")  # lands between this read and its write
        return found

    monkeypatch.setattr(board, "_read", read_then_let_another_worker_write)
    with pytest.raises(ClaimLost, match="released"):
        board.trash(claim, "too late")  # its write is refused; decided again, it is refused
    assert [step.event for step in board.get(job.id).history] == ["post", "claim", "complete"]
    other.close()


def test_waiting_subscribes_instead_of_polling(
    board: RedisBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = board.post(FACTORY)
    commands: list[object] = []
    execute = board._client.execute_command

    def count(*args: Any, **kwargs: Any) -> Any:
        commands.append(args[0])
        return execute(*args, **kwargs)

    monkeypatch.setattr(board._client, "execute_command", count)
    assert not board.wait(job.id, timeout=1.0).finished
    assert len(commands) <= 2, commands  # one look before sleeping, one after: no polling
    assert board.wait_for_work(1.0) is True
    assert board.claim(ALICE, 600.0) is not None
    commands.clear()
    assert board.wait_for_work(1.0) is False
    assert len(commands) <= 2, commands
