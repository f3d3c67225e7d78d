"""Ten processes open one new store at the same moment, round after round: none ever fails.

A new SQLite file is made a store by the first of them (tables, then WAL mode) while the others
wait for it or read it; `database is locked` must never reach a caller. A new directory is made
a store by whichever links its marker file first. Ten worker processes are started once; each
round they meet at a barrier, open the round's new store together and each record a run in it.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from provenflow.persistence import open_storage
from tests.persistence import _workers

SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 300
OPENERS = 10
ROUNDS = 60


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "dir"])
def test_ten_simultaneous_first_opens_never_fail(tmp_path: Path, kind: str) -> None:
    if kind == "sqlite":
        urls = [f"sqlite:///{tmp_path / f'round-{n}.db'}" for n in range(ROUNDS)]
    else:
        urls = [f"dir://{tmp_path / f'round-{n}'}" for n in range(ROUNDS)]
    barrier = SPAWN.Barrier(OPENERS, timeout=TIMEOUT)
    results = SPAWN.Queue()
    processes = [
        SPAWN.Process(
            target=_workers.first_opens,
            args=(urls, me),
            kwargs={"barrier": barrier, "results": results},
        )
        for me in range(OPENERS)
    ]
    for process in processes:
        process.start()
    try:
        failures = [failure for _ in processes for failure in results.get(timeout=TIMEOUT)]
        for process in processes:
            process.join(TIMEOUT)
            assert process.exitcode == 0
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    assert failures == []
    for url in urls:  # every opener's run was recorded in every store
        assert len(open_storage(url, read_only=True).runs()) == OPENERS


def test_the_switch_to_wal_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    # The window of a first open: the tables are made (rollback journal) and another opener
    # holds the write lock when the maker switches the file to WAL. SQLite refuses that switch
    # at once ("database is locked"); the maker must try again until the lock is released.
    import sqlalchemy as sa  # noqa: PLC0415

    from provenflow.persistence._sql_engine import database_errors, use_wal  # noqa: PLC0415
    from provenflow.persistence._sql_schema import METADATA  # noqa: PLC0415

    path = tmp_path / "new.db"
    maker = sa.create_engine(f"sqlite:///{path}")
    METADATA.create_all(maker)
    maker.dispose()
    engine = sa.create_engine(f"sqlite:///{path}")
    attempts: list[str] = []
    second_attempt_or_end = threading.Event()

    def traced(dbapi_connection: Any, _record: Any) -> None:
        def on_statement(statement: str) -> None:
            if "journal_mode" in statement:
                attempts.append(statement)
                if len(attempts) == 2:
                    second_attempt_or_end.set()

        dbapi_connection.set_trace_callback(on_statement)

    sa.event.listen(engine, "connect", traced)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another opener's write lock
    outcome: list[BaseException | None] = []

    def switch() -> None:
        try:
            use_wal(
                engine, lambda action: database_errors(str(path), "sqlite", sqlite3.Error, action)
            )
            outcome.append(None)
        except BaseException as error:  # reported below
            outcome.append(error)
        second_attempt_or_end.set()

    thread = threading.Thread(target=switch)
    thread.start()
    try:
        assert second_attempt_or_end.wait(TIMEOUT)
        assert len(attempts) >= 2, f"the switch was not tried again: {outcome}"
    finally:
        holder.execute("COMMIT")
        thread.join(TIMEOUT)
        holder.close()
    assert outcome == [None]
    assert engine.connect().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
