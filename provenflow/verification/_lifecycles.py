"""`verify_lifecycles()`: the table checks of `fsm/` as a report, cross-checked with real runs.

Every lifecycle is checked when it is built (see `provenflow.fsm._checks`); a bad table never
imports. This module reports the same checks, lifecycle by lifecycle, and adds what a table
alone cannot say, from the transitions recorded while code ran (a `TransitionCoverage`, e.g.
the whole test suite's, recorded by the pytest plugin):

- every transition that was taken is an edge of its table (the chokepoint guarantees it; the
  check shows the recording agrees);
- every edge of every table was taken by provenflow's own code, or is listed in `UNREACHABLE`
  with the reason no test can reach it;
- `UNREACHABLE` is honest: it names only edges of the tables, and none that was taken.

Without a coverage the cross-checks that need one are reported as not run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from provenflow.fsm import LIFECYCLES, Lifecycle
from provenflow.verification._coverage import Edge, TransitionCoverage, edges_of

__all__ = ["UNREACHABLE", "CheckResult", "LifecycleReport", "verify_lifecycles"]

UNREACHABLE: Mapping[tuple[str, str, str], str] = MappingProxyType({})
"""Table edges that no test can make provenflow take, each with the reason.

Keyed by (lifecycle, state, event). An entry is a claim about the code as it is: when the code
changes so that the edge is taken, `verify_lifecycles` (and the plugin's strict coverage) says
the entry is wrong.
"""

TAKEN_ARE_EDGES = "every transition taken is an edge of the table"
EDGES_TAKEN = "every edge is taken by provenflow, or listed in UNREACHABLE with a reason"
LISTED_ARE_EDGES = "UNREACHABLE lists only edges of the table, each with a reason"
LISTED_NOT_TAKEN = "no edge listed in UNREACHABLE was taken"


@dataclass(frozen=True)
class CheckResult:
    """One check of one lifecycle: `passed` is None when it was not run (no coverage given)."""

    lifecycle: str
    check: str
    passed: bool | None
    problems: tuple[str, ...] = ()

    def __str__(self) -> str:
        mark = {True: "ok", False: "FAILED", None: "not run"}[self.passed]
        text = f"  {mark:<8}{self.check}"
        return "\n".join([text, *(f"          {problem}" for problem in self.problems)])


@dataclass(frozen=True)
class LifecycleReport:
    """Every check of every lifecycle, in order; `ok` when none failed."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.passed is not False for result in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        """Return the checks that failed."""
        return [result for result in self.results if result.passed is False]

    def __str__(self) -> str:
        lines: list[str] = []
        for name in dict.fromkeys(result.lifecycle for result in self.results):
            lines.append(f"{name}:")
            lines += [str(result) for result in self.results if result.lifecycle == name]
        failed = len(self.failures)
        lines.append("all checks passed" if failed == 0 else f"{failed} check(s) FAILED")
        return "\n".join(lines)


def _edge_text(edge: Edge | tuple[str, str, str]) -> str:
    if len(edge) == 4:
        return f"{edge[1]} --{edge[2]}--> {edge[3]}"
    return f"{edge[1]} --{edge[2]}-->"


def _result(name: str, check: str, problems: Iterable[str] | None) -> CheckResult:
    if problems is None:
        return CheckResult(name, check, None)
    found = tuple(problems)
    return CheckResult(name, check, not found, found)


def _listed_problems(
    name: str, lifecycle: Lifecycle[Any, Any], unreachable: Mapping[tuple[str, str, str], str]
) -> list[str]:
    problems = []
    for key, reason in unreachable.items():
        if key[0] != name:
            continue
        row = {str(state): row for state, row in lifecycle.table.items()}.get(key[1], {})
        if key[2] not in {str(event) for event in row}:
            problems.append(f"{_edge_text(key)} is not an edge of the {name} table")
        elif not reason.strip():
            problems.append(f"{_edge_text(key)} has no reason")
    return problems


def _coverage_checks(
    name: str, coverage: TransitionCoverage, unreachable: Mapping[tuple[str, str, str], str]
) -> list[CheckResult]:
    edges = edges_of({name: LIFECYCLES[name]})
    table = set(edges)
    taken = sorted(edge for edge in coverage.driven | coverage.direct if edge[0] == name)
    not_edges = [f"{_edge_text(edge)} is not in the table" for edge in taken if edge not in table]
    missing = [
        f"{_edge_text(edge)} was never taken"
        + (" (only applied by hand)" if edge in coverage.direct else "")
        for edge in edges
        if edge not in coverage.driven and edge[:3] not in unreachable
    ]
    stale = [
        f"{_edge_text(edge)} was taken, yet is listed: {unreachable[edge[:3]]}"
        for edge in coverage.listed_but_covered(unreachable)
        if edge[0] == name
    ]
    return [
        _result(name, TAKEN_ARE_EDGES, not_edges),
        _result(name, EDGES_TAKEN, missing),
        _result(name, LISTED_NOT_TAKEN, stale),
    ]


def verify_lifecycles(
    coverage: TransitionCoverage | None = None,
    *,
    unreachable: Mapping[tuple[str, str, str], str] | None = None,
) -> LifecycleReport:
    """Return the report of every lifecycle's checks (see the module docstring).

    `coverage`: the transitions recorded while code ran (`TransitionRecorder.coverage()`);
    without it the checks that need one are reported as not run. `unreachable`: the edges
    no test can reach, `UNREACHABLE` by default. Raises nothing: a failed check is a
    `CheckResult` with `passed=False` and its problems.
    """
    if unreachable is None:
        unreachable = UNREACHABLE
    results: list[CheckResult] = []
    for name, lifecycle in LIFECYCLES.items():
        results += [CheckResult(name, check, ok) for check, ok in lifecycle.check_results()]
        results.append(
            _result(name, LISTED_ARE_EDGES, _listed_problems(name, lifecycle, unreachable))
        )
        if coverage is None:
            results += [
                _result(name, check, None)
                for check in (TAKEN_ARE_EDGES, EDGES_TAKEN, LISTED_NOT_TAKEN)
            ]
        else:
            results += _coverage_checks(name, coverage, unreachable)
    named = {key[0] for key in unreachable} | {edge[0] for edge in _all(coverage)}
    unknown = sorted(named - set(LIFECYCLES))
    for name in unknown:
        results.append(CheckResult(name, "is a lifecycle", False, (f"no lifecycle {name!r}",)))
    return LifecycleReport(tuple(results))


def _all(coverage: TransitionCoverage | None) -> frozenset[Edge]:
    return frozenset() if coverage is None else coverage.driven | coverage.direct
