"""provenflow side of the benchmark: one case at one size, printed as JSON on stdout.

Run by `bench/run.py` in a fresh interpreter with the repository root on `PYTHONPATH`, or by hand:

    PYTHONPATH=. python3 bench/provenflow_cases.py --case linear --n 1000

Written against the public API pinned in DESIGN.md only: `pf.Task` subclasses named one by one,
`pf.LinearFlow` / `pf.UnorderedFlow` / `pf.GraphFlow` with `.add(*tasks)` and `.link(a, b)`, and
`pf.Engine(flow, executor=...)` with `.run()`, `.state` and `.atom_state(name)`. No backend is
given, so the engine keeps its state in memory.

- linear: a `LinearFlow` of N no-op tasks on the `serial` executor;
- unordered: an `UnorderedFlow` of N no-op tasks on the `threads` executor;
- diamond: a `GraphFlow` source -> N/2 middle tasks -> sink, ordered by `link`, on `threads`.

If provenflow or a name the cases need is missing, the JSON says so (`available: false`) and
carries no timings: the report then says the engine is not available.
"""

from __future__ import annotations

import importlib
import platform
import sys
from importlib import metadata
from typing import Any

import _measure

NEEDED = ("Task", "LinearFlow", "UnorderedFlow", "GraphFlow", "Engine")
EXECUTORS = {"linear": "serial", "unordered": "threads", "diamond": "threads"}


class Provenflow:
    """The provenflow cases, over an imported `provenflow` module."""

    def __init__(self, pf: Any) -> None:
        self.pf = pf

        class NoopTask(pf.Task):  # type: ignore[misc]
            """A task that does nothing, so what is measured is the engine."""

            def execute(self) -> None:
                _measure.noop()

        self.task = NoopTask

    def run(self, case: str, names: list[str]) -> object:
        tasks = [self.task(name=name) for name in names]
        if case == "linear":
            flow = self.pf.LinearFlow("linear").add(*tasks)
        elif case == "unordered":
            flow = self.pf.UnorderedFlow("unordered").add(*tasks)
        else:
            source, *middles, sink = tasks
            flow = self.pf.GraphFlow("diamond").add(*tasks)
            for middle in middles:
                flow.link(source, middle)
                flow.link(middle, sink)
        engine = self.pf.Engine(flow, executor=EXECUTORS[case])
        engine.run()
        return engine

    def check(self, engine: Any, names: list[str]) -> None:
        if engine.state != "SUCCESS":
            raise RuntimeError(f"the flow ended {engine.state}, not SUCCESS")
        for name in names:
            state = engine.atom_state(name)
            if state != "SUCCESS":
                raise RuntimeError(f"task {name!r} ended {state}, not SUCCESS")


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
    for package in ("networkx", "transitions"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


if __name__ == "__main__":
    sys.exit(
        _measure.main(None, library_name="provenflow", load=load, versions=versions, bare_loop=True)
    )
