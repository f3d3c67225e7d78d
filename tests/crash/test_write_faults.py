"""A store error ends the engine: a fault at every write of a run, on SQLite, dir and PostgreSQL.

For each flow, run on the serial executor (so a run makes the same writes every time), and for
every N from 1 to the number of `record()` calls a run makes, a `FaultyStorage`
(tests/helpers.py) makes the Nth call raise, in a process that lives on: a `StaleVersion`, a
`StorageUnavailable` or any other exception (in turn) before anything is written, and a
`StorageUnavailable` after the write landed (a connection lost before the commit's answer).
The faults before a write leave every prefix of the record but the whole one, which the fault
after the last write leaves: on dir and PostgreSQL those are tried, and on SQLite a fault
after every write too (what the engine did before it stopped differs, not what a store does).
Then:

1. the call raises that very fault, and the engine is stopped: `state` and `atom_state()`
   answer UNKNOWN (never SUCCESS), and `run()`, `run_iter()`, `run_async()` and `results()`
   each raise `EngineStopped` without using the store in any way or running any task;
2. the run is loaded again through a new store object, as a new process would, and run to its
   end, which must be the flow's own outcome;
3. the whole record and the tasks' journal of side effects pass every invariant of
   `tests.crash.invariants`, the stopped engine counting as a process that died: only table
   transitions, nothing left open, nothing recorded done executed again, reverts in order, and
   the side effects in place exactly those the record says are done.

Two real faults are checked the same way, each provoked by a task between its side effect and
the record of its outcome: a PostgreSQL connection cut by `pg_terminate_backend`, and on SQLite
and dir a write the filesystem refuses (`EFBIG` from a file size limit, as a full disk refuses
with `ENOSPC`), lifted as soon as that write failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import load_factory
from provenflow.errors import EngineStopped, StaleVersion, StorageUnavailable
from provenflow.persistence import MemoryStorage, Storage, Transition, open_storage
from tests.crash.conftest import sqlite_url
from tests.crash.flows import CASES, HARNESS, AttemptTracker, Case, Step, read_journal
from tests.crash.harness import Round, Run, close
from tests.crash.invariants import assert_consistent
from tests.helpers import FaultyStorage, Untouchable

FLOWS = ["retry", "retry_gives_up", "revert_all"]
"""A retry that recovers; a linear flow whose retry gives up and is reverted; two unordered
branches, one failing, reverted whole."""
LEASE_TTL = 0.5
"""The engines' lease: when the store refuses every write, the stopped engine cannot give its
lease back either, and the run is taken over only once that lease has expired."""


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A directory for the stores and journals of the exhaustive test: on a memory file system
    where there is one (/dev/shm), since its faults are raised, not suffered, and a disk's
    flushes would only cost time; `tmp_path` otherwise."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    directory = Path(tempfile.mkdtemp(prefix="provenflow-faults-", dir=shm))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["sqlite", "dir", "postgresql"])
def store_url(request: pytest.FixtureRequest, workdir: Path) -> str:
    """A URL to an empty store: an SQLite file, a directory, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        return sqlite_url(workdir)
    if request.param == "dir":
        return f"dir://{workdir.resolve() / 'runs'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def faults(url: str, n: int, after: bool) -> list[tuple[Exception, bool]]:
    """The faults tried at the Nth write: one raised before it (in turn a refused write, an
    unreachable store, a store's own bug) and, when `after`, one raised after it landed."""
    before: list[Exception] = [
        StaleVersion("the run", n - 1, n),
        StorageUnavailable(url, "cannot record transitions: connection refused"),
        RuntimeError("the store's own bug"),
    ]
    lost = StorageUnavailable(url, "cannot record transitions: connection lost at commit")
    return [(before[n % len(before)], False), *([(lost, True)] if after else [])]


@dataclass
class Fault:
    """One run cut by a fault: its id, journal, and the engine that was stopped."""

    case: Case
    flow_id: str
    journal: Path
    engine: pf.Engine
    where: str


def writes_of(case: Case, workdir: Path) -> int:
    """How many `record()` calls a run of `case` makes on the serial executor, without fault."""
    storage = FaultyStorage(MemoryStorage(), None, RuntimeError("never"))
    HARNESS.reset(workdir / "count.jsonl", 0)
    engine = pf.Engine.from_factory(case.factory, backend=storage, executor="serial")
    with contextlib.suppress(Exception):
        engine.run()
    return storage.writes


