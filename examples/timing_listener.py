"""Timing each atom's execute and revert with `TimingListener` and `printing_durations`.

The provenflow counterpart of TaskFlow's `timing_listener.py`. A listener is any object with
`on_transition(transition)`; the engine tells it of every transition after recording it. The
`TimingListener` measures, per atom, the time from RUNNING to SUCCESS/FAILURE ("execute") and
from REVERTING to REVERTED ("revert"), using the times the store recorded, so the same numbers
can be computed again later from the run's history (`TimingListener.from_history`).
`printing_durations()` is a `TimingListener` that prints each duration as it is measured.

Durations vary from run to run, so this example prints which atoms were timed and checks the
durations, and shows `printing_durations`' lines with the number masked.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import provenflow as pf
from provenflow.engine import printing_durations


class Sleep(pf.Task):
    """Sleeps briefly, so there is something to time; undoing it takes no time."""

    def execute(self) -> None:
        time.sleep(0.01)

    def revert(self, **_: Any) -> None:
        pass


class Fail(pf.Task):
    def execute(self) -> None:
        raise RuntimeError("out of coffee")


def show(timing: pf.TimingListener) -> None:
    """Print which atoms were timed, and check that every duration is a real, non-negative one."""
    for atom in sorted(timing.durations):
        for phase, seconds in sorted(timing.durations[atom].items()):
            assert seconds >= 0
            print(f"  {atom}: {phase} timed")


def main() -> None:
    print("a successful run:")
    timing = pf.TimingListener()
    flow = pf.LinearFlow("timed").add(Sleep(name="boil"), Sleep(name="brew"))
    engine = pf.Engine(flow, listeners=[timing])
    engine.run()
    show(timing)
    print(f"  brew took at least 10 ms: {timing.durations['brew']['execute'] >= 0.01}")
    again = pf.TimingListener.from_history(engine.history())
    print(f"  recomputed from the history: {again.durations == timing.durations}")

    print("a failed run (execute, then revert, is timed):")
    timing = pf.TimingListener()
    flow = pf.LinearFlow("timed").add(Sleep(name="boil"), Fail(name="pour"))
    try:
        pf.Engine(flow, listeners=[timing]).run()
    except RuntimeError as exc:
        print(f"  failed: {exc}")
    show(timing)

    print("printing_durations (seconds masked):")
    out = io.StringIO()
    flow = pf.LinearFlow("timed").add(Sleep(name="boil"), Sleep(name="brew"))
    pf.Engine(flow, listeners=[printing_durations(out)]).run()
    for line in out.getvalue().splitlines():
        print("  " + re.sub(r"\d+\.\d+", "<seconds>", line))


if __name__ == "__main__":
    main()
