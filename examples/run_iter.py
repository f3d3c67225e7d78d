"""Driving engines step by step with `run_iter()`, and interleaving two engines in one thread.

The provenflow counterpart of TaskFlow's `run_by_iter.py` and `run_by_iter_enumerate.py`.
`Engine.run_iter()` runs the flow like `run()`, but yields the state of the engine loop each
time it changes: RESUMING, then rounds of SCHEDULING (hand ready atoms to the executor),
WAITING (for one to finish) and ANALYZING (record what finished, decide what comes next), and
finally the run's outcome (SUCCESS, REVERTED, FAILURE or SUSPENDED). Between two steps the
caller is in control: it may do other work, drive another engine, or `send(True)` to suspend.
"""

from __future__ import annotations

import provenflow as pf


def echo(name: str) -> pf.Task:
    """Return a task called `name` that prints its name when it runs."""
    return pf.task(lambda: print(f"    {name} runs"), name=name)


def build(prefix: str, count: int) -> pf.LinearFlow:
    return pf.LinearFlow(prefix).add(*(echo(f"{prefix}-{i}") for i in range(1, count + 1)))


def enumerate_states() -> None:
    print("one engine, every state of its loop:")
    engine = pf.Engine(build("a", 2))
    for number, state in enumerate(engine.run_iter(), start=1):
        print(f"  {number:2}. {state}")
    print(f"  flow state: {engine.state}")


def interleave() -> None:
    print("two engines, one thread, taking turns:")
    engines = {"a": pf.Engine(build("a", 2)), "b": pf.Engine(build("b", 3))}
    steps = {name: engine.run_iter() for name, engine in engines.items()}
    while steps:
        # One step of each engine still running, in turn.
        for name in list(steps):
            state = next(steps[name], None)
            if state is None:
                del steps[name]
                print(f"  {name}: done")
            else:
                print(f"  {name}: {state}")
    for name, engine in engines.items():
        print(f"  flow {name}: {engine.state}")


def suspend_between_steps() -> None:
    print("suspending from the driver with send(True), then finishing with run():")
    engine = pf.Engine(build("c", 3))
    steps = engine.run_iter()
    asked = False
    for state in steps:
        print(f"  {state}")
        if state == "ANALYZING" and not asked:
            asked = True
            # Ask for suspension: nothing new is scheduled, and the loop ends SUSPENDED. The
            # `for` then finishes the generator (do not `break` out of it: until the generator
            # is finished or closed, the engine counts as running).
            print(f"  {steps.send(True)} (after send(True))")
    print(f"  flow state: {engine.state}")
    engine.run()  # continues where the run stopped: c-1 is not run again
    print(f"  flow state: {engine.state}")


def main() -> None:
    enumerate_states()
    interleave()
    suspend_between_steps()


if __name__ == "__main__":
    main()
