"""`provenflow run`, `resume`, `history` and `runs` (`provenflow/cli/_runs.py`, `_history.py`):
what a newcomer needs beyond the outcome. The run's id is named before the flow starts (so a
killed run can be resumed), `latest` names the store's last run, `runs --state` filters by the
flow lifecycle's states, and tables printed to a pipe are never cut to 80 columns."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import provenflow as pf
from provenflow.fsm import LIFECYCLES
from provenflow.persistence import open_storage
from tests.cli.conftest import invoke, plain

ROOT = Path(__file__).resolve().parents[2]

KILLED_ONCE = """
import os
import signal
from pathlib import Path

import provenflow as pf

MARK = Path(__file__).with_suffix(".killed")


@pf.task(provides="label")
def print_label():
    return "label-7"


@pf.task(provides="parcel")
def hand_over(label):
    if not MARK.exists():  # the first time, the process is killed here
        MARK.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return f"parcel-{label}"


def make_flow():
    return pf.LinearFlow("shipping").add(print_label, hand_over)
"""


def test_run_names_the_run_before_it_starts_so_a_killed_run_can_be_resumed(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "shipping.py"
    module.write_text(KILLED_ONCE)
    monkeypatch.setenv("PROVENFLOW_TRUSTED_FACTORIES", f"{module}:make_flow")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run(
        [sys.executable, "-m", "provenflow", "run", f"{module}:make_flow", "-b", db, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert killed.returncode == -9, killed.stderr
    assert killed.stdout == ""  # --json prints its object at the end: never reached
    found = re.fullmatch(r"starting run ([0-9a-f]{32}) of flow 'shipping' in \S+\n", killed.stderr)
    assert found is not None, killed.stderr
    resumed = invoke("resume", found.group(1), "-b", db)
    assert resumed.exit_code == 0, resumed.output
    assert "task 'hand_over': RUNNING --crash_recovered--> RUNNING (attempt 2)" in resumed.stdout
    assert "parcel = 'parcel-label-7'" in resumed.stdout


def test_the_run_is_named_before_its_first_transition(flows: Path, db: str) -> None:
    result = invoke("run", f"{flows}:make_flow", "-b", db)
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()[:2]  # stderr and stdout as a user sees them
    assert first.startswith("starting run ")
    assert second == "flow: PENDING --start--> RUNNING"


def suspended(flows: Path, db: str, factory: str = "make_flow") -> str:
    engine = pf.Engine.from_factory(f"{flows}:{factory}", {}, db)
    engine.suspend()
    engine.run()
    return engine.flow_id


def test_resume_latest_continues_the_stores_last_run(
    flows: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVENFLOW_TRUSTED_FACTORIES", f"{flows}:*")
    suspended(flows, db, "failing")
    last = suspended(flows, db)
    result = invoke("resume", "latest", "-b", db, "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert (outcome["flow_id"], outcome["state"]) == (last, "SUCCESS")
    assert plain(result.stderr) == f"resuming run {last} of flow 'demo' in {db}\n"
    history = json.loads(invoke("history", "latest", "-b", db, "--json").stdout)
    assert history["flow_id"] == last


def test_resume_latest_in_an_empty_store_says_so(db: str) -> None:
    open_storage(db)  # an empty store (reading commands make none)
    result = invoke("resume", "latest", "-b", db)
    assert result.exit_code == 2
    assert plain(result.stderr) == f"provenflow: error: no runs recorded in {db}\n"


def test_runs_state_keeps_the_runs_in_those_states(flows: Path, db: str) -> None:
    invoke("run", f"{flows}:make_flow", "-b", db, "--quiet")
    invoke("run", f"{flows}:failing", "-b", db, "--quiet")
    paused = suspended(flows, db)

    def listed(*states: str) -> list[tuple[str, str]]:
        args = [arg for state in states for arg in ("--state", state)]
        result = invoke("runs", "-b", db, "--json", *args)
        assert result.exit_code == 0, result.output
        return [(run["flow"], run["state"]) for run in json.loads(result.stdout)]

    assert listed("SUCCESS") == [("demo", "SUCCESS")]
    assert listed("reverted", "Suspended") == [("failing", "REVERTED"), ("demo", "SUSPENDED")]
    assert listed("RUNNING") == []
    table = invoke("runs", "-b", db, "--state", "suspended")
    assert paused in table.stdout
    assert "SUCCESS" not in table.stdout


def test_runs_state_refuses_a_state_the_flow_lifecycle_lacks(db: str) -> None:
    result = invoke("runs", "-b", db, "--state", "DONE")
    assert result.exit_code == 2
    (line,) = plain(result.stderr).splitlines()
    states = ", ".join(str(state) for state in LIFECYCLES["flow"].states)
    assert f"'DONE': not a flow state (allowed: {states})" in line


def test_tables_printed_to_a_pipe_are_not_cut(tmp_path: Path, db: str) -> None:
    message = "the card was declined " * 20
    module = tmp_path / "declined.py"
    module.write_text(
        "import provenflow as pf\n"
        "@pf.task\n"
        f"def charge():\n    raise RuntimeError({message!r})\n"
        "def make_flow():\n"
        f"    return pf.LinearFlow('a-flow-with-a-long-name-{'x' * 60}').add(charge)\n"
    )
    assert invoke("run", str(module) + ":make_flow", "-b", db, "--quiet").exit_code == 1
    for command in ("history", "runs"):
        result = invoke(command, "-b", db)  # CliRunner's stdout is a pipe, not a terminal
        assert result.exit_code == 0, result.output
        assert f"a-flow-with-a-long-name-{'x' * 60}" in result.stdout, result.stdout
        assert "…" not in result.stdout
    history = invoke("history", "-b", db).stdout
    assert f"RuntimeError: {message.strip()}" in history
