"""One owner per run, across processes: `provenflow resume` of a live run, and a takeover.

On SQLite, dir and PostgreSQL: a first `provenflow run` (lease of 5 s, renewed every 1.7 s) is
held inside its second task. A `provenflow resume` of that run is refused before anything runs,
with one line naming the first process (exit status 2). Then the first is stopped (SIGSTOP);
once its lease has expired, a new `provenflow resume` takes the run over (recorded
`taken_over`) and ends it. Continued (SIGCONT), the first is refused at its next write (exit
status 2). The side-effect log shows that no task recorded done
was executed again: only the task in flight when the first was stopped ran twice.

Processes are synchronised through files (the task's `entered` and `hold` files) and the store's
own lease, polled with deadlines; every process started is stopped in the end, pass or fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from provenflow.persistence import open_storage
from tests.persistence.conftest import Backend

ROOT = Path(__file__).resolve().parents[2]
SPEC = f"{ROOT / 'tests' / 'persistence' / 'lease_flow.py'}:make_flow"
TIMEOUT = 120


def until(condition: Callable[[], bool], what: str, deadline: float = 60.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes a test starts; each is continued, killed and reaped in the end."""
    processes: list[subprocess.Popen[str]] = []
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
            process.communicate(timeout=TIMEOUT)


def command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "provenflow", *arguments]


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PROVENFLOW_TRUSTED_FACTORIES": SPEC,
        "NO_COLOR": "1",
    }


def resume(flow_id: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `provenflow resume FLOW_ID -b URL` to its end; return what it printed and its status."""
    return subprocess.run(
        command("resume", flow_id, "-b", url), cwd=cwd, env=environment(),
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip


def log_lines(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    return [
        (name, int(pid))
        for name, pid in (line.split() for line in log.read_text().split("\n") if line)
    ]


@pytest.mark.slow
def test_a_live_run_refuses_a_second_resume_and_a_stopped_owner_is_taken_over(
    durable: Backend, tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    log, hold, entered = tmp_path / "effects.log", tmp_path / "hold", tmp_path / "entered"
    hold.touch()
    store = json.dumps({"log": str(log), "hold": str(hold), "entered": str(entered)})
    run = command("run", SPEC, "-b", durable.url, "--store", store, "--lease-ttl", "5", "--quiet")
    first = subprocess.Popen(
        run, cwd=tmp_path, env=environment(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    started.append(first)
    until(lambda: entered.exists() or first.poll() is not None, "the first run to enter slow")
    assert first.poll() is None, first.communicate()[0]
    storage = durable.open()
    ((info, _),) = storage.runs()
    flow_id = info.flow_id
    recorded = storage.load(flow_id)[1]

    # A second resume while the first engine is alive: refused before it runs anything.
    second = resume(flow_id, durable.url, tmp_path)
    output = second.stdout + second.stderr
    assert second.returncode == 2, output
    (refusal,) = [line for line in second.stderr.splitlines() if "owned" in line]
    assert refusal.startswith("provenflow: error: ") and "is owned by engine" in refusal, output
    assert f"(pid {first.pid} on " in refusal and "whose lease expires at" in refusal
    assert "ended" not in second.stdout
    assert storage.load(flow_id)[1] == recorded
    assert log_lines(log) == [("first", first.pid), ("slow", first.pid)]

    # The first is paused past its lease: a new resume takes the run over and ends it.
    os.kill(first.pid, signal.SIGSTOP)

    def expired() -> bool:
        leases, now = storage.leases()
        return not leases[flow_id].live(now)

    until(expired, "the stopped engine's lease to expire")
    hold.unlink()
    third = resume(flow_id, durable.url, tmp_path)
    assert third.returncode == 0, third.stdout + third.stderr

    # Continued, the first is refused at its next write.
    os.kill(first.pid, signal.SIGCONT)
    output = first.communicate(timeout=TIMEOUT)[0]
    assert first.returncode == 2, output
    assert "lease (token 1) was taken over" in output, output
    assert "ended SUCCESS" not in output

    history = open_storage(durable.url).load(flow_id)[1]
    events = [(t.atom, t.event) for t in history]
    assert [event for atom, event in events if atom is None] == [
        "start", "taken_over", "crash_recovered", "succeed",
    ]  # fmt: skip
    for atom in ("first", "slow", "last"):
        assert events.count((atom, "succeed")) == 1, events
    taken = next(t for t in history if t.event == "taken_over")
    assert taken.result["pid"] == first.pid and taken.result["new_token"] == 2
    effects = log_lines(log)
    takeover_pid = next(pid for name, pid in effects if pid != first.pid)
    assert effects == [
        ("first", first.pid),
        ("slow", first.pid),  # in flight when the first was stopped: run again
        ("slow", takeover_pid),
        ("last", takeover_pid),
    ]
    lease = open_storage(durable.url).leases()[0][flow_id]
    assert (lease.token, lease.held) == (2, False)
