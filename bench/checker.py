"""The model checker's speed: states per second and time to exhaust, written into bench/RESULTS.md.

Run by hand from the repository root: `python3 bench/checker.py [--max-seconds S] [--before
CHECKOUT]`. Each case checks a flow of no-op tasks (`check(..., snapshots=True)`) with 0, 1 or 2
crashes per path: linear flows of 4 to 14 tasks and unordered flows of 3 to 7. A case stopped by
the time bound says so ("incomplete"): its states per second still count, its time to exhaust
does not exist.

Then a summary (`summary()`): the three ways a search branches (snapshots, the default, replay)
on a linear flow of 10 tasks whose factory returns a context, 2 crashes; the bytes per stored
state (tracemalloc: what the search's seen / passed / part-number / resume structures retain
after an unordered flow of 6 tasks with 1 crash, divided by its states); and the time to
exhaust an unordered flow of 7 tasks with 1 crash. With `--before CHECKOUT` (a directory
holding another checkout of the repository, e.g. `git worktree add /tmp/before <commit>`), the
summary is also measured there, in a subprocess run right before this one's, and shown beside
it.

The results replace the section between `BEGIN` and `END` of RESULTS.md (appended when there is
none); `bench/run.py`, which writes the rest of that file, keeps the section as it is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(
    0, os.environ.get("PROVENFLOW_BENCH_REPO", str(Path(__file__).resolve().parent.parent))
)

import provenflow as pf
from provenflow.verification import check

TARGET_RATE = 20_000
TARGET_SECONDS = 10.0
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN = "<!-- model checker: written by bench/checker.py -->"
END = "<!-- end of model checker -->"


def section_of(text: str) -> str | None:
    """Return the model checker's section of a RESULTS.md text (markers included), or None."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start : end + len(END)]


def with_section(text: str, section: str) -> str:
    """Return `text` with its model checker section replaced by `section` (or appended)."""
    old = section_of(text)
    if old is not None:
        start, end = old.find(REDUCTION_BEGIN), old.find(REDUCTION_END)
        if 0 <= start < end:  # `--reduction`'s table, kept in the section
            section = section.replace(END, old[start : end + len(REDUCTION_END)] + "\n" + END)
        return text.replace(old, section)
    return text.rstrip("\n") + "\n\n" + section + "\n"


def noop() -> None:
    """What every task does."""


def factory(kind: str, size: int) -> object:
    def make() -> pf.Flow:
        tasks = [pf.task(noop, name=f"t{i}") for i in range(size)]
        pattern = pf.LinearFlow if kind == "linear" else pf.UnorderedFlow
        return pattern(kind).add(*tasks)

    return make


def toy_rate(tasks: int = 10, crashes: int = 2, seconds: float = 2.0) -> float:
    """States per second of a plain breadth-first search over a toy model, in pure Python.

    The calibration the target is stated against: a linear flow of `tasks` as a tuple of task
    states (0 pending, 1 running, 2 done, 3 reverting, 4 reverted) and a crash count; each step
    runs, finishes or fails the current task, reverts, or crashes. No engine, no records: the
    cheapest honest search of a state space of this shape on this machine.
    """

    def successors(state: tuple[int, ...]) -> list[tuple[int, ...]]:
        *atoms, crashed = state
        out = []
        reverting = 3 in atoms or (4 in atoms and 2 in atoms)
        for index, value in enumerate(atoms):
            if not reverting and value == 0 and all(v == 2 for v in atoms[:index]):
                out.append((*atoms[:index], 1, *atoms[index + 1 :], crashed))
            elif value == 1:
                out.append((*atoms[:index], 2, *atoms[index + 1 :], crashed))
                out.append((*atoms[:index], 3, *atoms[index + 1 :], crashed))
            elif value == 3:
                out.append((*atoms[:index], 4, *atoms[index + 1 :], crashed))
            elif reverting and value == 2 and all(v != 2 for v in atoms[index + 1 :]):
                out.append((*atoms[:index], 3, *atoms[index + 1 :], crashed))
        if crashed < crashes:
            out += [(*atoms, crashed + 1)]
        return out

    explored = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        root = (0,) * tasks + (0,)
        seen = {root}
        queue = deque([root])
        while queue:
            for child in successors(queue.popleft()):
                if child not in seen:
                    seen.add(child)
                    queue.append(child)
        explored += len(seen)
    return explored / (time.perf_counter() - started)


