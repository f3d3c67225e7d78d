"""A decider on a graph link: when it says no, the target is ignored, and `depth` says how far.

The provenflow counterpart of TaskFlow's `switch_graph_flow.py`. `GraphFlow.link(a, b,
decider=...)` orders `b` after `a` and, once `a` has run, calls the decider with
`{source atom name: result}`. When it returns False, `b` is not run: it moves to IGNORE, which
counts as finished, so what follows still runs, unless the veto reaches it too. `depth` sets
that reach, from the link's target:

- `Depth.ATOM`: the target only;
- `Depth.NEIGHBORS`: the target and its direct successors;
- `Depth.FLOW`: the target and what follows it inside the graph flow that declared the link;
- `Depth.ALL`: the target and everything after it, in any flow.

A nightly maintenance run measures the disk and cleans up only when it is nearly full. The disk
is at 42 %, so the decider says no; the same flow is run with each depth.
"""

from __future__ import annotations

import provenflow as pf

NAMES = ("measure", "clean_tmp", "compress_logs", "rotate_backups", "send_report")


def step(name: str, ran: list[str], provides: str | None = None, value: object = None) -> pf.Task:
    """Return a task called `name` that notes that it ran and returns `value`."""

    def execute() -> object:
        ran.append(name)
        return value

    return pf.task(execute, name=name, provides=provides)


def disk_is_nearly_full(history: dict[str, object]) -> bool:
    """The decider: `history` maps the link's source atoms to their results."""
    print(f"  decider got {history}")
    used = history["measure"]
    assert isinstance(used, int)
    return used > 90


def build(depth: pf.Depth, ran: list[str]) -> pf.LinearFlow:
    """LinearFlow[GraphFlow[measure -> clean_tmp -> compress_logs -> rotate_backups], report]."""
    measure = step("measure", ran, provides="disk_used_percent", value=42)
    clean_tmp, compress_logs, rotate_backups, send_report = (step(name, ran) for name in NAMES[1:])
    maintenance = pf.GraphFlow("maintenance").add(measure, clean_tmp, compress_logs, rotate_backups)
    maintenance.link(measure, clean_tmp, decider=disk_is_nearly_full, depth=depth)
    maintenance.link(clean_tmp, compress_logs).link(compress_logs, rotate_backups)
    return pf.LinearFlow("nightly").add(maintenance, send_report)


def main() -> None:
    engines: dict[pf.Depth, pf.Engine] = {}
    for depth in pf.Depth:
        print(f"depth {depth}:")
        ran: list[str] = []
        engine = engines[depth] = pf.Engine(build(depth, ran))
        engine.run()
        ignored = [name for name in NAMES if engine.atom_state(name) == "IGNORE"]
        print(f"  ran:     {', '.join(ran)}")
        print(f"  ignored: {', '.join(ignored)}")
        print(f"  flow state: {engine.state}")

    # The history records each ignore as a transition like any other.
    print("the history of depth ALL, for the atoms that were ignored:")
    for transition in engines[pf.Depth.ALL].history():
        if transition.event == "ignore":
            change = f"{transition.old_state} --{transition.event}--> {transition.new_state}"
            print(f"  {transition.atom}: {change}")


if __name__ == "__main__":
    main()
