"""One round of a crash test, in a process of its own: start or resume a run, and maybe die.

    python -m tests.crash.child CASE --backend URL --flow-id ID --journal PATH --round N
        [--start] [--crash SPEC] [--how exit|kill]

With `--start` the process starts a new run of `flows.CASES[CASE]` under id ID
(`Engine.from_factory`, so the factory is recorded); without it, it resumes that run with
`Engine.resume(URL, ID, factory=...)`, which rebuilds the flow from the case's factory (named:
a store never names code to run), as a new process after a crash does. SPEC says where the
process dies:

    after:N            right after the Nth transition this process records (flow and atoms)
    after:ATOM:STATE   right after ATOM ("flow" for the flow) is first recorded entering STATE
    execute:ATOM       inside ATOM's execute, after its side effect, before its result is recorded
    revert:ATOM        inside ATOM's revert, after its side effect

Listeners hear a transition right after it is durably recorded, so `after:` points die with the
record written and the next side effect not yet performed. The process dies by `os._exit(137)`
or by SIGKILL (`--how`). Exit status 0 means the run ended (SUCCESS, REVERTED or FAILURE) in
this process; anything else that is not a death is a test failure, with its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

import provenflow as pf
from provenflow.persistence import Transition
from tests.crash import flows

with contextlib.suppress(ImportError):  # imported once by the fork server, not by each round
    import psycopg  # noqa: F401

    import provenflow.persistence._sql

__all__ = ["CrashAfter", "main", "run_round"]

ENDED = frozenset({"SUCCESS", "REVERTED", "FAILURE"})


class CrashAfter:
    """A listener that kills the process after the transition an `after:` SPEC names."""

    def __init__(self, spec: str, how: flows.How) -> None:
        parts = spec.split(":")
        self.count = int(parts[1]) if len(parts) == 2 else None
        self.target = (parts[1], parts[2]) if len(parts) == 3 else None
        self.how = how
        self.seen = 0

    def on_transition(self, transition: Transition) -> None:
        """Count recorded transitions (not the engine loop's) and die at the chosen one."""
        if transition.lifecycle == "engine":
            return
        self.seen += 1
        if self.count is not None and self.seen == self.count:
            flows.die(self.how)
        entity = transition.atom or "flow"
        if self.target == (entity, transition.new_state):
            flows.die(self.how)


def run_round(
    case_name: str,
    backend: str,
    flow_id: str,
    journal: Path,
    round_number: int,
    *,
    start: bool = False,
    crash: str | None = None,
    how: flows.How = "exit",
) -> int:
    """Start or resume the run, dying where `crash` says; return 0 once the run has ended."""
    case = flows.CASES[case_name]
    flows.HARNESS.reset(journal, round_number)
    flows.HARNESS.how = how
    listeners: list[object] = [flows.AttemptTracker()]
    if crash is not None and crash.startswith("after:"):
        listeners.append(CrashAfter(crash, how))
    elif crash is not None:
        action, _, atom = crash.partition(":")
        flows.HARNESS.crash_in = (action, atom)
    if start:
        engine = pf.Engine.from_factory(
            case.factory,
            backend=backend,
            executor=case.executor,
            flow_id=flow_id,
            listeners=listeners,
        )
    else:
        engine = pf.Engine.resume(
            backend, flow_id, case.executor, factory=case.factory, listeners=listeners
        )
    try:
        engine.run()
    except Exception:
        if engine.state not in ENDED:
            raise
    print(f"run {flow_id} ended {engine.state}")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line (see the module docstring) and run one round; exit with it."""
    parser = argparse.ArgumentParser(prog="python -m tests.crash.child")
    parser.add_argument("case", choices=sorted(flows.CASES))
    parser.add_argument("--backend", required=True)
    parser.add_argument("--flow-id", required=True)
    parser.add_argument("--journal", required=True, type=Path)
    parser.add_argument("--round", type=int, default=0)
    parser.add_argument("--start", action="store_true")
    parser.add_argument("--crash")
    parser.add_argument("--how", choices=["exit", "kill"], default="exit")
    args = parser.parse_args(argv)
    sys.exit(
        run_round(
            args.case,
            args.backend,
            args.flow_id,
            args.journal,
            args.round,
            start=args.start,
            crash=args.crash,
            how=args.how,
        )
    )


if __name__ == "__main__":
    main()
