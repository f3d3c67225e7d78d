"""The model checker's speed: states per second and time to exhaust, written into bench/RESULTS.md.

Run by hand from the repository root: `python3 bench/checker.py [--max-seconds S]`. Each case
checks a flow of no-op tasks (`check(..., snapshots=True)`, the fast mode, valid here because the
tasks keep no state) with 0, 1 or 2 crashes per path: linear flows of 4 to 14 tasks and
unordered flows of 3 to 7. A case stopped by the time bound says so ("incomplete"): its states
per second still count, its time to exhaust does not exist.

The results replace the section between `BEGIN` and `END` of RESULTS.md (appended when there is
none); `bench/run.py`, which writes the rest of that file, keeps the section as it is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-seconds", type=float, default=20.0, help="bound per case")
    args = parser.parse_args()
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
        report = check(in_a_world(size), crashes=2, max_seconds=args.max_seconds)
        rate = report.states_explored / report.elapsed if report.elapsed else 0.0
        exhausted = "—" if report.incomplete else f"{report.elapsed:.2f} s"
        with_context.append((size, report.states_explored, rate, exhausted))
        print(f"linear {size} with a context: {rate:,.0f}/s, {exhausted}", file=sys.stderr)
    toy = toy_rate()
    print(f"toy model BFS: {toy:,.0f} states/s", file=sys.stderr)
    write(rows, args.max_seconds, toy, with_context)


def in_a_world(size: int) -> object:
    """A factory of a linear flow of `size` no-op tasks with a context: checked without
    snapshots, each path that leaves the normal course replayed from the start."""

    def make() -> tuple[pf.Flow, dict[str, str]]:
        tasks = [pf.task(noop, name=f"t{i}") for i in range(size)]
        return pf.LinearFlow("linear").add(*tasks), {"world": "untouched"}

    return make


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
    with_context: list[tuple[int, int, float, str]],
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
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        BEGIN,
        "## Model checker",
        "",
        f"Written by `python3 bench/checker.py` on {now}; do not edit by hand. Machine: {cpu}, "
        f"Python {platform.python_version()}, provenflow checkout {commit}; load average "
        f"(1 / 5 / 15 min) at the end: {load}. Mode: `check(..., snapshots=True)`; bound "
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
        "### With a context (no snapshots)",
        "",
        "A factory that returns a context (the usual way with invariants of your own) is checked "
        "without snapshots: a path goes on in place with the run's normal course and is replayed "
        "from the start for every other option. Linear flows of no-op tasks, 2 crashes:",
        "",
        "| tasks | states | states/s | time to exhaust |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {s:,} | {r:,.0f} | {t} |" for n, s, r, t in with_context]
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


if __name__ == "__main__":
    main()
