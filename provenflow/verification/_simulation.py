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

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from provenflow.engine import Core, Work, perform, records_from
from provenflow.errors import ProvenflowError
from provenflow.failure import Failure
from provenflow.flows import Flow, compile_flow
from provenflow.persistence import Transition
from provenflow.verification._invariants import Invariants
from provenflow.verification._signals import Branch, Broken, Crash, Finished, Merged
from provenflow.verification._state_key import record_key, state_key
from provenflow.verification._steps import describe_options, event_of, render, unwound

__all__ = ["Branch", "Broken", "Finished", "InjectedFailure", "Merged", "Simulation"]


class InjectedFailure(ProvenflowError):
    """The failure the model checker makes an atom's `execute` raise."""

    def __init__(self, atom: str) -> None:
        super().__init__(atom)

    def __str__(self) -> str:
        return f"injected failure of {self.args[0]!r}"


class Simulation:
    """One path through a flow's run, as a machine that stops at each choice; see the module
    docstring.

    `next_choice()` runs until the path can go more than one way and returns the options (or
    raises `Finished` / `Broken`); `apply(index)` takes one. `clone()` snapshots the path, so a
    search can branch from it without replaying (only valid when the user's code keeps no state
    of its own: the flow and its atoms are shared by the copies). `run()` replays `choices`
    and raises `Branch` at the first choice not made.
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        store: Mapping[str, Any],
        choices: Sequence[int],
        *,
        max_crashes: int,
        user_checks: Sequence[tuple[str, Callable[..., Any]]] = (),
        max_suspends: int = 0,
        revert_failures: bool = False,
    ) -> None:
        made = factory()
        self.flow: Flow
        self.flow, self.context = made if isinstance(made, tuple) else (made, None)
        self.store = store
        self.choices = choices
        self.max_crashes = max_crashes
        self.max_suspends = max_suspends
        self.revert_failures = revert_failures
        """Whether a `revert` may also raise (an injected failure), not only an `execute`."""
        self.user_checks = user_checks
        self.compiled = compile_flow(self.flow, store_keys=store)
        self.dependents: dict[str, tuple[str, ...]] = {}  # a cache, shared by clones
        self.injected: dict[str, Failure] = {}  # a cache, shared by clones (see `_injected`)
        self.shared: dict[Any, int] = {}
        """The atoms' parts of `key()`s met so far, each with its number, which the keys hold:
        keys compare only under one numbering, so a search gives all its paths the same (and
        clones share it)."""
        self.resumed: dict[Any, tuple[Core, tuple[Transition, ...]]] = {}
        """Cores rebuilt from a durable record and started, with the transitions their start
        made, by `record_key()`: a cache shared by clones, which share this path's flow and
        atoms (see `_boot`)."""
        self.passed: dict[Any, int] | None = None
        """The states passed through where the bounds left one option, by `key()`, with the
        fewest faults a path reached each with: set by a search (shared by clones) to merge
        paths there too, not only at choices; None: not kept (see `next_choice`)."""
        self.faults = 0
        """The faults (crashes, injected failures, suspensions) the path took: set by a search."""
        self.just_resumed = False
        """Whether the last `apply` crashed or resumed: the path's state is then `resume_key()`."""
        self._trail: tuple[Any, ...] | None = None  # (previous trail, step): shared by clones
        self.records: list[Transition] = []
        self.record_keys: list[Any] = []  # each record by value, for `record_key()`
        self.crashes = 0
        self.suspends = 0
        self.invariants = Invariants(self)
        self.in_flight: list[Work] = []
        self.core = Core(self.compiled, store)
        self.names = tuple(self.core.states)
        """The atoms, in the flow's order (the same for every path)."""
        self.recorded: dict[str | None, str | None] = dict.fromkeys((None, *self.names))
        """The last recorded state of the flow (key None) and of each atom, in that order (the
        key takes them as a tuple); None: nothing recorded."""
        self.stage = "boot"
        self.pending: list[Transition] = []
        self.after_write = "round"
        self.picked: Work | None = None
        self.finished_work: Work | None = None

    def clone(self, to_crash: bool = False) -> Simulation:
        """Return an independent copy of this path, at the same point.

        `to_crash`: the copy is only going to take an option that crashes (`crashes_at`),
        which reads the core at most and then replaces it, so it shares this path's core
        instead of copying it.
        """
        other = Simulation.__new__(Simulation)
        other.__dict__.update(self.__dict__)
        other.records = self.records.copy()
        other.record_keys = self.record_keys.copy()
        other.recorded = self.recorded.copy()
        other.in_flight = self.in_flight.copy()
        other.pending = self.pending.copy()
        if not to_crash:
            other.core = self.core.clone()
        other.invariants = self.invariants.clone(other)
        return other

    def crashes_at(self, index: int) -> bool:
        """Whether option `index` of the current choice is a crash (the process dies in it)."""
        if self.stage == "write":
            return index == 1
        return self.stage == "outcome" and index >= self._count() - 2 and self._crashes_left()

    def _crashes_left(self) -> bool:
        return self.crashes < self.max_crashes

    @property
    def steps(self) -> list[str]:
        """The path's events so far, oldest first, as text."""
        return [step if isinstance(step, str) else render(step) for step in unwound(self._trail)]

    @property
    def events(self) -> list[dict[str, Any]]:
        """The path's events so far, oldest first, as plain data (for JSON and diagrams):
        see `_steps.event_of`."""
        return [event_of(step) for step in unwound(self._trail)]

    def _step(self, step: Any) -> None:
        self._trail = (self._trail, step)

    def record_key(self) -> tuple[Any, ...]:
        """The durable record by value: what a resumed process rebuilds its state from."""
        return tuple(self.record_keys)

    def resume_key(self) -> Any:
        """Everything that decides the path's future right after a crash or a resume.

        Memory is gone then: what is left is the record, the counts of crashes and suspensions
        and the user's context. Two paths with equal keys here go on alike.
        """
        return (self.stage, self.record_key(), self.crashes, self.suspends, repr(self.context))

    def crash_key(self, index: int) -> Any:
        """The `resume_key()` that option `index` leads to when it is a crash that leaves the
        record and the context as they are, else None.

        A crash before a batch is written or before a side effect runs no code. A crash after
        a side effect runs the user's code, but with no context (nothing a key holds that the
        code could change) it leaves what the crash before it leaves: its checks are those of
        the option where the code runs and the path goes on. Such a crash changes nothing but
        the count of crashes, so its key is known without taking it: a search can skip an
        option whose crash it has seen.
        """
        stage = self.stage
        if stage == "write":
            crash = index == 1
        elif stage == "outcome":
            kind = self._outcome_kind(index)
            crash = kind == "crash before" or (kind == "crash after" and self.context is None)
        else:
            crash = False
        if not crash:
            return None
        return ("boot", self.record_key(), self.crashes + 1, self.suspends, repr(self.context))

    def _boot(self) -> None:
        """Start the run: a new one, or the one the durable record holds (resume), as a
        restarted process does.

        A run with a record goes through the engine's real resume path (`records_from`,
        `Core(records=...)`, `start()`); a record seen before is booted from the cache instead
        (the same inputs give the same core and the same transitions: both are a pure function
        of the record).
        """
        if not self.records:
            self.core = Core(self.compiled, self.store)
            self.core.start()
            self._drain("round")
            return
        key = self.record_key()
        cached = self.resumed.get(key)
        if cached is None:
            records, flow_events = records_from(self.records)
            core = Core(self.compiled, self.store, records=records, flow_events=flow_events)
            core.start()
            made = tuple(core.drain())  # before the copy, which would carry them again
            cached = self.resumed[key] = (core.clone(), made)
        else:
            core = cached[0].clone()
        self.core = core
        self.pending = list(cached[1])
        self.after_write = "round"
        self.stage = "write" if self.pending else "round"

    def key(self) -> Any:
        """A hashable summary of everything that can influence what happens next
        (`_state_key.state_key`)."""
        return state_key(self)

    # -- driving -------------------------------------------------------------------------

    def run(self) -> None:
        """Replay `choices`, then raise `Branch` at the next choice (or `Finished`/`Broken`,
        or `Merged` when the stretch after the last choice meets a state in `passed`).

        The states passed before the last choice are not looked up: the paths that ended at
        those choices passed them.
        """
        self.catch_up()
        raise Branch(self.next_choice(), self.key())

    def catch_up(self) -> None:
        """Replay `choices` (without looking up the states before the last: see `run`)."""
        passed, self.passed = self.passed, None
        for choice in self.choices:
            self.advance()
            self.apply(choice)
        self.passed = passed

    def next_choice(self) -> tuple[str, ...]:
        """Run until the path can go more than one way (`advance`); return the options."""
        self.advance()
        return self._options()

    def advance(self) -> int:
        """Run until the path can go more than one way; return how many ways.

        Raises `Finished` at the end of the run and `Broken` when an invariant fails. A write
        or an outcome is a state like a choice even where the bounds leave it one option (no
        crash left, a revert that may not raise): with `passed` kept, each is looked up there,
        and `Merged` is raised at one some path reached with no more faults.
        """
        # one option (or none to pick) is taken at once: never a crash, so nothing to catch
        while True:
            stage = self.stage
            if stage == "write":
                if self.crashes < self.max_crashes:
                    break
                self._pass()
                self._write(0)
            elif stage == "outcome":
                if self._count() > 1:
                    break
                self._pass()
                self._outcome(0)
            elif stage == "pick":
                if len(self.in_flight) > 1:
                    break
                self._apply(0)
            elif stage == "suspend":
                break
            else:
                self._apply(0)
        return self._count()

    def _pass(self) -> None:
        """Note the state passed through (a write or an outcome with one option) in `passed`;
        raise `Merged` when a path with no more faults passed it first."""
        passed = self.passed
        if passed is None:
            return
        key = self.key()
        known = passed.get(key)
        if known is not None and known <= self.faults:
            raise Merged
        passed[key] = self.faults

    def _count(self) -> int:
        """How many options the current stage has (without describing them)."""
        stage = self.stage
        crashes_left = self.crashes < self.max_crashes
        if stage == "write":
            return 2 if crashes_left else 1
        if stage == "suspend":
            return 2
        if stage == "pick":
            return len(self.in_flight)
        if stage == "outcome":
            assert self.picked is not None
            raises = self.picked.action == "execute" or self.revert_failures
            return (2 if raises else 1) + (2 if crashes_left else 0)
        return 1

    def _options(self) -> tuple[str, ...]:
        return describe_options(
            self.stage,
            self.pending,
            self.in_flight,
            self.picked,
            crashes_left=self.crashes < self.max_crashes,
            revert_failures=self.revert_failures,
        )

    def apply(self, index: int) -> None:
        """Take option `index` at the current choice, and go on to the next stage."""
        self.just_resumed = False
        try:
            self._apply(index)
        except Crash:
            self.crashes += 1
            self._step("CRASH: the process dies; memory is lost")
            self.in_flight, self.pending, self.picked = [], [], None
            if self.records:
                self._step("RESUME: a new process loads the run from the store")
            self.stage = "boot"
            self.just_resumed = True

    def _apply(self, index: int) -> None:
        core = self.core
        stage = self.stage
        if stage == "boot":
            self._boot()
        elif stage == "write":
            self._write(index)
        elif stage == "round":
            self._round()
        elif stage == "suspend":
            if index == 1:
                self.suspends += 1
                self._step("suspend the run")
                core.request_suspend()
                self._drain("take")
            else:
                self.stage = "take"
        elif stage == "take":
            self.in_flight.extend(core.take_work(1_000_000))
            self._drain("pick")
        elif stage == "pick":
            if not self.in_flight:
                if not core.over:
                    raise Broken(f"the run is stuck: flow {core.flow.state}, nothing in flight")
                self.stage = "round"
                return
            self.picked = self.in_flight.pop(index)
            self.stage = "outcome"
        elif stage == "outcome":
            self._outcome(index)
        elif stage == "check":
            assert self.finished_work is not None
            self.invariants.outcome_recorded(self.finished_work)
            self.finished_work = None
            self.stage = "round"

    def _round(self) -> None:
        core = self.core
        if core.over and not self.in_flight:
            if core.flow.state == "SUSPENDED":
                self._step("RESUME after the suspension")
                self.stage = "boot"
                self.just_resumed = True
                return
            self.invariants.at_end()
            raise Finished(str(core.flow.state))
        may_suspend = self.suspends < self.max_suspends and core.flow.state == "RUNNING"
        self.stage = "suspend" if may_suspend else "take"

    def _outcome(self, index: int) -> None:
        work = self.picked
        assert work is not None
        self.picked = None
        kind = self._outcome_kind(index, work)
        self._step(("outcome", kind, work.action, work.node))
        if kind == "crash before":
            raise Crash
        self.invariants.before_side_effect(work)
        if kind == "raises":
            result, failure = None, self._injected(work.node)
        else:
            try:
                result, failure = perform(work), None
            except Exception as exc:  # the user's own code failed: an outcome like any other
                result, failure = None, Failure.from_exception(exc)
            self.invariants.after_side_effect(work, failure, result)
            if kind == "crash after":
                raise Crash
        self.core.finish(work, result, failure)
        self.invariants.after_finish(work, result, failure)
        self.invariants.after_step()
        self.finished_work = work
        self._drain("check")

    def _injected(self, node: str) -> Failure:
        """The failure injected into `node`: the same (immutable) one every time it is."""
        failure = self.injected.get(node)
        if failure is None:
            failure = self.injected[node] = Failure.from_exception(InjectedFailure(node))
        return failure

    def _outcome_kind(self, index: int, work: Work | None = None) -> str:
        """What option `index` of the outcome stage does to `work` (the picked one)."""
        work = work or self.picked
        assert work is not None
        raises = work.action == "execute" or self.revert_failures
        kinds: tuple[str, ...] = ("runs", "raises") if raises else ("runs",)
        kinds += ("crash before", "crash after")
        return kinds[index]

    def _drain(self, after: str) -> None:
        self.pending = self.core.drain()
        self.after_write = after
        self.stage = "write" if self.pending else after

    def _write(self, index: int) -> None:
        transitions, self.pending = self.pending, []
        if index == 1:
            what = ", ".join(f"{t.atom or 'flow'} {t.new_state}" for t in transitions)
            self._step(f"crash before writing [{what}]")
            raise Crash
        for transition in transitions:
            self.records.append(transition)
            self.record_keys.append(record_key(transition))
            self.recorded[transition.atom] = transition.new_state
            self._step(transition)
            self.invariants.after_record(transition)
        self.stage = self.after_write
