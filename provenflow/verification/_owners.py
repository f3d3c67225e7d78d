"""Engines that contend for one run: the run lease and its fencing token, model-checked.

Theory of operation. `check_owners` explores what several engines do to one run when each may
load it, take its lease, take the engine loop's steps, renew its lease, or stand still while the
clock passes its lease's expiry (a paused process, a partition), in every order. Each engine is
the engine's real loop (`provenflow.engine._loop`, the same `step` every driver takes) over one
`SimulatedStore`, whose leases are decided by the stores' own rules
(`provenflow.persistence._lease`) on a simulated clock that only the search moves: an expiry is
a jump of the clock to the holder's expiry time. Around its loop, each engine does what the
engine's runner does (`Engine._running`, `Engine._drive`): it loads the run, takes the lease
before anything else (a live lease of another engine refuses it), records a takeover, stops at
its next step once a renewal was refused, stops at a refused write, and gives the lease back
when its loop ends.

An engine's move runs its loop up to and including its next write to the store (or to the end
of the loop): the steps in between touch only that engine's own memory and executor, so the
order in which engines take them cannot change what the store keeps. The tasks run (their
results are what the engines record); no failure or crash is injected, and the user's world is
not part of the state: this check is about who may write to a run, not about what the tasks do
(`check` explores that).

Each move is held to rules that do not trust the lease code they check:

- `one owner`: an engine is granted the run's lease only when no other running engine was
  told (granted or renewed) a lease that lasts past now;
- `fencing tokens`: each grant's token is above every token granted before;
- `fenced`: a write is kept only when its engine is the one granted the lease last (an earlier
  owner's write after a takeover is never kept);

and, where no engine can move any more, the run's record must load through the tables
(`record`). Breadth-first, with states merged by key (the store's rows and lease, the clock,
each engine's phase, loop and core), so the first violation found has the shortest trace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import astuple, dataclass
from typing import Any

from provenflow.engine import Core, Work, perform
from provenflow.engine._executors import Completion
from provenflow.engine._loop import Loop, resumed_core, run_info, step
from provenflow.errors import (
    IllegalTransition,
    LeaseLost,
    RecordError,
    RunOwned,
    StaleVersion,
    UsageError,
)
from provenflow.failure import Failure
from provenflow.flows import Flow, compile_flow
from provenflow.persistence import Owner
from provenflow.verification._protocol_search import Violated, explore
from provenflow.verification._simulated import SimulatedExecutor, SimulatedStore
from provenflow.verification._state_key import core_key, work_key
from provenflow.verification._value_key import value_key

__all__ = ["OwnersReport", "OwnersViolation", "check_owners"]

FLOW_ID = "run"
_OVER = frozenset(("done", "refused", "fenced", "stopped"))


def _zero() -> float:
    return 0.0


@dataclass(frozen=True)
class OwnersViolation:
    """A broken rule (`one owner`, `fencing tokens`, `fenced` or `record`), what broke it,
    and the shortest sequence of moves that leads there (`trace`, oldest first)."""

    rule: str
    message: str
    trace: tuple[str, ...]

    def __str__(self) -> str:
        steps = (f"  {number}. {line}" for number, line in enumerate(self.trace, 1))
        return "\n".join((f"VIOLATION ({self.rule}): {self.message}", *steps))


@dataclass(frozen=True)
class OwnersReport:
    """What `check_owners` found: `ok` when no rule broke in what it explored, `complete` when
    it explored every state within the bounds (not stopped by `max_states`)."""

    flow: str
    engines: int
    expiries: int
    states_explored: int
    transitions: int
    complete: bool
    violations: tuple[OwnersViolation, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether no rule broke in the states explored."""
        return not self.violations

    def __str__(self) -> str:
        if self.violations:
            verdict = "VIOLATION"
        elif self.complete:
            verdict = "complete, no violation"
        else:
            verdict = "INCOMPLETE (stopped at max_states), no violation so far"
        head = (
            f"{verdict}: flow {self.flow!r}, {self.engines} engines on one run, up to "
            f"{self.expiries} lease expiries; {self.states_explored} states, "
            f"{self.transitions} transitions in {self.seconds:.2f} s"
        )
        return "\n".join((head, *map(str, self.violations)))


