"""Transition coverage: which edges of the lifecycle tables a run of code really took.

Theory of operation. Every state change in provenflow goes through `Lifecycle.apply` (the
chokepoint of `provenflow.fsm`), so wrapping that one method sees every transition. A
`TransitionRecorder` replaces `Lifecycle.apply` with a wrapper while it is started and puts the
method back when stopped; the wrapper calls the real `apply` and, when it returns, notes
`(lifecycle, state, event, target)` the first time it is seen, with the recorder's `context`
(the plugin sets it to the running test's id). A refused event raises as before and is not
recorded.

Each accepted transition is also attributed: *driven* when the first caller outside `fsm/` is
provenflow's own code (the engine, its resume path, the model checker), *direct* when it is
anything else (a test applying a table edge by hand, as the table tests do for every edge).
Only driven transitions count as covered: that the table accepts an edge proves nothing about
whether the engine ever takes it. (Code a test has patched, as a mutation test does, is still
provenflow's code here: the recorder cannot tell.)

The recorder sees the process it runs in: transitions in a subprocess (a child that runs an
engine, a pytest run in a subprocess) are not recorded. The per-call cost is one extra Python
call and a dict lookup; an edge's first taking also walks a few frames (cached per code).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Literal

from provenflow.fsm import LIFECYCLES, Lifecycle

__all__ = [
    "Edge",
    "EdgeStatus",
    "LifecycleCoverage",
    "TransitionCoverage",
    "TransitionRecorder",
    "edges_of",
]

Edge = tuple[str, str, str, str]
"""One table edge by value: (lifecycle, state, event, target)."""

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
_FSM_DIR = f"{_PACKAGE_DIR}fsm{os.sep}"
_FSM, _LIBRARY, _OTHER = 0, 1, 2


def _kind_of(filename: str) -> int:
    path = str(Path(filename).resolve()) if filename and filename[0] != "<" else filename
    if path.startswith(_FSM_DIR):
        return _FSM
    return _LIBRARY if path.startswith(_PACKAGE_DIR) else _OTHER


def edges_of(lifecycles: Mapping[str, Lifecycle[Any, Any]] = LIFECYCLES) -> list[Edge]:
    """Return every edge of `lifecycles` by value, lifecycle by lifecycle, in table order."""
    return [
        (name, str(state), str(event), str(target))
        for name, lifecycle in lifecycles.items()
        for state, event, target in lifecycle.edges()
    ]


class TransitionRecorder:
    """Records the transitions `Lifecycle.apply` accepts between `start()` and `stop()`.

    Usable as a context manager. Recorders nest (each wraps the method it found); one stopped
    out of order leaves its wrapper in place but passing calls through, recording nothing.
    `context` (e.g. the id of the test running now) is kept with each edge's first taking.
    """

    def __init__(self) -> None:
        self.context: str | None = None
        self._first: dict[tuple[str, Any, Any, Any], str | None] = {}
        self._direct: set[tuple[str, Any, Any, Any]] = set()
        self._kinds: dict[Any, int] = {}
        self._original: Callable[..., Any] | None = None
        self._wrapper: Callable[..., Any] | None = None
        self._recording = False

    def start(self) -> None:
        """Wrap `Lifecycle.apply`; raises `RuntimeError` when this recorder already started."""
        if self._original is not None:
            raise RuntimeError("this TransitionRecorder is already started")
        original: Callable[..., Any] = Lifecycle.apply
        first, direct, driven, recorder = self._first, self._direct, self._driven, self

        def apply(
            lifecycle: Lifecycle[Any, Any],
            state: Any,
            event: Any,
            entity: str | None = None,
            flow: str | None = None,
        ) -> Any:
            target = original(lifecycle, state, event, entity, flow)
            key = (lifecycle.name, state, event, target)
            if key not in first and recorder._recording:  # the common case costs one lookup
                if driven(sys._getframe(1)):
                    first[key] = recorder.context
                else:
                    direct.add(key)
            return target

        apply.__doc__ = original.__doc__
        apply.__wrapped__ = original  # type: ignore[attr-defined]
        self._original, self._wrapper, self._recording = original, apply, True
        Lifecycle.apply = apply  # type: ignore[method-assign, assignment]

    def stop(self) -> None:
        """Stop recording and put back the method `start` found, when nothing wrapped it since."""
        self._recording = False
        if self._original is not None and Lifecycle.__dict__.get("apply") is self._wrapper:
            Lifecycle.apply = self._original  # type: ignore[method-assign]
        self._original = self._wrapper = None

    def __enter__(self) -> TransitionRecorder:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _driven(self, frame: FrameType | None) -> bool:
        """Whether the first caller outside `fsm/` is provenflow's own code."""
        kinds = self._kinds
        while frame is not None:
            code = frame.f_code
            kind = kinds.get(code)
            if kind is None:
                kind = kinds[code] = _kind_of(code.co_filename)
            if kind != _FSM:
                return kind == _LIBRARY
            frame = frame.f_back
        return False

    def coverage(self) -> TransitionCoverage:
        """Return what was recorded so far (a snapshot; recording goes on if started)."""
        taken_by = {_by_value(key): context for key, context in list(self._first.items())}
        direct = {_by_value(key) for key in list(self._direct)}
        return TransitionCoverage(frozenset(taken_by), frozenset(direct - set(taken_by)), taken_by)