START_LOAD = ""
NOTE = ""


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def rate_of(report: Any) -> float:
    return report.states_explored / report.elapsed if report.elapsed else 0.0


def timed(report: Any) -> dict[str, Any]:
    """A report's numbers, as the summary keeps them."""
    return {
        "states": report.states_explored,
        "rate": rate_of(report),
        "seconds": None if report.incomplete else report.elapsed,
        "result": "ok" if report.ok else (report.incomplete or "VIOLATION"),
        "replayed": getattr(report, "replayed", None),
    }


def memory_per_state(size: int = 6, crashes: int = 1, **options: Any) -> dict[str, float]:
    """Bytes retained by a search's stored states (seen, passed, the part numbers, resumes),
    per state, after a search of an unordered flow of `size` no-op tasks with snapshots
    (tracemalloc: the traced memory freed when those structures are dropped)."""
    from provenflow._gc import collector_paused  # noqa: PLC0415 (the checkout measured)

    try:  # the search has its own module since 3a8c273; before, it lived in _checker
        from provenflow.verification._search import Search as _Search  # noqa: PLC0415
    except ImportError:
        from provenflow.verification._checker import _Search  # type: ignore[attr-defined,no-redef]  # noqa: PLC0415

    tracemalloc.start()
    search = _Search(
        factory("unordered", size), {}, crashes, 0, [], None, 10**7, 600.0, False, **options
    )
    with collector_paused():
        report = search.with_snapshots()
    search.queue = deque()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for name in ("seen", "passed", "shared", "resumes"):
        setattr(search, name, None)
    gc.collect()
    freed = before - tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"states": report.states_explored, "bytes_per_state": freed / report.states_explored}


def summary(max_seconds: float) -> dict[str, Any]:
    """The numbers of the before / after table (see the module docstring)."""
    found: dict[str, Any] = {}
    modes = {"snapshots": {"snapshots": True}, "default": {}, "replay": {"snapshots": False}}
    for name, options in modes.items():
        context = in_a_world(10) if name != "snapshots" else factory("linear", 10)
        report = check(context, crashes=2, max_seconds=max_seconds, **options)
        found[f"linear10_{name}"] = timed(report)
        print(f"summary: linear 10, {name}: {rate_of(report):,.0f}/s", file=sys.stderr)
    found["memory"] = memory_per_state()
    print(f"summary: memory {found['memory']}", file=sys.stderr)
    for name, options in (("snapshots", {"snapshots": True}), ("default", {})):
        report = check(factory("unordered", 7), crashes=1, max_seconds=max_seconds, **options)
        found[f"unordered7_{name}"] = timed(report)
        print(f"summary: unordered 7 (1 crash), {name}: {timed(report)}", file=sys.stderr)
    return found


