"""A task suspends the run; a new engine loaded from the same store resumes and finishes it.

The provenflow counterpart of TaskFlow's `resume_from_backend.py`. Every transition of a run is
recorded in its store before the side effect it announces. `engine.suspend()` (callable from
any thread, a task's included) stops scheduling: what is running finishes, and the run ends
SUSPENDED with everything it did on record. `pf.Engine.load(flow, storage, flow_id)` builds an
engine over that record (it could be a new process, with a persistent store); its `run()`
continues the run without executing again what already succeeded.

The example prints each engine's view and then the run's history: one line per recorded
transition, oldest first (the recorded times are left out, as they vary).
"""

from __future__ import annotations

import provenflow as pf
from provenflow.persistence import MemoryStorage

engines: dict[str, pf.Engine] = {}
"""The engine running the flow, so that a task can ask it to suspend."""


class Step(pf.Task):
    def execute(self) -> str:
        print(f"  executing {self.name}")
        return f"{self.name} done"


class SuspendingStep(pf.Task):
    """Asks the engine to suspend: nothing new is scheduled, but this task still finishes."""

    def execute(self) -> str:
        print(f"  executing {self.name}, and asking the engine to suspend")
        engines["current"].suspend()
        return f"{self.name} done"


def build() -> pf.LinearFlow:
    """Build the flow. Loading needs the same flow rebuilt: atoms are matched by name."""
    return pf.LinearFlow("resume-me").add(
        Step(name="a", provides="a"),
        SuspendingStep(name="b", provides="b"),
        Step(name="c", provides="c"),
        Step(name="d", provides="d"),
    )


def print_states(engine: pf.Engine) -> None:
    states = ", ".join(f"{name}={engine.atom_state(name)}" for name in "abcd")
    print(f"  flow {engine.state}: {states}")


def main() -> None:
    storage = MemoryStorage()

    print("first engine:")
    engine = engines["current"] = pf.Engine(build(), backend=storage)
    engine.run()
    print_states(engine)
    flow_id = engine.flow_id  # what a real program would keep, to find the run again

    print("second engine, loaded from the store:")
    resumed = pf.Engine.load(build(), storage, flow_id)
    print_states(resumed)
    results = resumed.run()
    print_states(resumed)
    # The results of the whole run: a and b's were loaded from the store, not computed again.
    print(f"  results: {dict(sorted(results.items()))}")

    print("history:")
    for entry in resumed.history():
        who = "flow" if entry.atom is None else f"atom {entry.atom}"
        attempt = f" (attempt {entry.attempt})" if entry.atom is not None else ""
        print(f"  {who}: {entry.old_state} --{entry.event}--> {entry.new_state}{attempt}")


if __name__ == "__main__":
    main()
