"""Flow plans: a random flow as plain, printable data, and the real flow each plan builds.

A `FlowPlan` is plain, printable data describing a flow: its pattern (linear, unordered,
graph), its members (`TaskPlan`s and nested `FlowPlan`s), its retry (`RetryPlan`) and, for a
graph, its explicit links (`LinkPlan`, with or without a decider, a constant `Verdict`). Each
task's `Behaviour` is data too: the JSON-safe value it returns, the attempts on which it raises
or on which the process dies (`ProcessCrash`), whether its revert raises, and how much busy work
it does (a loop, never a sleep). `repr(plan)` is a Python expression that rebuilds it.

`plan.build(journal)` makes the real flow out of `FuzzTask`s (see `_strategies_tasks`), every
task writing what it does to the shared `Journal`, so a run's side effects can be checked after
the run, across crashes and resumes (rebuild with the same journal). The same plan always builds
the same flow. The hypothesis strategies that draw plans are in `_strategies`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from provenflow.flows import (
    AlwaysRevert,
    AlwaysRevertAll,
    Flow,
    ForEach,
    GraphFlow,
    LinearFlow,
    Retry,
    Times,
    UnorderedFlow,
)
from provenflow.verification._strategies_tasks import FuzzTask, Journal

__all__ = [
    "Behaviour",
    "FlowPlan",
    "LinkPlan",
    "OneOf",
    "RetryPlan",
    "TaskPlan",
    "Verdict",
]

Json = None | bool | int | str | list[Any] | dict[str, Any]
"""The values a task returns: JSON-safe, so they survive every store unchanged."""


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
    `work`: iterations of busy work in execute. `strict_revert`: revert takes the task's inputs
    by name, so called without one it raises `TypeError`, as such a revert would.
    """

    value: Json = None
    raise_on: tuple[int, ...] = ()
    crash_on: tuple[int, ...] = ()
    crash_before_effect: bool = False
    revert_raises: bool = False
    work: int = 0
    strict_revert: bool = False

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
    """A retry controller: `Times(attempts, revert_all=)`, `ForEach(range(attempts))`, ....

    `provides`: the symbol it provides its subflow (None: none): the attempt number for
    `Times`, the value of the round for `ForEach`, None for the others (`values()`).
    """

    name: str
    kind: Literal["times", "for_each", "always_revert", "always_revert_all"] = "times"
    attempts: int = 1
    revert_all: bool = False
    provides: str | None = None

    __repr__ = _short

    def build(self) -> Retry:
        """Return the controller this plan describes."""
        name, provides = self.name, self.provides
        if self.kind == "times":
            return Times(self.attempts, revert_all=self.revert_all, name=name, provides=provides)
        if self.kind == "for_each":
            values = list(range(self.attempts))
            return ForEach(values, revert_all=self.revert_all, name=name, provides=provides)
        if self.kind == "always_revert":
            return AlwaysRevert(name=name, provides=provides)
        return AlwaysRevertAll(name=name, provides=provides)

    def values(self) -> OneOf:
        """Return the values it may provide, one per round."""
        if self.kind == "times":
            return OneOf(tuple(range(1, self.attempts + 1)))
        if self.kind == "for_each":
            return OneOf(tuple(range(self.attempts)))
        return OneOf((None,))


@dataclass(frozen=True)
class OneOf:
    """What a task expects of a symbol whose value changes from round to round (a retry's):
    any of `options`."""

    options: tuple[Json, ...]


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
        values: dict[str, Json | OneOf] = {
            t.provides: t.behaviour.value for t in self.tasks() if t.provides
        }
        values.update((r.provides, r.values()) for r in self.retries() if r.provides)
        return self._build(journal, values)

    def retries(self) -> Iterator[RetryPlan]:
        """Yield every retry of the plan, nested ones included, outermost first."""
        if self.retry is not None:
            yield self.retry
        for member in self.members:
            if isinstance(member, FlowPlan):
                yield from member.retries()

    def _build(self, journal: Journal, values: Mapping[str, Json | OneOf]) -> Flow:
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
