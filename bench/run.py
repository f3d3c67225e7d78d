"""Run every benchmark case on provenflow and on TaskFlow 6.5.0, and write `bench/RESULTS.md`.

    python3 bench/run.py [--quick] [--max-taskflow-n N] [--timeout SECONDS] [--output PATH]

Each case at each size runs in a fresh subprocess, so its peak memory is its own:
`bench/provenflow_cases.py` with this interpreter and the repository root on `PYTHONPATH`, and
`bench/taskflow_cases.py` with the interpreter of `bench/.venv-taskflow`, a virtual environment
made here (if missing) holding TaskFlow 6.5.0 from PyPI, with SQLAlchemy (the version this
interpreter has) and alembic for TaskFlow's SQLAlchemy backend. Each subprocess prints one JSON
object; this script turns them into tables and checks the targets against the numbers it
measured.
Nothing in the report is typed by hand: a case that could not run says why.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import checker  # bench/checker.py, beside this file: its section of RESULTS.md is kept

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv-taskflow"
TASKFLOW_VERSION = "6.5.0"

CASES = {
    "linear": "Linear flow, serial engine",
    "unordered": "Unordered flow, threads (TaskFlow: parallel engine, threads)",
    "diamond": "Diamond graph 1 -> N/2 -> 1, threads (TaskFlow: parallel engine, threads)",
    "sqlite": "Linear flow, serial, on SQLite (TaskFlow: its SQLAlchemy backend on SQLite)",
    "sqlite-full": "Linear flow, serial, on SQLite with ?synchronous=full",
    "postgresql": "Linear flow, serial, on PostgreSQL",
    "resume": "Resume on SQLite after a crash at the half-way point",
}
MEMORY_CASES = ("linear", "unordered", "diamond")  # in memory: the table with the bare loop
SIZES = {
    "linear": (10, 100, 1_000, 10_000, 100_000),
    "unordered": (1_000, 10_000),
    "diamond": (1_000, 10_000),
    "sqlite": (100, 1_000, 10_000),
    "sqlite-full": (1_000, 10_000),
    "postgresql": (1_000, 10_000),
    "resume": (1_000, 10_000),
}
QUICK_SIZES = {
    "linear": (10, 100, 1_000, 10_000),
    "unordered": (1_000,),
    "diamond": (1_000,),
    "sqlite": (100, 1_000),
    "sqlite-full": (1_000,),
    "postgresql": (1_000,),
    "resume": (1_000,),
}
TASKFLOW_CAP, QUICK_TASKFLOW_CAP = 1_000, 100
NOT_RUN = "not run (quadratic; would take minutes)"
TASKFLOW_SKIPS = {  # the cases run on provenflow only
    "sqlite-full": "not run (TaskFlow on SQLite: see the table above)",
    "postgresql": "not run (the TaskFlow comparison is on SQLite)",
    "resume": "not run (provenflow only)",
}

OVERHEAD_LIMIT_US = 25.0
FLAT_SIZES = (1_000, 10_000, 100_000)
FLAT_LIMIT = 1.5  # "flat": the largest overhead at most this many times the smallest
SPEEDUP_TARGET, SPEEDUP_N = 200.0, 1_000
MEMORY_LIMIT_KB, MEMORY_N = 5.0, 100_000
SQLITE_SPEEDUP_TARGET, SQLITE_SPEEDUP_N = 20.0, 1_000
SQLITE_FLAT_SIZES = (1_000, 10_000)
RESUME_LIMIT_S, RESUME_N = 1.0, 10_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- running the cases --------------------------------------------------------------------


VENV_PACKAGES = ("taskflow", "sqlalchemy", "alembic")


def _venv_versions(python: Path) -> dict[str, str | None]:
    """Return the versions of `VENV_PACKAGES` in the venv (None: not installed, or no venv)."""
    none: dict[str, str | None] = dict.fromkeys(VENV_PACKAGES)
    if not python.exists():
        return none
    probe = (
        "import importlib.metadata as m, json\n"
        "def v(p):\n"
        "    try:\n        return m.version(p)\n"
        "    except m.PackageNotFoundError:\n        return None\n"
        f"print(json.dumps({{p: v(p) for p in {VENV_PACKAGES!r}}}))"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=False
        )
        found: dict[str, str | None] = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return none
    return found


def _wanted() -> dict[str, str | None]:
    """Return the version each venv package must have (None: any). SQLAlchemy is pinned to
    the version this interpreter has, so both libraries run on the same SQLAlchemy."""
    try:
        sqlalchemy: str | None = metadata.version("sqlalchemy")
    except metadata.PackageNotFoundError:
        sqlalchemy = None
    return {"taskflow": TASKFLOW_VERSION, "sqlalchemy": sqlalchemy, "alembic": None}


def _missing(found: dict[str, str | None], packages: tuple[str, ...]) -> list[str]:
    """Return the pip requirements of `packages` that `found` does not satisfy."""
    wanted = _wanted()
    requirements = []
    for package in packages:
        version = wanted[package]
        if found.get(package) is None or (version is not None and found[package] != version):
            requirements.append(package if version is None else f"{package}=={version}")
    return requirements


def _step(label: str, command: list[str]) -> str | None:
    """Run one set-up command; return None, or why it failed."""
    try:
        subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
    except subprocess.CalledProcessError as error:
        tail = " ".join(error.stderr.strip().splitlines()[-3:])
        return f"`{label}` failed (exit {error.returncode}): {tail}"
    except (OSError, subprocess.SubprocessError) as error:
        return f"`{label}` failed: {error}"
    return None


def ensure_taskflow() -> tuple[Path | None, str]:
    """Return (the venv's python, how it was had), or (None, why TaskFlow is not available).

    TaskFlow itself is required; SQLAlchemy and alembic (for its SQLAlchemy backend) are
    installed too, and if they cannot be, the SQLite case says why and the others still run.
    """
    python = VENV / "bin" / "python"
    venv = str(VENV.relative_to(ROOT))
    found = _venv_versions(python)
    if not _missing(found, VENV_PACKAGES):
        return python, f"already installed in {venv}"
    if not python.exists():
        log(f"making {venv} ...")
        problem = _step(f"python3 -m venv {venv}", [sys.executable, "-m", "venv", str(VENV)])
        if problem:
            return None, problem
    how = f"installed now in {venv}"
    for packages in (("taskflow",), ("sqlalchemy", "alembic")):
        requirements = _missing(found, packages)
        if not requirements:
            continue
        log(f"installing {' '.join(requirements)} from PyPI into {venv} ...")
        label = f"pip install {' '.join(requirements)}"
        problem = _step(label, [str(python), "-m", "pip", "install", "--quiet", *requirements])
        if problem and packages == ("taskflow",):
            return None, problem
        if problem:
            how += f"; its SQLAlchemy backend is not: {problem}"
    found = _venv_versions(python)
    if found["taskflow"] != TASKFLOW_VERSION:
        return None, f"after installing, {python} reports taskflow {found['taskflow']}"
    return python, how


def run_case(
    python: Path | str, script: str, case: str, n: int, *, timeout: float, env: dict[str, str]
) -> dict[str, Any]:
    """Run one case script in a fresh interpreter and return its JSON (or why there is none)."""
    command = [str(python), str(BENCH / script), "--case", case, "--n", str(n)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"did not finish within the {timeout:g} s timeout"}
    lines = done.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = " ".join(done.stderr.strip().splitlines()[-2:])
        return {"ok": False, "error": f"exit {done.returncode} without a JSON result: {tail}"}
    return result


@dataclass
class Row:
    """One case at one size, with each side's JSON (or the reason a side did not run)."""

    case: str
    n: int
    provenflow: dict[str, Any]
    taskflow: dict[str, Any]
    tasks: int = field(init=False)

    def __post_init__(self) -> None:
        self.tasks = self.provenflow.get("tasks") or self.taskflow.get("tasks") or self.n

    def _us(self, result: dict[str, Any]) -> float | None:
        return result["seconds"] / self.tasks * 1e6 if result.get("ok") else None

    @property
    def provenflow_us(self) -> float | None:
        return self._us(self.provenflow)

    @property
    def taskflow_us(self) -> float | None:
        return self._us(self.taskflow)

    @property
    def bare_us(self) -> float | None:
        bare = self.provenflow.get("bare_loop")
        return bare["seconds"] / self.tasks * 1e6 if bare else None

    @property
    def overhead_us(self) -> float | None:
        if self.provenflow_us is None or self.bare_us is None:
            return None
        return self.provenflow_us - self.bare_us

    def peak_kb(self, result: dict[str, Any]) -> float | None:
        return result["peak_bytes"] / self.tasks / 1024 if result.get("ok") else None

    @property
    def speedup(self) -> float | None:
        if self.provenflow_us is None or self.taskflow_us is None:
            return None
        return self.taskflow_us / self.provenflow_us

    @property
    def bare_ratio(self) -> float | None:
        if self.provenflow_us is None or not self.bare_us:
            return None
        return self.provenflow_us / self.bare_us


def run_all(args: argparse.Namespace, taskflow_python: Path | None, no_taskflow: str) -> list[Row]:
    sizes = QUICK_SIZES if args.quick else SIZES
    plan = [(case, n) for case in CASES for n in sizes[case]]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    rows = []
    for index, (case, n) in enumerate(plan, 1):
        sides: dict[str, dict[str, Any]] = {}
        for side, python, script in (
            ("provenflow", sys.executable, "provenflow_cases.py"),
            ("taskflow", taskflow_python, "taskflow_cases.py"),
        ):
            if side == "taskflow" and case in TASKFLOW_SKIPS:
                sides[side] = {"ok": False, "skipped": TASKFLOW_SKIPS[case]}
            elif python is None:
                sides[side] = {"ok": False, "available": False, "error": no_taskflow}
            elif side == "taskflow" and n > args.max_taskflow_n:
                sides[side] = {"ok": False, "skipped": NOT_RUN}
            else:
                start = time.perf_counter()
                sides[side] = run_case(python, script, case, n, timeout=args.timeout, env=env)
                spent = time.perf_counter() - start
                status = "ok" if sides[side].get("ok") else sides[side].get("error")
                log(f"[{index}/{len(plan)}] {side} {case} N={n:,}: {spent:.1f} s, {status}")
        rows.append(Row(case, n, sides["provenflow"], sides["taskflow"]))
    return rows


# --- the report -------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """Describe this machine: CPU model, cores, memory, OS, Python."""
    cpu, memory = platform.processor() or "unknown", "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    os_name = platform.platform()
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} ({os_name})"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "memory": memory,
        "OS": os_name,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def checkout() -> str:
    def git(*words: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *words], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = git("status", "--porcelain", "--", "provenflow")
    return f"checkout {commit}" + (", with uncommitted changes in provenflow/" if dirty else "")