def start_with_fault(
    case: Case, workdir: Path, storage: FaultyStorage, where: str
) -> tuple[Fault, BaseException]:
    """Start a run of `case` on `storage`, run it until its fault, and return it with the
    exception `run()` raised."""
    flow_id = uuid.uuid4().hex
    journal = workdir / f"journal-{flow_id}.jsonl"
    HARNESS.reset(journal, 0)
    engine = pf.Engine.from_factory(
        case.factory,
        backend=storage,
        executor="serial",
        flow_id=flow_id,
        listeners=[AttemptTracker()],
        lease_ttl=LEASE_TTL,
    )
    with pytest.raises(BaseException) as raised:
        engine.run()
    return Fault(case, flow_id, journal, engine, where), raised.value


def assert_stopped(fault: Fault, reader: Storage, storage: FaultyStorage) -> None:
    """The engine refuses every way of going on: nothing is written through `storage` (its
    store), nor executed (the record read through `reader`, a store object of its own)."""
    engine = fault.engine
    assert engine.state == "UNKNOWN", fault.where
    assert engine.atom_state("a") == "UNKNOWN", fault.where
    assert isinstance(engine.stopped, EngineStopped), fault.where
    assert f"a write to {engine.storage.url} failed" in engine.stopped.reason, fault.where
    history, journal = reader.load(fault.flow_id), read_journal(fault.journal)
    writes, inner, storage.inner = storage.writes, storage.inner, Untouchable()
    try:
        for go_on in (engine.run, lambda: next(engine.run_iter()), engine.results):
            with pytest.raises(EngineStopped, match="this engine is stopped"):
                go_on()
        with pytest.raises(EngineStopped):
            asyncio.run(engine.run_async())
    finally:
        storage.inner = inner
    assert storage.writes == writes, f"{fault.where}: a stopped engine wrote"
    assert reader.load(fault.flow_id) == history, fault.where
    assert read_journal(fault.journal) == journal, f"{fault.where}: a stopped engine ran a task"


def finish_and_check(fault: Fault, storage: Storage) -> None:
    """Load the run again through `storage` (a store object the stopped engine never used,
    as a new process has), run it to its end, and check the whole run."""
    stopped_at = len(storage.load(fault.flow_id)[1])
    deadline = time.monotonic() + 30

    def lease_held() -> bool:
        leases, now = storage.leases()
        return fault.flow_id in leases and leases[fault.flow_id].live(now)

    while lease_held():  # the stopped engine could not give its lease back: it must expire
        assert time.monotonic() < deadline, f"{fault.where}: the lease never expired"
        time.sleep(0.05)
    HARNESS.reset(fault.journal, 1)
    flow = load_factory(fault.case.factory)()
    engine = pf.Engine.load(flow, storage, fault.flow_id, listeners=[AttemptTracker()])
    with contextlib.suppress(Exception):  # a flow that fails raises its failure
        engine.run()
    assert engine.state == fault.case.outcome, fault.where
    history = storage.load(fault.flow_id)[1]
    rounds = [Round(0, fault.where, True, stopped_at), Round(1, None, False, len(history))]
    assert_consistent(Run(fault.case, fault.flow_id, rounds, history, read_journal(fault.journal)))


@pytest.mark.slow
@pytest.mark.parametrize("case_name", FLOWS)
def test_a_fault_at_any_write_stops_the_engine_and_a_reload_ends_the_run_consistently(
    case_name: str, store_url: str, workdir: Path
) -> None:
    case = CASES[case_name]
    writes = writes_of(case, workdir)
    with opened(store_url) as first, opened(store_url) as second:  # two processes' stores
        for n in range(1, writes + 1):
            after = n == writes or store_url.startswith("sqlite:")
            for exception, landed in faults(store_url, n, after):
                where = f"write {n} of {case_name}: {type(exception).__name__}, landed={landed}"
                storage = FaultyStorage(first, n, exception, landed=landed)
                fault, raised = start_with_fault(case, workdir, storage, where)
                assert raised is exception, f"{where}: run() raised {raised!r}"
                assert_stopped(fault, second, storage)
                finish_and_check(fault, second)


