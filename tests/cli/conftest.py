"""Shared fixtures of the command's tests: a module of small flows, a SQLite store, `invoke`."""

from __future__ import annotations

import re
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
def two(x):
    return x + 1

@pf.task
def boom(y):
    raise RuntimeError("boom")

@pf.task
def never(y):
    return None

def make_flow():
    return pf.LinearFlow("demo").add(one, two)

def make_pair():
    return pf.LinearFlow("demo").add(one, two), {"context": True}

def failing():
    return pf.LinearFlow("failing").add(one, two, boom, never)

def raising():
    raise ValueError("no flow today")

not_callable = 7
"""

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """A module file of small flows: `make_flow` (2 atoms), `failing` (fails at its third of 4
    atoms), `make_pair` (a flow and a context), `raising` (a factory that raises)."""
    path = tmp_path / "cli_flows.py"
    path.write_text(FLOWS)
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite store URL in a fresh directory."""
    return f"sqlite:///{tmp_path / 'runs.db'}"


def invoke(*args: str, input: str | bytes | None = None) -> Result:
    """Run `provenflow ARGS` in-process; stdout and stderr are kept apart."""
    return CliRunner().invoke(main, list(args), prog_name="provenflow", input=input)


def plain(text: str) -> str:
    """Return `text` without terminal control codes."""
    return ANSI_ESCAPE.sub("", text)
