"""The engine loop: one run's rounds, as small steps that every driver takes the same way.

Theory of operation. `Loop` holds what one `run()` of an engine needs between its side effects:
the core, the store and the version it expects, the engine-loop lifecycle's state, the work taken
and not yet submitted, and the completions not yet analysed. Its work is a queue of **steps**,
each a small piece of the runner's job that either touches the store once (`write`), or the
executor once (`take`, `submit`, `wait`), or neither (`enter`, `boot`, `finish`, `decide`, ...):

- `enter`: the loop moves through its table (`provenflow.fsm.engine`) to its next state, and
  queues that state's steps. RESUMING: `boot` (the core starts or continues the run), `write`,
  `route`. SCHEDULING: `take` (as much work as the executor has room for), `write` (write-ahead:
  every RUNNING and REVERTING is recorded before its call), `submit`. WAITING: `wait` (the
  completions, handed in by the driver). ANALYZING: `finish` and `write` per completion (its
  outcome recorded before anything else happens), `honour` (a suspension asked for), `write`,
  `decide` (schedule, wait, or end with the run's outcome).
- A suspension asked for (`suspend_requested`, set from any thread) is honoured before the loop
  enters its next state: the core is asked to suspend and what that changed is written first.

Two drivers take these steps: the engine (`Engine.run`, `run_iter`, `run_async`), which hands
`wait` the completions its executor reports, and the model checker, which drives the very same
`Loop` with a simulated executor and store and, before each step, chooses what the world does
in it (how much room the executor has, whether the process dies before a write, which work
completes and how). Each step asks the world at most once and before any side effect, so a
driver can stop between steps and copy the loop. `step` is the one function both call.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from provenflow._gc import collector_paused
from provenflow.engine._core import Core
from provenflow.engine._executors import Completion
from provenflow.engine._listeners import announce
from provenflow.engine._matching import check_flow
from provenflow.engine._resume import records_from
from provenflow.engine._work import Work
from provenflow.errors import InternalError, UnstorableValue
from provenflow.failure import Failure
from provenflow.flows import CompiledFlow
from provenflow.fsm import EntityState
from provenflow.fsm import engine as loop_fsm
from provenflow.persistence import AtomInfo, RunInfo, Storage, Transition

__all__ = ["OUTCOME_EVENTS", "Executor", "Loop", "resumed_core", "run_info", "step"]

LoopState = loop_fsm.State
LoopEvent = loop_fsm.Event
OUTCOME_EVENTS = {
    "SUCCESS": LoopEvent.SUCCEED,
    "REVERTED": LoopEvent.REVERTED,
    "FAILURE": LoopEvent.REVERT_FAILED,
    "SUSPENDED": LoopEvent.SUSPENDED,
}
_QUEUED: dict[str, tuple[str, ...]] = {
    LoopState.RESUMING: ("boot", "write", "route"),
    LoopState.SCHEDULING: ("take", "write", "submit"),
    LoopState.WAITING: ("wait",),
}


class Executor(Protocol):
    """What the loop needs of an executor (a `Dispatcher`, or the model checker's simulated
    one): room for more work, a way to start it, and whether anything is still out."""

    @property
    def free(self) -> int: ...

    @property
    def idle(self) -> bool: ...

    def submit(self, work: Work) -> None: ...


class Loop:
    """One run of the engine loop over a core and a store; see the module docstring.

    `next` names the step to take; `step(loop, executor)` takes it (`wait` is taken by
    `deliver`, with the completions the driver collected). `entered` is the loop state the last
    step entered, or None. A step that raises (a store error, a crash) leaves the loop where it
    was in the middle of that step: the run must be loaded again from the store (a write that
    raised leaves its transitions in `failed_write`).
    """

    def __init__(
        self,
        core: Core,
        storage: Storage,
        flow_id: str,
        version: int,
        *,
        listeners: Sequence[Any] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.core = core
        self.storage = storage
        self.flow_id = flow_id
        self.version = version
        self.listeners = listeners
        self.clock = clock
        self.suspend_requested = False
        self.state: EntityState[Any, Any] = EntityState(loop_fsm.LIFECYCLE, core.compiled.name)
        self.event: LoopEvent = LoopEvent.START
        self.steps: deque[str] = deque(("enter",))
        self.works: list[Work] = []
        self.completions: deque[Completion] = deque()
        self.finished: Work | None = None
        """The work whose outcome the last `finish` took (its record is the next `write`)."""
        self.entered: str | None = None
        self.token: int | None = None
        """The token of the run's lease that every write carries (None: no lease)."""
        self.failed_write: list[Transition] | None = None
        """The transitions of the write that raised, which the store may or may not hold
        (None while no write failed): after it, the run must be loaded again from the store."""

    def restart(self) -> None:
        """Begin a new `run()` of the loop (PENDING again) over the same core and store."""
        self.state = EntityState(loop_fsm.LIFECYCLE, self.core.compiled.name)
        self.event = LoopEvent.START
        self.steps = deque(("enter",))
        self.works, self.completions, self.finished = [], deque(), None
        self.failed_write = None

    def clone(self, core: Core, storage: Storage) -> Loop:
        """Return a copy of this loop, between two steps, over `core` and `storage` (copies
        the caller made of this loop's)."""
        other = Loop.__new__(Loop)
        other.__dict__.update(self.__dict__)
        other.core, other.storage = core, storage
        other.state = self.state.copy()
        other.steps = self.steps.copy()
        other.works = self.works.copy()
        other.completions = self.completions.copy()
        return other

    @property
    def next(self) -> str | None:
        """The step to take next; None when the loop has reached a terminal state."""
        return self.steps[0] if self.steps else None

    def deliver(self, completions: Iterable[Completion]) -> None:
        """Take the `wait` step: the work that completed, as the driver's executor reported."""
        assert self.steps[0] == "wait", self.steps
        self.steps.popleft()
        self.entered = None
        self.completions.extend(completions)
        self._go(LoopEvent.ANALYZE)

    # -- the steps ---------------------------------------------------------------------------

    def _enter(self, executor: Executor) -> None:
        if self.suspend_requested and self.event is not LoopEvent.START:
            self.suspend_requested = False
            if self.core.request_suspend():
                self.steps.extendleft(("enter", "write"))  # written before the state changes
                return
        old = self.state.state
        new: str = self.state.apply(self.event)
        self.entered = new
        if self.listeners:
            announce(
                self.listeners, Transition(None, "engine", old, self.event, new, 0, self.clock())
            )
        if new == LoopState.ANALYZING:
            self.steps.extend(("finish", "write") * len(self.completions))
            self.steps.extend(("honour", "write", "decide"))
        else:
            self.steps.extend(_QUEUED.get(new, ()))

    def _boot(self, executor: Executor) -> None:
        self.core.start()

    def _route(self, executor: Executor) -> None:
        self._go(LoopEvent.ANALYZE if self.core.over else LoopEvent.SCHEDULE)

    def _take(self, executor: Executor) -> None:
        self.works = self.core.take_work(executor.free)

    def _write(self, executor: Executor) -> None:
        transitions = self.core.drain()
        if not transitions:
            return
        try:
            self.version = self.storage.record(self.flow_id, transitions, self.version, self.token)
        except BaseException:
            self.failed_write = transitions
            raise
        if self.listeners:
            for transition in transitions:
                announce(self.listeners, transition)

    def _submit(self, executor: Executor) -> None:
        works, self.works = self.works, []
        for work in works:
            executor.submit(work)
        self._go(LoopEvent.WAIT)

    def _finish(self, executor: Executor) -> None:
        completion = self.completions.popleft()
        work, failure, result = completion.work, completion.failure, completion.result
        if failure is None and work.action == "execute":
            result, failure = self._as_stored(work.node, result)
        self.core.finish(work, result, failure)
        self.finished = work

    def _honour(self, executor: Executor) -> None:
        if self.suspend_requested:
            self.suspend_requested = False
            self.core.request_suspend()

    def _decide(self, executor: Executor) -> None:
        core = self.core
        if core.over:
            self._go(OUTCOME_EVENTS[core.flow.state])
        elif core.has_work():
            self._go(LoopEvent.SCHEDULE)
        elif executor.idle:
            raise InternalError(
                f"flow {core.compiled.name!r} is {core.flow.state} with nothing running "
                "and nothing to do"
            )
        else:
            self._go(LoopEvent.WAIT)

    def _go(self, event: LoopEvent) -> None:
        self.event = event
        self.steps.append("enter")

    def _as_stored(self, atom: str, result: Any) -> tuple[Any, Failure | None]:
        """Return `result` as the store gives it back after a crash (what the atoms that need
        it are given, crash or not), and None; or None and the failure of a result the store
        cannot keep (it fails its task)."""
        try:
            return self.storage.stored_value(self.flow_id, atom, "result", result), None
        except UnstorableValue as exc:
            return None, Failure.from_exception(exc)


