"""Exit statuses a script can trust (`provenflow/cli/_exits.py`, the table of docs/command.md).

A run that ends SUCCESS exits 0 and one whose atoms failed exits 1. Anything else that stops a
run (a store that refuses the engine's writes or breaks under it, a record that cannot be read
back or that the lifecycles forbid) exits 2 with exactly one error line on stderr (after the
`starting run` / `resuming run` line that names the run), no outcome line and no traceback;
with `--json`, stdout holds `{"error": {...}}` and no state.

Two kinds of faults: each error class injected by a store whose Nth write raises it, at the
first, a middle and the last write (the one that would record SUCCESS), for `run` and
`resume`; and real faults, caused by the flow's middle task (`make_faulty`) to its own store:
a full disk and a read-only file system (a small tmpfs), read-only (immutable) files, a
damaged SQLite file, another engine advancing the run, a PostgreSQL server that becomes
unreachable. Ctrl-C exits 130, and a task that raises a storage error is its flow's failure.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import provenflow as pf
from provenflow.errors import (
    CorruptRecord,
    IllegalTransition,
    InternalError,
    LeaseLost,
    NewerSchema,
    RecordError,
    RunOwned,
    StaleVersion,
    StorageError,
    StorageUnavailable,
)
from provenflow.persistence import Transition
from provenflow.persistence._sql import SqlStorage
from tests.cli.conftest import FAULTY, invoke, plain
from tests.cli.proxy import Proxy
from tests.persistence.conftest import postgres_url  # noqa: F401 (a fixture)

STOPPED = re.compile(r"provenflow: error: run [0-9a-f]{32} of flow 'faulty' in \S+ stopped: ")


class RunTaken(StorageError):
    """A refusal a store may add later (e.g. the run is owned by another engine)."""


class UnreadableField(RecordError):
    """A kind of bad record a store may add later."""


INJECTED: dict[str, Callable[[str], Exception]] = {
    "StaleVersion": lambda url: StaleVersion("some-run", 3, 4),
    "StorageUnavailable": lambda url: StorageUnavailable(url, "cannot record: disk is full"),
    "CorruptRecord": lambda url: CorruptRecord(url, "row 3: result is not JSON"),
    "NewerSchema": lambda url: NewerSchema(url, 9, 1),
    "LeaseLost": lambda url: LeaseLost("some-run", 3, "engine-b", "taken over"),
    "RunOwned": lambda url: RunOwned("some-run", "engine-b", 100.0, 90.0),
    "RunTaken": lambda url: RunTaken("run owned by another engine"),
    "UnreadableField": lambda url: UnreadableField("field 'at' is not a number"),
    "IllegalTransition": lambda url: IllegalTransition("task", "last", "SUCCESS", "start", []),
    "InternalError": lambda url: InternalError("the core lost an atom"),
}


def assert_stopped(result: Result, doing: str, message: str, *, as_json: bool = False) -> None:
    """Check a run stopped by an error: exit 2, the run's line then one error line on stderr,
    no outcome, no traceback; with --json, stdout is the error as JSON."""
    assert result.exit_code == 2, result.output
    lines = plain(result.stderr).splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"{doing} run "), lines
    assert STOPPED.match(lines[1]), lines[1]
    assert message in lines[1], lines[1]
    assert "ended" not in result.stdout
    if as_json:
        document = json.loads(result.stdout)
        assert set(document) == {"error", "flow", "flow_id", "backend"}
        assert document["flow"] == "faulty"
        assert message in document["error"]["message"]


def failing_write(monkeypatch: pytest.MonkeyPatch, at: int, error: BaseException) -> None:
    """Make every SQLite/PostgreSQL store raise `error` at its `at`-th write (1-based)."""
    original = SqlStorage.record
    writes = [0]

    def record(self: SqlStorage, flow_id: str, steps: Sequence[Transition], *version: Any) -> int:
        writes[0] += 1  # `version`: the expected version, and the lease's token
        if writes[0] == at:
            raise error
        return original(self, flow_id, steps, *version)

    monkeypatch.setattr(SqlStorage, "record", record)


def suspended_run(db: str) -> str:
    """Record a run of `make_faulty` suspended before any atom ran; return its id."""
    engine = pf.Engine.from_factory(FAULTY, {}, db)
    engine.suspend()
    engine.run()
    assert engine.state == "SUSPENDED"
    return engine.flow_id


@pytest.fixture(scope="module")
def write_counts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """The number of writes `run` and `resume` make for a whole run of `make_faulty` (their
    last write records SUCCESS)."""
    monkeypatch = pytest.MonkeyPatch()
    writes = [0]
    original = SqlStorage.record

    def record(self: SqlStorage, flow_id: str, steps: Sequence[Transition], *version: Any) -> int:
        writes[0] += 1  # `version`: the expected version, and the lease's token
        return original(self, flow_id, steps, *version)

    monkeypatch.setattr(SqlStorage, "record", record)
    try:
        url = f"sqlite:///{tmp_path_factory.mktemp('count') / 'runs.db'}"
        pf.Engine.from_factory(FAULTY, {}, url).run()
        counts = {"run": writes[0]}
        flow_id = suspended_run(url)
        writes[0] = 0
        pf.Engine.resume(url, flow_id, factory=FAULTY).run()
        counts["resume"] = writes[0]
    finally:
        monkeypatch.undo()
    return counts


@pytest.mark.parametrize("position", ["first", "middle", "last"])
@pytest.mark.parametrize("name", list(INJECTED))
@pytest.mark.parametrize("command", ["run", "resume", "run --json"])
def test_an_error_from_the_store_is_one_line_and_exit_2(  # noqa: PLR0917 (parametrized)
    faults: list[Callable[[], None]],
    db: str,
    monkeypatch: pytest.MonkeyPatch,
    write_counts: dict[str, int],
    command: str,
    name: str,
    position: str,
) -> None:
    error = INJECTED[name](db)
    args = ["resume", suspended_run(db)] if command == "resume" else ["run", FAULTY]
    count = write_counts[command.split(maxsplit=1)[0]]
    at = {"first": 1, "middle": count // 2, "last": count}[position]
    failing_write(monkeypatch, at, error)
    result = invoke(*args, "-b", db, *command.split()[1:])
    doing = "resuming" if command == "resume" else "starting"
    assert_stopped(result, doing, str(error), as_json="--json" in command)
    assert "Traceback" not in result.stderr


def test_the_losing_resume_of_a_live_run_is_one_line_and_exit_2(
    faults: list[Callable[[], None]], db: str
) -> None:
    working, finish = threading.Event(), threading.Event()

    def work() -> None:  # the live engine is in its middle task until the test lets it finish
        working.set()
        assert finish.wait(timeout=60)

    faults.append(work)
    live = pf.Engine.from_factory(FAULTY, {}, db)
    thread = threading.Thread(target=live.run)
    thread.start()
    try:
        assert working.wait(timeout=60)
        faults.clear()
        result = invoke("resume", live.flow_id, "-b", db, "--json")
    finally:
        finish.set()
        thread.join(timeout=60)
    assert live.state == "SUCCESS"
    assert result.exit_code == 2, result.output
    line = plain(result.stderr).splitlines()[-1]
    assert line.startswith("provenflow: error: ")
    assert f"run {live.flow_id!r} is owned by engine" in line
    assert json.loads(result.stdout)["error"]["type"] == "RunOwned"
    assert "ended" not in result.stdout
    assert "Traceback" not in result.stderr


def test_a_bug_prints_its_traceback_then_the_line_and_exits_2(
    faults: list[Callable[[], None]], db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_write(monkeypatch, 2, ZeroDivisionError("division by zero"))
    result = invoke("run", FAULTY, "-b", db)
    assert result.exit_code == 2
    last = plain(result.stderr).splitlines()[-1]
    assert STOPPED.match(last), last
    assert "internal error (ZeroDivisionError), please report it: division by zero" in last
    assert "Traceback" in result.stderr
    assert "ended" not in result.stdout


def test_an_interrupted_run_exits_130_and_says_how_to_resume_it(
    faults: list[Callable[[], None]], db: str
) -> None:
    def interrupt() -> None:
        if not resumed:
            raise KeyboardInterrupt  # what Ctrl-C raises in the engine's thread

    resumed: list[bool] = []
    faults.append(interrupt)
    result = invoke("run", FAULTY, "-b", db, "--json")
    assert result.exit_code == 130, result.output
    lines = plain(result.stderr).splitlines()
    assert len(lines) == 2, lines
    assert STOPPED.match(lines[1]), lines[1]
    document = json.loads(result.stdout)
    assert document["error"]["type"] == "KeyboardInterrupt"
    assert lines[1].endswith(
        f"interrupted (Ctrl-C); resume it with `provenflow resume {document['flow_id']}`"
    )
    resumed.append(True)
    again = invoke("resume", document["flow_id"], "-b", db)
    assert again.exit_code == 0, again.output
    assert "flow 'faulty' ended SUCCESS" in again.stdout


def test_a_task_raising_a_storage_error_is_the_flows_own_failure(
    faults: list[Callable[[], None]], db: str
) -> None:
    def refuse() -> None:
        raise StaleVersion("elsewhere", 1, 2)

    faults.append(refuse)
    result = invoke("run", FAULTY, "-b", db)
    assert result.exit_code == 1, result.output
    assert "flow 'faulty' ended REVERTED" in result.stdout
    assert "error: run 'elsewhere': expected version 1, found 2" in result.stdout


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs (root only): skipped when it cannot be mounted, failed under CI=true."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        problem = f"cannot mount a small tmpfs: {done.stderr.strip()} (needs root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem} (CI=true: the disk-full tests must run)")
        pytest.skip(problem)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


def fill(directory: Path) -> Callable[[], None]:
    def fault() -> None:
        with (directory / "filler").open("wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 4096)
                    filler.flush()
            except OSError:
                pass

    return fault


def remount_read_only(directory: Path) -> Callable[[], None]:
    def fault() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)

    return fault


def damage(database: Path) -> Callable[[], None]:
    def fault() -> None:
        for path in database.parent.glob(f"{database.name}*"):
            path.write_bytes(b"\xde\xad\xbe\xef" * (path.stat().st_size // 4 + 1))

    return fault


def advance_the_run(database: Path) -> Callable[[], None]:
    def fault() -> None:  # what another engine's write does to the run's version
        with sqlite3.connect(database) as connection:
            connection.execute("UPDATE provenflow_runs SET version = version + 1")

    return fault


@pytest.mark.parametrize(
    ("store", "fault", "message"),
    [
        ("sqlite", fill, "database or disk is full"),
        ("dir", fill, "No space left on device"),
        ("dir", remount_read_only, "Read-only file system"),
    ],
    ids=["sqlite disk full", "dir disk full", "dir read-only file system"],
)
def test_a_full_or_read_only_file_system_is_one_line_and_exit_2(
    faults: list[Callable[[], None]],
    small_tmpfs: Path,
    store: str,
    fault: Callable[[Path], Callable[[], None]],
    message: str,
) -> None:
    url = f"sqlite:///{small_tmpfs / 'runs.db'}" if store == "sqlite" else f"dir://{small_tmpfs}"
    faults.append(fault(small_tmpfs))
    result = invoke("run", FAULTY, "-b", url)
    assert_stopped(result, "starting", message)


def test_read_only_files_are_one_line_and_exit_2(
    faults: list[Callable[[], None]], tmp_path: Path
) -> None:
    store = tmp_path / "runs"

    def make_read_only() -> None:  # immutable: even root cannot write them
        subprocess.run(["chattr", "-R", "+i", str(store)], check=True)

    probe = tmp_path / "probe"
    probe.touch()
    done = subprocess.run(["chattr", "+i", str(probe)], capture_output=True, text=True, check=False)
    subprocess.run(["chattr", "-i", str(probe)], capture_output=True, check=False)
    if done.returncode != 0:
        problem = f"cannot make a file immutable here: {done.stderr.strip()} (needs root, ext4)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem} (CI=true: the read-only file test must run)")
        pytest.skip(problem)
    faults.append(make_read_only)
    try:
        result = invoke("run", FAULTY, "-b", f"dir://{store}")
    finally:
        subprocess.run(["chattr", "-R", "-i", str(store)], check=True)
    assert_stopped(result, "starting", "Operation not permitted")


@pytest.mark.parametrize(
    ("fault", "message"),
    [(damage, "not an SQLite database, or a damaged one"), (advance_the_run, "another engine")],
    ids=["damaged database", "another engine advanced the run"],
)
@pytest.mark.parametrize("command", ["run", "resume"])
def test_a_damaged_or_contested_sqlite_run_is_one_line_and_exit_2(
    faults: list[Callable[[], None]],
    tmp_path: Path,
    fault: Callable[[Path], Callable[[], None]],
    message: str,
    command: str,
) -> None:
    database = tmp_path / "runs.db"
    url = f"sqlite:///{database}"
    args = ["resume", suspended_run(url)] if command == "resume" else ["run", FAULTY]
    faults.append(fault(database))
    result = invoke(*args, "-b", url)
    assert_stopped(result, "resuming" if command == "resume" else "starting", message)


def test_an_unreachable_server_is_one_line_and_exit_2(
    faults: list[Callable[[], None]],
    postgres_url: str,  # noqa: F811 (the fixture)
) -> None:
    with Proxy(postgres_url) as proxy:
        faults.append(proxy.cut)
        result = invoke("run", FAULTY, "-b", proxy.url, "--json")
    assert_stopped(result, "starting", "cannot", as_json=True)


def insert_step(database: Path, flow_id: str, **row: Any) -> None:
    """Append a transition to run `flow_id` behind the store's back (as a hand edit would)."""
    with sqlite3.connect(database) as connection:
        (seq,) = connection.execute(
            "SELECT max(seq) FROM provenflow_transitions WHERE flow_id = ?", (flow_id,)
        ).fetchone()
        columns = {"flow_id": flow_id, "seq": seq + 1, "attempt": 1, "at": 0.0, **row}
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        connection.execute(
            f"INSERT INTO provenflow_transitions ({names}) VALUES ({marks})",
            tuple(columns.values()),
        )
        connection.execute("UPDATE provenflow_runs SET version = version + 1")


