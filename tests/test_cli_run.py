"""`provenflow run`, `resume`, `history` and `runs`: runs recorded in a store, from the command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from provenflow.cli import main

FLOWS = """
import provenflow as pf

@pf.task(provides="x")
def one():
    return 1

@pf.task(provides="y")
def two(x, base):
    return x + base

@pf.task
def boom():
    raise RuntimeError("boom")

def make_flow():
    return pf.LinearFlow("demo").add(one, two)

def failing():
    return pf.LinearFlow("failing").add(one, boom)
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "cli_flows.py"
    path.write_text(FLOWS)
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_run_prints_transitions_results_and_the_run_id(flows: Path, db: str) -> None:
    result = invoke("run", f"{flows}:make_flow", "--store", '{"base": 10}', "-b", db)
    assert result.exit_code == 0, result.output
    started = rf"starting run [0-9a-f]{{32}} of flow 'demo' in {re.escape(db)}\n"
    assert re.fullmatch(started, result.stderr)
    lines = result.stdout.splitlines()
    assert lines[0] == "flow: PENDING --start--> RUNNING"
    assert "task 'two': RUNNING --succeed--> SUCCESS (attempt 1)" in lines
    assert lines[-4:-1] == ["flow 'demo' ended SUCCESS", "  x = 1", "  y = 11"]
    assert re.fullmatch(rf"run [0-9a-f]{{32}} in {re.escape(db)}", lines[-1])


def test_run_json_prints_the_outcome(flows: Path, db: str) -> None:
    args = ["run", f"{flows}:make_flow", "--store", '{"base": 1}', "--json", "-e", "threads"]
    result = invoke(*args, "-b", db)
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["state"] == "SUCCESS"
    assert outcome["results"] == {"x": 1, "y": 2}
    assert outcome["backend"] == db


def test_a_failing_flow_exits_1_and_says_why(flows: Path, db: str) -> None:
    result = invoke("run", f"{flows}:failing", "--quiet", "-b", db)
    assert result.exit_code == 1
    assert "flow 'failing' ended REVERTED" in result.output
    assert "error: boom" in result.output


def test_history_shows_the_last_run_step_by_step(flows: Path, db: str) -> None:
    invoke("run", f"{flows}:make_flow", "--store", '{"base": 1}', "-b", db, "--quiet")
    result = invoke("history", "-b", db, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["flow"] == "demo"
    steps = [(s["atom"], s["event"], s["to"]) for s in document["steps"]]
    assert steps == [
        (None, "start", "RUNNING"),
        ("one", "start", "RUNNING"),
        ("one", "succeed", "SUCCESS"),
        ("two", "start", "RUNNING"),
        ("two", "succeed", "SUCCESS"),
        (None, "succeed", "SUCCESS"),
    ]
    table = invoke("history", document["flow_id"], "-b", db)
    assert table.exit_code == 0
    assert "(flow)" in table.output
    assert "succeed" in table.output


def test_runs_lists_every_run_with_its_state(flows: Path, db: str) -> None:
    invoke("run", f"{flows}:make_flow", "--store", '{"base": 1}', "-b", db, "--quiet")
    invoke("run", f"{flows}:failing", "-b", db, "--quiet")
    result = invoke("runs", "-b", db, "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [(r["flow"], r["state"]) for r in listed] == [
        ("demo", "SUCCESS"),
        ("failing", "REVERTED"),
    ]
    factories = [r["factory"].rpartition("/")[2] for r in listed]
    assert factories == ["cli_flows.py:make_flow", "cli_flows.py:failing"]


def test_resume_continues_a_suspended_run_from_its_recorded_factory(
    tmp_path: Path, db: str
) -> None:
    module = tmp_path / "suspending.py"
    module.write_text(
        "import provenflow as pf\n"
        "MARK = __file__ + '.paused'\n"
        "import os\n"
        "@pf.task\n"
        "def first():\n    print('first ran')\n"
        "@pf.task\n"
        "def stop_once():\n"
        "    if not os.path.exists(MARK):\n"
        "        open(MARK, 'w').close()\n"
        "        raise SystemExit('killed')\n"
        "@pf.task\n"
        "def last():\n    print('last ran')\n"
        "def make():\n    return pf.LinearFlow('s').add(first, stop_once, last)\n"
    )
    crashed = subprocess.run(
        [sys.executable, "-m", "provenflow", "run", f"{module}:make", "-b", db, "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert crashed.returncode != 0  # the process died in the middle of the run
    listed = json.loads(invoke("runs", "-b", db, "--json").output)
    assert [r["state"] for r in listed] == ["RUNNING"]
    result = invoke("resume", listed[0]["flow_id"], "-b", db, "--factory", f"{module}:make")
    assert result.exit_code == 0, result.output
    assert "first ran" not in result.output  # a recorded success is never executed again
    assert "task 'stop_once': RUNNING --crash_recovered--> RUNNING (attempt 2)" in result.output
    assert "last ran" in result.output
    assert "flow 's' ended SUCCESS" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "{f}:make_flow"], "requires 'base', which no earlier atom provides"),
        (["run", "{f}:make_flow", "--store", "{nope"], "--store: not valid JSON"),
        (["run", "{f}:make_flow", "--store", "[1]"], "--store: expected a JSON object, got list"),
        (["run", "{f}:nothing"], "has no attribute 'nothing'"),
        (["run", "{f}:make_flow", "--store", '{"base": 1}', "-b", "ftp://x"], "unknown URL"),
        (["history", "nope"], "runs.db does not exist"),
        (["resume", "nope"], "runs.db does not exist"),
        (["history"], "runs.db does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    flows: Path, db: str, args: list[str], message: str
) -> None:
    argv = [a.replace("{f}", str(flows)) for a in args]
    if "-b" not in argv:
        argv += ["-b", db]
    result = invoke(*argv)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_corrupt_store_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    result = invoke("runs", "-b", f"sqlite:///{path}")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert path.read_bytes() == b"this is not a database" * 100


def test_the_runs_table_keeps_whole_ids_when_piped(flows: Path, db: str) -> None:
    invoke("run", f"{flows}:make_flow", "--store", '{"base": 1}', "-b", db, "--quiet")
    flow_id = json.loads(invoke("runs", "-b", db, "--json").output)[0]["flow_id"]
    table = invoke("runs", "-b", db)  # CliRunner's output is not a terminal
    assert table.exit_code == 0
    assert flow_id in table.output