_STEPS: dict[str, Callable[[Loop, Executor], None]] = {
    "enter": Loop._enter,
    "boot": Loop._boot,
    "route": Loop._route,
    "take": Loop._take,
    "write": Loop._write,
    "submit": Loop._submit,
    "finish": Loop._finish,
    "honour": Loop._honour,
    "decide": Loop._decide,
}


def step(loop: Loop, executor: Executor) -> str | None:
    """Take the loop's next step (not `wait`: see `Loop.deliver`); return the loop state it
    entered, or None. The one step function of every driver: the engine's and the checker's.

    Raises whatever the store or the executor raised; the loop is then in the middle of that
    step (the failed step is not taken again).
    """
    name = loop.steps.popleft()
    loop.entered = None
    _STEPS[name](loop, executor)
    return loop.entered


def resumed_core(
    compiled: CompiledFlow,
    info: RunInfo,
    transitions: Iterable[Transition],
    *,
    clock: Callable[[], float] = time.time,
) -> Core:
    """Return a core over the recorded run (`info` and its `transitions`, oldest first), not
    started yet: what every driver continues a run from after a restart.

    Raises `FlowMismatch` when the flow differs from the record (`check_flow`: every recorded
    atom present, of its kind, version and scope; new atoms only where the run has not
    reached), and `IllegalTransition` when the recorded events are not a path through the
    tables.
    """
    transitions = transitions if isinstance(transitions, Sequence) else list(transitions)
    check_flow(compiled, info, transitions)
    records, flow_events = records_from(transitions)
    return Core(compiled, info.store, clock=clock, records=records, flow_events=flow_events)


def run_info(
    compiled: CompiledFlow, flow_id: str, store: Mapping[str, Any], factory: str | None
) -> RunInfo:
    """Return what a new run of `compiled` records about itself when it is created."""
    with collector_paused():
        atoms = tuple(
            AtomInfo(name, node.kind, node.atom.version, node.flows[-1], node.retry)
            for name, node in compiled.nodes.items()
            if node.atom is not None
        )
    return RunInfo(flow_id, compiled.name, atoms, store, factory)
