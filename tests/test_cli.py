"""Tests of the `provenflow` command (`provenflow/cli.py`)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import provenflow
from provenflow.cli import fail_usage, main
from provenflow.errors import UsageError
from provenflow.fsm import LIFECYCLES

REPOSITORY = Path(__file__).resolve().parent.parent
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def invoke(*args: str) -> Result:
    """Run the command in-process; stdout and stderr are kept apart."""
    return CliRunner().invoke(main, list(args), prog_name="provenflow")


def plain(text: str) -> str:
    """Return `text` without terminal colour codes (in case FORCE_COLOR is set)."""
    return ANSI_ESCAPE.sub("", text)


def as_plain_data(lifecycle_name: str) -> dict[str, dict[str, str]]:
    table = LIFECYCLES[lifecycle_name].table
    return {
        str(state): {str(event): str(target) for event, target in row.items()}
        for state, row in table.items()
    }


@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_table_names_every_state_and_event(name: str) -> None:
    result = invoke("lifecycles", name)
    assert result.exit_code == 0, result.output
    out = plain(result.stdout)
    lifecycle = LIFECYCLES[name]
    for member in (*lifecycle.states, *lifecycle.events):
        assert re.search(rf"\b{re.escape(str(member))}\b", out), f"{member} missing"
    terminal = ", ".join(sorted(str(state) for state in lifecycle.terminal))
    assert f"initial: {lifecycle.initial}; terminal: {terminal}" in out
    for check_name, _ in lifecycle.check_results():
        assert check_name in out


@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_table_lists_edges_in_table_order(name: str) -> None:
    out = plain(invoke("lifecycles", name).stdout)
    rows = [
        tuple(cell.strip() for cell in line.strip("│").split("│"))
        for line in out.splitlines()
        if line.startswith("│")
    ]
    edges = [(str(s), str(e), str(t)) for s, e, t in LIFECYCLES[name].edges()]
    assert [row for row in rows if row[1] != "-"] == edges


def test_no_name_shows_every_lifecycle() -> None:
    result = invoke("lifecycles")
    assert result.exit_code == 0
    out = plain(result.stdout)
    for name in LIFECYCLES:
        assert f"lifecycle {name!r}" in out


def test_json_tables_equal_the_lifecycles() -> None:
    result = invoke("lifecycles", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert sorted(document) == sorted(LIFECYCLES)
    for name, lifecycle in LIFECYCLES.items():
        entry = document[name]
        assert entry["table"] == as_plain_data(name)
        assert entry["initial"] == lifecycle.initial
        assert entry["terminal"] == sorted(str(state) for state in lifecycle.terminal)
        assert entry["states"] == [str(state) for state in lifecycle.states]
        assert entry["events"] == [str(event) for event in lifecycle.events]
        assert entry["checks"] == {check: True for check, _ in lifecycle.check_results()}


def test_json_has_sorted_keys_and_only_the_named_lifecycles() -> None:
    result = invoke("lifecycles", "task", "job", "task", "--json")
    assert result.exit_code == 0
    assert list(json.loads(result.stdout)) == ["job", "task"]
    assert result.stdout == json.dumps(json.loads(result.stdout), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("args", [["nope"], ["task", "nope"], ["nope", "--json"]])
def test_unknown_name_is_one_line_and_exit_2(args: list[str]) -> None:
    result = invoke("lifecycles", *args)
    assert result.exit_code == 2
    if "--json" in args:  # stdout carries the error too, as JSON
        assert json.loads(result.stdout)["error"]["type"] == "UsageError"
    else:
        assert result.stdout == ""
    lines = plain(result.stderr).splitlines()
    assert len(lines) == 1, lines
    assert "'nope'" in lines[0]
    for name in LIFECYCLES:
        assert name in lines[0]
    assert "Traceback" not in result.stderr


def test_usage_error_from_any_command_becomes_one_line() -> None:
    @click.command()
    def broken() -> None:
        raise UsageError("the thing is wrong (allowed: other things)")

    main.add_command(broken)
    try:
        result = invoke("broken")
    finally:
        main.commands.pop("broken")
    assert result.exit_code == 2
    assert plain(result.stderr) == (
        "provenflow: error: the thing is wrong (allowed: other things)\n"
    )


def test_fail_usage_never_wraps_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "20")
    message = "a long message " * 10

    @click.command()
    def long() -> None:
        fail_usage(message)

    result = CliRunner().invoke(long, [])
    assert result.exit_code == 2
    assert plain(result.stderr) == f"provenflow: error: {message}\n"


@pytest.mark.parametrize("args", [["--help"], ["lifecycles", "--help"]])
def test_help_shows_an_example(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "provenflow lifecycles" in result.stdout.split("Examples:", 1)[1]


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert provenflow.__version__ in result.stdout


def test_python_dash_m_prints_the_json() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "provenflow", "lifecycles", "--json"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert {name: entry["table"] for name, entry in document.items()} == {
        name: as_plain_data(name) for name in LIFECYCLES
    }