class _Engine:
    """One engine's process: its phase (`idle`, `loaded`, `running`, then `done`, `refused`,
    `fenced` or `stopped`), its loop and executor once it loaded the run, its lease's token,
    and whether a renewal was refused (`lost`)."""

    __slots__ = ("executor", "expires", "loop", "lost", "name", "owner", "phase", "token")

    def __init__(self, name: str, number: int) -> None:
        self.name = name
        self.owner = Owner("model", number, name)
        self.phase = "idle"
        self.loop: Loop | None = None
        self.executor: SimulatedExecutor | None = None
        self.token: int | None = None
        self.expires = 0.0
        """Until when the engine was told its lease lasts (granted or renewed): the rules'
        own account, kept apart from the store's."""
        self.lost = False

    def copy(self, store: SimulatedStore) -> _Engine:
        other = _Engine.__new__(_Engine)
        other.name, other.owner, other.phase = self.name, self.owner, self.phase
        other.token, other.lost, other.expires = self.token, self.lost, self.expires
        other.loop = None if self.loop is None else self.loop.clone(self.loop.core.clone(), store)
        other.executor = None if self.executor is None else self.executor.copy()
        return other

    def key(self, names: tuple[str, ...]) -> Hashable:
        loop, executor = self.loop, self.executor
        if self.phase in _OVER:  # it will not move again: what it holds changes nothing
            return self.phase
        if loop is None or executor is None:
            return (self.phase, self.token, self.lost)
        return (
            self.phase,
            self.token,
            self.lost,
            self.expires,
            loop.version,
            tuple(loop.steps),
            loop.event,
            loop.state.state,
            tuple(map(work_key, loop.works)),
            tuple((work_key(c.work), value_key(c.result), c.failure) for c in loop.completions),
            frozenset(map(work_key, executor.in_flight)),
            core_key(loop.core, names),
        )


