"""`provenflow run`: run a factory's flow from the command line."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

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


def test_run_prints_transitions_and_results(flows: Path) -> None:
    result = CliRunner().invoke(main, ["run", f"{flows}:make_flow", "--store", '{"base": 10}'])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "flow: PENDING --start--> RUNNING"
    assert "task 'two': RUNNING --succeed--> SUCCESS (attempt 1)" in lines
    assert lines[-3:] == ["flow 'demo' ended SUCCESS", "  x = 1", "  y = 11"]


def test_run_json_prints_the_outcome(flows: Path) -> None:
    args = ["run", f"{flows}:make_flow", "--store", '{"base": 1}', "--json", "-e", "threads"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    assert outcome["state"] == "SUCCESS"
    assert outcome["results"] == {"x": 1, "y": 2}


def test_a_failing_flow_exits_1_and_says_why(flows: Path) -> None:
    result = CliRunner().invoke(main, ["run", f"{flows}:failing", "--quiet"])
    assert result.exit_code == 1
    assert "flow 'failing' ended REVERTED" in result.output
    assert "error: boom" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{f}:make_flow"], "requires 'base', which no earlier atom provides"),
        (["{f}:make_flow", "--store", "{nope"], "--store: not valid JSON"),
        (["{f}:make_flow", "--store", "[1]"], "--store: expected a JSON object, got list"),
        (["{f}:nothing"], "has no attribute 'nothing'"),
        (["{f}:make_flow", "--store", '{"base": 1}', "-b", "ftp://x"], "unknown URL scheme"),
    ],
)
def test_usage_errors_exit_2_with_one_line(flows: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["run", *(a.replace("{f}", str(flows)) for a in args)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_readme_main_command_runs_the_example_flow() -> None:
    """The README's first command, after its install step, works from the repository root."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)\n```", readme, re.DOTALL)
    assert first_block is not None
    install, _, command = first_block.group(1).partition(" && ")
    assert install == "python3 -m pip install -e ."
    argv = shlex.split(command)
    assert argv[0] == "provenflow"
    completed = subprocess.run(
        [sys.executable, "-m", "provenflow", *argv[1:]],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "flow 'order' ended SUCCESS" in completed.stdout
    assert "retry 'retry_shipping': SUCCESS --retry--> RETRYING (attempt 1)" in completed.stdout
