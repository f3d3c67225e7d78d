"""Hypothesis strategies for random flows: `flows()` draws plans, `behaviours()` task behaviours.

`flows()` draws `FlowPlan`s (nested linear, unordered and graph flows with data links, deciders
and retries) and `behaviours()` the `Behaviour` of each task (see `_strategies_plans` for the
plans, `_strategies_tasks` for the tasks they build). Faults are drawn rarely and shrink towards
none; shrinking a failing plan gives a small one, and names come from counters, so a draw always
gives the same plan. hypothesis is imported when a strategy is first asked for (it is in the
`dev` extra), so importing this module needs only provenflow.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from provenflow.errors import UsageError
from provenflow.verification._strategies_plans import (
    Behaviour,
    FlowPlan,
    Json,
    LinkPlan,
    RetryPlan,
    TaskPlan,
)

if TYPE_CHECKING:
    from hypothesis.strategies import DrawFn, SearchStrategy

__all__ = [
    "behaviours",
    "flows",
]


def _strategies() -> Any:
    try:
        from hypothesis import strategies  # noqa: PLC0415 (a dev dependency, loaded on use)
    except ImportError as error:
        raise UsageError(
            f"fuzzing needs hypothesis, which is not installed ({error}): "
            "pip install 'provenflow[dev]' or pip install hypothesis"
        ) from None
    return strategies


def _values() -> SearchStrategy[Json]:
    st = _strategies()
    scalars = st.none() | st.booleans() | st.integers(-99, 99) | st.text("abxyz", max_size=4)
    values: SearchStrategy[Json] = (
        scalars
        | st.lists(st.integers(0, 9), max_size=3)
        | st.dictionaries(st.text("kv", min_size=1, max_size=2), st.integers(0, 9), max_size=2)
    )
    return values


def behaviours(
    *, faults: bool = True, crashes: bool = True, strict_reverts: bool = False
) -> SearchStrategy[Behaviour]:
    """A strategy of task behaviours; without `faults`, every one succeeds.

    Faults are drawn rarely (most attempts succeed), and shrink towards none. Without `crashes`
    no process dies in a task (for a model checker, which crashes the process itself).
    `strict_reverts`: every revert takes its task's inputs by name (see `Behaviour`).
    """
    st = _strategies()
    strategy: SearchStrategy[Behaviour]
    if not faults:
        strategy = st.builds(
            Behaviour,
            value=_values(),
            work=st.sampled_from([0, 0, 50]),
            strict_revert=st.just(strict_reverts),
        )
        return strategy
    strategy = st.builds(
        Behaviour,
        value=_values(),
        raise_on=st.sampled_from([(), (), (), (), (), (), (1,), (2,), (1, 2)]),
        crash_on=st.sampled_from([(), (), (), (), (), (1,), (2,)] if crashes else [()]),
        crash_before_effect=st.booleans(),
        revert_raises=st.sampled_from([False] * 24 + [True]),
        work=st.sampled_from([0, 0, 0, 50, 500]),
        strict_revert=st.just(strict_reverts),
    )
    return strategy


_any_behaviours = behaviours
"""`behaviours`, under a name that `flows`' parameter of that name does not hide."""


def flows(
    *,
    behaviours: SearchStrategy[Behaviour] | None = None,
    max_tasks: int = 8,
    max_depth: int = 3,
    retries: bool = True,
    deciders: bool = True,
    retry_values: bool = False,
) -> SearchStrategy[FlowPlan]:
    """A strategy of `FlowPlan`s: nested linear, unordered and graph flows of up to `max_tasks`
    tasks, `max_depth` levels deep, with data links (a task needs symbols of tasks that surely
    ran before it), graph links with and without deciders (any depth) and, with `retries`,
    Times / ForEach / AlwaysRevert / AlwaysRevertAll at random scopes. With `retry_values`,
    a retry often provides a symbol (its attempt number, its round's value), which the tasks
    of its subflow may need.

    Build a drawn plan with `plan.build(journal)`. Raises `UsageError` when hypothesis is
    missing or a bound is below 1.
    """
    st = _strategies()
    if max_tasks < 1 or max_depth < 1:
        raise UsageError(f"flows(max_tasks={max_tasks}, max_depth={max_depth}): both must be >= 1")
    tasks = behaviours if behaviours is not None else _any_behaviours()

    def plan(draw: DrawFn) -> FlowPlan:
        drawer = _Drawer(draw, st, tasks, budget=max_tasks, retries=retries, deciders=deciders)
        drawer.retry_values = retry_values
        return drawer.flow(max_depth, ())

    strategy: SearchStrategy[FlowPlan] = st.composite(plan)()
    return strategy


