"""provenflow side of the benchmark: one case at one size, printed as JSON on stdout.

Run by `bench/run.py` in a fresh interpreter with the repository root on `PYTHONPATH`, or by hand:

    PYTHONPATH=. python3 bench/provenflow_cases.py --case linear --n 1000

Written against the public API only: `pf.Task` subclasses named one by one, `pf.LinearFlow` /
`pf.UnorderedFlow` / `pf.GraphFlow` with `.add(*tasks)` and `.link(a, b)`, `pf.Engine(flow,
backend=..., executor=..., flow_id=...)` with `.run()`, `.state`, `.atom_state(name)` and
`.flow_id`, `pf.Engine.load(flow, backend, flow_id)`, and `provenflow.persistence.open_storage`.

- linear: a `LinearFlow` of N no-op tasks on the `serial` executor, in memory;
- unordered: an `UnorderedFlow` of N no-op tasks on the `threads` executor, in memory;
- diamond: a `GraphFlow` source -> N/2 middle tasks -> sink, ordered by `link`, on `threads`;
- sqlite: the linear case on a fresh SQLite file (`sqlite:////tmp/.../runs.db`: WAL,
  `synchronous=NORMAL`, provenflow's default), opened before the run and deleted after it;
- sqlite-full: the same with `?synchronous=full` (a sync to disk on every commit);
- postgresql: the linear case on a fresh schema of the server at `PROVENFLOW_BENCH_POSTGRES_URL`
  (default `postgresql://postgres@127.0.0.1:5432/test`), reached through
  `?options=-csearch_path%3D<schema>`, created before the run and dropped after it;
- resume: a linear run of N tasks on a fresh SQLite file, killed at the half-way point, then
  resumed in fresh processes (see `measure_resume`).

If provenflow or a name the cases need is missing, the JSON says so (`available: false`) and
carries no timings: the report then says the engine is not available. If the PostgreSQL server
cannot be reached, the postgresql case says so (`case_unavailable: true`).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import _measure

NEEDED = ("Task", "LinearFlow", "UnorderedFlow", "GraphFlow", "Engine")
EXECUTORS = {"linear": "serial", "unordered": "threads", "diamond": "threads"}
SQLITE_QUERY = {"sqlite": "", "sqlite-full": "?synchronous=full"}
POSTGRES_URL = os.environ.get(
    "PROVENFLOW_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TEMP_PREFIX = "provenflow-bench-"
SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}  # PRAGMA synchronous's values

CRASH_EXIT = 17  # the exit status of the process killed at the half-way point
RESUME_TRIES = 3  # resumes measured, each in a fresh process on its own copy of the crashed file
CHILD_TIMEOUT = 300.0


class Provenflow:
    """The provenflow cases, over an imported `provenflow` module."""

    def __init__(self, pf: Any) -> None:
        self.pf = pf
        self._admin: Any = None  # a SQLAlchemy engine on the PostgreSQL server, made on first use
        self._details: dict[str, Any] = {}

        class NoopTask(pf.Task):  # type: ignore[misc]
            """A task that does nothing, so what is measured is the engine."""

            def execute(self) -> None:
                _measure.noop()

        self.task = NoopTask

    # -- stores ------------------------------------------------------------------------------

    def fresh_store(self, case: str) -> contextlib.AbstractContextManager[Any]:
        if case in SQLITE_QUERY:
            return self._sqlite(SQLITE_QUERY[case])
        if case == "postgresql":
            return self._postgresql()
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _sqlite(self, query: str) -> Iterator[Any]:
        from provenflow.persistence import open_storage  # noqa: PLC0415

        directory = tempfile.mkdtemp(prefix=TEMP_PREFIX)
        try:
            storage = open_storage(f"sqlite:///{directory}/runs.db{query}")
            try:
                if not self._details:
                    self._details = sqlite_settings(storage)
                yield storage
            finally:
                storage.close()
        finally:
            shutil.rmtree(directory)

    @contextlib.contextmanager
    def _postgresql(self) -> Iterator[Any]:
        from provenflow.persistence import open_storage  # noqa: PLC0415

        sa = self._sqlalchemy()
        admin = self._postgres_admin()
        schema = f"pf_bench_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            separator = "&" if "?" in POSTGRES_URL else "?"
            storage = open_storage(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")
            try:
                yield storage
            finally:
                storage.close()
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))

    def _sqlalchemy(self) -> Any:
        try:
            return importlib.import_module("sqlalchemy")
        except ImportError as error:
            raise _measure.Unavailable(f"SQLAlchemy is not installed ({error})") from error

    def _postgres_admin(self) -> Any:
        """Return an engine on the server, after checking it answers; `Unavailable` if not."""
        if self._admin is None:
            sa = self._sqlalchemy()
            url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
            try:
                admin = sa.create_engine(
                    url, connect_args={"connect_timeout": 5}, poolclass=sa.NullPool
                )
                with admin.connect() as conn:
                    server = conn.execute(sa.text("SHOW server_version")).scalar()
                    sync = conn.execute(sa.text("SHOW synchronous_commit")).scalar()
            except Exception as error:  # any reason at all: report it
                text = str(error).strip().splitlines()
                reason = text[0] if text else repr(error)
                raise _measure.Unavailable(
                    f"PostgreSQL at {POSTGRES_URL} is unreachable: {reason}"
                ) from error
            self._admin = admin
            self._details = {"server": f"PostgreSQL {server}", "synchronous_commit": sync}
        return self._admin

    # -- the cases -----------------------------------------------------------------------------

    def build(self, case: str, names: list[str]) -> Any:
        tasks = [self.task(name=name) for name in names]
        if case == "unordered":
            return self.pf.UnorderedFlow("unordered").add(*tasks)
        if case == "diamond":
            source, *middles, sink = tasks
            flow = self.pf.GraphFlow("diamond").add(*tasks)
            for middle in middles:
                flow.link(source, middle)
                flow.link(middle, sink)
            return flow
        return self.pf.LinearFlow("linear").add(*tasks)

    def run(self, case: str, names: list[str], store: Any) -> object:
        flow = self.build(case, names)
        engine = self.pf.Engine(flow, backend=store, executor=EXECUTORS.get(case, "serial"))
        engine.run()
        return engine

    def check(self, engine: Any, names: list[str], store: Any) -> None:
        if engine.state != "SUCCESS":
            raise RuntimeError(f"the flow ended {engine.state}, not SUCCESS")
        for name in names:
            state = engine.atom_state(name)
            if state != "SUCCESS":
                raise RuntimeError(f"task {name!r} ended {state}, not SUCCESS")
        if store is not None:
            check_recorded(store, engine.flow_id, names)

    def details(self, case: str) -> dict[str, Any]:
        return dict(self._details)


def sqlite_settings(storage: Any) -> dict[str, Any]:
    """Return the journal mode and synchronous setting a provenflow SQLite store runs with.

    Read through the store's private SQLAlchemy engine, only to report what was measured.
    """
    raw = storage._engine.raw_connection()
    try:
        cursor = raw.cursor()
        journal = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = cursor.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        raw.close()
    return {"journal_mode": journal, "synchronous": SYNCHRONOUS_NAMES.get(synchronous, synchronous)}


def last_states(transitions: list[Any]) -> tuple[str | None, dict[str, str]]:
    """Return the flow's last recorded state and each atom's, from a run's transitions."""
    flow: str | None = None
    atoms: dict[str, str] = {}
    for transition in transitions:
        if transition.atom is None:
            if transition.lifecycle == "flow":
                flow = transition.new_state
        else:
            atoms[transition.atom] = transition.new_state
    return flow, atoms


