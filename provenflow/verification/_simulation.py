"""One explored path: the real engine core, a simulated store, the user's real code, and crashes.

Theory of operation. A path is a list of choices. `Simulation.run` plays a flow from the start,
driving the engine's own pure core (`provenflow.engine.Core`) the way the runner does: it takes
work from the core, records the core's transitions in a simulated store, performs each piece of
work by calling the user's real `execute` / `revert`, and hands the outcome back. Wherever the
world could go more than one way, it asks for a choice:

- which of the pieces of work in flight completes next (parallel flows);
- how it completes: normally, by raising (an injected failure of `execute`), or by the process
  crashing before the side effect (after the RUNNING/REVERTING record) or after it (before the
  result is recorded);
- whether the process crashes before a batch of transitions is written (so before a RUNNING
  record, or after a result, which is the same place as before the next write).

A crash throws away everything in memory; the path goes on with a new core rebuilt from what the
simulated store holds, through the engine's real resume path (`records_from`, `Core(records=)`,
`start()`), as a restarted process would. Choices already made are replayed; the first choice
not made yet stops the run with `Branch`, which carries the options and a key of the state
(for hashing). Invariants are checked after every step: a broken one stops the run with
`Broken`. Everything is deterministic for a given list of choices (the core's clock is 0).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provenflow.engine import Core, Work, records_from
from provenflow.errors import ProvenflowError
from provenflow.failure import Failure
from provenflow.flows import Flow, compile_flow
from provenflow.persistence import Transition
from provenflow.verification._invariants import Invariants

__all__ = ["Branch", "Broken", "Finished", "InjectedFailure", "Simulation"]


class InjectedFailure(ProvenflowError):
    """The failure the model checker makes an atom's `execute` raise."""

    def __init__(self, atom: str) -> None:
        super().__init__(atom)

    def __str__(self) -> str:
        return f"injected failure of {self.args[0]!r}"


class _Crash(Exception):
    """The simulated process died; only what the store holds survives."""


@dataclass
class Branch(Exception):
    """The path needs a choice it has not made: `options` describe each, `key` the state."""

    options: tuple[str, ...]
    key: Any


@dataclass
class Broken(Exception):
    """An invariant failed: `message` says which and how."""

    message: str


@dataclass
class Finished(Exception):
    """The path ran to its end: `outcome` is the flow's final state."""

    outcome: str