class _Drawer:
    """Draws one plan: names come from counters, so a draw always gives the same plan."""

    def __init__(
        self,
        draw: DrawFn,
        st: Any,
        tasks: SearchStrategy[Behaviour],
        *,
        budget: int,
        retries: bool,
        deciders: bool,
    ) -> None:
        self.draw, self.st, self.tasks = draw, st, tasks
        self.budget, self.retries, self.deciders = budget, retries, deciders
        self.retry_values = False
        self.numbers = {kind: itertools.count(1) for kind in ("t", "f", "r")}

    def name(self, kind: str) -> str:
        return f"{kind}{next(self.numbers[kind])}"

    def flow(self, depth: int, visible: tuple[str, ...]) -> FlowPlan:
        draw, st = self.draw, self.st
        pattern = draw(st.sampled_from(["linear", "graph", "unordered"]))
        name = self.name("f")
        retry = self.retry() if self.retries and draw(st.integers(0, 3)) == 3 else None
        if retry is not None and retry.provides:
            visible += (retry.provides,)
        members: list[TaskPlan | FlowPlan] = []
        for _ in range(draw(st.integers(1, 4))):
            if self.budget <= 0:
                break
            seen = visible if pattern == "unordered" else visible + _provided(members)
            nested = depth > 1 and draw(st.integers(0, 3)) == 3
            members.append(self.flow(depth - 1, seen) if nested else self.task(seen))
        if not members:  # the budget ran out first: a flow still needs a member
            self.budget += 1
            members.append(self.task(visible))
        links = self.links(members) if pattern == "graph" else ()
        return FlowPlan(name, pattern, tuple(members), retry, links)

    def task(self, visible: tuple[str, ...]) -> TaskPlan:
        draw, st = self.draw, self.st
        self.budget -= 1
        name = self.name("t")
        provides = f"v_{name}" if draw(st.booleans()) else None
        requires: tuple[str, ...] = ()
        if visible:
            needs = draw(st.lists(st.sampled_from(visible), max_size=2, unique=True))
            requires = tuple(sorted(needs))
        return TaskPlan(name, draw(self.tasks), provides, requires)

    def retry(self) -> RetryPlan:
        draw, st = self.draw, self.st
        kind = draw(st.sampled_from(["times", "always_revert", "always_revert_all", "for_each"]))
        attempts = draw(st.integers(1, 3)) if kind in ("times", "for_each") else 1
        revert_all = kind in ("times", "for_each") and draw(st.booleans())
        name = self.name("r")
        provides = f"v_{name}" if self.retry_values and draw(st.booleans()) else None
        return RetryPlan(name, kind, attempts, revert_all, provides)

    def links(self, members: list[TaskPlan | FlowPlan]) -> tuple[LinkPlan, ...]:
        draw, st = self.draw, self.st
        if len(members) < 2:
            return ()
        pairs = [(a.name, b.name) for i, a in enumerate(members) for b in members[i + 1 :]]
        chosen = draw(st.lists(st.sampled_from(pairs), max_size=2, unique=True))
        links = []
        for source, target in chosen:
            verdict = draw(st.sampled_from([None, True, False])) if self.deciders else None
            depth = "ALL" if verdict is None else draw(st.sampled_from(["ATOM", "NEIGHBORS"]))
            if verdict is not None and draw(st.booleans()):
                depth = draw(st.sampled_from(["FLOW", "ALL"]))
            links.append(LinkPlan(source, target, verdict, depth))
        return tuple(links)


def _provided(members: list[TaskPlan | FlowPlan]) -> tuple[str, ...]:
    """The symbols provided by `members` (nested ones included)."""
    found: list[str] = []
    for member in members:
        tasks = [member] if isinstance(member, TaskPlan) else list(member.tasks())
        found += [task.provides for task in tasks if task.provides]
    return tuple(found)