def check_recorded(storage: Any, flow_id: str, names: list[str]) -> None:
    """Raise `RuntimeError` unless `storage` holds the run as SUCCESS, every task SUCCESS."""
    _info, transitions, _version = storage.load(flow_id)
    flow, atoms = last_states(transitions)
    if flow != "SUCCESS":
        raise RuntimeError(f"the store holds the flow as {flow}, not SUCCESS")
    wrong = [name for name in names if atoms.get(name) != "SUCCESS"]
    if wrong:
        raise RuntimeError(f"the store does not hold {len(wrong)} tasks as SUCCESS: {wrong[:3]}")


# --- resume after a crash at the half-way point -------------------------------------------------

_crash_at: list[str] = []  # the task that kills its process (set in the crashing process only)
_executed: list[str] = []  # the tasks executed in this process, in order
_first_execute: list[float] = []  # time.perf_counter() when the first of them started


def _resume_task_class(pf: Any) -> Any:
    class ResumeTask(pf.Task):  # type: ignore[misc]
        """A no-op task that notes when it runs; `_crash_at` kills the process with no cleanup."""

        def execute(self) -> None:
            if not _first_execute:
                _first_execute.append(time.perf_counter())
            _executed.append(self.name)
            if self.name in _crash_at:
                os._exit(CRASH_EXIT)  # as a killed process: nothing flushed, nothing closed

    return ResumeTask


