"""The runner: the effectful shell around the core. `Engine`, `run`.

The engine compiles the flow (refusing a bad one before anything runs), creates or loads the
run in a store, and drives the core through the engine-loop lifecycle: RESUMING, then rounds of
SCHEDULING (take work from the core, record its transitions, submit it), WAITING (for a
completion) and ANALYZING (hand outcomes to the core, record what it decided), until the run is
over. Every transition the core makes is recorded through the store (a compare-and-set) before
the runner performs the next side effect, then announced to the listeners. `run_iter()` yields
the loop's states; sending it `True` asks for suspension, as `suspend()` does. A call cut
short in the middle of the run stops the engine (`provenflow.engine._stop`).

Each `run()` first takes the run's lease in the store (`_lease.RunLease`), so that a second
engine on a live run is refused with `RunOwned` before it runs anything; every write carries the
lease's token; the lease is renewed while the run goes on and given back when `run()` returns
or raises. A lease taken over from an engine whose lease expired is recorded (`taken_over`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from provenflow.engine._async import AsyncDispatcher
from provenflow.engine._core import Core
from provenflow.engine._executors import Dispatcher, make_dispatcher
from provenflow.engine._factory import factory_spec, load_factory
from provenflow.engine._lease import DEFAULT_LEASE_TTL, RunLease, check_ttl
from provenflow.engine._loop import Loop, resumed_core, run_info, step
from provenflow.engine._stop import UNKNOWN, Stop
from provenflow.engine._trust import resume_factory
from provenflow.errors import (
    EngineStopped,
    MultipleFailures,
    UsageError,
)
from provenflow.failure import Failure, RecordedFailure
from provenflow.flows import CompiledFlow, Flow, compile_flow
from provenflow.fsm import engine as loop_fsm
from provenflow.persistence import Storage, Transition, open_storage
from provenflow.persistence._lease import new_owner

__all__ = ["Engine", "run"]

LoopState = loop_fsm.State
LoopEvent = loop_fsm.Event
_WAIT = object()
"""What the engine loop yields when it needs completions from its driver."""


class Engine:
    """Runs one flow, recording every transition; see the module docstring.

    `store` gives values for symbols no atom provides; `backend` is a storage URL or object
    (default: a new in-memory store); `executor` is "serial", "threads", "processes" or a
    `concurrent.futures.Executor`; `listeners` are told of every transition; `lease_ttl` is
    how many seconds the engine's lease on the run lasts unless renewed (default 30; renewed
    every third while it runs; after a crash, another engine may take the run over once it
    expired). Raises a `FlowDefinitionError` before anything runs when the flow is refused.
    """

    def __init__(
        self,
        flow: Flow,
        store: Mapping[str, Any] | None = None,
        backend: str | Storage | None = None,
        executor: str | cf.Executor = "serial",
        *,
        max_workers: int | None = None,
        listeners: Iterable[Any] = (),
        flow_id: str | None = None,
        factory: str | None = None,
        lease_ttl: float = DEFAULT_LEASE_TTL,
    ) -> None:
        store = dict(store or {})
        check_ttl(lease_ttl)
        compiled = compile_flow(flow, store_keys=store)
        self.storage = open_storage(backend)
        self.flow_id = flow_id or uuid.uuid4().hex
        version = self.storage.create(run_info(compiled, self.flow_id, store, factory))
        store = {  # as the store gives them back after a crash: what the atoms are given
            name: self.storage.stored_value(self.flow_id, None, f"store[{name!r}]", value)
            for name, value in store.items()
        }
        self._setup(compiled, Core(compiled, store, clock=time.time), version)
        self._configure(executor, max_workers, listeners, lease_ttl)

    @classmethod
    def from_factory(
        cls,
        factory: str | Callable[[], Flow],
        store: Mapping[str, Any] | None = None,
        backend: str | Storage | None = None,
        executor: str | cf.Executor = "serial",
        **options: Any,
    ) -> Engine:
        """Return an engine over the flow `factory` builds, recording the factory with the run.

        `factory` is a `FILE_OR_MODULE:NAME` spec or an importable module-level function. The
        spec is recorded with the run as provenance: `Engine.resume(backend, flow_id)` (and
        `provenflow resume`) rebuild the flow from it only when the user trusts it (see
        `provenflow.engine.resume_factory`). Raises `UsageError` when the factory cannot be
        imported or re-imported later (a lambda, a nested function).
        """
        if isinstance(factory, str):
            spec = _portable_spec(factory)
            build = load_factory(spec)
        else:
            found = factory_spec(factory)
            if found is None:
                raise UsageError(
                    f"factory {factory!r} cannot be imported again to resume a run: use a "
                    "module-level function, or pass its FILE_OR_MODULE:NAME spec"
                )
            spec, build = found, factory
        return cls(build(), store, backend, executor, factory=spec, **options)

    @classmethod
    def resume(
        cls,
        backend: str | Storage,
        flow_id: str,
        executor: str | cf.Executor = "serial",
        *,
        factory: str | Callable[[], Flow] | None = None,
        **options: Any,
    ) -> Engine:
        """Return an engine that continues run `flow_id`, its flow rebuilt by a factory.

        The factory is `factory` when given (a `FILE_OR_MODULE:NAME` spec or a function);
        otherwise the one recorded with the run, but only when it is trusted: the store never
        names code to run (see `provenflow.engine.resume_factory`). Raises `UnknownRun` for an
        unknown id, `UntrustedFactory` (naming the recorded factory and how to trust it) when
        the recorded factory is not trusted, `UsageError` when the run recorded no factory and
        none is given (or rebuild the flow yourself and use `Engine.load`), `FlowMismatch`
        when the flow differs from the run's record, and `StoreNotFound` when there is no store
        at the URL (none is made). Nothing is written when it raises.
        """
        storage = open_storage(backend, create=False)  # a missing store is not made
        info = storage.load(flow_id)[0]
        if factory is None or isinstance(factory, str):
            build = load_factory(resume_factory(info, storage.url, factory))
        else:
            build = factory
        return cls.load(build(), storage, flow_id, executor, **options)

    @classmethod
    def load(
        cls,
        flow: Flow,
        backend: str | Storage,
        flow_id: str,
        executor: str | cf.Executor = "serial",
        *,
        max_workers: int | None = None,
        listeners: Iterable[Any] = (),
        lease_ttl: float = DEFAULT_LEASE_TTL,
    ) -> Engine:
        """Return an engine over the recorded run `flow_id`; its `run()` continues that run.

        `flow` must be the flow the run was started with, rebuilt (atoms are matched by name;
        atoms added where the run has not reached are accepted). Raises `UnknownRun` when the
        store has no such run, and `FlowMismatch` naming every difference when a recorded atom
        is missing, of another kind or version, or in another scope (see
        `provenflow.engine.check_flow`); nothing is run or written then. `StoreNotFound` when
        there is no store at the URL (none is made).
        """
        storage = open_storage(backend, create=False)  # a missing store is not made
        info, transitions, version = storage.load(flow_id)
        compiled = compile_flow(flow, store_keys=info.store)
        core = resumed_core(compiled, info, transitions, clock=time.time)
        engine = cls.__new__(cls)
        engine.storage = storage
        engine.flow_id = flow_id
        engine._setup(compiled, core, version)
        engine._configure(executor, max_workers, listeners, check_ttl(lease_ttl))
        return engine

    def _setup(self, compiled: CompiledFlow, core: Core, version: int) -> None:
        self.compiled = compiled
        self._core = core
        self._loop = Loop(core, self.storage, self.flow_id, version)
        self._lock = threading.Lock()
        self._loop_state: Any = LoopState.PENDING
        self._stop = Stop(self.flow_id, self.storage.url)

    def _configure(
        self,
        executor: str | cf.Executor,
        max_workers: int | None,
        listeners: Iterable[Any],
        lease_ttl: float,
    ) -> None:
        make_dispatcher(executor, max_workers).close()  # refuse a bad executor now
        self.lease_ttl = float(lease_ttl)
        self.owner = new_owner()
        self._lease: RunLease | None = None
        self._executor = executor
        self._max_workers = max_workers
        self.listeners: list[Any] = list(listeners)

    # -- what a caller reads ---------------------------------------------------------------

    @property
    def state(self) -> str:
        """The flow's state: PENDING, RUNNING, SUSPENDED, SUCCESS, REVERTED, FAILURE, ...;
        UNKNOWN once the engine is stopped (load the run again to read the store's)."""
        return UNKNOWN if self._stop.error is not None else self._core.flow.state

    @property
    def stopped(self) -> EngineStopped | None:
        """Why this engine refuses to go on (what its next `run()` raises), or None: set when
        a call was cut short in the middle of the run, by a failed write or otherwise."""
        return self._stop.error

    @property
    def loop_state(self) -> str:
        """The engine loop's state (see `provenflow.fsm.engine`)."""
        return str(self._loop_state)

    def atom_state(self, name: str) -> str:
        """Return the state of the atom called `name`; `UsageError` names the atoms if unknown."""
        if name not in self._core.states:
            known = ", ".join(sorted(self._core.states))
            raise UsageError(f"flow {self.compiled.name!r} has no atom {name!r} (atoms: {known})")
        return UNKNOWN if self._stop.error is not None else self._core.state_of(name)

    def results(self) -> dict[str, Any]:
        """Return every symbol provided by an atom that succeeded and was not reverted.

        Raises `EngineStopped` once the engine is stopped (a result it holds may be unrecorded).
        """
        self._stop.refuse()
        return self._core.results()

    def history(self) -> list[Transition]:
        """Return every recorded transition of this run, oldest first."""
        return self.storage.load(self.flow_id)[1]

    def failures(self) -> dict[str, Failure]:
        """Return the failures of this run's atoms that are still on record, by atom name.

        An atom that failed and then succeeded on a retry has no failure on record.
        """
        return dict(self._core.failures)

    def revert_failures(self) -> dict[str, Failure]:
        """Return the failures of reverts that raised, by atom name."""
        return dict(self._core.revert_failures)

    # -- running -------------------------------------------------------------------------------

    def suspend(self) -> None:
        """Ask the run to stop scheduling; running atoms finish, then `run()` returns SUSPENDED.

        Safe to call from any thread, including a task's. Called before `run()`, the run
        suspends as soon as it has started, before any atom runs. Has no effect on a run that is
        reverting or over.
        """
        self._loop.suspend_requested = True  # a bool store is atomic

    def run(self) -> dict[str, Any]:
        """Run (or continue) the flow to its end or to a suspension; return `results()`.

        Raises the original exception when one atom failed and the run was reverted (or ended
        FAILURE), `MultipleFailures` when several did.
        """
        with self._running():
            dispatcher = make_dispatcher(self._executor, self._max_workers)
            dispatcher.progress = self._progress if self._hears_progress() else None
            try:
                rounds = self._drive(dispatcher)
                for state in rounds:
                    value = state
                    while value is _WAIT:
                        value = rounds.send(dispatcher.wait())
            finally:
                dispatcher.close()
        self._raise_failures()
        return self.results()

    def run_iter(self) -> Generator[str, bool | None, None]:
        """Run like `run()`, yielding each state of the engine loop; `send(True)` suspends.

        Each state is yielded as the loop enters it, before its work is done (so at ANALYZING
        a just-finished atom still shows RUNNING). The engine counts as running until the
        generator is exhausted or closed: after breaking out of the loop, call `close()` on it.
        Closed before the loop's outcome, it leaves the engine stopped (`stopped`).
        """
        with self._running():
            dispatcher = make_dispatcher(self._executor, self._max_workers)
            dispatcher.progress = self._progress if self._hears_progress() else None
            try:
                rounds = self._drive(dispatcher)
                value = next(rounds)
                while True:
                    if value is _WAIT:
                        value = rounds.send(dispatcher.wait())
                    else:
                        value = rounds.send((yield value))
            except StopIteration:
                pass
            finally:
                dispatcher.close()
        self._raise_failures()

    async def run_async(self) -> dict[str, Any]:
        """Run like `run()` inside an asyncio program, without blocking its event loop.

        `async def` atoms run on the running loop; plain ones in the loop's default thread pool.
        Each atom's `timeout` cancels it. Raises as `run()` does.
        """
        with self._running():
            dispatcher = AsyncDispatcher(self._max_workers or 64)
            dispatcher.progress = self._progress if self._hears_progress() else None
            try:
                rounds = self._drive(dispatcher)
                value = next(rounds)
                while True:
                    if value is _WAIT:
                        value = rounds.send(await dispatcher.wait())
                    else:
                        value = rounds.send(None)
            except StopIteration:
                pass
            finally:
                await dispatcher.close()
        self._raise_failures()
        return self.results()

    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        """Hold the engine for one call: refused when it is stopped or already running."""
        if not self._lock.acquire(blocking=False):
            raise UsageError(f"engine for run {self.flow_id!r} is already running")
        try:
            with self._stop.watch(self._loop):
                lease = RunLease.take(self.storage, self.flow_id, self.owner, self.lease_ttl)
                try:
                    self._lease, self._loop.token = lease, lease.token
                    previous = lease.previous()
                    if previous is not None:
                        self._core.take_over(previous)
                    yield
                finally:
                    self._lease = None
                    lease.release()
        finally:
            self._lock.release()

    def _hears_progress(self) -> bool:
        return any(hasattr(listener, "on_progress") for listener in self.listeners)

    def _drive(self, dispatcher: Dispatcher | AsyncDispatcher) -> Generator[Any, Any, None]:
        """The engine loop, taken step by step (`provenflow.engine._loop`). Yields each loop
        state it enters (and gets suspension requests back), and yields `_WAIT` when it needs
        completions, which the driver sends back."""
        loop = self._loop
        loop.restart()
        self._stop.driving = True
        loop.listeners = self.listeners
        while loop.steps:
            if self._lease is not None:
                self._lease.check()  # a lost lease ends the run here (its writes are refused)
            if loop.steps[0] == "wait":
                loop.deliver((yield _WAIT) if not dispatcher.idle else ())
                entered = None
            else:
                entered = step(loop, dispatcher)
            if entered is not None:
                self._loop_state = entered
                if (yield entered):
                    loop.suspend_requested = True

    def _progress(self, atom: str, fraction: float) -> None:
        for listener in self.listeners:
            on_progress = getattr(listener, "on_progress", None)
            if on_progress is not None:
                on_progress(atom, fraction)

    def _raise_failures(self) -> None:
        state = self._core.flow.state
        if state not in ("REVERTED", "FAILURE"):
            return
        failures = [*self._core.failures.values(), *self._core.revert_failures.values()]
        if not failures:
            return
        exceptions = [_exception_of(failure) for failure in failures]
        if len(exceptions) == 1:
            raise exceptions[0]
        raise MultipleFailures(
            f"flow {self.compiled.name!r} ended {state}: {len(exceptions)} atoms failed",
            exceptions,
        )


def _portable_spec(spec: str) -> str:
    """Return `spec` with a file path made absolute, so a resume from elsewhere finds it."""
    location, _, name = spec.rpartition(":")
    path = Path(location)
    if location.endswith(".py") and path.is_file():
        return f"{path.resolve()}:{name}"
    return spec


def _exception_of(failure: Failure) -> Exception:
    exc = failure.exception
    if isinstance(exc, Exception):
        return exc
    return RecordedFailure(failure)


def run(
    flow: Flow,
    store: Mapping[str, Any] | None = None,
    backend: str | Storage | None = None,
    executor: str | cf.Executor = "serial",
    **options: Any,
) -> dict[str, Any]:
    """Run `flow` on a new engine and return every provided symbol (see `Engine`)."""
    return Engine(flow, store=store, backend=backend, executor=executor, **options).run()
