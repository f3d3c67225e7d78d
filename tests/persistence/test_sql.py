"""The SQL backends (sqlite and postgresql): schema, schema version, and bad rows.

Rows are damaged with plain SQL, as a person or another program might; each refusal must name
the store, the run, the row and the value, and leave every row as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

sa = pytest.importorskip("sqlalchemy")

from provenflow.errors import CorruptRecord, NewerSchema  # noqa: E402
from provenflow.failure import Failure  # noqa: E402
from provenflow.persistence import Owner, Transition, open_storage  # noqa: E402
from tests.persistence._samples import RUN, running, start, succeeded  # noqa: E402
from tests.persistence.conftest import Backend, _driver_url  # noqa: E402

TABLES = ("provenflow_meta", "provenflow_runs", "provenflow_run_details", "provenflow_transitions")


@pytest.fixture
def database(sql: Backend) -> Iterator[sa.Engine]:
    """A plain SQLAlchemy engine on the backend's database, to read and damage rows."""
    engine = sa.create_engine(_driver_url(sql.url), poolclass=sa.NullPool)
    yield engine
    engine.dispose()


def execute(database: sa.Engine, statement: str) -> None:
    with database.begin() as conn:
        conn.execute(sa.text(statement))


def snapshot(database: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every provenflow table, sorted: what must not change on a refusal."""
    with database.connect() as conn:
        return {
            table: sorted(tuple(row) for row in conn.execute(sa.text(f"SELECT * FROM {table}")))
            for table in TABLES
        }


def a_run(sql: Backend) -> None:
    store = sql.open()
    store.create(RUN)
    failure = Failure.from_exception(ValueError("declined"))
    failed = Transition("charge", "task", "RUNNING", "fail", "FAILURE", 1, 4.0, None, failure)
    store.record("run-1", [start(), running("charge"), failed], 0)
    store.record("run-1", [running("other"), succeeded("other", {"ok": True})], 3)


def test_a_new_database_gets_the_schema_and_its_version(sql: Backend, database: sa.Engine) -> None:
    sql.open()
    inspector = sa.inspect(database)
    assert set(TABLES) <= set(inspector.get_table_names())
    key = inspector.get_pk_constraint("provenflow_transitions")["constrained_columns"]
    assert key == ["flow_id", "seq"]
    columns = [column["name"] for column in inspector.get_columns("provenflow_transitions")]
    assert columns == [
        "flow_id", "seq", "atom", "lifecycle", "old_state", "event", "new_state", "attempt",
        "at", "result", "failure", "history",
    ]  # fmt: skip
    assert snapshot(database)["provenflow_meta"] == [("schema_version", "1")]


def test_transitions_are_stored_one_row_each_with_json_data(
    sql: Backend, database: sa.Engine
) -> None:
    a_run(sql)
    rows = snapshot(database)
    (run,) = rows["provenflow_runs"]
    assert run[:5] == ("run-1", "order", "shop.flows:order", "RUNNING", 5)
    (details,) = rows["provenflow_run_details"]
    assert details == (
        "run-1",
        '[{"name":"charge","kind":"task","version":"1.0","flow":"payment","retry":"again"},'
        '{"name":"again","kind":"retry","version":"2"}]',
        '{"order_id":7,"customer":{"name":"Zoë","tags":["new","vip"]}}',
    )
    seqs = [row[1] for row in rows["provenflow_transitions"]]
    assert seqs == [1, 2, 3, 4, 5]
    assert rows["provenflow_transitions"][4][9] == '{"ok":true}'


DAMAGE = [
    pytest.param(
        "UPDATE provenflow_transitions SET new_state = 'LOST' WHERE seq = 2",
        "transition 2: unknown task state 'LOST'",
        id="state",
    ),
    pytest.param(
        "UPDATE provenflow_transitions SET event = 'explode' WHERE seq = 1",
        "transition 1: unknown flow event 'explode'",
        id="event",
    ),
    pytest.param(
        "UPDATE provenflow_transitions SET lifecycle = 'saga' WHERE seq = 4",
        "transition 4: unknown lifecycle 'saga'",
        id="lifecycle",
    ),
    pytest.param(
        "UPDATE provenflow_transitions SET old_state = 'SUCCESS' WHERE seq = 2",
        "transition 2: SUCCESS --start--> RUNNING is not an edge of the task lifecycle",
        id="edge",
    ),
    pytest.param(
        "UPDATE provenflow_transitions SET result = '{\"ok\": tru' WHERE seq = 5",
        "transition 5: result: not valid JSON",
        id="json",
    ),
    pytest.param(
        "UPDATE provenflow_transitions SET result = 'NaN' WHERE seq = 5",
        "transition 5: result: not valid JSON (NaN is not JSON)",
        id="nan",
    ),
    pytest.param(
        "UPDATE provenflow_transitions SET failure = '{\"version\": 1}' WHERE seq = 3",
        "transition 3: failure: failure record: field 'type_name': missing",
        id="failure",
    ),
    pytest.param(
        "DELETE FROM provenflow_transitions WHERE seq = 2",
        "transition 2 is missing",
        id="gap",
    ),
    pytest.param(
        "UPDATE provenflow_runs SET version = 7",
        "version is 7 but 5 transitions are stored",
        id="version",
    ),
    pytest.param(
        "UPDATE provenflow_run_details SET atoms = '[{\"name\": 1}]'",
        "atoms[0]: expected name, kind and version strings",
        id="atoms",
    ),
    pytest.param(
        "UPDATE provenflow_runs SET state = 'ZOMBIE'",
        "unknown flow state 'ZOMBIE'",
        id="run-state",
    ),
]


@pytest.mark.parametrize(("damage", "problem"), DAMAGE)
def test_a_damaged_row_is_refused_by_name_and_left_as_it_is(
    sql: Backend, database: sa.Engine, damage: str, problem: str
) -> None:
    a_run(sql)
    execute(database, damage)
    before = snapshot(database)
    store = sql.open()
    with pytest.raises(CorruptRecord, match=re.escape(problem)) as caught:
        store.load("run-1")
    assert caught.value.where.startswith(f"{store.url}: run 'run-1'")
    assert "the store was left as it is" in str(caught.value)
    assert snapshot(database) == before


def test_runs_refuses_a_run_with_an_unknown_state(sql: Backend, database: sa.Engine) -> None:
    a_run(sql)
    execute(database, "UPDATE provenflow_runs SET state = 'ZOMBIE'")
    with pytest.raises(CorruptRecord, match="run 'run-1': unknown flow state 'ZOMBIE'"):
        sql.open().runs()


def test_a_newer_schema_is_refused_before_anything_is_written(
    sql: Backend, database: sa.Engine
) -> None:
    a_run(sql)
    execute(database, "UPDATE provenflow_meta SET value = '2'")
    before = snapshot(database)
    with pytest.raises(NewerSchema, match="schema version 2 is newer than this provenflow knows"):
        open_storage(sql.url)
    assert snapshot(database) == before


def test_a_bad_schema_version_is_refused(sql: Backend, database: sa.Engine) -> None:
    a_run(sql)
    execute(database, "UPDATE provenflow_meta SET value = 'one'")
    with pytest.raises(CorruptRecord, match="schema_version is 'one', not a number"):
        open_storage(sql.url)


def test_provenflow_tables_without_a_version_are_refused_as_foreign(
    sql: Backend, database: sa.Engine
) -> None:
    a_run(sql)
    execute(database, "DROP TABLE provenflow_meta")
    before = snapshot_without_meta(database)
    with pytest.raises(CorruptRecord, match=r"exist\(s\) without provenflow_meta"):
        open_storage(sql.url)
    assert snapshot_without_meta(database) == before
    assert "provenflow_meta" not in sa.inspect(database).get_table_names()


def snapshot_without_meta(database: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    with database.connect() as conn:
        return {
            table: sorted(tuple(row) for row in conn.execute(sa.text(f"SELECT * FROM {table}")))
            for table in TABLES[1:]
        }


def test_a_store_made_before_leases_gets_the_lease_columns_when_opened(
    sql: Backend, database: sa.Engine
) -> None:
    a_run(sql)
    for column in ("lease_host", "lease_pid", "lease_owner", "lease_token", "lease_expires",
                   "lease_held"):  # fmt: skip
        execute(database, f"ALTER TABLE provenflow_runs DROP COLUMN {column}")
    store = sql.open()
    columns = {column["name"] for column in sa.inspect(database).get_columns("provenflow_runs")}
    assert {"lease_token", "lease_held", "lease_expires"} <= columns
    assert store.leases()[0] == {}  # every run unleased
    assert store.load("run-1")[2] == 5
    owner = Owner("host", 1, "a" * 32)
    assert store.take_lease("run-1", owner, 30.0).lease.token == 1
    assert store.record("run-1", [], 5, token=1) == 5