def _by_value(key: tuple[str, Any, Any, Any]) -> Edge:
    name, state, event, target = key
    return name, str(state), str(event), str(target)


EdgeStatus = Literal["covered", "unreachable", "uncovered"]
"""`covered`, `unreachable` (listed, not covered) or `uncovered` (neither)."""


@dataclass(frozen=True)
class LifecycleCoverage:
    """Coverage of one lifecycle's edges; `status` maps each edge to its `EdgeStatus`."""

    name: str
    status: dict[Edge, EdgeStatus]
    applied_directly: frozenset[Edge] = field(default_factory=frozenset)

    @property
    def total(self) -> int:
        return len(self.status)

    def edges(self, status: EdgeStatus) -> list[Edge]:
        """Return the edges with `status`, in table order."""
        return [edge for edge, found in self.status.items() if found == status]


@dataclass(frozen=True)
class TransitionCoverage:
    """The transitions taken: `driven` by provenflow's code, and only `direct`ly by other code."""

    driven: frozenset[Edge] = frozenset()
    direct: frozenset[Edge] = frozenset()
    taken_by: Mapping[Edge, str | None] = field(default_factory=dict)
    """For each driven edge, the `context` it was first taken in (a test id), when known."""

    def by_lifecycle(
        self,
        unreachable: Mapping[tuple[str, str, str], str],
        lifecycles: Mapping[str, Lifecycle[Any, Any]] = LIFECYCLES,
    ) -> list[LifecycleCoverage]:
        """Return each lifecycle's edges with their status, given the edges listed unreachable.

        An edge that is both covered and listed is `covered` (see `listed_but_covered`).
        """
        result = []
        for name in lifecycles:
            status: dict[Edge, EdgeStatus] = {}
            for edge in edges_of({name: lifecycles[name]}):
                if edge in self.driven:
                    status[edge] = "covered"
                elif edge[:3] in unreachable:
                    status[edge] = "unreachable"
                else:
                    status[edge] = "uncovered"
            direct = frozenset(edge for edge in self.direct if edge[0] == name)
            result.append(LifecycleCoverage(name, status, direct))
        return result

    def taken(self, lifecycle: str) -> frozenset[tuple[str, str, str]]:
        """Return the `(state, event, target)` edges of `lifecycle` that provenflow took."""
        return frozenset(edge[1:] for edge in self.driven if edge[0] == lifecycle)

    def listed_but_covered(self, unreachable: Iterable[tuple[str, str, str]]) -> list[Edge]:
        """Return the covered edges that `unreachable` lists (the list is wrong about them)."""
        listed = set(unreachable)
        return sorted(edge for edge in self.driven if edge[:3] in listed)

    def to_json(self, unreachable: Mapping[tuple[str, str, str], str]) -> dict[str, Any]:
        """Return the coverage as JSON data: per lifecycle, the counts and every edge's status."""
        lifecycles: dict[str, Any] = {}
        for found in self.by_lifecycle(unreachable):
            counts = {kind: len(found.edges(kind)) for kind in _STATUSES}
            lifecycles[found.name] = {
                "total": found.total,
                **counts,
                "edges": [
                    {
                        "state": state,
                        "event": event,
                        "target": target,
                        "status": status,
                        "reason": unreachable.get((name, state, event)),
                        "first_taken_by": self.taken_by.get((name, state, event, target)),
                        "applied_directly": (name, state, event, target) in found.applied_directly,
                    }
                    for (name, state, event, target), status in found.status.items()
                ],
            }
        return {
            "lifecycles": lifecycles,
            "listed_but_covered": [list(edge) for edge in self.listed_but_covered(unreachable)],
            "driven": sorted(list(edge) for edge in self.driven),
            "direct": sorted(list(edge) for edge in self.direct),
            "note": "transitions taken in subprocesses are not recorded",
        }


_STATUSES: tuple[EdgeStatus, ...] = ("covered", "unreachable", "uncovered")