def _linear_flow(pf: Any, names: list[str]) -> Any:
    task = _resume_task_class(pf)
    return pf.LinearFlow("linear").add(*(task(name=name) for name in names))


def _crash_child(url: str, flow_id: str, n: int) -> int:
    """Run N tasks on `url` until the task at N/2 kills the process; exit 0 if it did not."""
    import provenflow as pf  # noqa: PLC0415

    names = _measure.task_names("linear", n)
    _crash_at.append(names[n // 2])
    pf.Engine(_linear_flow(pf, names), backend=url, flow_id=flow_id).run()
    return 0


def _resume_child(url: str, flow_id: str, n: int) -> int:
    """Resume the crashed run and print its timings as JSON: from the start of the resume
    (rebuilding the flow) to the first task's execute, in steps, then the rest of the run."""
    import provenflow as pf  # noqa: PLC0415
    from provenflow.persistence import open_storage  # noqa: PLC0415

    names = _measure.task_names("linear", n)
    start = time.perf_counter()
    flow = _linear_flow(pf, names)
    built = time.perf_counter()
    storage = open_storage(url)  # SQLAlchemy is imported here, on first use: counted
    opened = time.perf_counter()
    engine = pf.Engine.load(flow, storage, flow_id)
    loaded = time.perf_counter()
    engine.run()
    end = time.perf_counter()
    if not _first_execute:
        raise RuntimeError("the resumed run executed no task")
    first = _first_execute[0]
    if engine.state != "SUCCESS":
        raise RuntimeError(f"the resumed flow ended {engine.state}, not SUCCESS")
    if _executed != names[n // 2 :]:
        raise RuntimeError(
            f"the resume executed {len(_executed)} tasks from {_executed[:1]}, not the "
            f"{n - n // 2} from {names[n // 2]!r}"
        )
    check_recorded(storage, flow_id, names)
    storage.close()
    timings = {
        "build": built - start,
        "open": opened - built,
        "load": loaded - opened,
        "until_execute": first - loaded,
        "to_first_task": first - start,
        "rest": end - first,
        "executed": len(_executed),
    }
    print(json.dumps(timings), flush=True)
    return 0


def _child(role: str, url: str, flow_id: str, n: int, env: dict[str, str]) -> tuple[int, str]:
    command = [sys.executable, __file__, "--role", role, "--url", url, "--flow-id", flow_id]
    command += ["--n", str(n)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=env, check=False
    )
    if done.returncode not in (0, CRASH_EXIT):
        tail = " ".join(done.stderr.strip().splitlines()[-2:])
        raise RuntimeError(f"the {role} process exited {done.returncode}: {tail}")
    return done.returncode, done.stdout


def measure_resume(library: _measure.Library, case: str, n: int) -> dict[str, Any]:
    """Crash a run of N tasks at the half-way point on a fresh SQLite file, then resume it.

    A child process runs the linear flow on the file; the task at N/2 calls `os._exit`, so the
    process dies as a killed one would, its RUNNING recorded and nothing closed. The file (with
    its WAL) is copied `RESUME_TRIES` times, and each copy is resumed in a fresh process:
    rebuild the flow, open the store, `Engine.load`, `run()`. What is timed there is the start
    of the resume to the first execute of a task (the one the crash interrupted), and the rest.
    """
    del library, case
    crash_at = n // 2
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as directory:
        crashed = Path(directory) / "crashed.db"
        url = f"sqlite:///{crashed}"
        flow_id = f"bench-{uuid.uuid4().hex[:8]}"
        status, _ = _child("crash", url, flow_id, n, env)
        if status != CRASH_EXIT:
            raise RuntimeError(f"the crashing run ended with exit {status}, without crashing")
        copies = []
        for attempt in range(RESUME_TRIES):
            copy = Path(directory) / f"resume-{attempt}.db"
            for suffix in ("", "-wal", "-shm"):
                left = Path(f"{crashed}{suffix}")
                if left.exists():
                    shutil.copyfile(left, f"{copy}{suffix}")
            copies.append(f"sqlite:///{copy}")
        done = _crashed_state(url, flow_id, n)
        tries = []
        for copy_url in copies:
            _, out = _child("resume", copy_url, flow_id, n, env)
            tries.append(json.loads(out.strip().splitlines()[-1]))
    return {"ok": True, "crash_at": crash_at, "crash_exit": status, **done, "tries": tries}


def _crashed_state(url: str, flow_id: str, n: int) -> dict[str, Any]:
    """Read what the killed run left: tasks done, the task it was running, the WAL's size."""
    from provenflow.persistence import open_storage  # noqa: PLC0415

    names = _measure.task_names("linear", n)
    wal = Path(url.removeprefix("sqlite:///") + "-wal")
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    storage = open_storage(url)
    try:
        _info, transitions, version = storage.load(flow_id)
    finally:
        storage.close()
    flow, atoms = last_states(transitions)
    done = sum(1 for state in atoms.values() if state == "SUCCESS")
    running = [name for name, state in atoms.items() if state == "RUNNING"]
    if flow != "RUNNING" or done != n // 2 or running != [names[n // 2]]:
        raise RuntimeError(
            f"the killed run left the flow {flow}, {done} tasks done and {running} running, "
            f"not RUNNING, {n // 2} done and [{names[n // 2]!r}] running"
        )
    return {"done_before_crash": done, "transitions_before_crash": version, "wal_bytes": wal_bytes}


# --- loading and versions ---------------------------------------------------------------------


def load() -> Provenflow:
    """Import provenflow; raise `_measure.Unavailable` if it or a needed name is missing."""
    try:
        pf = importlib.import_module("provenflow")
    except Exception as error:
        raise _measure.Unavailable(f"cannot import provenflow: {error}") from error
    missing = [name for name in NEEDED if not hasattr(pf, name)]
    if missing:
        version = getattr(pf, "__version__", "?")
        raise _measure.Unavailable(f"provenflow {version} has no {', '.join(missing)} yet")
    return Provenflow(pf)


def versions() -> dict[str, str]:
    """Return the versions that matter on this side; never raises."""
    found = {"python": platform.python_version()}
    try:
        found["provenflow"] = str(importlib.import_module("provenflow").__version__)
    except Exception as error:
        found["provenflow"] = f"not importable ({type(error).__name__})"
    for package in ("networkx", "transitions", "sqlalchemy", "psycopg"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["SQLite"] = sqlite3.sqlite_version
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--role"]:  # a child of the resume case
        role, url, flow_id, n = args[1], args[3], args[5], int(args[7])
        return _crash_child(url, flow_id, n) if role == "crash" else _resume_child(url, flow_id, n)
    return _measure.main(
        args,
        library_name="provenflow",
        load=load,
        versions=versions,
        bare_loop=True,
        custom={"resume": measure_resume},
    )


if __name__ == "__main__":
    sys.exit(main())
