"""A process paused inside a PostgreSQL transaction does not hold a run forever.

A store's transactions take milliseconds. One left open (its process stopped with SIGSTOP, or
its machine frozen, while it held a run's row lock) would block every engine that comes to take
the run over, until it woke up. A writing store's sessions therefore carry
`idle_in_transaction_session_timeout` (`IDLE_IN_TRANSACTION_MS`, unless the URL sets it), and
the server ends such a session: its lock goes, the takeover proceeds, and the paused process
finds its connection gone when it wakes.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from provenflow.errors import RunOwned
from provenflow.persistence import Owner, RunInfo, SqlStorage, _sql_engine, open_storage
from provenflow.persistence._sql_engine import IDLE_IN_TRANSACTION_MS


def _setting(store: SqlStorage) -> str:
    with store._engine.connect() as conn:
        return str(conn.execute(sa.text("SHOW idle_in_transaction_session_timeout")).scalar())


def test_a_writing_store_bounds_idle_transactions(postgres_url: str) -> None:
    store = open_storage(postgres_url)
    assert isinstance(store, SqlStorage)
    try:
        assert _setting(store) == f"{IDLE_IN_TRANSACTION_MS // 1000}s"
    finally:
        store.close()


def test_the_urls_own_setting_is_kept(postgres_url: str) -> None:
    store = open_storage(postgres_url + "%20-cidle_in_transaction_session_timeout%3D1234")
    assert isinstance(store, SqlStorage)
    try:
        assert _setting(store) == "1234ms"
    finally:
        store.close()


def test_a_holder_paused_inside_a_transaction_does_not_block_the_takeover(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sql_engine, "IDLE_IN_TRANSACTION_MS", 300)  # not 10 s, in a test
    first = open_storage(postgres_url)
    # Without the bound, the takeover would wait for the row lock for ever: fail instead.
    second = open_storage(postgres_url + "%20-clock_timeout%3D5000")
    assert isinstance(first, SqlStorage)
    try:
        first.create(RunInfo("run-1", "f", ()))
        old, new = Owner("host", 1, "first"), Owner("host", 2, "second")
        first.take_lease("run-1", old, 0.05)
        # The first engine's process stops in the middle of a transaction holding the row.
        paused = first._engine.connect()
        paused.execute(sa.text("SELECT flow_id FROM provenflow_runs FOR UPDATE")).all()
        deadline = time.monotonic() + 20
        while True:  # the lease expires on the server's clock; then the takeover goes through
            try:
                grant = second.take_lease("run-1", new, 30)
                break
            except RunOwned:
                assert time.monotonic() < deadline, "the takeover never went through"
        assert grant.taken_over is not None and grant.taken_over.owner == old
        with pytest.raises(sa.exc.DBAPIError, match="idle-in-transaction"):  # it wakes
            paused.execute(sa.text("SELECT 1")).all()
        paused.close()
    finally:
        first.close()
        second.close()
