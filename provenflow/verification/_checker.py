"""The model checker: every order, outcome and crash point of a flow's run, breadth-first.

`check(flow_or_factory)` explores the runs of one flow as `Simulation` paths (see
`_simulation`; the search itself is `_search.Search`): the real engine core and resume path,
the user's real code, a simulated store.
It searches the choices a path can make and remembers every state it reaches, at each write
and each outcome, whether the bounds leave it several options (a choice) or one (a key of the
core's states and data, what is recorded, the work in flight, the crashes so far and the
user's context: `_state_key`). A choice seen before is not expanded again, and a path that
meets a state another path passed with no more faults stops there (`Merged`). So a flow is
explored once per distinct state, whatever order of events led there. This is the reduction
that keeps parallel flows tractable: two orders of independent atoms that reach the same state
are explored once. The report counts the distinct states and, among them, the choices.
Where every order ends alike (a settled revert phase: no fault left, only reverts in flight,
no world and no `always` check), a partial-order reduction takes one of them (`_reduction`;
`reduction=False` takes all); the report counts the options it left (`pruned`).

The order is by faults (a 0-1 breadth-first search): a crash, an injected failure or a
suspension costs one, the run's normal course (the first option, or any order of completion)
costs nothing, and states are expanded in order of the faults it took to reach them. So the
violation reported is one reached with the fewest faults: a revert that breaks when `execute`
raises is shown without crashes that play no part in it. A path that crashes into a state
another path already crashed into (the same durable record, crashes and suspensions) is dropped
before it is resumed.

Bounds: `max_states` and `max_seconds`. When one stops the search, the report says
`incomplete` and why, and the fault level it was exploring (`fault_level`): every run with
fewer faults was explored, and nothing is claimed for the rest.

A run that can go on forever (a retry that never gives up) comes back to a state it was in,
apart from retry histories and attempt numbers, which only grow: a search follows each path's
states (`_lasso.Lineage`, only in a flow with a retry) and reports such a return as a
violation, "can run forever", with the loop (`_lasso`), and goes no further on that path.

The cyclic garbage collector is paused while the search runs (`provenflow._gc`): the
search's own structures hold no reference cycle (a core's phases and a simulation's invariants
refer back to their owner weakly), so everything a dropped state held is freed at once, and
the collector would only walk the ever-growing set of explored states again and again.

By default every option branches from a copy of its parent (`with_snapshots`). The copies
share the flow and the context the factory built once, so the world (the context, the atoms
and what their code closes over) is saved by value after user code ran (`keep`) and put back
in place before another copy goes on (`enter`, `_restore`). A world that cannot be saved
(`Unsaveable`) makes the search start again by replay (`by_replay`, also `snapshots=False`):
a path goes on in place with the first option of each choice (the run's normal course, never a
fault), and every other option is a path replayed from the start (the factory builds a fresh
flow and context for it), so such a path costs time linear in its length; the factory must
build the same flow every time.

The states seen are kept as 64-bit fingerprints of their keys (`_fingerprint`), not whole;
the report states the probability of a collision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from provenflow._gc import collector_paused
from provenflow.engine import factory_spec
from provenflow.errors import UsageError
from provenflow.flows import Flow
from provenflow.verification._report import Report, Violation
from provenflow.verification._search import Check, Search

__all__ = ["Check", "Report", "Violation", "check", "factory_of", "user_checks"]


def factory_of(flow_or_factory: Flow | Callable[[], Any]) -> Callable[[], Any]:
    """Return a factory for `flow_or_factory` (a flow, or already a factory); raises
    `UsageError` for anything else."""
    if isinstance(flow_or_factory, Flow):
        flow = flow_or_factory
        return lambda: flow
    if callable(flow_or_factory):
        return flow_or_factory
    raise UsageError(
        f"check() takes a flow or a factory that builds one, not {type(flow_or_factory).__name__}"
    )


def user_checks(
    invariant: Check | None, always: Check | None, eventually: Check | None
) -> list[tuple[str, Check]]:
    """Return the user checks given, as (kind, function) pairs."""
    given = (("invariant", invariant), ("always", always), ("eventually", eventually))
    return [(kind, check) for kind, check in given if check is not None]


def check(
    flow_or_factory: Flow | Callable[[], Any],
    store: dict[str, Any] | None = None,
    *,
    crashes: int = 2,
    suspends: int = 0,
    max_states: int = 1_000_000,
    max_seconds: float = 60.0,
    invariant: Check | None = None,
    always: Check | None = None,
    eventually: Check | None = None,
    all_violations: bool = False,
    snapshots: bool | None = None,
    revert_failures: bool = False,
    workers: int = 2,
    world_at_each_step: bool = False,
    reduction: bool = True,
    _merge: bool = True,
    _fingerprints: bool = True,
) -> Report:
    """Explore every run of a flow and return a `Report`; see the module docstring.

    `flow_or_factory`: a flow, or a function without arguments returning a flow or a
    `(flow, context)` pair; the context (e.g. a fake world the tasks change) is given to
    `always(context)` (after every side effect), `invariant(context, outcome)` and
    `eventually(context)` (at every end). `crashes` bounds the crashes per path, `suspends`
    the suspensions (each followed by a resume). The search stops at the first violation
    unless `all_violations`.

    `revert_failures=True` also makes each `revert` raise (an injected failure), not only each
    `execute`: a run that then ends FAILURE is expected, and is checked to have left undone
    exactly what the failed reverts depend on (see `_invariants`). A real revert that raises is
    a violation either way.

    `workers` is the simulated executor's size: each time the engine loop takes work, the
    search tries every amount of room from 1 to the workers not busy (so every batch the
    loop can write, and every crash point between batches); 1 is the serial engine.

    How the search branches (`snapshots`): by default (None) from copies of each explored
    state, with the world (the context, and the atoms with the functions they call) saved by
    value and put back in place before a copy goes on (`_restore`), or, when the world cannot
    be saved by value (something in it keeps state in C), by replaying every other option from
    the start. `snapshots=True` insists on copies (`UsageError` for a world that cannot be
    saved); `snapshots=False` always replays.

    `reduction=False` turns the partial-order reduction off (`_reduction`): by default, in a
    settled revert phase (no fault left, only reverts in flight, no world and no `always`
    check) one order of completion stands for all; `report.pruned` counts the options left.

    `world_at_each_step=True` gives each violation the world after each of its steps
    (`Violation.worlds`, printed where it changed): its path is played once more to note them.
    """
    if crashes < 0 or suspends < 0:
        raise UsageError(f"crashes={crashes}, suspends={suspends}: must be 0 or more")
    if workers < 1:
        raise UsageError(f"workers={workers}: must be at least 1")
    factory = factory_of(flow_or_factory)
    spec = factory_spec(flow_or_factory) if not isinstance(flow_or_factory, Flow) else None
    search = Search(
        factory,
        dict(store or {}),
        crashes,
        suspends,
        user_checks(invariant, always, eventually),
        spec,
        max_states,
        max_seconds,
        all_violations,
        revert_failures,
        workers,
        merge=_merge,
        fingerprints=_fingerprints,
        world_steps=world_at_each_step,
        reduction=reduction,
    )
    with collector_paused():
        report = search.run(snapshots)
        del search  # freed now, so the collector does not walk it when it resumes
    return report
