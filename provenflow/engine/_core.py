"""The engine's pure core: what is ready, what a failure means, when the run is over.

Theory of operation. The core holds the state of one run of a compiled flow: one `EntityState`
per atom (changed only through the task and retry tables), the flow's own `EntityState`, the
results, failures and retry histories. It never runs user code that has side effects, never
reads the clock (a clock is passed in) and does no I/O. The runner asks it for `Work`
(`take_work`), performs each, and reports back (`finish`); the core answers with the
`Transition`s it made (`drain`), which the runner records before performing the next side
effect. A model checker drives the very same object with a simulated executor and store.

Forward: every node keeps a count of unfinished predecessors; a node whose count reaches zero
is ready (after its deciders: a nay ignores the target and, by the decider's depth, what
follows). Finishing a node decrements its successors, so a run of N atoms costs O(N + edges).

Failures: a failed atom's nearest retry decides. RETRY reverts and resets that retry's subflow
and runs the retry again; REVERT undoes the subflow and lets the next retry out decide;
REVERT_ALL, or no retry left, reverts the whole flow. Reverting is a `_Phase` over a set of
nodes (see `_phases`): dependents are reverted before their dependencies. A revert that fails
blocks its dependencies and the run ends FAILURE.

Resume (see `_resume`): a core built from recorded `AtomRecord`s replays each atom's events
through its table, then continues: RETRYING retries reopen their phase, unresolved failures are
decided again, atoms left RUNNING are executed again (`crash_recovered`), or reverted when
their scope is being undone; atoms left REVERTING are reverted again.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from provenflow._gc import collector_paused
from provenflow.engine._deciders import vetoed_by
from provenflow.engine._phases import PhaseBook
from provenflow.engine._resume import continue_recorded, load_records
from provenflow.engine._work import AtomRecord, Work
from provenflow.errors import InternalError, Interrupted, MissingValue
from provenflow.failure import Failure
from provenflow.flows import CompiledFlow, Decision, History, Node, Retry
from provenflow.fsm import EntityState
from provenflow.fsm import flow as flow_fsm
from provenflow.fsm import retry as retry_fsm
from provenflow.fsm import task as task_fsm
from provenflow.persistence import Transition

__all__ = ["Core", "collector_paused"]

TaskState = task_fsm.State
FlowState = flow_fsm.State
FINISHED = frozenset({TaskState.SUCCESS, TaskState.IGNORE})
"""Atom states that let successors run (the same strings in the retry lifecycle)."""
_NOTHING: dict[str, Any] = {}
"""What an atom that provides nothing provided (shared: never mutated)."""
OVER = frozenset({FlowState.SUCCESS, FlowState.REVERTED, FlowState.FAILURE, FlowState.SUSPENDED})


class Core:
    """The state of one run and the rules that advance it. See the module docstring."""

    def __init__(
        self,
        compiled: CompiledFlow,
        store: Mapping[str, Any] | None = None,
        *,
        clock: Callable[[], float] = lambda: 0.0,
        records: Mapping[str, AtomRecord] | None = None,
        flow_events: Iterable[str] = (),
    ) -> None:
        self.compiled = compiled
        self.nodes: Mapping[str, Node] = compiled.nodes
        self.store: Mapping[str, Any] = dict(store or {})
        self.clock = clock
        self.index = {name: i for i, name in enumerate(compiled.order)}
        self.flow = EntityState.replay(flow_fsm.LIFECYCLE, flow_events, entity=compiled.name)
        self.states: dict[str, EntityState[Any, Any]] = {}
        self.attempts: dict[str, int] = {}
        self.outcomes: dict[str, Any] = {}
        self.provided: dict[str, dict[str, Any]] = {}
        self.histories: dict[str, History] = {}
        self.failures: dict[str, Failure] = {}
        self.revert_failures: dict[str, Failure] = {}
        self.decision_failures: dict[str, Failure] = {}
        """Failures of a decider or a retry controller (not of an atom), by who failed."""
        self.joins_done: set[str] = set()
        self.waiting: dict[str, int] = {}
        self.in_flight: dict[str, Work] = {}
        self.ready: list[tuple[int, int, str]] = []
        self.decided: dict[int, bool] = {}
        self.done = 0
        self.atom_count = 0
        self.phases = PhaseBook(self)
        self._out: list[Transition] = []
        self._cloned = False
        """Whether this core was cloned or is a clone: its atom holders may then be shared."""
        self._owned: set[str] = set()
        """When `_cloned`: the atoms whose holder this core copied since, so owns alone."""
        with collector_paused():
            load_records(self, records or {})

    # -- building -------------------------------------------------------------------------

    def clone(self) -> Core:
        """Return an independent copy of this core (the model checker's snapshots).

        The compiled flow, the store and the atoms are shared (they never change); every piece
        of run state is copied.
        """
        other = Core.__new__(Core)
        other.__dict__.update(self.__dict__)
        other.flow = self.flow.copy()
        # Atom holders are shared, and copied by whichever core moves one first (`_move`):
        # a snapshot costs a dict copy, not one holder per atom.
        other.states = self.states.copy()
        self._cloned = other._cloned = True
        self._owned, other._owned = set(), set()
        other.attempts = self.attempts.copy()
        other.outcomes = self.outcomes.copy()
        other.provided = self.provided.copy()
        other.histories = self.histories.copy()
        other.failures = self.failures.copy()
        other.revert_failures = self.revert_failures.copy()
        other.decision_failures = self.decision_failures.copy()
        other.waiting = self.waiting.copy()
        other.in_flight = self.in_flight.copy()
        other.decided = self.decided.copy()
        other.joins_done = self.joins_done.copy()
        other.ready = self.ready.copy()
        other._out = self._out.copy()
        other.phases = self.phases.clone(other)
        return other

    # -- the runner's interface ---------------------------------------------------------------

    @property
    def over(self) -> bool:
        """Whether the run has ended (SUCCESS, REVERTED, FAILURE) or is SUSPENDED."""
        return self.flow.state in OVER

    @property
    def unrecorded(self) -> tuple[Transition, ...]:
        """The transitions made since the last `drain`, not yet handed to the runner."""
        return tuple(self._out)

    @property
    def has_unrecorded(self) -> bool:
        """Whether transitions were made since the last `drain`."""
        return bool(self._out)

    def drain(self) -> list[Transition]:
        """Return the transitions made since the last call, oldest first, and forget them."""
        out = self._out
        if out:
            self._out = []
        return out

    def start(self) -> None:
        """Begin or continue the run: move the flow to RUNNING (or on with its revert).

        A fresh run is `start`ed; a recorded one is continued as the module docstring says.
        A run that already ended is left as it is.
        """
        state = self.flow.state
        if state in OVER - {FlowState.SUSPENDED}:
            return
        event = {
            FlowState.PENDING: flow_fsm.Event.START,
            FlowState.SUSPENDED: flow_fsm.Event.RESUME,
        }.get(state, flow_fsm.Event.CRASH_RECOVERED)
        self._move_flow(event)
        self._count_waiting(self.compiled.order)
        if self.flow.state == FlowState.REVERTING:
            self.phases.open(None, self.compiled.order)
        else:
            continue_recorded(self)
        self._settle()

    def take_over(self, previous: Mapping[str, Any]) -> None:
        """Record that this run's lease was taken over from another engine: the flow's
        `taken_over` self-loop, with `previous` (what is known of the lease taken over) as its
        result, before `start`. A run that ended is left as it is (its table has no edge)."""
        old = self.flow.state
        if old in OVER - {FlowState.SUSPENDED}:
            return
        event = flow_fsm.Event.TAKEN_OVER
        new = self.flow.apply(event)
        self._out.append(
            Transition(
                None, "flow", old._value_, event._value_, new._value_, 0, self.clock(),
                dict(previous),
            )
        )  # fmt: skip

    def take_work(self, limit: int) -> list[Work]:
        """Start up to `limit` side effects and return them (their transitions are in `drain`).

        Reverts come first; new executions only while the flow is RUNNING, highest priority
        first, ties in flow order.
        """
        out: list[Work] = []
        while len(out) < limit and self.phases.busy():
            name = self.phases.next_revert()
            if name is None:
                break
            work = self._start_revert(name)
            if work is not None:
                out.append(work)
        while len(out) < limit and self.ready and self.flow.state == FlowState.RUNNING:
            _, _, name = heapq.heappop(self.ready)
            work = self._start_execute(name)
            if work is not None:
                out.append(work)
        self._settle()
        return out

    def finish(self, work: Work, result: Any = None, failure: Failure | None = None) -> None:
        """Take the outcome of `work`: its result, or the `Failure` it raised."""
        del self.in_flight[work.node]
        if work.action == "execute":
            self._finish_execute(work.node, result, failure)
        else:
            self._finish_revert(work.node, failure)
        self._settle()

    def work_bound(self) -> int:
        """At most how many pieces of work `take_work` would hand out now (queued reverts, and
        ready atoms while the flow is RUNNING; some may turn out to have nothing to do)."""
        reverts = self.phases.queued()
        if self.flow.state == FlowState.RUNNING:
            return reverts + len(self.ready)
        return reverts

    def has_work(self) -> bool:
        """Whether `take_work` may have something to hand out now."""
        return self.phases.busy() or (bool(self.ready) and self.flow.state == FlowState.RUNNING)

    def request_suspend(self) -> bool:
        """Ask the run to stop scheduling; return whether it will (only a RUNNING flow does)."""
        if self.flow.state != FlowState.RUNNING:
            return False
        self._move_flow(flow_fsm.Event.SUSPEND)
        self._settle()
        return True

    def results(self) -> dict[str, Any]:
        """Return every symbol provided by an atom that is SUCCESS now; later ones win."""
        values: dict[str, Any] = {}
        for name in self.compiled.order:
            provided = self.provided.get(name)
            if provided:
                values.update(provided)
        return values

    def state_of(self, name: str) -> str:
        """Return the state of atom `name` (a `UsageError`-free lookup for known atoms)."""
        return str(self.states[name].state)

    # -- transitions ---------------------------------------------------------------------------

    def _state(self, name: str) -> Any:
        return self.states[name].state

    def _move(
        self,
        name: str,
        event: Any,
        result: Any = None,
        failure: Failure | None = None,
        history: tuple[Any, ...] | None = None,
    ) -> None:
        holder = self.states[name]
        if self._cloned and name not in self._owned:
            self._owned.add(name)
            holder = self.states[name] = holder.copy()
        old = holder.state
        new = holder.apply(event)
        # Transitions hold plain strings (the members' values), not enum members: a tuple of
        # plain values is untracked by the cyclic collector, so a long history costs it nothing.
        self._out.append(
            Transition(
                name,
                holder.lifecycle.name,
                old._value_,
                event._value_,
                new._value_,
                self.attempts[name],
                self.clock(),
                result,
                failure,
                history,
            )
        )

    def _move_flow(self, event: flow_fsm.Event) -> None:
        old = self.flow.state
        new = self.flow.apply(event)
        self._out.append(
            Transition(None, "flow", old._value_, event._value_, new._value_, 0, self.clock())
        )

    # -- forward ---------------------------------------------------------------------------------

    def _finished(self, name: str) -> bool:
        if name in self.states:
            return self.states[name].state in FINISHED
        return name in self.joins_done

    def _count_waiting(self, names: Iterable[str]) -> None:
        for name in names:
            node = self.nodes[name]
            count = sum(1 for p in node.predecessors if not self._finished(p))
            self.waiting[name] = count
            if node.kind == "join" and count == 0:
                self.joins_done.add(name)
            elif node.kind == "join":
                self.joins_done.discard(name)

    def push_ready(self, name: str) -> None:
        atom = self.nodes[name].atom
        priority = atom.priority if atom is not None else 0
        heapq.heappush(self.ready, (-priority, self.index[name], name))

    def _release(self, name: str) -> None:
        """`name` just finished (SUCCESS, IGNORE or a join): its successors wait for one less."""
        stack = [name]
        while stack:
            for successor in self.nodes[stack.pop()].successors:
                self.waiting[successor] -= 1
                if self.waiting[successor] == 0:
                    if self.nodes[successor].kind == "join":
                        self.joins_done.add(successor)
                        stack.append(successor)
                    else:
                        self.became_ready(successor)

    def became_ready(self, name: str) -> None:
        if self._state(name) != TaskState.PENDING or self.phases.phase_of(name) is not None:
            return
        node = self.nodes[name]
        if node.deciders:
            ignored = self._apply_deciders(node)
            if ignored is None or ignored:
                return
        self.push_ready(name)

    def _apply_deciders(self, node: Node) -> set[str] | None:
        """Return the nodes vetoed for `node` (empty: it may run; None: a decider raised)."""
        vetoed: set[str] = set()
        for decider in node.deciders:
            key = id(decider)
            if key not in self.decided:
                history = {s: self.outcomes.get(s) for s in decider.sources if s in self.provided}
                try:
                    self.decided[key] = bool(decider.decide(history))
                except Exception as exc:  # a user's decider is user code
                    failure = Failure.from_exception(exc)
                    self.failures[node.name] = failure
                    self.decision_failures[f"decider of {node.name!r}"] = failure
                    self.resolve(node.name, failure)
                    return None
            if not self.decided[key]:
                vetoed |= vetoed_by(self.nodes, decider.targets, decider.depth, decider.flow)
        if vetoed:
            self._ignore(vetoed)
        return vetoed

    def _ignore(self, names: set[str]) -> None:
        ordered = sorted(names, key=self.index.__getitem__)
        released = []
        for name in ordered:
            if name in self.states and self._state(name) == TaskState.PENDING:
                self._move(name, task_fsm.Event.IGNORE)
                self.done += 1
                released.append(name)
        for name in released:
            self._release(name)

    def arguments(self, name: str) -> dict[str, Any]:
        """Resolve the execute arguments of atom `name` from injections, results and store.

        Raises `MissingValue` naming the symbol when a required provider did not provide it
        (a decider ignored it).
        """
        node = self.nodes[name]
        atom = node.atom
        assert atom is not None
        args: dict[str, Any] = {}
        for arg, binding in node.bindings.items():
            if binding.kind == "inject":
                args[arg] = binding.value
            elif binding.kind == "store":
                args[arg] = self.store[binding.symbol]
            elif binding.kind == "atom":
                provider = binding.provider
                assert provider is not None
                provided = self.provided.get(provider)
                if provided is not None and binding.symbol in provided:
                    args[arg] = provided[binding.symbol]
                elif binding.symbol not in atom.optional:
                    raise MissingValue(name, binding.symbol, provider, str(self._state(provider)))
        if node.kind == "retry":
            args["history"] = self.histories[name]
        return args

    def _start_execute(self, name: str) -> Work | None:
        if name in self.in_flight or self.phases.phase_of(name) is not None:
            return None
        state = self._state(name)
        if state == TaskState.RUNNING:
            event: Any = task_fsm.Event.CRASH_RECOVERED
        elif state in (TaskState.PENDING, retry_fsm.State.RETRYING):
            event = task_fsm.Event.START
        else:
            return None
        self.attempts[name] += 1
        self._move(name, event)
        atom = self.nodes[name].atom
        assert atom is not None
        try:
            args = self.arguments(name)
        except MissingValue as exc:
            self._finish_execute(name, None, Failure.from_exception(exc))
            return None
        work = Work("execute", name, atom, self.attempts[name], args)
        self.in_flight[name] = work
        return work

    def _finish_execute(self, name: str, result: Any, failure: Failure | None) -> None:
        node = self.nodes[name]
        atom = node.atom
        assert atom is not None
        provided: dict[str, Any] = _NOTHING
        if failure is None and atom.provides:
            try:
                provided = atom.provided(result)
            except Exception as exc:
                failure = Failure.from_exception(exc)
        in_phase = self.phases.phase_of(name) is not None
        if failure is not None:
            self.outcomes[name] = failure
            self.failures[name] = failure
            self._move(name, task_fsm.Event.FAIL, failure=failure)
            if in_phase:
                self.phases.ran_out(name)
            else:
                self.resolve(name, failure)
            return
        self.outcomes[name] = result
        self.provided[name] = provided
        if self.failures:
            self.failures.pop(name, None)
        if node.kind == "retry":
            history = self.histories[name].with_attempt(result)
            self.histories[name] = history
            self._move(name, task_fsm.Event.SUCCEED, result, None, tuple(history.to_list()))
        else:
            self._move(name, task_fsm.Event.SUCCEED, result)
        self.done += 1
        if in_phase:
            self.phases.ran_out(name)
        else:
            self._release(name)

    # -- failures and reverts -----------------------------------------------------------------

    def resolve(self, name: str, failure: Failure) -> None:
        """Decide what the failure of `name` means, from its nearest retry outwards."""
        if self.flow.state == FlowState.REVERTING:
            return
        retry = self.nodes[name].retry
        while retry is not None:
            controller = self.nodes[retry].atom
            assert isinstance(controller, Retry)
            history = self.histories[retry].with_failures({name: failure})
            try:
                decision = controller.decide(history, self.arguments(retry))
            except Exception as exc:  # a user's controller is user code
                failure = Failure.from_exception(exc)
                self.failures[retry] = failure
                self.decision_failures[f"retry controller {retry!r}"] = failure
                break
            if decision == Decision.RETRY:
                self.histories[retry] = history
                self._move(retry, retry_fsm.Event.RETRY, history=tuple(history.to_list()))
                self.done -= 1
                self.phases.open(retry, self.compiled.guarded[retry])
                return
            if decision == Decision.REVERT_ALL:
                break
            retry = self.nodes[retry].retry
        self.revert_all()

    def revert_all(self) -> None:
        """Give up the run: the flow goes REVERTING and everything that started is undone."""
        if self.flow.state == FlowState.REVERTING:
            return
        self._move_flow(flow_fsm.Event.FAIL)
        self.phases.open(None, self.compiled.order)

    def _start_revert(self, name: str) -> Work | None:
        state = self._state(name)
        if state == TaskState.REVERTING:
            self._move(name, task_fsm.Event.CRASH_RECOVERED)
        else:
            if state in FINISHED:
                self.done -= 1
            self._move(name, task_fsm.Event.REVERT)
        atom = self.nodes[name].atom
        assert atom is not None
        result = self.outcomes.get(name)
        if state == TaskState.RUNNING or (
            state == TaskState.REVERTING and name not in self.outcomes
        ):
            result = Failure.from_exception(Interrupted(name, "the process stopped while it ran"))
            self.outcomes[name] = result
        try:
            args = self.arguments(name)
        except MissingValue as missing:
            self._revert_without(name, missing)
            return None
        work = Work("revert", name, atom, self.attempts[name], args, result, dict(self.failures))
        self.in_flight[name] = work
        return work

    def _revert_without(self, name: str, missing: MissingValue) -> None:
        """The revert of `name` (now REVERTING) cannot be given a value it needs: it is never
        called with the value left out.

        A provider IGNOREd now was IGNOREd before `name` started (it finished first), so the
        execute of `name` could not be given the value either and never ran: there is nothing
        to undo, and `name` is REVERTED at once. Any other provider should hold the value (it
        is reverted only after `name`): the revert fails with a `MissingValue` naming the atom,
        the value and the provider, and the run ends FAILURE with it on record.
        """
        if missing.state == TaskState.IGNORE:
            self._finish_revert(name, None)
            return
        failure = MissingValue(name, missing.symbol, missing.provider, missing.state, "revert")
        self._finish_revert(name, Failure.from_exception(failure))

    def _finish_revert(self, name: str, failure: Failure | None) -> None:
        if failure is None:
            history: tuple[Any, ...] | None = None
            if self.nodes[name].kind == "retry":
                self.histories[name] = History()
                history = ()
            self._move(name, task_fsm.Event.REVERTED, history=history)
            self.outcomes.pop(name, None)
            self.provided.pop(name, None)
            self.phases.reverted(name)
        else:
            self.revert_failures[name] = failure
            self._move(name, task_fsm.Event.REVERT_FAILED, failure=failure)
            self.provided.pop(name, None)
            self.phases.revert_failed(name)

    def reset_and_retry(self, retry: str) -> None:
        """The subflow of `retry` is undone: reset it to PENDING and run the retry again."""
        guarded = self.compiled.guarded[retry]
        for name in guarded:
            if name in self.states and self._state(name) in (
                TaskState.REVERTED,
                TaskState.IGNORE,
            ):
                if self._state(name) == TaskState.IGNORE:
                    self.done -= 1
                self._move(name, task_fsm.Event.RESET)
        members = set(guarded)
        boundary = {s for name in guarded for s in self.nodes[name].successors} - members
        self._count_waiting([*guarded, *sorted(boundary, key=self.index.__getitem__)])
        self.decided.clear()
        if self.flow.state == FlowState.RUNNING:
            self.push_ready(retry)

    def finish_flow(self) -> None:
        """The whole-flow revert is over: REVERTED, or FAILURE when a revert failed."""
        if self.revert_failures:
            self._move_flow(flow_fsm.Event.REVERT_FAILED)
        else:
            self._move_flow(flow_fsm.Event.REVERTED)

    def _settle(self) -> None:
        """End the run when nothing is left to do, or say why it cannot go on."""
        if self.in_flight or self.phases.busy() or self.over:
            return
        state = self.flow.state
        if state == FlowState.RUNNING:
            while self.ready:
                name = self.ready[0][2]
                if self._state(name) in (TaskState.PENDING, TaskState.RUNNING) or (
                    self._state(name) == retry_fsm.State.RETRYING
                ):
                    return
                heapq.heappop(self.ready)
            if self.done == self.atom_count:
                self._move_flow(flow_fsm.Event.SUCCEED)
                return
            stuck = [n for n in self.compiled.order if n in self.states and not self._finished(n)]
            raise InternalError(
                f"flow {self.compiled.name!r}: nothing is running or ready, yet "
                f"{len(stuck)} atoms are not finished (first: {stuck[:3]})"
            )
        if state == FlowState.SUSPENDING:
            if self.done == self.atom_count:
                self._move_flow(flow_fsm.Event.SUCCEED)
            else:
                self._move_flow(flow_fsm.Event.SUSPENDED)
