"""TaskFlow side of the benchmark: one case at one size, printed as JSON on stdout.

Run by `bench/run.py` with the interpreter of `bench/.venv-taskflow` (TaskFlow 6.5.0 from PyPI),
or by hand:

    bench/.venv-taskflow/bin/python bench/taskflow_cases.py --case linear --n 100

The same shapes as `provenflow_cases.py`, with TaskFlow's own API and its default in-memory
storage:

- linear: a `linear_flow.Flow` of N no-op `Task` subclasses on the `serial` engine;
- unordered: an `unordered_flow.Flow` of N on the `parallel` engine with `executor="threads"`;
- diamond: a `graph_flow.Flow` source -> N/2 middle tasks -> sink, ordered by `link`, on the
  `parallel` engine with `executor="threads"`.
"""

from __future__ import annotations

import importlib
import platform
import sys
from importlib import metadata
from typing import Any

import _measure

ENGINES: dict[str, dict[str, str]] = {
    "linear": {"engine": "serial"},
    "unordered": {"engine": "parallel", "executor": "threads"},
    "diamond": {"engine": "parallel", "executor": "threads"},
}


class TaskFlow:
    """The TaskFlow cases, over the imported `taskflow` modules."""

    def __init__(self) -> None:
        self.engines = importlib.import_module("taskflow.engines")
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

    def run(self, case: str, names: list[str]) -> object:
        tasks = [self.task(name=name) for name in names]
        if case == "diamond":
            source, *middles, sink = tasks
            flow = self.patterns["graph"].Flow("diamond").add(*tasks)
            for middle in middles:
                flow.link(source, middle)
                flow.link(middle, sink)
        else:
            flow = self.patterns[case].Flow(case).add(*tasks)
        engine = self.engines.load(flow, **ENGINES[case])
        engine.run()
        return engine

    def check(self, engine: Any, names: list[str]) -> None:
        state = engine.storage.get_flow_state()
        if state != "SUCCESS":
            raise RuntimeError(f"the flow ended {state}, not SUCCESS")
        for name in names:
            state = engine.storage.get_atom_state(name)
            if state != "SUCCESS":
                raise RuntimeError(f"task {name!r} ended {state}, not SUCCESS")


def load() -> TaskFlow:
    """Import TaskFlow; raise `_measure.Unavailable` if it cannot be imported."""
    try:
        return TaskFlow()
    except ImportError as error:
        raise _measure.Unavailable(f"cannot import taskflow: {error}") from error


def versions() -> dict[str, str]:
    """Return the versions that matter on this side; never raises."""
    found = {"python": platform.python_version()}
    for package in ("taskflow", "networkx", "futurist", "automaton"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


if __name__ == "__main__":
    sys.exit(
        _measure.main(None, library_name="taskflow", load=load, versions=versions, bare_loop=False)
    )
