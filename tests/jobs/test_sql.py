"""The SQL boards: opening, sharing a database with a store, and rows that do not read back."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from provenflow.errors import BoardNotFound, CorruptRecord, UsageError
from provenflow.jobs import Board, SqlBoard, open_board
from provenflow.jobs._decide import new_job
from provenflow.jobs._sql_rows import JOBS, job_values
from provenflow.persistence import RunInfo, open_storage
from tests.jobs.conftest import BoardCase
from tests.jobs.test_conformance import ALICE, FACTORY


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _edit(case: BoardCase, job_id: str, **values: object) -> None:
    engine = _engine(case.url)
    with engine.begin() as conn:
        conn.execute(JOBS.update().where(JOBS.c.id == job_id).values(**values))
    engine.dispose()


def _row(case: BoardCase, job_id: str) -> tuple[object, ...]:
    engine = _engine(case.url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(JOBS).where(JOBS.c.id == job_id)).one()
    engine.dispose()
    return tuple(row)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"history": "[{"}, "the history does not read back"),
        ({"history": json.dumps([{"seq": 1}])}, "the history does not read back"),
        ({"state": "CLAIMED"}, "the state is 'CLAIMED' but the history ends in UNCLAIMED"),
        ({"store": "[1]"}, "the store is not a JSON object"),
        ({"state": "RUNNING"}, "the state is 'RUNNING' but the history ends in UNCLAIMED"),
        ({"lease_token": 3, "lease_owner": "x"}, "the lease columns hold no lease"),
    ],
    ids=["bad-json", "bad-step", "state", "store", "unknown-state", "lease"],
)
def test_a_corrupt_job_is_one_clear_error_and_is_left_as_it_is(
    sql: BoardCase, values: dict[str, object], words: str
) -> None:
    board = sql.board
    bad = board.post(FACTORY, name="bad", priority=9)
    good = board.post(FACTORY, name="good")
    _edit(sql, bad.id, **values)
    edited = _row(sql, bad.id)
    with pytest.raises(CorruptRecord, match=words) as caught:
        board.get(bad.id)
    assert caught.value.where == f"{board.url}: job {bad.id!r}"
    listing = board.jobs()
    assert [job.id for job in listing.jobs] == [good.id]
    assert [found.id for found in listing.corrupt] == [bad.id]
    claim = board.claim(ALICE, 60.0)  # passed over, not claimed, not changed
    assert claim is not None and claim.job_id == good.id
    assert _row(sql, bad.id) == edited
    with pytest.raises(CorruptRecord):
        board.discard(bad.id, "cannot read it")
    assert _row(sql, bad.id) == edited


def test_a_history_the_job_table_forbids_is_corrupt(sql: BoardCase) -> None:
    board = sql.board
    job = board.post(FACTORY)
    step = {
        "seq": 2, "event": "complete", "old_state": "UNCLAIMED", "new_state": "COMPLETE",
        "at": 1.0, "owner": None, "token": None, "reason": None, "outcome": "SUCCESS",
    }  # fmt: skip
    history = [*json.loads(str(_row(sql, job.id)[-1])), step]
    _edit(sql, job.id, history=json.dumps(history), state="COMPLETE")
    with pytest.raises(CorruptRecord, match=r"not a path of the job table.*cannot 'complete'"):
        board.get(job.id)


def test_opening_without_creating_refuses_a_missing_board(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(BoardNotFound, match=r"no job board at .*does not exist"):
        open_board(f"sqlite:///{missing}", create=False)
    assert not missing.exists()
    store_url = f"sqlite:///{tmp_path / 'runs.db'}"
    open_storage(store_url)
    with pytest.raises(BoardNotFound, match="holds no provenflow_jobs table"):
        open_board(store_url, create=False)
    assert "provenflow_jobs" not in sa.inspect(_engine(store_url)).get_table_names()


def test_a_board_shares_a_database_with_a_store_either_way_round(tmp_path: Path) -> None:
    first = f"sqlite:///{tmp_path / 'board-first.db'}"
    board = open_board(first)
    job = board.post(FACTORY)
    store = open_storage(first)
    store.create(RunInfo(flow_id="run-1", flow_name="f", atoms=(), store={}))
    assert open_board(first, create=False).get(job.id) == job
    second = f"sqlite:///{tmp_path / 'store-first.db'}"
    open_storage(second).create(RunInfo(flow_id="run-2", flow_name="f", atoms=(), store={}))
    assert open_board(second).post(FACTORY).state == "UNCLAIMED"
    assert [info.flow_id for info, _ in open_storage(second).runs()] == ["run-2"]


def test_a_postgresql_board_reads_the_servers_clock(postgres_url: str) -> None:
    board = open_board(postgres_url, clock=lambda: 0.0)
    assert isinstance(board, SqlBoard)
    engine = _engine(postgres_url)
    with engine.connect() as conn:
        before = float(
            conn.execute(sa.text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")).scalar_one()
        )
    engine.dispose()
    job = board.post(FACTORY)
    assert job.posted_at >= before
    board.close()


@pytest.mark.parametrize("url", ["nats://localhost/0", "jobs.db", "ftp://x/y"])
def test_an_unknown_url_scheme_is_refused_naming_the_known_ones(url: str) -> None:
    with pytest.raises(UsageError, match=r"unknown URL scheme .*\(known: memory://, sqlite"):
        open_board(url)


def test_a_key_posted_concurrently_on_postgresql_gives_the_job_that_won(postgres_url: str) -> None:
    board = open_board(postgres_url)
    other = new_job(FACTORY, board.now(), key="race", name="first")
    engine = _engine(postgres_url)
    posted: list[object] = []
    with engine.connect() as conn:
        conn.execute(JOBS.insert().values(**job_values(other)))  # not yet committed
        thread = threading.Thread(target=lambda: posted.append(_post(board, "race")))
        thread.start()
        deadline = time.monotonic() + 30.0
        while not _waiting_on_a_lock(engine):  # the post's insert waits on the unique key
            assert time.monotonic() < deadline and thread.is_alive(), posted
            time.sleep(0.01)
        conn.commit()
    thread.join(timeout=30.0)
    engine.dispose()
    assert [getattr(job, "id", job) for job in posted] == [other.id]
    assert [job.id for job in board.jobs().jobs] == [other.id]
    board.close()


def _post(board: Board, key: str) -> object:
    try:
        return board.post(FACTORY, key=key, name="second")
    except Exception as error:  # reported by the test's assertion
        return error


def _waiting_on_a_lock(engine: sa.Engine) -> bool:
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE 'INSERT INTO provenflow_jobs %'"
    )
    with engine.connect() as conn:
        return bool(conn.execute(sa.text(query)).scalar_one())


def test_waiting_on_postgresql_listens_instead_of_polling(postgres_url: str) -> None:
    board = open_board(postgres_url)
    assert isinstance(board, SqlBoard)
    job = board.post(FACTORY)
    reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM provenflow_jobs" in statement:
            reads.append(statement)

    sa.event.listen(board._engine, "before_cursor_execute", count)
    assert not board.wait(job.id, timeout=1.0).finished
    assert len(reads) <= 2, reads  # one look before sleeping, one after: no polling
    assert board.wait_for_work(1.0) is True  # the job is ready: no sleep at all
    claim = board.claim(ALICE, 600.0)
    assert claim is not None
    reads.clear()
    assert board.wait_for_work(1.0) is False
    assert len(reads) <= 2, reads  # one look before sleeping, one after: no polling
    sa.event.remove(board._engine, "before_cursor_execute", count)
    board.close()


def test_a_wait_wakes_only_for_its_own_board_and_job(postgres_url: str) -> None:
    """A database's notification channels are shared by its schemas: a board in another schema,
    and other jobs of the same board, must not wake a wait (each wake-up costs a read)."""
    from tests.persistence.conftest import POSTGRES_URL, _driver_url  # noqa: PLC0415

    other_schema = f"pf_test_other_{time.monotonic_ns()}"
    admin = sa.create_engine(_driver_url(POSTGRES_URL), poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{other_schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    board = open_board(postgres_url)
    elsewhere = open_board(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{other_schema}")
    assert isinstance(board, SqlBoard)
    try:
        other = board.post(FACTORY)
        waited = board.post(FACTORY)  # posted last: a claim takes `other` first
        waiter = threading.get_ident()
        listening = threading.Event()
        reads: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if "FROM provenflow_jobs" in statement and threading.get_ident() == waiter:
                reads.append(statement)
                listening.set()  # the waiter listens before its first look

        def noise() -> None:
            listening.wait(10)
            for _ in range(3):
                elsewhere.post(FACTORY)  # another board, in another schema
            claim = board.claim(ALICE, 600.0)  # the same board, another job
            assert claim is not None and claim.job_id == other.id
            for _ in range(3):
                claim = board.renew(claim, 600.0)

        sa.event.listen(board._engine, "before_cursor_execute", count)
        thread = threading.Thread(target=noise)
        thread.start()
        try:
            assert not board.wait(waited.id, timeout=1.0).finished
        finally:
            thread.join(10)
            sa.event.remove(board._engine, "before_cursor_execute", count)
        assert len(reads) <= 2, reads  # one look before sleeping, one after: never woken
    finally:
        board.close()
        elsewhere.close()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{other_schema}" CASCADE'))
        admin.dispose()
