"""TaskFlow side of the benchmark: one case at one size, printed as JSON on stdout.

Run by `bench/run.py` with the interpreter of `bench/.venv-taskflow` (TaskFlow 6.5.0 from PyPI),
or by hand:

    bench/.venv-taskflow/bin/python bench/taskflow_cases.py --case linear --n 100

The same shapes as `provenflow_cases.py`, with TaskFlow's own API and its default in-memory
storage:

- linear: a `linear_flow.Flow` of N no-op `Task` subclasses on the `serial` engine;
- unordered: an `unordered_flow.Flow` of N on the `parallel` engine with `executor="threads"`;
- diamond: a `graph_flow.Flow` source -> N/2 middle tasks -> sink, ordered by `link`, on the
  `parallel` engine with `executor="threads"`;
- sqlite: the linear case on TaskFlow's SQLAlchemy persistence backend over a fresh SQLite file,
  as in TaskFlow's `persistence_example.py`: `backends.fetch({"connection":
  "sqlite:////tmp/.../runs.db"})` and its schema made (`upgrade()`) before the run, then
  `engines.load(flow, engine="serial", backend=backend, book=LogBook(...))` and `run()`; the
  file is deleted after. This needs SQLAlchemy and alembic in the virtual environment.
"""

from __future__ import annotations

import contextlib
import importlib
import platform
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import _measure

CASES = ("linear", "unordered", "diamond", "sqlite")
SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}  # PRAGMA synchronous's values

ENGINES: dict[str, dict[str, str]] = {
    "linear": {"engine": "serial"},
    "unordered": {"engine": "parallel", "executor": "threads"},
    "diamond": {"engine": "parallel", "executor": "threads"},
}


class TaskFlow:
    """The TaskFlow cases, over the imported `taskflow` modules."""

    def __init__(self) -> None:
        self.engines = importlib.import_module("taskflow.engines")
        self.models = importlib.import_module("taskflow.persistence.models")
        self.patterns = {
            case: importlib.import_module(f"taskflow.patterns.{case}_flow")
            for case in ("linear", "unordered", "graph")
        }
        task = importlib.import_module("taskflow.task")

        class NoopTask(task.Task):  # type: ignore[misc, name-defined]
            """A task that does nothing, so what is measured is the engine."""

            def execute(self) -> None:
                _measure.noop()

        self.task = NoopTask
        self._details: dict[str, Any] = {}

    def fresh_store(self, case: str) -> contextlib.AbstractContextManager[Any]:
        if case == "sqlite":
            return self._sqlite()
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _sqlite(self) -> Iterator[Any]:
        try:
            backends = importlib.import_module("taskflow.persistence.backends")
            importlib.import_module("taskflow.persistence.backends.impl_sqlalchemy")
        except ImportError as error:
            raise _measure.Unavailable(
                f"TaskFlow's SQLAlchemy backend cannot be imported ({error})"
            ) from error
        directory = tempfile.mkdtemp(prefix="taskflow-bench-")
        try:
            backend = backends.fetch({"connection": f"sqlite:///{directory}/runs.db"})
            try:
                with contextlib.closing(backend.get_connection()) as conn:
                    conn.upgrade()
                if not self._details:
                    self._details = self._sqlite_settings(backend)
                yield backend
            finally:
                backend.close()
        finally:
            shutil.rmtree(directory)

    def _sqlite_settings(self, backend: Any) -> dict[str, Any]:
        """Return the journal mode and synchronous setting TaskFlow's SQLite connections use."""
        with backend.engine.connect() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        return {"journal_mode": journal, "synchronous": SYNCHRONOUS_NAMES.get(synchronous)}

    def run(self, case: str, names: list[str], store: Any) -> object:
        tasks = [self.task(name=name) for name in names]
        if case == "diamond":
            source, *middles, sink = tasks
            flow = self.patterns["graph"].Flow("diamond").add(*tasks)
            for middle in middles:
                flow.link(source, middle)
                flow.link(middle, sink)
        elif case == "sqlite":
            flow = self.patterns["linear"].Flow("linear").add(*tasks)
        else:
            flow = self.patterns[case].Flow(case).add(*tasks)
        if store is None:
            engine = self.engines.load(flow, **ENGINES[case])
        else:
            book = self.models.LogBook("bench")
            engine = self.engines.load(flow, backend=store, book=book, **ENGINES["linear"])
            engine.bench_book = book
        engine.run()
        return engine

    def check(self, engine: Any, names: list[str], store: Any) -> None:
        state = engine.storage.get_flow_state()
        if state != "SUCCESS":
            raise RuntimeError(f"the flow ended {state}, not SUCCESS")
        for name in names:
            state = engine.storage.get_atom_state(name)
            if state != "SUCCESS":
                raise RuntimeError(f"task {name!r} ended {state}, not SUCCESS")
        if store is not None:
            self._check_recorded(store, engine.bench_book.uuid, names)

    def _check_recorded(self, backend: Any, book_id: str, names: list[str]) -> None:
        """Raise unless the backend, read afresh, holds the flow and every task as SUCCESS."""
        with contextlib.closing(backend.get_connection()) as conn:
            details = list(conn.get_logbook(book_id))
        if len(details) != 1 or details[0].state != "SUCCESS":
            found = [detail.state for detail in details]
            raise RuntimeError(f"the backend holds flow states {found}, not one SUCCESS")
        atoms = {atom.name: atom.state for atom in details[0]}
        wrong = [name for name in names if atoms.get(name) != "SUCCESS"]
        if wrong:
            raise RuntimeError(f"the backend does not hold {len(wrong)} tasks as SUCCESS")

    def details(self, case: str) -> dict[str, Any]:
        return dict(self._details)


def load() -> TaskFlow:
    """Import TaskFlow; raise `_measure.Unavailable` if it cannot be imported."""
    try:
        return TaskFlow()
    except ImportError as error:
        raise _measure.Unavailable(f"cannot import taskflow: {error}") from error


def versions() -> dict[str, str]:
    """Return the versions that matter on this side; never raises."""
    found = {"python": platform.python_version()}
    for package in ("taskflow", "networkx", "futurist", "automaton", "sqlalchemy", "alembic"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["SQLite"] = sqlite3.sqlite_version
    return found


if __name__ == "__main__":
    sys.exit(
        _measure.main(
            None,
            library_name="taskflow",
            load=load,
            versions=versions,
            bare_loop=False,
            cases=CASES,
        )
    )
