"""A failing third task reverts the first two, in reverse order; the original exception surfaces.

The provenflow counterpart of TaskFlow's `reverting_linear.py`. Each task's `revert` undoes what
its `execute` did. When `call_suzzie` raises, the engine reverts every task that started
executing (the failed one included, so it can clean up a half-done action), dependents before
their dependencies: suzzie, then joe, then jim. `run()` then re-raises the very exception the
task raised (not a wrapper), and the flow ends REVERTED.
"""

from __future__ import annotations

from typing import Any

import provenflow as pf


class CallJim(pf.Task):
    def execute(self, jim_number: str) -> None:
        print(f"Calling jim {jim_number}.")

    def revert(self, jim_number: str, **_: Any) -> None:
        print(f"Calling jim {jim_number} and apologizing.")


class CallJoe(pf.Task):
    def execute(self, joe_number: str) -> None:
        print(f"Calling joe {joe_number}.")

    def revert(self, joe_number: str, **_: Any) -> None:
        print(f"Calling joe {joe_number} and apologizing.")


class CallSuzzie(pf.Task):
    def execute(self, suzzie_number: str) -> None:
        raise OSError("Suzzie not home right now.")

    def revert(self, result: Any, **_: Any) -> None:
        # `result` is what execute returned; for the task that raised it is the `pf.Failure`.
        print(f"Suzzie's call failed ({result}); nothing to undo.")


def main() -> None:
    flow = pf.LinearFlow("simple-linear").add(
        CallJim(name="call_jim"),
        CallJoe(name="call_joe"),
        CallSuzzie(name="call_suzzie"),
        # Never runs: the flow fails before it.
        CallJoe(name="call_joe_again", rebind={"joe_number": "jim_number"}),
    )
    store = {"jim_number": "555-1234", "joe_number": "555-4321", "suzzie_number": "555-9999"}
    engine = pf.Engine(flow, store=store)
    try:
        engine.run()
    except OSError as exc:
        # The exception call_suzzie raised, as it was raised.
        print(f"Flow failed: {exc!r}")
    print(f"flow state: {engine.state}")
    for name in ("call_jim", "call_joe", "call_suzzie", "call_joe_again"):
        print(f"  {name}: {engine.atom_state(name)}")


if __name__ == "__main__":
    main()