class _Path:
    """One state of the search: the store, the engines, the expiries left, the newest token
    granted, and the moves that led here."""

    def __init__(self, explorer: _Explorer, engines: int, expiries: int) -> None:
        self.explorer = explorer
        self.store = SimulatedStore()
        self.store.create(run_info(explorer.compiled, FLOW_ID, dict(explorer.store), None))
        self.engines = [_Engine(chr(ord("A") + number), number + 1) for number in range(engines)]
        self.expiries = expiries
        self.newest = 0
        self.holder: str | None = None
        self.trace: tuple[str, ...] = ()

    def copy(self) -> _Path:
        other = _Path.__new__(_Path)
        other.explorer, other.expiries, other.newest = self.explorer, self.expiries, self.newest
        other.holder = self.holder
        other.store = self.store.copy()
        other.engines = [engine.copy(other.store) for engine in self.engines]
        other.trace = self.trace
        return other

    def key(self) -> Hashable:
        names = self.explorer.names
        store = self.store
        return (
            tuple(store.rows),
            store.lease,
            store.now,
            self.expiries,
            self.newest,
            self.holder,
            tuple(engine.key(names) for engine in self.engines),
        )

    def moves(self) -> list[tuple[str, int]]:
        """Every move that can be taken from here: (what, which engine; -1 for the clock)."""
        out: list[tuple[str, int]] = []
        for number, engine in enumerate(self.engines):
            if engine.phase == "idle":
                out.append(("load", number))
            elif engine.phase == "loaded":
                out.append(("lease", number))
            elif engine.phase == "running":
                out.append(("step", number))
                if not engine.lost:
                    out.append(("renew", number))
        lease = self.store.lease
        if self.expiries and lease is not None and lease.live(self.store.now):
            out.append(("expire", -1))
        return out

    def take(self, move: tuple[str, int]) -> None:
        """Take `move`; raises `Violated` when it breaks a rule."""
        what, number = move
        if what == "expire":
            self._expire()
            return
        engine = self.engines[number]
        {"load": self._load, "lease": self._lease, "step": self._step, "renew": self._renew}[what](
            engine
        )

    def _say(self, line: str) -> None:
        self.trace = (*self.trace, line)

    def _expire(self) -> None:
        lease = self.store.lease
        assert lease is not None
        self.store.now = lease.expires_at
        self.expiries -= 1
        holder = self._holder(lease.owner)
        self._say(
            f"the clock reaches {lease.expires_at:g}: {holder}'s lease (token {lease.token}) "
            f"expires while {holder} is paused"
        )

    def _holder(self, owner: Owner) -> str:
        return next(engine.name for engine in self.engines if engine.owner == owner)

    def _load(self, engine: _Engine) -> None:
        info, transitions, version = self.store.load(FLOW_ID)
        core = resumed_core(self.explorer.compiled, info, transitions, clock=_zero)
        engine.loop = Loop(core, self.store, FLOW_ID, version, clock=_zero)
        engine.executor = SimulatedExecutor(self.explorer.workers)
        engine.phase = "loaded"
        self._say(f"{engine.name} loads the run (version {version})")

    def _lease(self, engine: _Engine) -> None:
        store, loop = self.store, engine.loop
        assert loop is not None
        now = store.now
        try:
            grant = store.take_lease(FLOW_ID, engine.owner, self.explorer.ttl)
        except RunOwned as refused:
            engine.phase = "refused"
            self._say(f"{engine.name} is refused the run: {refused}")
            return
        token = grant.lease.token
        for other in self.engines:
            if other.phase == "running" and not other.lost and other.expires > now:
                self._say(f"{engine.name} is granted the run's lease (token {token})")
                raise Violated(
                    "one owner",
                    f"{engine.name} was granted the run while {other.name}'s lease (token "
                    f"{other.token}) was live until {other.expires:g} (now {now:g})",
                )
        if token <= self.newest:
            self._say(f"{engine.name} is granted the run's lease (token {token})")
            raise Violated(
                "fencing tokens",
                f"{engine.name} was granted token {token}, not above token {self.newest} "
                f"granted to {self.holder} before",
            )
        self.newest, self.holder = token, engine.name
        engine.token = loop.token = token
        engine.expires = grant.lease.expires_at
        engine.phase = "running"
        old = grant.taken_over
        if old is None:
            self._say(f"{engine.name} takes the run's lease (token {token})")
            return
        self._say(
            f"{engine.name} takes the run's lease over from {self._holder(old.owner)} "
            f"(token {old.token} -> {token})"
        )
        loop.core.take_over(
            {
                "owner": old.owner.id,
                "pid": old.owner.pid,
                "host": old.owner.host,
                "token": old.token,
                "expired_at": old.expires_at,
                "new_token": token,
            }
        )

    def _renew(self, engine: _Engine) -> None:
        assert engine.token is not None
        try:
            lease = self.store.renew_lease(FLOW_ID, engine.owner, engine.token, self.explorer.ttl)
        except LeaseLost:
            engine.lost = True
            self._say(f"{engine.name}'s renewal is refused: its lease was taken over")
            return
        engine.expires = lease.expires_at
        self._say(f"{engine.name} renews its lease (until {lease.expires_at:g})")

    def _step(self, engine: _Engine) -> None:
        """The engine's loop, up to and including its next write (see the module docstring)."""
        loop, executor = engine.loop, engine.executor
        assert loop is not None and executor is not None and engine.token is not None
        if engine.lost:
            engine.phase = "stopped"
            self._say(f"{engine.name} learns its lease was lost and stops")
            return
        while loop.steps:
            name = loop.steps[0]
            if name == "wait":
                self._complete(engine)
                continue
            writes = name == "write" and loop.core.has_unrecorded
            if name == "take":
                executor.room = executor.slots
            written = len(self.store.rows)
            try:
                step(loop, executor)
            except (LeaseLost, StaleVersion, RunOwned) as refused:
                engine.phase = "fenced"
                self._say(f"{engine.name}'s write is refused and it stops: {refused}")
                return
            if writes:
                self._wrote(engine, written)
                return
        engine.phase = "done"
        try:  # as the runner does, a lease that cannot be given back is left to expire
            self.store.release_lease(FLOW_ID, engine.owner, engine.token)
        except LeaseLost:
            self._say(f"{engine.name}'s run ends {loop.core.flow.state}; its lease was lost")
            return
        self._say(f"{engine.name}'s run ends {loop.core.flow.state}; it gives the lease back")

    def _complete(self, engine: _Engine) -> None:
        """The wait: everything in flight completes, in the order it was submitted."""
        loop, executor = engine.loop, engine.executor
        assert loop is not None and executor is not None
        completions = []
        for work in executor.in_flight:
            completions.append(Completion(work, *_outcome(work)))
        executor.in_flight.clear()
        loop.deliver(completions)

    def _wrote(self, engine: _Engine, written: int) -> None:
        rows = self.store.transitions[written:]
        what = ", ".join(f"{t.atom or 'flow'} {t.new_state}" for t in rows)
        self._say(f"{engine.name} writes [{what}] with token {engine.token}")
        if engine.name != self.holder:
            raise Violated(
                "fenced",
                f"{engine.name}'s write with token {engine.token} was kept after {self.holder} "
                f"was granted token {self.newest}",
            )

    def end(self) -> None:
        """No engine can move: the record must load through the tables."""
        info, transitions, _ = self.store.load(FLOW_ID)
        try:
            resumed_core(self.explorer.compiled, info, transitions, clock=_zero)
        except (IllegalTransition, RecordError) as error:
            raise Violated("record", f"the run's record does not load: {error}") from None