def versions(rows: list[Row], taskflow_how: str) -> list[str]:
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        for side, result in (("provenflow", row.provenflow), ("taskflow", row.taskflow)):
            if result.get("versions"):
                found.setdefault(side, result["versions"])
    ours = found.get("provenflow", {})
    theirs = found.get("taskflow", {})
    lines = [
        f"- provenflow {ours.get('provenflow', '?')} ({checkout()}); "
        + ", ".join(f"{k} {v}" for k, v in ours.items() if k != "provenflow")
    ]
    if theirs:
        lines.append(
            f"- TaskFlow {theirs.get('taskflow', '?')} ({taskflow_how}); "
            + ", ".join(f"{k} {v}" for k, v in theirs.items() if k != "taskflow")
        )
    else:
        lines.append(f"- TaskFlow: not available ({taskflow_how})")
    return lines


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    digits = 0 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    return f"{value:,.{digits}f}{unit}"


class Notes:
    """Numbered notes that table cells refer to, each text once."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def ref(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"


def why_missing(library: str, result: dict[str, Any]) -> str:
    """Say why a side has no numbers."""
    if "skipped" in result:
        return f"{library} {result['skipped']}"
    if result.get("case_unavailable"):
        return f"{library}: {result['error']}"
    if result.get("available") is False:
        what = "engine" if library == "provenflow" else "6.5.0"
        return f"{library} {what} not available: {result['error']}"
    return f"{library} run failed: {result.get('error')}"


def missing_cell(library: str, result: dict[str, Any], notes: Notes) -> str:
    """Return the table cell of a side that has no numbers, with a note saying why."""
    if "skipped" in result:
        return str(result["skipped"])
    word = "not available" if result.get("available") is False else "failed"
    return f"{word} {notes.ref(why_missing(library, result))}"


def table(case: str, rows: list[Row], notes: Notes) -> list[str]:
    lines = [
        f"### {CASES[case]}",
        "",
        "| N | tasks | provenflow µs/task | bare loop µs/task | engine overhead µs/task "
        "| provenflow peak KB/task | TaskFlow µs/task | TaskFlow peak KB/task "
        "| speed-up vs TaskFlow | ratio to bare loop |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ours = number(row.provenflow_us)
        if row.provenflow_us is None:
            ours = missing_cell("provenflow", row.provenflow, notes)
        theirs = number(row.taskflow_us)
        if row.taskflow_us is None:
            theirs = missing_cell("TaskFlow", row.taskflow, notes)
        cells = [
            f"{row.n:,}",
            f"{row.tasks:,}",
            ours,
            number(row.bare_us),
            number(row.overhead_us),
            number(row.peak_kb(row.provenflow)),
            theirs,
            number(row.peak_kb(row.taskflow)),
            number(row.speedup, "x"),
            number(row.bare_ratio, "x"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    fixed = {side: fixed_cost(rows, side) for side in ("provenflow", "taskflow")}
    lines += [
        "",
        "Fixed cost of one run, whatever its size (this case at N=10, best of up to 5 runs; "
        f"included in the numbers above): provenflow {number(fixed['provenflow'], ' ms')}, "
        f"TaskFlow {number(fixed['taskflow'], ' ms')}.",
        "",
    ]
    return lines


def fixed_cost(rows: list[Row], side: str, key: str = "small_run_seconds") -> float | None:
    """Return the milliseconds of one run at N=10 on `side` (or of another `key`, in seconds,
    of its JSON), from the first row that has one."""
    for row in rows:
        result = row.provenflow if side == "provenflow" else row.taskflow
        if result.get("ok") and key in result:
            return float(result[key]) * 1e3
    return None


Rows = dict[tuple[str, int], Row]


def store_cost(row: Row, by: Rows) -> float | None:
    """Return what the store adds per task: µs/task on it minus in memory (linear, same N)."""
    memory = by.get(("linear", row.n))
    if row.provenflow_us is None or memory is None or memory.provenflow_us is None:
        return None
    return row.provenflow_us - memory.provenflow_us


def settings(rows: list[Row], side: str) -> str:
    """Return how the store of `side` ran (SQLite journal and sync, or the server), or "?"."""
    for row in rows:
        result = row.provenflow if side == "provenflow" else row.taskflow
        if result.get("ok") and result.get("details"):
            return ", ".join(f"{key} {value}" for key, value in result["details"].items())
    return "?"


def ours_cell(row: Row | None, notes: Notes) -> str:
    if row is None:
        return "not run"
    if row.provenflow_us is None:
        return missing_cell("provenflow", row.provenflow, notes)
    return number(row.provenflow_us)


def sqlite_table(rows: list[Row], by: Rows, notes: Notes) -> list[str]:
    """The SQLite rows, with provenflow's `?synchronous=full` rows beside them."""
    lines = [
        f"### {CASES['sqlite']}",
        "",
        "| N | tasks | provenflow µs/task | of which the store µs/task | provenflow peak KB/task "
        "| provenflow, synchronous=full µs/task | TaskFlow µs/task | TaskFlow peak KB/task "
        "| speed-up vs TaskFlow | speed-up, synchronous=full |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        full = by.get(("sqlite-full", row.n))
        theirs = number(row.taskflow_us)
        if row.taskflow_us is None:
            theirs = missing_cell("TaskFlow", row.taskflow, notes)
        full_speedup = None
        if full is not None and full.provenflow_us and row.taskflow_us is not None:
            full_speedup = row.taskflow_us / full.provenflow_us
        cells = [
            f"{row.n:,}",
            f"{row.tasks:,}",
            ours_cell(row, notes),
            number(store_cost(row, by)),
            number(row.peak_kb(row.provenflow)),
            ours_cell(full, notes),
            theirs,
            number(row.peak_kb(row.taskflow)),
            number(row.speedup, "x"),
            number(full_speedup, "x"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    full_rows = [row for row in by.values() if row.case == "sqlite-full"]
    lines += [
        "",
        "Fixed cost of one run, whatever its size (N=10 on a fresh file, best of up to 5 runs; "
        "included in the numbers above): provenflow "
        f"{number(fixed_cost(rows, 'provenflow'), ' ms')}, TaskFlow "
        f"{number(fixed_cost(rows, 'taskflow'), ' ms')}. Opening a fresh file "
        "(creating it and the schema; before each run, not timed): provenflow "
        f"{number(fixed_cost(rows, 'provenflow', 'store_open_seconds'), ' ms')}, TaskFlow "
        f"{number(fixed_cost(rows, 'taskflow', 'store_open_seconds'), ' ms')}.",
        "",
        f"SQLite as each side ran it: provenflow {settings(rows, 'provenflow')} (its default; "
        f"with `?synchronous=full`: {settings(full_rows, 'provenflow')}); TaskFlow "
        f"{settings(rows, 'taskflow')} (SQLite's defaults, which TaskFlow keeps). "
        '"of which the store" is µs/task on SQLite minus µs/task in memory (the linear table, '
        "same N).",
        "",
    ]
    return lines


def postgresql_table(rows: list[Row], by: Rows, notes: Notes) -> list[str]:
    lines = [
        f"### {CASES['postgresql']}",
        "",
        "| N | tasks | provenflow µs/task | of which the store µs/task | provenflow peak KB/task |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [
            f"{row.n:,}",
            f"{row.tasks:,}",
            ours_cell(row, notes),
            number(store_cost(row, by)),
            number(row.peak_kb(row.provenflow)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Fixed cost of one run (N=10 on a fresh schema, best of up to 5; included above): "
        f"{number(fixed_cost(rows, 'provenflow'), ' ms')}. Opening a fresh schema (creating its "
        "tables; before each run, not timed): "
        f"{number(fixed_cost(rows, 'provenflow', 'store_open_seconds'), ' ms')}. As it ran: "
        f"{settings(rows, 'provenflow')}. TaskFlow: {TASKFLOW_SKIPS['postgresql']}.",
        "",
    ]
    return lines


def resume_steps(row: Row) -> dict[str, float] | None:
    """Return the resume timings of a row, in seconds: the slowest, median and fastest time to
    the first new task over the tries, and the median of each step."""
    tries = row.provenflow.get("tries") if row.provenflow.get("ok") else None
    if not tries:
        return None
    firsts = [t["to_first_task"] for t in tries]
    steps = {key: statistics.median(t[key] for t in tries) for key in tries[0]}
    return {
        **steps,
        "slowest": max(firsts),
        "median": statistics.median(firsts),
        "tries": len(tries),
    }


def resume_table(rows: list[Row], notes: Notes) -> list[str]:
    lines = [
        f"### {CASES['resume']}",
        "",
        "| N | tasks done at the crash | transitions on file | WAL at the crash "
        "| resume to first new task: slowest | median | rebuild the flow | open the store "
        "| Engine.load | run() to the first execute | rest of the run µs/task |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    tries = 0
    for row in rows:
        steps = resume_steps(row)
        if steps is None:
            cell = missing_cell("provenflow", row.provenflow, notes)
            lines.append(f"| {row.n:,} | {cell} |" + " |" * 9)
            continue
        tries = int(steps["tries"])
        result = row.provenflow
        cells = [
            f"{row.n:,}",
            f"{result['done_before_crash']:,} of {row.n:,}",
            f"{result['transitions_before_crash']:,}",
            number(result["wal_bytes"] / 1024**2, " MiB"),
            number(steps["slowest"] * 1e3, " ms"),
            number(steps["median"] * 1e3, " ms"),
            *(number(steps[key] * 1e3, " ms") for key in ("build", "open", "load")),
            number(steps["until_execute"] * 1e3, " ms"),
            number(steps["rest"] / steps["executed"] * 1e6),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Each resume ran in a fresh process on its own copy of the file the killed run left "
        f"({tries} resumes per N); the steps are medians, in the order they happen. The first "
        "new task is the one the crash interrupted (recorded RUNNING, so executed again); the "
        "run then goes on to the end, and every task before it ran exactly once. Opening the "
        "store includes importing SQLAlchemy, which provenflow does on first use.",
        "",
    ]
    return lines


def at_most(value: float, limit: float, unit: str) -> str:
    if value <= limit:
        return "met"
    return f"missed by {number(value - limit, unit)} ({(value / limit - 1) * 100:.0f}% over)"


def at_least(value: float, limit: float, unit: str) -> str:
    if value >= limit:
        return "met"
    return f"missed by {number(limit - value, unit)} ({(1 - value / limit) * 100:.0f}% short)"


Check = tuple[str, str, str]  # (target, measured, verdict)


def _not_measured(row: Row | None, case: str, n: int) -> str:
    if row is None:
        return f"not measured: {case} N={n:,} is not in this run"
    if row.provenflow_us is None:
        return "not measured: " + why_missing("provenflow", row.provenflow)
    return "not measured: " + why_missing("TaskFlow", row.taskflow)


def _overhead_checks(by: dict[tuple[str, int], Row]) -> list[Check]:
    target = f"serial engine overhead ≤ {OVERHEAD_LIMIT_US:g} µs/task, N = 1,000 … 100,000"
    flat = f"… and flat: largest/smallest overhead ≤ {FLAT_LIMIT:g} over those N"
    measured: dict[int, float] = {}
    for n in FLAT_SIZES:
        row = by.get(("linear", n))
        overhead = row.overhead_us if row is not None else None
        if overhead is None:
            reason = _not_measured(row, "linear", n)
            return [(target, "—", reason), (flat, "—", reason)]
        measured[n] = overhead
    worst = max(measured, key=measured.__getitem__)
    checks = [
        (
            target,
            f"max {number(measured[worst])} µs (N={worst:,})",
            at_most(measured[worst], OVERHEAD_LIMIT_US, " µs"),
        )
    ]
    smallest = min(measured.values())
    if smallest <= 0:
        return [*checks, (flat, "—", "not measurable: an overhead is not above zero")]
    spread = measured[worst] / smallest
    return [*checks, (flat, f"{spread:.2f}", at_most(spread, FLAT_LIMIT, ""))]


def _speedup_checks(by: dict[tuple[str, int], Row]) -> list[Check]:
    """The speed-up target is the serial, linear one; the other cases show their ratio only."""
    checks = []
    for case in ("linear",):
        row = by.get((case, SPEEDUP_N))
        target = f"≥ {SPEEDUP_TARGET:g}x faster than TaskFlow at N={SPEEDUP_N:,}, {case}"
        if row is None or row.speedup is None:
            checks.append((target, "—", _not_measured(row, case, SPEEDUP_N)))
        else:
            verdict = at_least(row.speedup, SPEEDUP_TARGET, "x")
            checks.append((target, number(row.speedup, "x"), verdict))
    return checks


def _memory_check(by: dict[tuple[str, int], Row]) -> Check:
    target = f"peak memory ≤ {MEMORY_LIMIT_KB:g} KB/task at N={MEMORY_N:,}, linear"
    row = by.get(("linear", MEMORY_N))
    kb = row.peak_kb(row.provenflow) if row is not None else None
    if kb is None:
        return (target, "—", _not_measured(row, "linear", MEMORY_N))
    return (target, number(kb, " KB"), at_most(kb, MEMORY_LIMIT_KB, " KB"))


def under(value: float, limit: float, unit: str) -> str:
    if value < limit:
        return "met"
    return f"missed by {number(value - limit, unit)} ({(value / limit - 1) * 100:.0f}% over)"


def _sqlite_checks(by: Rows) -> list[Check]:
    """SQLite against TaskFlow's SQLAlchemy backend at N=1,000, and flat over 1,000 … 10,000."""
    row = by.get(("sqlite", SQLITE_SPEEDUP_N))
    target = (
        f"SQLite (WAL, synchronous=NORMAL: durable against a killed process): ≥ "
        f"{SQLITE_SPEEDUP_TARGET:g}x faster per task than TaskFlow's SQLAlchemy backend on "
        f"SQLite at N={SQLITE_SPEEDUP_N:,}"
    )
    if row is None or row.speedup is None:
        checks = [(target, "—", _not_measured(row, "sqlite", SQLITE_SPEEDUP_N))]
    else:
        verdict = at_least(row.speedup, SQLITE_SPEEDUP_TARGET, "x")
        checks = [(target, number(row.speedup, "x"), verdict)]
    flat = (
        f"… and linear: largest/smallest SQLite µs/task ≤ {FLAT_LIMIT:g} over N = "
        + " and ".join(f"{n:,}" for n in SQLITE_FLAT_SIZES)
    )
    measured: dict[int, float] = {}
    for n in SQLITE_FLAT_SIZES:
        row = by.get(("sqlite", n))
        if row is None or row.provenflow_us is None:
            return [*checks, (flat, "—", _not_measured(row, "sqlite", n))]
        measured[n] = row.provenflow_us
    spread = max(measured.values()) / min(measured.values())
    shown = " vs ".join(f"{number(us)} µs (N={n:,})" for n, us in measured.items())
    return [*checks, (flat, f"{spread:.2f} ({shown})", at_most(spread, FLAT_LIMIT, ""))]


def _resume_check(by: Rows) -> Check:
    row = by.get(("resume", RESUME_N))
    target = (
        f"resuming a {RESUME_N:,}-task run crashed at the half-way point: < {RESUME_LIMIT_S:g} s "
        "from the start of the resume to the first new task (the slowest resume)"
    )
    steps = resume_steps(row) if row is not None else None
    if row is None or steps is None:
        if row is None:
            return (target, "—", f"not measured: resume N={RESUME_N:,} is not in this run")
        return (target, "—", "not measured: " + why_missing("provenflow", row.provenflow))
    value = steps["slowest"]
    return (target, number(value, " s"), under(value, RESUME_LIMIT_S, " s"))


def targets(rows: list[Row]) -> list[str]:
    """Check each target against the measured rows; return the lines of a markdown table."""
    by = {(row.case, row.n): row for row in rows}
    checks = [
        *_overhead_checks(by),
        *_speedup_checks(by),
        _memory_check(by),
        *_sqlite_checks(by),
        _resume_check(by),
    ]
    lines = ["| target | measured | verdict |", "|---|---:|---|"]
    return lines + [f"| {target} | {value} | {verdict} |" for target, value, verdict in checks]


def taskflow_scaling(rows: list[Row]) -> list[str]:
    """Say how TaskFlow's per-task time grows with N, from the linear rows it ran (in memory
    and on SQLite), and what that makes of the next size it did not run."""
    lines = []
    for case, label in (("linear", "linear"), ("sqlite", "linear on SQLite")):
        case_rows = [row for row in rows if row.case == case]
        points = [(row.n, row.taskflow_us) for row in case_rows if row.taskflow_us is not None]
        for (small_n, small_us), (large_n, large_us) in itertools.pairwise(points):
            lines.append(
                f"- TaskFlow, {label}: µs/task changes {large_us / small_us:.2f}x from "
                f"N={small_n:,} to N={large_n:,} (a constant cost per task would be 1x; a total "
                f"time quadratic in N, {large_n / small_n:g}x)."
            )
        skipped = [row.n for row in case_rows if "skipped" in row.taskflow]
        largest = points[-1][0] if points else 0
        if len(points) >= 2 and largest >= SPEEDUP_N and skipped and skipped[0] > largest:
            (small_n, small_us), (large_n, large_us) = points[-2:]
            power = math.log(large_us / small_us) / math.log(large_n / small_n)
            next_n = skipped[0]
            if power > 0:
                how = (
                    f"if µs/task kept growing as from N={small_n:,} to N={large_n:,} "
                    f"(as N^{power:.2f})"
                )
            else:  # the smaller size is dominated by the fixed cost of a run
                power = 0.0
                how = f"even at the µs/task of N={large_n:,} (it did not grow from N={small_n:,})"
            minutes = large_us * (next_n / large_n) ** power * next_n / 1e6 / 60
            lines.append(
                f"- TaskFlow, {label}, not run at N={next_n:,}: {how}, one run would take about "
                f"{minutes:,.0f} min (an extrapolation, not a measurement)."
            )
    return lines


def load_average() -> str:
    """Return the load averages over 1, 5 and 15 minutes, or "unknown"."""
    try:
        return " / ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:
        return "unknown"


def render(args: argparse.Namespace, rows: list[Row], taskflow_how: str) -> str:
    """Return the whole of RESULTS.md."""
    notes = Notes()
    command = " ".join(["python3 bench/run.py", *sys.argv[1:]])
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results: provenflow and TaskFlow 6.5.0, side by side",
        "",
        f"Written by `{command}` on {now}; do not edit by hand, run it again."
        + (" This was a `--quick` run: fewer sizes, TaskFlow capped lower." if args.quick else ""),
        "What each number means, and how it is measured: `bench/README.md`.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in machine().items()),
        f"- load average (1 / 5 / 15 min) when the run started: {args.load_at_start}; when it "
        f"ended: {load_average()} (other processes compete with the cases for the cores and "
        "the disk)",
        "",
        "## Versions",
        "",
        *versions(rows, taskflow_how),
        "",
        "## Results",
        "",
        "µs/task is the best wall time of build + run divided by the number of tasks; peak KB/task"
        " is the tracemalloc peak of one build + run divided by the number of tasks. TaskFlow"
        f" runs up to N={args.max_taskflow_n:,} (`--max-taskflow-n`).",
        "",
    ]
    by = {(row.case, row.n): row for row in rows}
    for case in CASES:
        case_rows = [row for row in rows if row.case == case]
        if case in MEMORY_CASES:
            lines += table(case, case_rows, notes)
        elif case == "sqlite":
            lines += sqlite_table(case_rows, by, notes)
        elif case == "postgresql":
            lines += postgresql_table(case_rows, by, notes)
        elif case == "resume":
            lines += resume_table(case_rows, notes)
    if notes.texts:
        lines += ["Notes:", "", *(f"{i}. {t}" for i, t in enumerate(notes.texts, 1)), ""]
    scaling = taskflow_scaling(rows)
    if scaling:
        lines += ["## TaskFlow scaling", "", *scaling, ""]
    lines += ["## Targets", "", "Computed from the numbers above.", "", *targets(rows), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer sizes (for a check that the harness works)"
    )
    parser.add_argument(
        "--max-taskflow-n",
        type=int,
        help=f"largest N run on TaskFlow (default {TASKFLOW_CAP:,}; {QUICK_TASKFLOW_CAP} quick)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds allowed per case (default 600)"
    )
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args(argv)
    if args.max_taskflow_n is None:
        args.max_taskflow_n = QUICK_TASKFLOW_CAP if args.quick else TASKFLOW_CAP
    args.load_at_start = load_average()
    taskflow_python, taskflow_how = ensure_taskflow()
    if taskflow_python is None:
        log(f"TaskFlow not available, provenflow is shown alone: {taskflow_how}")
    rows = run_all(args, taskflow_python, taskflow_how)
    text = render(args, rows, taskflow_how)
    old = checker.section_of(args.output.read_text()) if args.output.exists() else None
    if old is not None:  # bench/checker.py's section: kept as it was measured
        text = checker.with_section(text, old)
    args.output.write_text(text)
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
