"""The pytest plugin: model-check a flow in a test, and measure transition coverage.

Registered as the `pytest11` entry point `provenflow`, so an installed provenflow offers:

- `assert_sound(flow_or_factory, store=None, **options)`: run `check` with `options` (bounds,
  crashes, suspends, user invariants) and, when the report is not ok, fail the test with the
  counterexample (the numbered trace and a reproduction) or the reason the search stopped.
  The fixture `provenflow_check` gives the same callable.
- `--provenflow-coverage[=PATH]`: record every transition `Lifecycle.apply` accepts while the
  tests run (see `_coverage`), print each lifecycle's covered / total edges and the uncovered
  ones at the end, and with PATH (a `.json` file) write the coverage there.
- `--provenflow-coverage-strict`: the same, and the session fails when an edge is neither
  taken nor listed in `UNREACHABLE`, or is listed but was taken (see `verify_lifecycles`).
- `--provenflow-coverage-diagrams=DIR`: the same as `--provenflow-coverage`, and at the end each
  lifecycle is drawn into DIR with every edge marked taken or never taken: `<name>.mmd`
  (Mermaid), `<name>.dot`, and `<name>.svg` when Graphviz's `dot` is installed.

Coverage is recorded in the pytest process only: transitions in subprocesses are not seen.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from provenflow.diagrams import lifecycle, render
from provenflow.errors import RenderUnavailable
from provenflow.flows import Flow
from provenflow.fsm import LIFECYCLES
from provenflow.verification import _lifecycles
from provenflow.verification._checker import Report, check
from provenflow.verification._coverage import TransitionCoverage, TransitionRecorder
from provenflow.verification._lifecycles import LifecycleReport, verify_lifecycles

__all__ = ["assert_sound", "provenflow_check"]

_RECORDER = pytest.StashKey[TransitionRecorder]()
_RESULT = pytest.StashKey[tuple[TransitionCoverage, LifecycleReport]]()
_WRITE_ERRORS = pytest.StashKey[list[str]]()
_DRAWN = pytest.StashKey[str]()


def assert_sound(
    flow_or_factory: Flow | Callable[[], Any],
    store: dict[str, Any] | None = None,
    **options: Any,
) -> Report:
    """Model-check a flow (`check(flow_or_factory, store, **options)`) and return the report.

    Fails the calling test (`pytest.fail`) when a violation is found, with each violation's
    trace and reproduction as the message, or when the search stopped at a bound, naming it.
    """
    __tracebackhide__ = True
    report = check(flow_or_factory, store, **options)
    if not report.ok:
        pytest.fail(_failure_message(flow_or_factory, report, options))
    return report


def _failure_message(flow_or_factory: object, report: Report, options: dict[str, Any]) -> str:
    name = getattr(flow_or_factory, "__qualname__", None) or repr(flow_or_factory)
    stats = str(report).splitlines()[0]
    if not report.violations:
        if report.fault_level:  # the runs with fewer faults were all explored
            return (
                f"model check of {name} is incomplete: {report.incomplete}; "
                f"{report.describe_level()}; nothing more is proven\n"
                f"({stats}); raise the bound or make the flow smaller"
            )
        return (
            f"model check of {name} is incomplete, so nothing is proven: {report.incomplete}\n"
            f"({stats}); raise the bound or make the flow smaller"
        )
    lines = [f"model check of {name} found a violation ({stats})"]
    if options:
        given = ", ".join(f"{key}={_option_text(value)}" for key, value in options.items())
        lines.append(f"checked with {given}; replay needs the same bounds and checks")
    for violation in report.violations:
        lines += ["", str(violation), "reproduction:"]
        lines += [f"    {line}" for line in violation.reproduction().splitlines()]
    return "\n".join(lines)


def _option_text(value: object) -> str:
    name = getattr(value, "__qualname__", None)
    return str(name) if callable(value) and name else repr(value)


@pytest.fixture
def provenflow_check() -> Callable[..., Report]:
    """`assert_sound`: model-check a flow and fail the test with its counterexample."""
    return assert_sound


# -- coverage -------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("provenflow", "provenflow transition coverage")
    group.addoption(
        "--provenflow-coverage",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="record which lifecycle table edges the tests take; print a summary at the end "
        "and, given =PATH (a .json file), write it there",
    )
    group.addoption(
        "--provenflow-coverage-strict",
        action="store_true",
        default=False,
        help="like --provenflow-coverage, and fail the session when an edge is neither taken "
        "nor listed in provenflow.verification._lifecycles.UNREACHABLE",
    )
    group.addoption(
        "--provenflow-coverage-diagrams",
        default=None,
        metavar="DIR",
        help="like --provenflow-coverage, and draw each lifecycle into DIR with every edge "
        "marked taken or never taken: <name>.mmd, <name>.dot, and <name>.svg when Graphviz's "
        "dot is installed",
    )


def _enabled(config: pytest.Config) -> bool:
    return bool(
        config.getoption("provenflow_coverage") is not None
        or config.getoption("provenflow_coverage_strict")
        or config.getoption("provenflow_coverage_diagrams") is not None
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("provenflow_coverage")
    if path and not path.endswith(".json"):
        raise pytest.UsageError(
            f"--provenflow-coverage={path}: PATH must be a .json file "
            "(write --provenflow-coverage=PATH; a bare --provenflow-coverage takes no path)"
        )
    if config.getoption("provenflow_coverage_diagrams") == "":
        raise pytest.UsageError("--provenflow-coverage-diagrams=DIR: DIR must not be empty")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if _enabled(session.config) and _RECORDER not in session.config.stash:
        recorder = TransitionRecorder()
        recorder.start()
        session.config.stash[_RECORDER] = recorder


@pytest.hookimpl(tryfirst=True)
def pytest_collectstart(collector: pytest.Collector) -> None:
    recorder = collector.config.stash.get(_RECORDER, None)
    if recorder is not None:
        recorder.context = f"collecting {collector.nodeid or 'the session'}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    recorder = item.config.stash.get(_RECORDER, None)
    if recorder is not None:
        recorder.context = item.nodeid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    recorder = config.stash.get(_RECORDER, None)
    if recorder is None:
        return
    recorder.stop()
    coverage = recorder.coverage()
    report = verify_lifecycles(coverage, unreachable=_lifecycles.UNREACHABLE)
    config.stash[_RESULT] = (coverage, report)
    errors = config.stash[_WRITE_ERRORS] = []
    path = config.getoption("provenflow_coverage")
    if path:
        data = coverage.to_json(_lifecycles.UNREACHABLE)
        data["ok"] = report.ok
        target = config.invocation_params.dir / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            errors.append(f"could not write {path}: {error}")
    folder = config.getoption("provenflow_coverage_diagrams")
    if folder:
        try:
            config.stash[_DRAWN] = draw_coverage(coverage, config.invocation_params.dir / folder)
        except OSError as error:
            errors.append(f"could not write the coverage drawings into {folder}: {error}")
    strict = config.getoption("provenflow_coverage_strict") and not config.option.collectonly
    failed = (strict and not report.ok) or bool(errors)
    if failed and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def draw_coverage(coverage: TransitionCoverage, folder: Path) -> str:
    """Draw each lifecycle into `folder` with every edge marked taken or never taken.

    Writes `<name>.mmd` and `<name>.dot`, and `<name>.svg` when Graphviz can render (an old
    `<name>.svg` is removed when it cannot, so no drawing is stale). Returns what was written,
    for the summary. Raises `OSError` when the folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    unavailable: RenderUnavailable | None = None
    for name in LIFECYCLES:
        taken = coverage.taken(name)
        (folder / f"{name}.mmd").write_text(lifecycle(name, "mermaid", covered=taken), "utf-8")
        dot = lifecycle(name, "dot", covered=taken)
        (folder / f"{name}.dot").write_text(dot, "utf-8")
        svg = folder / f"{name}.svg"
        if unavailable is None:
            try:
                svg.write_bytes(render(dot, "svg"))
                continue
            except RenderUnavailable as error:
                unavailable = error
        svg.unlink(missing_ok=True)
    if unavailable is not None:
        return f"<name>.mmd and .dot (no .svg: {unavailable})"
    return "<name>.mmd, .dot and .svg"


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.stash.get(_RECORDER, None)
    if recorder is not None:
        recorder.stop()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    result = config.stash.get(_RESULT, None)
    if result is None:
        return
    coverage, report = result
    write = terminalreporter.write_line
    terminalreporter.section("provenflow transition coverage")
    write("edges taken by provenflow's own code in this process (subprocesses not recorded)")
    for found in coverage.by_lifecycle(_lifecycles.UNREACHABLE):
        covered, listed = len(found.edges("covered")), len(found.edges("unreachable"))
        uncovered = found.edges("uncovered")
        write(
            f"  {found.name:<7} {covered:>2}/{found.total:<2} edges covered, "
            f"{listed} listed unreachable, {len(uncovered)} uncovered"
        )
        for _, state, event, target in uncovered:
            write(f"          uncovered: {state} --{event}--> {target}")
    path = config.getoption("provenflow_coverage")
    errors = config.stash.get(_WRITE_ERRORS, [])
    for error in errors:
        write(error, red=True)
    if path and not any(error.startswith(f"could not write {path}:") for error in errors):
        write(f"written to {path}")
    if _DRAWN in config.stash:
        folder = config.getoption("provenflow_coverage_diagrams")
        write(f"drawings of each lifecycle's coverage in {folder}/: {config.stash[_DRAWN]}")
    if not report.ok:
        strict = config.getoption("provenflow_coverage_strict")
        write(f"lifecycle checks FAILED{' (strict: the session fails)' if strict else ''}:")
        for failed in report.failures:
            write(f"  {failed.lifecycle}: {failed.check}")
            for problem in failed.problems:
                write(f"      {problem}")