def commit_of(checkout: str) -> str:
    """The short commit of a git checkout, or "commit unknown"."""
    found = subprocess.run(
        ["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return found or "commit unknown"


def summary_of(checkout: str, max_seconds: float) -> dict[str, Any]:
    """`summary()` measured on another checkout, in a subprocess."""
    environment = {**os.environ, "PROVENFLOW_BENCH_REPO": str(Path(checkout).resolve())}
    ran = subprocess.run(
        [sys.executable, __file__, "--summary-only", "--max-seconds", str(max_seconds)],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return json.loads(ran.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-seconds", type=float, default=20.0, help="bound per case")
    parser.add_argument(
        "--summary-max-seconds", type=float, default=120.0, help="bound per summary case"
    )
    parser.add_argument("--before", help="another checkout to measure the summary on")
    parser.add_argument("--before-commit", help="its commit, when it is not a git checkout")
    parser.add_argument("--summary-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--note", default="", help="a sentence on the machine, for the report")
    parser.add_argument(
        "--reduction", action="store_true", help="only the partial-order reduction's cases"
    )
    args = parser.parse_args()
    global START_LOAD, NOTE  # what the report says of the run as a whole
    START_LOAD, NOTE = load_average(), args.note
    if args.reduction:
        reduction_section(args.max_seconds)
        return
    if args.summary_only:
        print(json.dumps(summary(args.max_seconds)))
        return
    before = summary_of(args.before, args.summary_max_seconds) if args.before else None
    after = summary(args.summary_max_seconds)
    cases = [("linear", n) for n in (4, 6, 8, 10, 12, 14)] + [
        ("unordered", n) for n in (3, 4, 5, 6, 7)
    ]
    rows = []
    for kind, size in cases:
        for crashes in (0, 1, 2):
            report = check(
                factory(kind, size), crashes=crashes, snapshots=True, max_seconds=args.max_seconds
            )
            rate = report.states_explored / report.elapsed if report.elapsed else 0.0
            choice_rate = report.choices / report.elapsed if report.elapsed else 0.0
            exhausted = "—" if report.incomplete else f"{report.elapsed:.2f} s"
            status = "ok" if report.ok else (report.incomplete or "VIOLATION")
            rows.append(
                (
                    kind,
                    size,
                    crashes,
                    report.states_explored,
                    rate,
                    exhausted,
                    status,
                    report.choices,
                    choice_rate,
                )
            )
            print(
                f"{kind} {size} crashes={crashes}: {report.states_explored} states, "
                f"{rate:,.0f}/s, {status}",
                file=sys.stderr,
            )
    with_context = []
    for size in (4, 6, 8, 10):
        default = check(in_a_world(size), crashes=2, max_seconds=args.max_seconds)
        replayed = check(in_a_world(size), crashes=2, max_seconds=args.max_seconds, snapshots=False)
        exhausted = "—" if default.incomplete else f"{default.elapsed:.2f} s"
        with_context.append(
            (size, default.states_explored, rate_of(default), exhausted, rate_of(replayed))
        )
        print(
            f"linear {size} with a context: {rate_of(default):,.0f}/s, {exhausted}", file=sys.stderr
        )
    toy = toy_rate()
    print(f"toy model BFS: {toy:,.0f} states/s", file=sys.stderr)
    label = args.before and f"{args.before} ({args.before_commit or commit_of(args.before)})"
    write(rows, args.max_seconds, toy, with_context, (before, after, label))


def in_a_world(size: int) -> object:
    """A factory of a linear flow of `size` no-op tasks with a context (a dict the tasks leave
    alone): by default checked from snapshots with the world put back in place; with
    `snapshots=False`, each path that leaves the normal course replayed from the start."""

    def make() -> tuple[pf.Flow, dict[str, str]]:
        tasks = [pf.task(noop, name=f"t{i}") for i in range(size)]
        return pf.LinearFlow("linear").add(*tasks), {"world": "untouched"}

    return make


def summary_lines(
    before: dict[str, Any] | None, after: dict[str, Any], checkout: str | None
) -> list[str]:
    """The before / after table of the summary (`summary()`)."""

    def rate(found: dict[str, Any] | None, key: str) -> str:
        return "—" if found is None else f"{found[key]['rate']:,.0f}"

    def seconds(found: dict[str, Any] | None, key: str) -> str:
        if found is None:
            return "—"
        value = found[key]
        if value["seconds"] is None:
            return f"not exhausted ({value['result']}; {value['states']:,} states)"
        return f"{value['seconds']:.1f} s ({value['states']:,} states)"

    def memory(found: dict[str, Any] | None, key: str) -> str:
        return "—" if found is None else f"{found[key]['bytes_per_state']:,.0f}"

    where = "not measured (no `--before`)"
    if checkout is not None:
        where = f"the checkout at {checkout}, measured just before"
    ratio = after["linear10_snapshots"]["rate"] / max(after["linear10_default"]["rate"], 1e-9)
    lines = [
        "",
        "### Before and after: modes, memory, unordered 7",
        "",
        f"Before: {where}. Linear flow of 10 no-op tasks, 2 crashes (snapshots: no context, "
        "`snapshots=True`; default and replay: a factory returning a context, `check(...)` and "
        "`check(..., snapshots=False)`; before this change the default was replay). Memory: "
        "bytes retained by the search's stored states per state (unordered flow of 6 tasks, 1 "
        "crash, with snapshots; tracemalloc). Unordered 7: no-op tasks, 1 crash, default "
        "workers (2).",
        "",
        "| measure | before | after |",
        "|---|---:|---:|",
    ]
    for label, show, key in (
        ("states/s, snapshots", rate, "linear10_snapshots"),
        ("states/s, default (with a context)", rate, "linear10_default"),
        ("states/s, replay (with a context)", rate, "linear10_replay"),
        ("bytes per stored state", memory, "memory"),
        ("unordered 7, 1 crash, snapshots", seconds, "unordered7_snapshots"),
        ("unordered 7, 1 crash, default", seconds, "unordered7_default"),
    ):
        lines.append(f"| {label} | {show(before, key)} | {show(after, key)} |")
    lines += [
        "",
        f"After: the snapshot mode's rate is {ratio:.2f}x the default mode's (target: at most 2x).",
    ]
    return lines


def verdict(rate: float) -> str:
    """Met, or by how much the states-per-second target is missed."""
    if rate >= TARGET_RATE:
        return "met"
    short = TARGET_RATE - rate
    return f"missed by {short:,.0f} ({short / TARGET_RATE:.0%} short)"


def write(
    rows: list[tuple[object, ...]],
    bound: float,
    toy: float,
    with_context: list[tuple[int, int, float, str, float]],
    summaries: tuple[dict[str, Any] | None, dict[str, Any], str | None],
) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = f"{START_LOAD} at the start, {load_average()}"
    lines = [
        BEGIN,
        "## Model checker",
        "",
        f"Written by `python3 bench/checker.py` on {now}; do not edit by hand. Machine: {cpu}, "
        f"Python {platform.python_version()}, provenflow checkout {commit}; load average "
        f"(1 / 5 / 15 min): {load} at the end. {NOTE + ' ' if NOTE else ''}"
        "Mode: `check(..., snapshots=True)`; bound "
        f"{bound:g} s per case. A state is a distinct (hashed) state of the search: every "
        "write and every outcome, `Report.states_explored`; a choice is one with more than one "
        "option (`Report.choices`; where the bounds leave one option, no crash left or a "
        "revert that may not raise, a state is no choice).",
        "",
        "| flow | tasks | crashes | states | choices | states/s | choices/s | time to exhaust "
        "| result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {k} | {n} | {c} | {s:,} | {ch:,} | {r:,.0f} | {cr:,.0f} | {t} | {st} |"
        for k, n, c, s, r, t, st, ch, cr in rows
    ]
    ten = next(row for row in rows if row[:3] == ("linear", 10, 2))
    rate_ten, choices_ten = ten[4], ten[8]  # the largest linear 10 case: 2 crashes
    exhausted = ten[5] != "—" and float(str(ten[5]).split()[0]) < TARGET_SECONDS
    lines += [
        "",
        "### With a context",
        "",
        "A factory that returns a context (the usual way with invariants of your own), checked "
        "the default way (branching from snapshots, the world saved by value and put back in "
        "place before a copy goes on) and with `snapshots=False` (a path goes on in place with "
        "the run's normal course and is replayed from the start for every other option). "
        "Linear flows of no-op tasks, 2 crashes:",
        "",
        "| tasks | states | default: states/s | default: time to exhaust | replay: states/s |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {s:,} | {r:,.0f} | {t} | {rr:,.0f} |" for n, s, r, t, rr in with_context]
    lines += summary_lines(*summaries)
    lines += [
        "",
        "### Targets",
        "",
        "| target | measured | verdict |",
        "|---|---:|---|",
        f"| ≥ {TARGET_RATE:,} states/s, linear flow of 10 tasks (2 crashes) | {rate_ten:,.0f} | "
        f"{verdict(rate_ten)} |",
        f"| linear flow of 10 tasks, every outcome, ≤ 2 crashes: exhausted in < "
        f"{TARGET_SECONDS:g} s | {ten[5]} | {'met' if exhausted else 'missed'} |",
        "",
        f"Counted as choices only (what `states_explored` counted before every write and "
        f"outcome was hashed as a state), the rate of that case is {choices_ten:,.0f} "
        f"choices/s ({verdict(choices_ten)} against the same target).",
        "",
        f"Calibration: a plain breadth-first search over a toy model of the same shape "
        f"(`toy_rate()`: a tuple of task states, no engine, no records; it counts every state, "
        f"choice or not) does {toy:,.0f} states/s on this machine at this time; the target was "
        f"set where that search did 160,000 to 360,000. The checker's rate is "
        f"{rate_ten / toy:.1%} of the toy's here.",
        END,
    ]
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    RESULTS.write_text(with_section(old, "\n".join(lines)))
    print(f"wrote the model checker section of {RESULTS}", file=sys.stderr)


REDUCTION_BEGIN = "<!-- partial-order reduction: written by bench/checker.py --reduction -->"
REDUCTION_END = "<!-- end of partial-order reduction -->"
REDUCTION_CASES = ((7, 1, 2), (7, 1, 3), (7, 2, 2), (6, 2, 3))
"""(unordered tasks, crashes, workers) measured with and without the reduction."""


def reduction_section(max_seconds: float) -> None:
    """Check each of `REDUCTION_CASES` (the default mode) with and without the partial-order
    reduction, and write the table between `REDUCTION_BEGIN` and `REDUCTION_END` of
    RESULTS.md (appended when there is none)."""
    rows = []
    for size, crashes, workers in REDUCTION_CASES:
        for reduction in (False, True):
            report = check(
                factory("unordered", size),
                crashes=crashes,
                workers=workers,
                reduction=reduction,
                max_seconds=max_seconds,
            )
            exhausted = "—" if report.incomplete else f"{report.elapsed:.1f} s"
            status = "ok" if report.ok else (report.incomplete or "VIOLATION")
            row = f"| {size} | {crashes} | {workers} | {'on' if reduction else 'off'} | "
            row += f"{report.states_explored:,} | {report.transitions:,} | {report.pruned:,} | "
            row += f"{rate_of(report):,.0f} | {exhausted} | {status} |"
            rows.append(row)
            print(row, file=sys.stderr)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        REDUCTION_BEGIN,
        "### Partial-order reduction",
        "",
        f"Written by `python3 bench/checker.py --reduction` on {now}; do not edit by hand. "
        f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"provenflow checkout {commit}; load average (1 / 5 / 15 min): {START_LOAD} at the "
        f"start, {load_average()} at the end. {NOTE + ' ' if NOTE else ''}"
        f"Unordered flows of no-op tasks, the default mode, bound {max_seconds:g} s per case, "
        "with `reduction=False` (off) and the default (on). `pruned`: the options the reduction "
        "did not take (`Report.pruned`).",
        "",
        "| tasks | crashes | workers | reduction | states | transitions | pruned | states/s "
        "| time to exhaust | result |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
        *rows,
        REDUCTION_END,
    ]
    text = RESULTS.read_text() if RESULTS.exists() else ""
    start, end = text.find(REDUCTION_BEGIN), text.find(REDUCTION_END)
    section = "\n".join(lines)
    if 0 <= start < end:
        text = text[:start] + section + text[end + len(REDUCTION_END) :]
    elif END in text:  # inside the model checker's section, which bench/run.py keeps
        text = text.replace(END, section + "\n" + END)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
