"""One explored path: the engine's own loop and core, a simulated store and executor, the
user's real code, and crashes.

Theory of operation. A path is a list of choices. `Simulation` plays a flow's run by taking the
steps of the engine's real loop (`provenflow.engine._loop`: the same `step` function the engine
calls, over the same `Loop` and `Core`), against a `SimulatedStore` (the real JSON codec and
compare-and-set) and a `SimulatedExecutor`, and performs each piece of work by calling the
user's real `execute` / `revert`. Before a step in which the world could go more than one way,
it asks for a choice:

- how much room the executor has when the loop takes work (1 .. the free workers), which sets
  the batches the loop writes and so the crash points between them;
- whether the process crashes before a batch of transitions is written;
- at a wait: which of the pieces of work in flight completes next, and how: normally, by
  raising (an injected failure), or by the process crashing before the side effect (after the
  RUNNING/REVERTING record) or after it (before the result is recorded);
- whether the run is asked to suspend before the loop schedules (with `max_suspends`).

A crash throws away everything in memory; the path goes on with a new loop over a core rebuilt
from what the simulated store holds, through the engine's real resume path (`resumed_core`,
then the loop's own `boot` step), as a restarted process would. Choices already made are
replayed; the first choice not made yet stops the run with `Branch`, which carries the options
and a key of the state (for hashing). Invariants are checked after every step: a broken one
stops the run with `Broken`. Everything is deterministic for a given list of choices (the
clock of a path is 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from provenflow.engine import Core, Work, perform
from provenflow.engine._executors import Completion, timed_out
from provenflow.engine._loop import Loop, resumed_core, run_info, step
from provenflow.errors import ProvenflowError
from provenflow.failure import Failure
from provenflow.flows import Flow, compile_flow
from provenflow.persistence import Transition
from provenflow.verification._fingerprint import fingerprint
from provenflow.verification._invariants import Invariants
from provenflow.verification._restore import Unsaveable
from provenflow.verification._signals import Branch, Broken, Crash, Finished, Merged
from provenflow.verification._simulated import SimulatedExecutor, SimulatedStore
from provenflow.verification._state_key import KeyBook, state_key
from provenflow.verification._steps import describe_options, event_of, render, unwound
from provenflow.verification._value_key import value_key
from provenflow.verification._world import describe_world

__all__ = ["Branch", "Broken", "Finished", "InjectedFailure", "Merged", "Simulation"]

FLOW_ID = "checked"
"""The id of the one run a path plays."""


def _zero() -> float:
    return 0.0


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
        workers: int = 2,
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
        self.shared: dict[Any, int] = KeyBook()
        """The atoms' parts of `key()`s met so far, each with its number, which the keys hold:
        keys compare only under one numbering, so a search gives all its paths the same (and
        clones share it)."""
        self.resumed: dict[Any, Core] = {}
        """Cores rebuilt from a durable record (not started), by `record_key()`: a cache shared
        by clones, which share this path's flow and atoms (see `_boot`)."""
        self.passed: dict[Any, int] | None = None
        """The states passed through where the bounds left one option, by `key()`, with the
        fewest faults a path reached each with: set by a search (shared by clones) to merge
        paths there too, not only at choices; None: not kept (see `next_choice`)."""
        self.faults = 0
        """The faults (crashes, injected failures, suspensions) the path took: set by a search."""
        self.just_resumed = False
        """Whether the last `apply` crashed or resumed: the path's state is then `resume_key()`."""
        self._trail: tuple[Any, ...] | None = None  # (previous trail, step): shared by clones
        self.performed = [0]
        """How many times user code ran (`execute`, `revert`): one count shared by clones, and
        by every path of a search that restores the world in place (`_restore`)."""
        self.saved_world: Any = None
        """The world as this path left it (`_restore.Saved`), when a search restores it."""
        self.worlds: list[object] | None = None
        """When a list (set by whoever wants it, on a path that is not cloned): the world as
        it is after each step, described by value (`describe_world`), one per step."""
        self.crashes = 0
        self.suspends = 0
        self.invariants = Invariants(self)
        self.durable = SimulatedStore()
        self.executor = SimulatedExecutor(workers)
        version = self.durable.create(run_info(self.compiled, FLOW_ID, dict(store), None))
        self.loop = Loop(
            Core(self.compiled, store, clock=_zero), self.durable, FLOW_ID, version, clock=_zero
        )
        self.names = tuple(self.loop.core.states)
        """The atoms, in the flow's order (the same for every path)."""
        self.recorded: dict[str | None, str | None] = dict.fromkeys((None, *self.names))
        """The last recorded state of the flow (key None) and of each atom, in that order (the
        key takes them as a tuple); None: nothing recorded."""
        self.booting = False
        """Whether the process died (or the run was suspended): the next step starts a new one."""
        self.picked: Work | None = None
        """The work chosen to complete at a wait, whose outcome is the next choice."""
        self.finished_work: Work | None = None
        """The work whose outcome the loop took last: its record is checked after the write."""
        self.late: list[Work] = []
        """Calls that timed out: the engine stopped waiting for them, but they go on and
        finish later (at a wait, or at the latest when the run is over), unless the process
        dies first."""

    @property
    def core(self) -> Core:
        """The engine core of the current process."""
        return self.loop.core

    @property
    def records(self) -> list[Transition]:
        """What the store holds, decoded as a load returns it, oldest first."""
        return self.durable.transitions

    @property
    def in_flight(self) -> list[Work]:
        """The work submitted to the executor and not completed."""
        return self.executor.in_flight

    def clone(self, to_crash: bool = False) -> Simulation:
        """Return an independent copy of this path, at the same point.

        `to_crash`: the copy is only going to take an option that crashes (`crashes_at`),
        which reads the core at most and then replaces it, so it shares this path's core
        instead of copying it.
        """
        other = Simulation.__new__(Simulation)
        other.__dict__.update(self.__dict__)
        other.durable = self.durable.copy()
        other.executor = self.executor.copy()
        other.recorded = self.recorded.copy()
        other.late = self.late.copy()
        core = self.loop.core if to_crash else self.loop.core.clone()
        other.loop = self.loop.clone(core, other.durable)
        other.invariants = self.invariants.clone(other)
        return other

    def crashes_at(self, index: int) -> bool:
        """Whether option `index` of the current choice is a crash (the process dies in it)."""
        stage = self.stage
        if stage == "write":
            return index == 1
        return stage == "outcome" and index >= self._count() - 2 and self._crashes_left()

    def _crashes_left(self) -> bool:
        return self.crashes < self.max_crashes

    @property
    def stage(self) -> str:
        """What the path does next: `restart` (a new process), `end`, `suspend` (the loop is
        about to enter its next state and may be asked to suspend first), `pick` and `outcome`
        (a wait: which work completes, then how), or the loop's next step (`take`, `write`,
        `enter`, ...)."""
        if self.booting:
            return "restart"
        if self.picked is not None:
            return "outcome"
        steps = self.loop.steps
        if not steps:
            return "end"
        name = steps[0]
        if name == "wait":
            return "pick"
        if name == "enter" and self.max_suspends and self._may_suspend():
            return "suspend"
        return name

    def _may_suspend(self) -> bool:
        loop = self.loop
        return (
            self.suspends < self.max_suspends
            and loop.event != "start"
            and not loop.suspend_requested
            and loop.core.flow.state == "RUNNING"
        )

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
        worlds = self.worlds
        if worlds is not None:  # the step before this one is over: note the world it left
            if worlds:
                worlds[-1] = describe_world(self.context)
            worlds.append(None)
        self._trail = (self._trail, step)

    def world_after_steps(self) -> list[object]:
        """The world after each step so far (`worlds`, the last one as it is now)."""
        assert self.worlds is not None, "set `worlds` to a list before the path runs"
        if self.worlds:
            self.worlds[-1] = describe_world(self.context)
        return list(self.worlds)

    def record_key(self) -> tuple[Any, ...]:
        """The durable record by value (as encoded): what a resumed process rebuilds from."""
        return tuple(self.durable.rows)

    def resume_key(self) -> Any:
        """Everything that decides the path's future right after a crash or a resume.

        Memory is gone then: what is left is the record, the counts of crashes and suspensions
        and the user's context, which the search adds by its full value (`world_part`). Two
        paths with equal keys there go on alike.
        """
        return (self.stage, self.record_key(), self.crashes, self.suspends)

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
        return ("restart", self.record_key(), self.crashes + 1, self.suspends)

    def _boot(self) -> None:
        """Start a new process on the run the store holds, as a restarted process does: a core
        rebuilt through the engine's resume path (`resumed_core`), in a new loop. A record seen
        before is rebuilt from the cache instead (the same record gives the same core)."""
        key = self.record_key()
        cached = self.resumed.get(key)
        if cached is None:
            info, transitions, _ = self.durable.load(FLOW_ID)
            cached = self.resumed[key] = resumed_core(self.compiled, info, transitions, clock=_zero)
        self.loop = Loop(cached.clone(), self.durable, FLOW_ID, len(key), clock=_zero)
        self.booting = False

    def key(self) -> Any:
        """A hashable summary of everything that can influence what happens next
        (`_state_key.state_key`), or its fingerprint when the search keeps fingerprints
        (`shared.fingerprints`: see `_fingerprint`)."""
        key = state_key(self)
        return fingerprint(key) if getattr(self.shared, "fingerprints", False) else key

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
        # one option is taken at once: never a crash, so nothing to catch
        while True:
            stage = self.stage
            count = self._count(stage)
            if count > 1:
                return count
            if stage == "outcome" or (stage == "write" and self.loop.core.has_unrecorded):
                self._pass()
            self._apply(0, stage)

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

    def _count(self, stage: str | None = None) -> int:
        """How many options the current stage (or `stage`, when the caller knows it) has,
        without describing them."""
        if stage is None:
            stage = self.stage
        if stage == "write":
            return 2 if self.loop.core.has_unrecorded and self._crashes_left() else 1
        if stage == "take":
            return max(min(self.executor.slots, self.loop.core.work_bound()), 1)
        if stage == "suspend":
            return 2
        if stage == "pick":  # with nothing in flight, the wait is over at once
            return len(self.in_flight) + len(self.late) if self.in_flight else 1
        if stage == "outcome":
            return len(self._outcome_kinds(self.picked))
        return 1

    def _options(self) -> tuple[str, ...]:
        return describe_options(
            self.stage,
            self.loop.core.unrecorded,
            self.in_flight,
            self.picked,
            late=self.late,
            count=self._count(),
            crashes_left=self._crashes_left(),
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
            self.in_flight.clear()
            self.late.clear()  # the calls still going on die with the process
            self.picked = self.finished_work = None
            if self.durable.rows:
                self._step("RESUME: a new process loads the run from the store")
            self.booting = True
            self.just_resumed = True

    def _apply(self, index: int, stage: str | None = None) -> None:
        if stage is None:
            stage = self.stage
        if stage == "restart":
            self._boot()
        elif stage == "end":
            self._end()
        elif stage == "write":
            self._write(index)
        elif stage == "take":
            self.executor.room = self._count(stage) - index if self.executor.slots else 0
            step(self.loop, self.executor)
        elif stage == "suspend":
            if index == 1:
                self.suspends += 1
                self._step("suspend the run")
                self.loop.suspend_requested = True
            step(self.loop, self.executor)
        elif stage == "pick":
            self._pick(index)
        elif stage == "outcome":
            self._outcome(index)
        elif stage == "finish":
            completion = self.loop.completions[0]
            self.finished_work = completion.work
            step(self.loop, self.executor)
            self.invariants.after_finish(completion.work, completion.result, completion.failure)
            self.invariants.after_step()
        elif stage == "submit":
            self._submit()
        else:
            step(self.loop, self.executor)

    def _submit(self) -> None:
        """The loop submits the work it took. A real executor may start it at once, so
        write-ahead (and every rule of a side effect's start) must hold as soon as it is
        submitted, not only when the path performs it."""
        submitted = len(self.in_flight)
        step(self.loop, self.executor)
        for work in self.in_flight[submitted:]:
            self.invariants.before_side_effect(work)

    def _pick(self, index: int) -> None:
        """At a wait: work in flight is picked to complete next (its outcome is the next
        choice), or an abandoned call finishes; with nothing in flight the wait is over."""
        in_flight = self.in_flight
        if not in_flight:
            self.loop.deliver(())
        elif index >= len(in_flight):
            self._lands(self.late.pop(index - len(in_flight)))
        else:
            self.picked = in_flight.pop(index)

    def _end(self) -> None:
        core = self.loop.core
        while self.late:  # the run is over; the process lives until its calls are done
            self._lands(self.late.pop(0))
        if core.flow.state == "SUSPENDED":
            self._step("RESUME after the suspension")
            self.booting = True
            self.just_resumed = True
            return
        self.invariants.at_end()
        raise Finished(str(core.flow.state))

    def _write(self, index: int) -> None:
        durable = self.durable
        if index == 1:  # the process dies before the loop's write reaches the store
            what = ", ".join(f"{t.atom or 'flow'} {t.new_state}" for t in self.loop.core.unrecorded)
            self._step(f"crash before writing [{what}]")
            raise Crash
        written = len(durable.rows)
        step(self.loop, self.executor)
        for transition in durable.transitions[written:]:
            self.recorded[transition.atom] = transition.new_state
            self._step(transition)
            self.invariants.after_record(transition)
        finished = self.finished_work
        if finished is not None:
            self.finished_work = None
            self.invariants.outcome_recorded(finished)

    def _outcome(self, index: int) -> None:
        work = self.picked
        assert work is not None
        self.picked = None
        kind = self._outcome_kind(index, work)
        self._step(("outcome", kind, work.action, work.node))
        if kind == "crash before":
            raise Crash
        failure: Failure | None
        if kind == "raises":
            result, failure = None, self._injected(work.node)
        elif kind == "times out":  # as the engine's executor reports a call past its timeout
            self.late.append(work)
            result, failure = None, timed_out(work)
        else:
            result, failure = self._perform(work)
            self.invariants.after_side_effect(work, failure, result)
            if kind == "crash after":
                raise Crash
        self.loop.deliver((Completion(work, result, failure),))

    def _injected(self, node: str) -> Failure:
        """The failure injected into `node`: the same (immutable) one every time it is."""
        failure = self.injected.get(node)
        if failure is None:
            failure = self.injected[node] = Failure.from_exception(InjectedFailure(node))
        return failure

    def _outcome_kind(self, index: int, work: Work | None = None) -> str:
        """What option `index` of the outcome stage does to `work` (the picked one)."""
        return self._outcome_kinds(work or self.picked)[index]

    def _outcome_kinds(self, work: Work | None) -> tuple[str, ...]:
        """The ways `work` can complete: it runs; it raises (an execute, or a revert with
        `revert_failures`); it times out (an atom with a `timeout`); the process crashes before
        or after it (while crashes are left)."""
        assert work is not None
        kinds: tuple[str, ...] = ("runs",)
        if work.action == "execute" or self.revert_failures:
            kinds += ("raises",)
        if work.atom.timeout is not None:
            kinds += ("times out",)
        if self._crashes_left():
            kinds += ("crash before", "crash after")
        return kinds

    def _lands(self, work: Work) -> None:
        """An abandoned call finishes: the user's code runs now, and no one takes its outcome."""
        self._step(("outcome", "lands", work.action, work.node))
        result, failure = self._perform(work)  # no one takes its outcome
        self.invariants.after_side_effect(work, failure, result)

    def _perform(self, work: Work) -> tuple[Any, Failure | None]:
        """Run the user's code of `work`; return its result, or the failure it raised.

        With `saved_world` kept (a search restores the world in place), a call that changes a
        value it was given (an argument, or the result a revert is handed) raises `Unsaveable`:
        those values are shared by the copies of a path, which a path replayed from the start
        would have had to itself.
        """
        self.performed[0] += 1
        guarded = self.saved_world is not None and (work.args or work.result is not None)
        given = value_key((work.args, work.result)) if guarded else None
        try:
            result, failure = perform(work), None
        except Exception as exc:  # the user's own code failed: an outcome like any other
            result, failure = None, Failure.from_exception(exc)
        if guarded and value_key((work.args, work.result)) != given:
            raise Unsaveable(
                f"{work.action} of {work.node!r} changed a value it was given, in place"
            )
        return result, failure
