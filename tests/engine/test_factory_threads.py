"""Loading one factory file from several threads at once gives each the finished module.

A file's module is in `sys.modules` before its code has run; a second thread that took it then
would find it half made ("has no attribute 'make_flow'"), which made a conductor trash a good job.
"""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

from provenflow.engine import load_factory

SLOW_FILE = """\
import sys
gate = sys.modules["provenflow_test_import_gate"]
gate.started.set()
gate.go.wait(10)

import provenflow as pf


@pf.task
def step():
    pass


def make_flow():
    return pf.LinearFlow("slow-import").add(step)
"""


def test_a_second_thread_waits_for_the_module_to_be_finished(tmp_path: Path) -> None:
    gate = types.ModuleType("provenflow_test_import_gate")
    gate.started, gate.go = threading.Event(), threading.Event()  # type: ignore[attr-defined]
    sys.modules[gate.__name__] = gate
    path = tmp_path / "slow_flows.py"
    path.write_text(SLOW_FILE, encoding="utf-8")
    results: dict[str, object] = {}

    def load(who: str) -> None:
        try:
            results[who] = load_factory(f"{path}:make_flow")().name
        except Exception as error:  # what the second loader got, if it failed
            results[who] = error

    try:
        first = threading.Thread(target=load, args=("first",))
        first.start()
        assert gate.started.wait(10)  # the first thread is inside the file's code
        second = threading.Thread(target=load, args=("second",))
        second.start()
        second.join(0.5)  # a loader that takes the half-made module returns at once
        gate.go.set()
        first.join(10)
        second.join(10)
        assert results == {"first": "slow-import", "second": "slow-import"}
    finally:
        gate.go.set()
        del sys.modules[gate.__name__]
