"""Shared fixtures of the command's tests: a module of small flows, a SQLite store, `invoke`,
and `make_faulty`, a flow whose middle task breaks its own store (as `FAULTS` says)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import provenflow as pf
from provenflow.cli import main
from provenflow.engine import TRUST_VARIABLE

FAULTY = "tests.cli.conftest:make_faulty"
"""The factory spec of `make_faulty`, for `provenflow run`."""

FAULTS: list[Callable[[], None]] = []
"""What `make_faulty`'s middle task does to the store of its own run (e.g. fill the disk)."""


@pf.task(provides="x")
def first() -> int:
    return 1


@pf.task(provides="y")
def breaker(x: int) -> int:
    for fault in FAULTS:
        fault()
    return x + 1


@pf.task(provides="z")
def last(y: int) -> int:
    return y + 1


def make_faulty() -> pf.LinearFlow:
    """Return the flow `faulty`: first, breaker (runs `FAULTS`), last."""
    return pf.LinearFlow("faulty").add(first, breaker, last)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Callable[[], None]]]:
    """`FAULTS`, emptied after the test; `make_faulty`'s factory is trusted for resume."""
    monkeypatch.setenv("PROVENFLOW_TRUSTED_FACTORIES", FAULTY)
    yield FAULTS
    FAULTS.clear()


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


@pytest.fixture(autouse=True)
def trusted_test_factories(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The command's tests resume runs of their own factories (this suite's modules, files in
    the test's directory), so they trust them, as a user trusts theirs; the trust rule itself
    is tested in tests/engine/test_trust.py."""
    monkeypatch.setenv(TRUST_VARIABLE, f"tests.*:*,{tmp_path}/*")


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
