"""Patterns: how atoms are composed into flows, nested to any depth.

- `LinearFlow`: members run one after the other, in the order added.
- `UnorderedFlow`: members may run in any order, in parallel. A member cannot consume what a
  sibling provides (that would need an order); compilation refuses it with advice.
- `GraphFlow`: the order comes from data (a member that requires a symbol runs after the
  member providing it) and from explicit `link(a, b)`, which may carry a *decider*: a function
  of the link's source results that, when it returns False, has the target (and, by `Depth`,
  what follows it) ignored instead of run.

Every flow may be guarded by a retry: `LinearFlow("upload", retry=Times(3))`. The retry runs
before everything in the flow and decides what a failure inside it means.

A flow holds its members; it checks what it can when they are added (a member is an atom or a
flow, is not a retry, is not added twice, does not contain the flow) and leaves the rest
(names, an object used twice in one tree, symbols, cycles) to `compile_flow`. An object may be
a member of several flows, so a factory can build many flows from module-level tasks. A
refused `add` or `link` changes nothing.
"""

from __future__ import annotations

import inspect
import reprlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum, unique
from typing import ClassVar, Self

from provenflow.errors import (
    AlreadyAdded,
    BadLink,
    FlowDefinitionError,
    InvalidMember,
    RetryUsedAsTask,
)
from provenflow.flows._atom import Atom
from provenflow.flows._retry import Retry

__all__ = ["Decide", "Depth", "Flow", "GraphFlow", "LinearFlow", "Link", "UnorderedFlow"]

Decide = Callable[[dict[str, object]], bool]
"""A decider: receives {source atom name: result} and returns whether the target runs."""


@unique
class Depth(StrEnum):
    """How far a decider's veto reaches, starting from the link's target.

    ATOM: the target only (for a subflow target, its atoms). NEIGHBORS: the target and its
    direct successors. FLOW: the target and its successors inside the graph flow that declared
    the link. ALL: the target and everything after it.
    """

    ATOM = "ATOM"
    NEIGHBORS = "NEIGHBORS"
    FLOW = "FLOW"
    ALL = "ALL"


@dataclass(frozen=True)
class Link:
    """An explicit ordering edge of a graph flow, optionally with a decider."""

    source: Atom | Flow
    target: Atom | Flow
    decider: Decide | None
    depth: Depth


class Flow:
    """The base of the patterns: a named, ordered collection of members (atoms and flows).

    `Flow(name, retry=None)`; `add(*items)` returns the flow, so flows build in one expression.
    Iterating a flow yields its direct members in the order added (not the retry).
    """

    kind: ClassVar[str] = "flow"
    """The pattern: "linear", "unordered" or "graph"."""

    def __init__(self, name: str, retry: Retry | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise FlowDefinitionError(f"a flow's name must be a non-empty str, got {name!r}")
        if retry is not None:
            _check_retry(name, retry)
            if not retry._named:
                retry.name = f"{name}_retry"
                retry._named = True
        self._name = name
        self._retry = retry
        self._members: list[Atom | Flow] = []
        self._positions: dict[int, int] = {}

    @property
    def name(self) -> str:
        """The flow's name, unique among the flows of one compiled flow."""
        return self._name

    @property
    def retry(self) -> Retry | None:
        """The retry guarding this flow, if any."""
        return self._retry

    def add(self, *items: Atom | Flow) -> Self:
        """Add `items` (atoms or flows) in order and return this flow.

        Raises `RetryUsedAsTask` for a retry, `InvalidMember` for anything but an atom or a
        flow, `AlreadyAdded` for an item already in this flow, and `FlowDefinitionError` for a
        flow that contains this one. Nothing is added then. (One object may be a member of
        several flows, so a flow factory may reuse module-level tasks; compiling refuses an
        object that appears twice in the one flow compiled.)
        """
        batch: set[int] = set()
        for item in items:
            self._check_member(item, batch)
            batch.add(id(item))
        for item in items:
            self._positions[id(item)] = len(self._members)
            self._members.append(item)
        return self

    def _check_member(self, item: object, batch: set[int]) -> None:
        if isinstance(item, Retry):
            raise RetryUsedAsTask(item.name, self._name)
        if not isinstance(item, Atom | Flow):
            raise InvalidMember(self._name, _describe(item))
        if id(item) in batch or id(item) in self._positions:
            kind = item.kind if isinstance(item, Atom) else "flow"
            raise AlreadyAdded(kind, item.name, self._name, self._name)
        if isinstance(item, Flow) and item._contains(self):
            raise FlowDefinitionError(
                f"flow {self._name!r}: cannot add flow {item.name!r}, which contains it"
            )

    def _contains(self, flow: Flow) -> bool:
        """Return whether `flow` is this flow or nested in it, at any depth."""
        pending: list[Flow] = [self]
        seen: set[int] = set()
        while pending:
            current = pending.pop()
            if current is flow:
                return True
            if id(current) not in seen:
                seen.add(id(current))
                pending.extend(member for member in current if isinstance(member, Flow))
        return False

    def position(self, member: Atom | Flow) -> int | None:
        """Return the index of a direct member, or None when `member` is not one."""
        return self._positions.get(id(member))

    def __iter__(self) -> Iterator[Atom | Flow]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r}: {len(self._members)} members>"


