"""Random flows whose tasks' behaviour is data: plans, the tasks they build, and strategies.

A `FlowPlan` is plain, printable data describing a flow: its pattern (linear, unordered,
graph), its members (`TaskPlan`s and nested `FlowPlan`s), its retry (`RetryPlan`) and, for a
graph, its explicit links (`LinkPlan`, with or without a decider). Each task's `Behaviour` is
data too: the JSON-safe value it returns, the attempts on which it raises or on which the
process dies (`ProcessCrash`), whether its revert raises, and how much busy work it does (a
loop, never a sleep). `plan.build(journal)` makes the real flow, every task writing what it does
to the shared `Journal`, so a run's side effects can be checked after the run, across crashes
and resumes (rebuild with the same journal). The same plan always builds the same flow.

`flows()` and `behaviours()` are hypothesis strategies drawing plans and behaviours; shrinking
a failing plan gives a small one, and `repr(plan)` is a Python expression that rebuilds it.
hypothesis is imported when a strategy is first asked for (it is in the `dev` extra), so
importing this module needs only provenflow.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from provenflow.errors import UsageError
from provenflow.failure import Failure
from provenflow.flows import (
    AlwaysRevert,
    AlwaysRevertAll,
    Flow,
    ForEach,
    GraphFlow,
    LinearFlow,
    Retry,
    Task,
    Times,
    UnorderedFlow,
)

if TYPE_CHECKING:
    from hypothesis.strategies import DrawFn, SearchStrategy

__all__ = [
    "Behaviour",
    "FlowPlan",
    "FuzzTask",
    "Journal",
    "LinkPlan",
    "ProcessCrash",
    "RetryPlan",
    "TaskPlan",
    "Verdict",
    "behaviours",
    "flows",
]

Json = None | bool | int | str | list[Any] | dict[str, Any]
"""The values a task returns: JSON-safe, so they survive every store unchanged."""


class ProcessCrash(BaseException):
    """Stands for the process dying: not an Exception, so no engine code catches it."""


class PlannedFailure(Exception):
    """What a task raises on an attempt its behaviour says fails, or from a raising revert."""


def _short(value: object) -> str:
    """`Cls(field=value, ...)` with only the fields that differ from their defaults."""
    shown = []
    for spec in fields(value):  # type: ignore[arg-type]
        current = getattr(value, spec.name)
        if spec.default is not current and spec.default != current:
            shown.append(f"{spec.name}={current!r}")
    return f"{type(value).__name__}({', '.join(shown)})"


@dataclass(frozen=True, repr=False)
class Behaviour:
    """What one task does. Attempts count its executions in the journal, from 1.

    `value`: what execute returns. `raise_on`: attempts that raise `PlannedFailure` (after
    the side effect). `crash_on`: attempts on which the process dies, after the side effect or,
    with `crash_before_effect`, before it. `revert_raises`: revert raises (its effect stays).
    `work`: iterations of busy work in execute.
    """

    value: Json = None
    raise_on: tuple[int, ...] = ()
    crash_on: tuple[int, ...] = ()
    crash_before_effect: bool = False
    revert_raises: bool = False
    work: int = 0

    __repr__ = _short


@dataclass(frozen=True, repr=False)
class TaskPlan:
    """A task: its unique name, what it does, the symbol it provides, the symbols it needs."""

    name: str
    behaviour: Behaviour = Behaviour()
    provides: str | None = None
    requires: tuple[str, ...] = ()

    __repr__ = _short


@dataclass(frozen=True, repr=False)
class RetryPlan:
    """A retry controller: `Times(attempts, revert_all=)`, `ForEach(range(attempts))`, ...."""

    name: str
    kind: Literal["times", "for_each", "always_revert", "always_revert_all"] = "times"
    attempts: int = 1
    revert_all: bool = False

    __repr__ = _short

    def build(self) -> Retry:
        """Return the controller this plan describes."""
        if self.kind == "times":
            return Times(self.attempts, revert_all=self.revert_all, name=self.name)
        if self.kind == "for_each":
            values = list(range(self.attempts))
            return ForEach(values, revert_all=self.revert_all, name=self.name)
        if self.kind == "always_revert":
            return AlwaysRevert(name=self.name)
        return AlwaysRevertAll(name=self.name)


@dataclass(frozen=True, repr=False)
class LinkPlan:
    """`graph.link(source, target)` between two members (by name); `verdict` is the constant
    answer of its decider (None: no decider), `depth` how far a veto reaches."""

    source: str
    target: str
    verdict: bool | None = None
    depth: str = "ALL"

    __repr__ = _short


@dataclass(frozen=True)
class Verdict:
    """A decider that always answers `verdict`, whatever the history."""

    verdict: bool

    def __call__(self, history: dict[str, object]) -> bool:
        return self.verdict


@dataclass(frozen=True, repr=False)
class FlowPlan:
    """A flow: `pattern`, unique `name`, `members` in order, optional `retry` and `links`."""

    name: str
    pattern: Literal["linear", "unordered", "graph"] = "linear"
    members: tuple[TaskPlan | FlowPlan, ...] = ()
    retry: RetryPlan | None = None
    links: tuple[LinkPlan, ...] = ()

    __repr__ = _short

    def tasks(self) -> Iterator[TaskPlan]:
        """Yield every task of the plan, nested ones included, in the order written."""
        for member in self.members:
            if isinstance(member, TaskPlan):
                yield member
            else:
                yield from member.tasks()

    def build(self, journal: Journal | None = None) -> Flow:
        """Return the flow this plan describes, its tasks writing to `journal` (a new one if
        None). Raises what the flows API raises for a plan it refuses."""
        journal = journal if journal is not None else Journal()
        values = {t.provides: t.behaviour.value for t in self.tasks() if t.provides}
        return self._build(journal, values)

    def _build(self, journal: Journal, values: Mapping[str, Json]) -> Flow:
        kinds = {"linear": LinearFlow, "unordered": UnorderedFlow, "graph": GraphFlow}
        retry = self.retry.build() if self.retry is not None else None
        flow = kinds[self.pattern](self.name, retry=retry)
        built: dict[str, Any] = {}
        for member in self.members:
            if isinstance(member, TaskPlan):
                built[member.name] = FuzzTask(member, journal, values)
            else:
                built[member.name] = member._build(journal, values)
        flow.add(*built.values())
        for link in self.links:
            assert isinstance(flow, GraphFlow)
            decider = None if link.verdict is None else Verdict(link.verdict)
            flow.link(built[link.source], built[link.target], decider=decider, depth=link.depth)
        return flow

    def vetoed(self) -> Iterator[str]:
        """Yield the tasks targeted by a decider that says no (never to be executed)."""
        for member in self.members:
            if isinstance(member, FlowPlan):
                yield from member.vetoed()
        by_name = {member.name: member for member in self.members}
        for link in self.links:
            if link.verdict is False:
                target = by_name[link.target]
                tasks = [target] if isinstance(target, TaskPlan) else list(target.tasks())
                yield from (task.name for task in tasks)

    def describe(self, indent: str = "") -> str:
        """Return the plan as an indented outline, one line per flow, task and link."""
        retry = f" retry={self.retry!r}" if self.retry else ""
        lines = [f"{indent}{self.pattern} {self.name!r}{retry}"]
        for member in self.members:
            if isinstance(member, TaskPlan):
                needs = f" needs {list(member.requires)}" if member.requires else ""
                gives = f" -> {member.provides}" if member.provides else ""
                lines.append(f"{indent}  task {member.name!r}{needs}{gives} {member.behaviour!r}")
            else:
                lines.append(member.describe(indent + "  "))
        lines += [f"{indent}  {link!r}" for link in self.links]
        return "\n".join(lines)


@dataclass
class Journal:
    """What the tasks of one run did, in order, across every process of the run.

    `entries`: (action, task, attempt) for each call of execute and revert. `effects`: task ->
    whether its side effect is in place. `problems`: what a task found wrong (an argument that
    is not its provider's value, a revert given a result execute never returned).
    """

    entries: list[tuple[str, str, int]] = field(default_factory=list)
    effects: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def count(self, action: str, task: str) -> int:
        """Return how many times `task`'s `action` (execute or revert) was called."""
        return sum(1 for done, name, _ in self.entries if done == action and name == task)

    def violations(self, states: Mapping[str, str], plan: FlowPlan) -> list[str]:
        """Return what the journal says went wrong, given every atom's final state.

        Problems the tasks saw; a side effect left in place by a task whose record says it
        is not done (only SUCCESS, FAILURE and REVERT_FAILURE keep one); a SUCCESS task whose
        effect is not in place; a task executed although a decider vetoed it.
        """
        found = list(self.problems)
        for task in plan.tasks():
            state = states.get(task.name, "PENDING")
            kept = self.effects.get(task.name, False)
            if kept and state not in ("SUCCESS", "FAILURE", "REVERT_FAILURE"):
                found.append(f"task {task.name!r} ended {state} with its side effect in place")
            if state == "SUCCESS" and not kept:
                found.append(f"task {task.name!r} ended SUCCESS without its side effect")
        for name in plan.vetoed():
            if self.count("execute", name):
                found.append(f"task {name!r} was executed although a decider said no")
        return found


class FuzzTask(Task):
    """A task that does what its `TaskPlan` says, writing each call to the journal."""

    def __init__(self, plan: TaskPlan, journal: Journal, values: Mapping[str, Json]) -> None:
        self.plan = plan
        self.journal = journal
        self.expected = {symbol: values.get(symbol) for symbol in plan.requires}
        rebind = {symbol: symbol for symbol in plan.requires}
        super().__init__(plan.name, provides=plan.provides, rebind=rebind or None)

    def execute(self, **inputs: Any) -> Json:
        """Check the inputs, do the work and the side effect; raise or crash as planned."""
        plan, behaviour = self.plan, self.plan.behaviour
        attempt = self.journal.count("execute", plan.name) + 1
        self.journal.entries.append(("execute", plan.name, attempt))
        if inputs != self.expected:
            self.journal.problems.append(
                f"task {plan.name!r} attempt {attempt} got {inputs!r}, expected {self.expected!r}"
            )
        crashes = attempt in behaviour.crash_on
        if crashes and behaviour.crash_before_effect:
            raise ProcessCrash(f"{plan.name} attempt {attempt}: the process dies")
        total = sum(range(behaviour.work))  # slow: busy work, never a sleep
        self.journal.effects[plan.name] = total >= 0
        if crashes:
            raise ProcessCrash(f"{plan.name} attempt {attempt}: the process dies after its effect")
        if attempt in behaviour.raise_on:
            raise PlannedFailure(f"{plan.name} fails on attempt {attempt}")
        return behaviour.value

    def revert(self, **arguments: Any) -> None:
        """Undo the side effect, unless the behaviour says revert raises."""
        plan = self.plan
        attempt = self.journal.count("revert", plan.name) + 1
        self.journal.entries.append(("revert", plan.name, attempt))
        result = arguments.get("result")
        if not isinstance(result, Failure) and result != plan.behaviour.value:
            self.journal.problems.append(
                f"task {plan.name!r}: revert got result {result!r}, but execute returns "
                f"{plan.behaviour.value!r} (or fails)"
            )
        if plan.behaviour.revert_raises:
            raise PlannedFailure(f"{plan.name} revert fails")
        self.journal.effects[plan.name] = False


# -- strategies --------------------------------------------------------------------------------


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


def behaviours(*, faults: bool = True) -> SearchStrategy[Behaviour]:
    """A strategy of task behaviours; without `faults`, every one succeeds.

    Faults are drawn rarely (most attempts succeed), and shrink towards none.
    """
    st = _strategies()
    strategy: SearchStrategy[Behaviour]
    if not faults:
        strategy = st.builds(Behaviour, value=_values(), work=st.sampled_from([0, 0, 50]))
        return strategy
    strategy = st.builds(
        Behaviour,
        value=_values(),
        raise_on=st.sampled_from([(), (), (), (), (), (), (1,), (2,), (1, 2)]),
        crash_on=st.sampled_from([(), (), (), (), (), (1,), (2,)]),
        crash_before_effect=st.booleans(),
        revert_raises=st.sampled_from([False] * 24 + [True]),
        work=st.sampled_from([0, 0, 0, 50, 500]),
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
) -> SearchStrategy[FlowPlan]:
    """A strategy of `FlowPlan`s: nested linear, unordered and graph flows of up to `max_tasks`
    tasks, `max_depth` levels deep, with data links (a task needs symbols of tasks that surely
    ran before it), graph links with and without deciders (any depth) and, with `retries`,
    Times / ForEach / AlwaysRevert / AlwaysRevertAll at random scopes.

    Build a drawn plan with `plan.build(journal)`. Raises `UsageError` when hypothesis is
    missing or a bound is below 1.
    """
    st = _strategies()
    if max_tasks < 1 or max_depth < 1:
        raise UsageError(f"flows(max_tasks={max_tasks}, max_depth={max_depth}): both must be >= 1")
    tasks = behaviours if behaviours is not None else _any_behaviours()

    def plan(draw: DrawFn) -> FlowPlan:
        drawer = _Drawer(draw, st, tasks, budget=max_tasks, retries=retries, deciders=deciders)
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
        self.numbers = {kind: itertools.count(1) for kind in ("t", "f", "r")}

    def name(self, kind: str) -> str:
        return f"{kind}{next(self.numbers[kind])}"

    def flow(self, depth: int, visible: tuple[str, ...]) -> FlowPlan:
        draw, st = self.draw, self.st
        pattern = draw(st.sampled_from(["linear", "graph", "unordered"]))
        name = self.name("f")
        retry = self.retry() if self.retries and draw(st.integers(0, 3)) == 3 else None
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
        return RetryPlan(self.name("r"), kind, attempts, revert_all)

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