@dataclass
class Simulation:
    """One path through a flow's run; see the module docstring."""

    factory: Callable[[], Any]
    store: Mapping[str, Any]
    choices: Sequence[int]
    max_crashes: int
    user_checks: Sequence[tuple[str, Callable[[Any], Any]]] = ()
    max_suspends: int = 0
    steps: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        made = self.factory()
        self.flow: Flow
        self.flow, self.context = made if isinstance(made, tuple) else (made, None)
        self.records: list[Transition] = []
        self.recorded: dict[str | None, str] = {}
        self.crashes = 0
        self.suspends = 0
        self._replay: Iterator[int] = iter(self.choices)
        self._made = 0
        self.invariants = Invariants(self)
        self.in_flight: list[Work] = []
        self.core = self._new_core()

    # -- choices -------------------------------------------------------------------------

    def choose(self, options: Sequence[str]) -> int:
        """Return the index of the option this path takes here (replayed, or a new branch)."""
        if len(options) == 1:
            return 0
        if self._made < len(self.choices):
            self._made += 1
            return next(self._replay)
        raise Branch(tuple(options), self.key())

    def key(self) -> Any:
        """A hashable summary of everything that can influence what happens next."""
        core = self.core
        atoms = tuple(
            (name, str(holder.state), core.attempts[name], repr(core.outcomes.get(name)))
            for name, holder in core.states.items()
        )
        return (
            str(core.flow.state),
            atoms,
            tuple(sorted(self.recorded.items(), key=lambda item: str(item[0]))),
            tuple((w.action, w.node) for w in self.in_flight),
            tuple((t.atom, t.event) for t in core.unrecorded),
            tuple((name, repr(history.to_list())) for name, history in core.histories.items()),
            self.crashes,
            self.suspends,
            repr(self.context),
        )

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> None:
        """Play the path until it ends (`Finished`), branches (`Branch`) or breaks (`Broken`)."""
        booted = False
        while True:
            try:
                if not booted:
                    self._boot()
                    booted = True
                if self.core.over and not self.in_flight:
                    if str(self.core.flow.state) == "SUSPENDED":
                        self.steps.append("RESUME after the suspension")
                        self.core = self._new_core()
                        booted = False
                        continue
                    self.invariants.at_end()
                    raise Finished(str(self.core.flow.state))
                self._round()
            except _Crash:
                self.crashes += 1
                self.steps.append("CRASH: the process dies; memory is lost")
                self.in_flight = []
                self.core = self._new_core()
                booted = False

    def _new_core(self) -> Core:
        compiled = compile_flow(self.flow, store_keys=self.store)
        if not self.records:
            return Core(compiled, self.store)
        records, flow_events = records_from(self.records)
        self.steps.append("RESUME: a new process loads the run from the store")
        return Core(compiled, self.store, records=records, flow_events=flow_events)

    def _boot(self) -> None:
        self.core.start()
        self._write()

    def _round(self) -> None:
        core = self.core
        may_suspend = self.suspends < self.max_suspends and str(core.flow.state) == "RUNNING"
        if may_suspend and self.choose(["go on", "suspend the run"]) == 1:
            self.suspends += 1
            self.steps.append("suspend the run")
            core.request_suspend()
            self._write()
        self.in_flight.extend(core.take_work(1_000_000))
        self._write()
        if not self.in_flight:
            if core.over:
                return
            raise Broken(f"the run is stuck: flow {core.flow.state}, nothing in flight")
        index = self.choose([f"complete {w.action} of {w.node!r}" for w in self.in_flight])
        work = self.in_flight.pop(index)
        result, failure = self._perform(work)
        core.finish(work, result, failure)
        self.invariants.after_step()
        self._write()
        self.invariants.outcome_recorded(work)

    def _perform(self, work: Work) -> tuple[Any, Failure | None]:
        options = [f"{work.action} {work.node!r} runs"]
        if work.action == "execute":
            options.append(f"execute {work.node!r} raises")
        if self.crashes < self.max_crashes:
            options.append(f"crash before {work.action} {work.node!r} does anything")
            options.append(
                f"crash after {work.action} {work.node!r}, before its outcome is recorded"
            )
        choice = options[self.choose(options)]
        self.steps.append(choice)
        if choice.startswith("crash before"):
            raise _Crash
        self.invariants.before_side_effect(work)
        if choice.endswith("raises"):
            return None, Failure.from_exception(InjectedFailure(work.node))
        try:
            result = _call(work)
        except Exception as exc:  # the user's own code failed: an outcome like any other
            failure: Failure | None = Failure.from_exception(exc)
            result = None
        else:
            failure = None
        self.invariants.after_side_effect(work, failure)
        if choice.startswith("crash after"):
            raise _Crash
        return result, failure

    def _write(self) -> None:
        transitions = self.core.drain()
        if not transitions:
            return
        if self.crashes < self.max_crashes:
            what = ", ".join(f"{t.atom or 'flow'} {t.new_state}" for t in transitions)
            if self.choose([f"write [{what}]", f"crash before writing [{what}]"]) == 1:
                self.steps.append(f"crash before writing [{what}]")
                raise _Crash
        for transition in transitions:
            self.records.append(transition)
            self.recorded[transition.atom] = str(transition.new_state)
            self.steps.append(
                f"record {transition.atom or 'flow'}: {transition.old_state} "
                f"--{transition.event}--> {transition.new_state}"
            )
            self.invariants.after_record(transition)


def _call(work: Work) -> Any:
    atom = work.atom
    if work.action == "execute":
        outcome = atom.call_execute(work.args)
    else:
        outcome = atom.call_revert(work.args, work.result, work.flow_failures)
    if inspect.iscoroutine(outcome):
        return asyncio.run(outcome)
    return outcome