@contextlib.contextmanager
def opened(url: str) -> Iterator[Storage]:
    """A store object on `url`, closed after."""
    storage = open_storage(url)
    try:
        yield storage
    finally:
        close(storage)


# -- real faults ----------------------------------------------------------------------------


class Cut(Step):
    """A step that, after its side effect, has the store's next write fail for real (once
    per run: in round 0), by calling what the test put in `CUT`."""

    def execute(self) -> str:
        result = super().execute()
        if HARNESS.round == 0 and CUT:
            CUT[0]()
        return result


CUT: list[Callable[[], None]] = []
"""What `Cut` does to the store, set by the test that runs it."""


def make_cut() -> pf.Flow:
    """a, then b, which cuts the store after its side effect, then c."""
    return pf.LinearFlow("cut").add(Step("a"), Cut("b"), Step("c"))


CUT_CASE = Case("cut", "tests.crash.test_write_faults:make_cut", "serial", "SUCCESS")


@contextlib.contextmanager
def cutting(action: Callable[[], None]) -> Iterator[None]:
    CUT.append(action)
    try:
        yield
    finally:
        CUT.clear()


def test_a_postgresql_connection_cut_under_the_engine_stops_it(
    postgres_url: str, tmp_path: Path
) -> None:
    import psycopg  # noqa: PLC0415

    name = f"pf_cut_{uuid.uuid4().hex[:12]}"
    engine_url = f"{postgres_url}&application_name={name}"
    admin_url = postgres_url.split("?", maxsplit=1)[0]

    def terminate() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            ended = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            ).fetchall()
            assert ended and all(row[0] for row in ended), ended
            for _ in range(1000):  # until the server has closed them: at most 10 s
                if not conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (name,)
                ).fetchone():
                    return
                conn.execute("SELECT pg_sleep(0.01)")
            raise AssertionError(f"the connections of {name} were not closed in 10 s")

    storage = FaultyStorage(open_storage(engine_url), None, RuntimeError("never"))
    try:
        with cutting(terminate):
            fault, raised = start_with_fault(CUT_CASE, tmp_path, storage, "connection terminated")
    finally:
        close(storage.inner)
    assert isinstance(raised, StorageUnavailable), raised
    assert "the connection is lost" in str(raised), raised
    assert [e.atom for e in read_journal(fault.journal)] == ["a", "b"]
    with opened(postgres_url) as second:
        assert_stopped(fault, second, storage)
        finish_and_check(fault, second)


class FullForOneWrite(FaultyStorage):
    """A store whose files may not grow while `refuse_writes()` is in force: until the end of
    its next `record()` (the disk was full for that one write, then space was freed)."""

    def __init__(self, inner: Storage) -> None:
        super().__init__(inner, None, RuntimeError("never"))
        self.limits = resource.getrlimit(resource.RLIMIT_FSIZE)

    def refuse_writes(self) -> None:
        """Make every write past a file's first byte fail with EFBIG, as ENOSPC would."""
        resource.setrlimit(resource.RLIMIT_FSIZE, (1, self.limits[1]))

    def lift(self) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, self.limits)

    def record(self, flow_id: str, transitions: Sequence[Transition], *version: Any) -> int:
        try:
            return super().record(flow_id, transitions, *version)
        finally:
            self.lift()


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
def test_a_file_write_the_filesystem_refuses_stops_the_engine(kind: str, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path) if kind == "sqlite" else f"dir://{tmp_path.resolve() / 'runs'}"
    storage = FullForOneWrite(open_storage(url))
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a killed process
    try:
        with cutting(storage.refuse_writes):
            fault, raised = start_with_fault(CUT_CASE, tmp_path, storage, "file too large")
    finally:
        storage.lift()
        signal.signal(signal.SIGXFSZ, previous)
        close(storage.inner)
    assert isinstance(raised, StorageUnavailable), raised
    assert ("disk I/O error" if kind == "sqlite" else "File too large") in str(raised), raised
    assert [e.atom for e in read_journal(fault.journal)] == ["a", "b"]
    with opened(url) as second:
        assert_stopped(fault, second, storage)
        finish_and_check(fault, second)