@pytest.mark.parametrize("as_json", [False, True])
def test_an_impossible_recorded_sequence_is_one_line_and_exit_2(
    faults: list[Callable[[], None]], tmp_path: Path, as_json: bool
) -> None:
    database = tmp_path / "runs.db"
    flow_id = suspended_run(f"sqlite:///{database}")
    step = {"old_state": "REVERTING", "event": "reverted", "new_state": "REVERTED"}
    insert_step(database, flow_id, atom="first", lifecycle="task", **step)
    result = invoke("resume", flow_id, "-b", f"sqlite:///{database}", *["--json"] * as_json)
    assert result.exit_code == 2, result.output
    (line,) = plain(result.stderr).splitlines()
    assert line == (
        "provenflow: error: the run's record holds a sequence its lifecycle forbids: "
        "task 'first' in flow 'faulty': cannot 'reverted' from PENDING (allowed: ignore, start)"
    )
    if as_json:
        assert json.loads(result.stdout)["error"]["type"] == "IllegalTransition"
    else:
        assert result.stdout == ""


@pytest.mark.parametrize("command", ["resume", "history"])
def test_a_corrupt_record_is_one_line_and_exit_2(
    faults: list[Callable[[], None]], tmp_path: Path, command: str
) -> None:
    database = tmp_path / "runs.db"
    flow_id = suspended_run(f"sqlite:///{database}")
    step = {"old_state": "RUNNING", "event": "succeed", "new_state": "SUCCESS"}
    insert_step(database, flow_id, atom="first", lifecycle="task", result="{not json", **step)
    result = invoke(command, flow_id, "-b", f"sqlite:///{database}", "--json")
    assert result.exit_code == 2, result.output
    (line,) = plain(result.stderr).splitlines()
    assert line.startswith("provenflow: error: ")
    assert flow_id in line
    assert json.loads(result.stdout)["error"]["type"] == "CorruptRecord"
