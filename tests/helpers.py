"""Shared fakes for the test suite: one place, as the house style asks.

- `CrashingStorage` wraps a real store and "kills the process" (raises `Crash`) at its Nth
  write, leaving the wrapped store exactly as a crashed process would.
- `FaultyStorage` wraps a real store whose Nth `record()` raises a given exception, before
  writing anything or after its write landed, in a process that lives on.
- `Untouchable` stands in for a store that nothing may use (put it in a wrapper's `inner`).
- `Journal` records the side effects tasks perform, in order, across engines.
- `make_task` builds a task whose execute and revert write to a journal.
- `keep_only_successes_values` plants issue 13's resume bug (for tests that must catch it).
- `VALUES` (what a store keeps) and `USER_TYPES` (subclasses too) are Hypothesis strategies of
  random JSON-like values; `same` compares two values type by type, -0.0 apart from 0.0.
"""

from __future__ import annotations

import math
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

import provenflow as pf
from provenflow.engine import Core, _resume
from provenflow.persistence import (
    Grant,
    Lease,
    MemoryStorage,
    Owner,
    RunInfo,
    RunListing,
    Storage,
    Transition,
)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so no engine code catches it."""


class CrashingStorage:
    """A store that crashes at its Nth transition write (1-based).

    A batch whose Nth transition is reached is cut there: the transitions before it are written
    (as if each had been its own transaction) and the process "dies" before the Nth, so every
    prefix of a run is a crash point. With `batches=True` a write is a whole batch (one
    `record` call, one transaction in a real store): the process dies before its Nth batch,
    which is where a real process can die.
    """

    def __init__(
        self, inner: Storage | None = None, crash_at: int | None = None, *, batches: bool = False
    ) -> None:
        self.inner = inner or MemoryStorage()
        self.url = self.inner.url
        self.crash_at = crash_at
        self.batches = batches
        self.writes = 0

    def create(self, run: RunInfo) -> int:
        return self.inner.create(run)

    def load(self, flow_id: str) -> tuple[RunInfo, list[Transition], int]:
        return self.inner.load(flow_id)

    def record(
        self,
        flow_id: str,
        transitions: Sequence[Transition],
        expected_version: int,
        token: int | None = None,
    ) -> int:
        if self.batches:
            self.writes += 1
            if self.writes == self.crash_at:
                raise Crash(f"crash before batch {self.writes}")
            return self.inner.record(flow_id, transitions, expected_version, token)
        version = expected_version
        for transition in transitions:
            self.writes += 1
            if self.crash_at is not None and self.writes == self.crash_at:
                raise Crash(f"crash before write {self.writes}")
            version = self.inner.record(flow_id, [transition], version, token)
        return version

    def runs(self) -> list[tuple[RunInfo, str]]:
        return self.inner.runs()

    def list_runs(self) -> RunListing:
        return self.inner.list_runs()

    def check_value(self, flow_id: str, atom: str | None, field: str, value: object) -> None:
        self.inner.check_value(flow_id, atom, field, value)

    def stored_value(self, flow_id: str, atom: str | None, field: str, value: object) -> Any:
        return self.inner.stored_value(flow_id, atom, field, value)

    def take_lease(self, flow_id: str, owner: Owner, ttl: float) -> Grant:
        return self.inner.take_lease(flow_id, owner, ttl)

    def renew_lease(self, flow_id: str, owner: Owner, token: int, ttl: float) -> Lease:
        return self.inner.renew_lease(flow_id, owner, token, ttl)

    def release_lease(self, flow_id: str, owner: Owner, token: int) -> None:
        self.inner.release_lease(flow_id, owner, token)

    def leases(self) -> tuple[dict[str, Lease], float]:
        return self.inner.leases()


class FaultyStorage:
    """A store whose `fail_at`-th `record()` call (1-based: one batch, one transaction) raises
    `fault`: before anything is written, or with `landed=True` after the write landed (a
    connection lost before the commit's answer came back). Every other call goes through.

    Unlike `CrashingStorage`, the process lives on: the engine sees an ordinary exception.
    `writes` counts the `record()` calls that reached this store.
    """

    def __init__(
        self, inner: Storage, fail_at: int | None, fault: Exception, *, landed: bool = False
    ) -> None:
        self.inner = inner
        self.url = inner.url
        self.fail_at = fail_at
        self.fault = fault
        self.landed = landed
        self.writes = 0

    def create(self, run: RunInfo) -> int:
        return self.inner.create(run)

    def load(self, flow_id: str) -> tuple[RunInfo, list[Transition], int]:
        return self.inner.load(flow_id)

    def record(self, flow_id: str, transitions: Sequence[Transition], *version: Any) -> int:
        self.writes += 1  # `version`: the expected version, and whatever else the store takes
        if self.writes != self.fail_at:
            return self.inner.record(flow_id, transitions, *version)
        if self.landed:
            self.inner.record(flow_id, transitions, *version)
        raise self.fault

    def runs(self) -> list[tuple[RunInfo, str]]:
        return self.inner.runs()

    def check_value(self, flow_id: str, atom: str | None, field: str, value: object) -> None:
        self.inner.check_value(flow_id, atom, field, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # the rest of the store's interface, unchanged


class Untouchable:
    """Stands for a store that must not be used: any use of it fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was used ({name}) where nothing may touch it")


def keep_only_successes_values(monkeypatch: Any) -> None:
    """Make a core rebuilt from a record keep the values of SUCCESS atoms only (issue 13's bug:
    a retry left RETRYING, or an atom left REVERTING, loses what it provided), through
    `monkeypatch` (pytest's fixture), for the rest of the test."""
    original = _resume.load_records

    def only_successes(core: Core, records: Any) -> None:
        original(core, records)
        for atom, holder in core.states.items():
            if holder.state != "SUCCESS":
                core.provided.pop(atom, None)

    monkeypatch.setattr("provenflow.engine._core.load_records", only_successes)


class Journal:
    """The side effects of tasks, in the order they happened."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def __call__(self, action: str, name: str) -> None:
        self.entries.append((action, name))

    def actions(self, action: str) -> list[str]:
        return [name for a, name in self.entries if a == action]


def make_task(
    journal: Journal,
    name: str,
    *,
    requires: tuple[str, ...] = (),
    provides: str | None = None,
    fail: Callable[[], bool] | bool = False,
    revert_fails: bool = False,
    value: Any = None,
) -> pf.Task:
    """A task that journals its execute and revert; it fails when `fail` says so."""

    def execute(**kwargs: Any) -> Any:
        journal("execute", name)
        should_fail = fail() if callable(fail) else fail
        if should_fail:
            raise ValueError(f"{name} failed")
        return value if value is not None else name

    def revert(**kwargs: Any) -> None:
        journal("revert", name)
        if revert_fails:
            raise RuntimeError(f"{name} revert failed")

    params = ", ".join(requires)
    namespace: dict[str, Any] = {"_execute": execute, "_revert": revert}
    exec(  # builds a function whose signature names the requirements
        f"def run({params}):\n    return _execute({', '.join(f'{r}={r}' for r in requires)})\n"
        f"def undo({params}{', ' if params else ''}result=None, flow_failures=None):\n"
        f"    return _revert()\n",
        namespace,
    )
    return pf.task(namespace["run"], name=name, provides=provides, revert=namespace["undo"])


# -- a saga over a fake world, for the model checker and fuzzing -------------------------------


class World:
    """A fake world the tasks change: what a run did outside the engine."""

    def __init__(self) -> None:
        self.reserved = 0
        self.charged = 0
        self.shipped = 0

    def __repr__(self) -> str:
        return f"World(reserved={self.reserved}, charged={self.charged}, shipped={self.shipped})"


def saga(
    *, careless_revert: bool = False, idempotent: bool = True, retry: pf.Retry | None = None
) -> tuple[pf.Flow, World]:
    """Reserve, charge, then ship under `retry` (default: `Times(2)` named "again")."""
    world = World()

    class Reserve(pf.Task):
        def execute(self) -> dict[str, int]:
            world.reserved = 1
            return {"id": 7}

        def revert(self, result: Any, **_: Any) -> None:
            if careless_revert:
                assert result["id"] == 7  # assumes execute returned
            world.reserved = 0

    class Charge(pf.Task):
        def execute(self) -> None:
            if idempotent:
                world.charged = 1
            else:
                world.charged += 1

        def revert(self, **_: Any) -> None:
            world.charged = 0

    class Ship(pf.Task):
        def execute(self) -> None:
            world.shipped = 1

        def revert(self, **_: Any) -> None:
            world.shipped = 0

    retry = pf.Times(2, name="again") if retry is None else retry
    sub = pf.LinearFlow("shipping", retry=retry).add(Ship(name="ship"))
    flow = pf.LinearFlow("order").add(Reserve(name="reserve"), Charge(name="charge"), sub)
    return flow, world


def consistent(world: World, outcome: str) -> bool:
    """All done, or nothing left done."""
    if outcome == "SUCCESS":
        return (world.reserved, world.charged, world.shipped) == (1, 1, 1)
    return (world.reserved, world.charged, world.shipped) == (0, 0, 0)


def make_sound() -> tuple[pf.Flow, World]:
    return saga()


def make_careless() -> tuple[pf.Flow, World]:
    return saga(careless_revert=True)


def make_double_charge() -> tuple[pf.Flow, World]:
    return saga(idempotent=False)


# -- a run that can go on forever ---------------------------------------------------------------


class Forever(pf.Retry):
    """Retries whatever failed, without end, and provides nothing that changes."""

    def execute(self, history: pf.History) -> None:
        return None

    def on_failure(self, history: pf.History) -> pf.Decision:
        return pf.Decision.RETRY


@pf.task
def call() -> None:
    pass


def make_forever() -> pf.Flow:
    """`call` under a retry that never gives up: when it fails, the run can go on forever."""
    return pf.LinearFlow("poll", retry=Forever(name="forever")).add(call)


# -- random values, as tasks return them ---------------------------------------------------


class Label(str):
    """A user's str subclass."""


class Count(int):
    """A user's int subclass."""


Pair = namedtuple("Pair", "left right")

KEYS = st.text(max_size=6) | st.sampled_from(["$tuple", "$dict", "__tuple__"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.0, -0.0, 1e308, 5e-324])
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(KEYS, inner, max_size=4)
    ),
    max_leaves=16,
)
USER_TYPES = st.recursive(
    SCALARS | st.builds(Label, st.text()) | st.builds(Count, st.integers()),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.builds(Pair, inner, inner)
        | st.dictionaries(KEYS, inner, max_size=3).map(OrderedDict)
    ),
    max_leaves=10,
)


def same(left: Any, right: Any) -> bool:
    """Whether two values are equal and of identical types all the way down (-0.0 is not 0.0)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return left == right and math.copysign(1.0, left) == math.copysign(1.0, right)
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    return bool(left == right)