class LinearFlow(Flow):
    """Members run one after the other, in the order they were added."""

    kind = "linear"


class UnorderedFlow(Flow):
    """Members run in no fixed order (in parallel when the executor allows)."""

    kind = "unordered"


class GraphFlow(Flow):
    """Members run in an order derived from their data and from explicit links."""

    kind = "graph"

    def __init__(self, name: str, retry: Retry | None = None) -> None:
        super().__init__(name, retry)
        self._links: list[Link] = []
        self._linked: set[tuple[int, int]] = set()

    @property
    def links(self) -> tuple[Link, ...]:
        """The explicit links, in the order declared."""
        return tuple(self._links)

    def link(
        self,
        a: Atom | Flow,
        b: Atom | Flow,
        *,
        decider: Decide | None = None,
        depth: Depth | str = Depth.ALL,
    ) -> Self:
        """Make `b` run after `a` (both members already added) and return this flow.

        With a `decider`, `b` runs only if `decider(history)` returns True, where `history` is
        {atom name: result} of `a` (for a subflow `a`: of its atoms that provide something);
        otherwise `b` is ignored, and with it what `depth` reaches. Passing a `depth` other
        than ALL without a decider is refused. Raises `BadLink` (and links nothing) for
        endpoints that are not members, a member linked to itself, a repeated link, a bad
        depth or a decider that is not callable.
        """
        depth = self._link_problem(a, b, decider, depth)
        self._links.append(Link(a, b, decider, depth))
        self._linked.add((id(a), id(b)))
        return self

    def _link_problem(
        self, a: Atom | Flow, b: Atom | Flow, decider: object, depth: Depth | str
    ) -> Depth:
        """Return `depth` as a Depth, or raise `BadLink` saying what is wrong with the link."""

        def refuse(problem: str) -> BadLink:
            return BadLink(self.name, _label(a), _label(b), problem)

        for end in (a, b):
            if self.position(end) is None:
                raise refuse(f"{_label(end)!r} is not a member of this flow (add it first)")
        if a is b:
            raise refuse("a member cannot follow itself")
        if (id(a), id(b)) in self._linked:
            raise refuse("they are linked already")
        try:
            depth = Depth(depth)
        except ValueError:
            allowed = ", ".join(member.value for member in Depth)
            raise refuse(f"depth must be one of {allowed}, got {depth!r}") from None
        if decider is None and depth is not Depth.ALL:
            raise refuse("depth says how far a decider's veto reaches: pass a decider too")
        if decider is not None and not callable(decider):
            raise refuse(f"decider must be callable (history -> bool), got {decider!r}")
        return depth


def _label(item: object) -> str:
    name = getattr(item, "name", None)
    return name if isinstance(name, str) else reprlib.repr(item)


def _check_retry(flow: str, retry: object) -> None:
    if not isinstance(retry, Retry):
        given = f"task {retry.name!r}" if isinstance(retry, Atom) else _describe(retry)
        raise FlowDefinitionError(
            f"flow {flow!r}: retry must be a Retry controller (Times, ForEach, ...), got {given}"
        )


def _describe(value: object) -> str:
    """Describe what was passed where a member was expected, with a hint when one helps."""
    if inspect.isclass(value) and issubclass(value, Atom | Flow):
        return f"the class {value.__qualname__} (add an instance: {value.__qualname__}(...))"
    if inspect.isfunction(value) or inspect.ismethod(value):
        return f"the function {value.__qualname__} (make it a task with @task)"
    return f"{reprlib.repr(value)} ({type(value).__name__})"
