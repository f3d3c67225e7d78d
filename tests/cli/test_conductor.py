"""`provenflow conductor` (`provenflow/cli/_conductor.py`), as a real process on a SQLite board
and store: it runs jobs, and on SIGTERM suspends its running engine, abandons the job and exits
0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from provenflow.jobs import open_board

ROOT = Path(__file__).resolve().parent.parent.parent

FLOWS = """
import os
import time
import provenflow as pf

HERE = os.path.dirname(os.path.abspath(__file__))


def note(text):
    with open(os.path.join(HERE, "log.txt"), "a") as log:
        log.write(text + "\\n")


def hold():
    open(os.path.join(HERE, "started"), "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(HERE, "release")) and time.monotonic() < deadline:
        time.sleep(0.01)  # the test releases this task once the conductor was told to stop
    note("hold")


def make_fast():
    return pf.LinearFlow("fast").add(pf.task(lambda: note("fast"), name="fast"))


def make_slow():
    return pf.LinearFlow("slow").add(
        pf.task(hold, name="hold"), pf.task(lambda: note("after"), name="after")
    )
"""


def wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():  # another process makes it: poll, with a deadline
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.01)


def test_conductor_runs_jobs_and_abandons_its_running_job_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(FLOWS)
    board_url = f"sqlite:///{tmp_path / 'jobs.db'}"
    board = open_board(board_url)
    fast = board.post(f"{tmp_path}/flows.py:make_fast", priority=1)
    slow = board.post(f"{tmp_path}/flows.py:make_slow")
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    environ.pop("PROVENFLOW_TRUSTED_FACTORIES", None)
    command = [sys.executable, "-m", "provenflow", "conductor", "--board", board_url]
    command += ["--backend", f"sqlite:///{tmp_path / 'runs.db'}", "--trust", f"{tmp_path}/*"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=environ, stderr=subprocess.PIPE, text=True
    )
    try:
        assert board.wait(fast.id, timeout=30).outcome == "SUCCESS"
        wait_for(tmp_path / "started", 30)
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        lines = []
        while "stopping" not in (line := process.stderr.readline()) and line:
            lines.append(line)
        assert "SIGTERM: stopping" in line, lines
        (tmp_path / "release").touch()
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    after = board.get(slow.id)
    assert after.state == "UNCLAIMED" and after.history[-1].reason == "conductor stopped"
    assert (tmp_path / "log.txt").read_text().splitlines() == ["fast", "hold"]
    board.close()