def _outcome(work: Work) -> tuple[Any, Failure | None]:
    try:
        return perform(work), None
    except Exception as exc:  # the user's code failed: an outcome like any other
        return None, Failure.from_exception(exc)


@dataclass
class _Explorer:
    compiled: Any
    store: Mapping[str, Any]
    names: tuple[str, ...]
    ttl: float
    workers: int


def check_owners(
    flow_or_factory: Flow | Callable[[], Any],
    store: Mapping[str, Any] | None = None,
    *,
    engines: int = 2,
    expiries: int = 1,
    ttl: float = 30.0,
    workers: int = 1,
    max_states: int = 100_000,
) -> OwnersReport:
    """Explore `engines` engines on one run of the flow, each loading it, taking its lease,
    stepping, renewing and pausing in every order, with up to `expiries` lease expiries on a
    simulated clock (see the module docstring); return the report, with the shortest trace to
    the first broken rule.

    Raises `UsageError` for bounds below 1 (engines, workers, ttl, max_states) or below 0
    (expiries), and what compiling the flow raises.
    """
    if engines < 1 or workers < 1 or max_states < 1 or ttl <= 0 or expiries < 0:
        raise UsageError(
            "check_owners: engines, workers and max_states must be at least 1, ttl positive "
            f"and expiries at least 0 (got engines={engines}, workers={workers}, "
            f"max_states={max_states}, ttl={ttl}, expiries={expiries})"
        )
    started = time.perf_counter()
    made = flow_or_factory() if callable(flow_or_factory) else flow_or_factory
    flow = made[0] if isinstance(made, tuple) else made
    values = dict(store or {})
    compiled = compile_flow(flow, store_keys=values)
    names = tuple(Core(compiled, values, clock=_zero).states)
    first = _Path(_Explorer(compiled, values, names, ttl, workers), engines, expiries)
    found = explore(first, max_states)
    broken = found.broken
    violations = () if broken is None else (OwnersViolation(*astuple(broken)),)
    return OwnersReport(
        flow=compiled.name,
        engines=engines,
        expiries=expiries,
        states_explored=found.states,
        transitions=found.transitions,
        complete=found.complete,
        violations=violations,
        seconds=time.perf_counter() - started,
    )
