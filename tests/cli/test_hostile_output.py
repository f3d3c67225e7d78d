"""No flow, task, result, message, run id or URL can forge what the command prints.

A module of hostile flows (`HOSTILE_FLOWS`) names its flow and atoms with rich markup and
terminal control sequences, returns them as results and raises them as failure messages. Every
subcommand of the `provenflow` group is run on them (`CASES`; a test fails when the group gains
a command no case runs), and each test checks the text (the hostile strings are shown
literally, their control characters as escapes, never obeyed or read as markup), and the exit
status (a run that ended SUCCESS exits 0 whatever its results hold).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

import provenflow as pf
from provenflow.cli import main
from provenflow.cli._output import printable, shown
from provenflow.cli._progress import RunProgress
from provenflow.jobs import open_board
from provenflow.locks import new_owner, open_locks
from provenflow.persistence import Owner
from tests.cli.conftest import invoke
from tests.cli.test_help import command_paths

MARKUP = "[bold red]fake[/]"
"""rich markup: shown as is, `fake` never in red without its brackets."""

CONTROLS = "\x1b[2J\r\x07\x9b\u202e"
"""Clear the screen, go back to the line's start, ring, a C1 CSI, a right-to-left override."""

UNICODE = "ünï 日本 🚀"
"""Shown as it is."""

HOSTILE_FLOWS = f"""
import provenflow as pf

TEXT = {f"[/] {MARKUP} {CONTROLS} {UNICODE}"!r}
FORGED = "\\nflow 'saga' ended SUCCESS"

@pf.task(name={MARKUP + CONTROLS!r}, provides="out")
def evil():
    return TEXT

@pf.task(name="fail[/]\\r")
def fails(out):
    raise RuntimeError(TEXT + FORGED)

@pf.task(provides="echo")
def echo(given):
    return given

def ok():
    return pf.LinearFlow("[/]flow\\x1b]0;title\\x07").add(evil)

def bad():
    return pf.LinearFlow("[/]flow\\x1b]0;title\\x07").add(evil, fails)

def with_store():
    return pf.LinearFlow("[/]flow").add(echo)

def never(context, outcome):
    return False
"""

RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
"""Any control character a terminal could obey, except the newline that ends a line."""

SHOWN_NAME = r"[bold red]fake[/]\x1b[2J\r\x07\x9b\u202e"
"""The hostile atom name as the command shows it (and as Python's repr writes it)."""


def assert_not_forged(text: str, *, rich: bool = True) -> None:
    """Check that `text` obeys nothing: no raw control character, no markup read as style
    (when rich printed it; a diagram's ids spell names in their own way), no line forged by a
    newline in a message."""
    assert RAW_CONTROL.search(text) is None, repr(text)
    if rich:
        assert text.count("fake") == text.count(MARKUP), text
    assert re.search(r"^\s*flow 'saga' ended", text, re.MULTILINE) is None, text


@dataclass
class Case:
    """A hostile invocation: its arguments (with the names of `where`), the exit status it must
    give and what its output must show."""

    args: list[str]
    status: int
    shows: tuple[str, ...] = ()


CASES = [
    Case(["run", "{m}:ok"], 0, (SHOWN_NAME, "ended SUCCESS", UNICODE, "[/]flow")),
    Case(["run", "{m}:ok", "--progress"], 0, ("ended SUCCESS", r"'[/]flow\x1b]0;title\x07'")),
    Case(["run", "{m}:ok", "--json"], 0),
    Case(["run", "{m}:bad"], 1, (SHOWN_NAME, "fail[/]\\r", "ended REVERTED", r"\nflow 'saga'")),
    Case(["run", "{m}:with_store", "--store", json.dumps({"given": CONTROLS + MARKUP})], 0),
    Case(["run", "{m}:nothing[/]\x1b[2J"], 2, ("has no attribute 'nothing[/]\\x1b[2J'",)),
    Case(["resume", "{s}"], 0, (SHOWN_NAME, "ended SUCCESS")),
    Case(["resume", "{r}"], 1, ("ended REVERTED", r"\nflow 'saga'")),
    Case(["resume", "latest"], 0, (SHOWN_NAME, "ended SUCCESS")),
    Case(["resume", "[/]\x1b[2J"], 2, ("run '[/]\\x1b[2J': not found",)),
    Case(["history", "{r}"], 0, (SHOWN_NAME, "fail[/]\\r", r"\nflow 'saga' ended SUCCESS")),
    Case(["history", "{r}", "--json"], 0),
    Case(["history", "[/]\x1b[2J"], 2, ("run '[/]\\x1b[2J': not found",)),
    Case(["runs"], 0, ("[/]flow\\x1b]0;title\\x07",)),
    Case(["run", "{m}:ok", "-b", "{u}"], 0, ("/store[/]\\x1b[2J\\r\n",)),
    Case(["runs", "-b", "{u}"], 0, ("runs in dir://", "store[/]\\x1b[2J\\r")),
    Case(["runs", "--state", "[/]\x1b"], 2, ("'[/]\\x1b': not a flow state",)),
    Case(["runs", "-b", "ftp://[/]\x1b[2J"], 2, ("backend 'ftp://[/]\\x1b[2J'",)),
    Case(["verify", "{m}:bad", "--invariant", "{m}:never"], 1, (SHOWN_NAME, "VIOLATION")),
    Case(["lifecycles", "[/]\x1b[2J"], 2, ("unknown lifecycle '[/]\\x1b[2J'",)),
    Case(["lifecycles"], 0),
    Case(["diagram", "lifecycle", "[/]\x1b[2J"], 2, ("unknown lifecycle '[/]\\x1b[2J'",)),
    Case(["diagram", "flow", "{m}:bad", "-f", "md", "--run", "{r}"], 0, ("[bold red]fake[/]",)),
    Case(["diagram", "flow", "{m}:bad"], 0, ("[bold red]fake[/]",)),
    Case(["diagram", "trace", "{j}", "-f", "md"], 0, ("[bold red]fake[/]",)),
    Case(["diagram", "trace", "{j}"], 0),
    Case(
        ["conductor", "--board", "ftp://[/]\x1b[2J", "--backend", "{d}"],
        2,
        ("job board 'ftp://[/]\\x1b[2J'",),
    ),
    Case(["jobs", "post", "{m}:ok", "--board", "{b}", "--name", MARKUP + CONTROLS], 0),
    Case(["jobs", "list", "--board", "{b}"], 0, (SHOWN_NAME, "TRASHED")),
    Case(["jobs", "list", "--board", "{b}", "--json"], 0),
    Case(["jobs", "list", "--board", "ftp://[/]\x1b[2J"], 2, ("job board 'ftp://[/]\\x1b[2J'",)),
    Case(["jobs", "show", "{job}", "--board", "{b}"], 0, (SHOWN_NAME, r'"[/]\u001b[2J"')),
    Case(["jobs", "history", "{job}", "--board", "{b}"], 0, (r"\nflow 'saga' ended SUCCESS",)),
    Case(
        ["jobs", "trash", "[/]\x1b[2J", "--board", "{b}", "--reason", "x"],
        2,
        ("job '[/]\\x1b[2J': not found",),
    ),
    Case(["jobs", "wait", "{job}", "--board", "{b}"], 1, (SHOWN_NAME, r"\nflow 'saga' ended")),
    Case(["locks", "list", "--locks", "{l}"], 0, (rf"{MARKUP} \x1b[2J\r\x07\x9b\u202e",)),
    Case(["locks", "list", "--locks", "{l}", "--json"], 0),
    Case(["locks", "list", "--locks", "ftp://[/]\x1b[2J"], 2, ("'ftp://[/]\\x1b[2J'",)),
]


def case_id(case: Case) -> str:
    return " ".join(case.args).encode("unicode_escape").decode()


@pytest.fixture
def where(tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The hostile module ({m}), a store ({d}) holding a REVERTED run of it ({r}) and a
    SUSPENDED one ({s}, the last), a verify report with a violation on the hostile names ({j}),
    a store whose URL is hostile ({u}), holding one run, a lock service holding a lock with a
    hostile name ({l}), and a job board ({b}) holding a job ({job}) with a hostile name, store
    and owner, trashed for a hostile reason."""
    for variable in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(variable, raising=False)
    module = tmp_path / "hostile.py"
    module.write_text(HOSTILE_FLOWS, encoding="utf-8")
    monkeypatch.setenv("PROVENFLOW_TRUSTED_FACTORIES", f"{module}:*")
    failed = pf.Engine.from_factory(f"{module}:bad", {}, db)
    with pytest.raises(RuntimeError):
        failed.run()
    paused = pf.Engine.from_factory(f"{module}:ok", {}, db)
    paused.suspend()
    paused.run()
    assert paused.state == "SUSPENDED"
    report = invoke("verify", f"{module}:bad", "--invariant", f"{module}:never", "--json")
    assert report.exit_code == 1, report.output
    (tmp_path / "report.json").write_text(report.stdout, encoding="utf-8")
    locks_url = f"sqlite:///{tmp_path / 'locks.db'}"
    locks = open_locks(locks_url)
    locks.acquire(f"[/] {MARKUP} {CONTROLS} {UNICODE}", new_owner(), 3_600.0)
    locks.close()
    hostile_url = f"dir://{tmp_path}/store[/]\x1b[2J\r"
    pf.Engine.from_factory(f"{module}:ok", {}, hostile_url).run()
    board_url = f"sqlite:///{tmp_path / 'jobs.db'}"
    board = open_board(board_url)
    job = board.post(f"{module}:ok", name=MARKUP + CONTROLS, store={"x": "[/]\x1b[2J"})
    claim = board.claim(Owner("[/]host\x1b[2J", 1, MARKUP + CONTROLS), 60.0)
    assert claim is not None
    board.trash(claim, f"{MARKUP}{CONTROLS}\nflow 'saga' ended SUCCESS")
    return {
        "{b}": board_url,
        "{job}": job.id,
        "{m}": str(module),
        "{d}": db,
        "{r}": failed.flow_id,
        "{s}": paused.flow_id,
        "{j}": str(tmp_path / "report.json"),
        "{u}": hostile_url,
        "{l}": locks_url,
    }


def test_every_command_has_a_hostile_case() -> None:
    leaves = {path for path in command_paths(main) if path and path != ("diagram",)}
    covered = {tuple(case.args[: len(path)]) for case in CASES for path in leaves}
    assert leaves <= covered, leaves - covered


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_hostile_strings_are_shown_never_obeyed(where: dict[str, str], case: Case) -> None:
    args = [where.get(arg, arg) for arg in case.args]
    args = [arg.replace("{m}", where["{m}"]) for arg in args]
    if args[0] in ("run", "resume", "history", "runs") or "--run" in args:
        args += [] if "-b" in args else ["-b", where["{d}"]]
    result = invoke(*args)
    assert result.exit_code == case.status, result.output
    assert "Traceback" not in result.stderr
    for text in (result.stdout, result.stderr):
        assert_not_forged(text, rich=args[0] != "diagram")
    for expected in case.shows:
        assert expected in result.output, (expected, result.output)
    if case.status == 2:  # bad usage: one line on stderr, nothing else
        assert len(result.stderr.splitlines()) == 1, result.stderr


def test_json_keeps_every_hostile_string_exactly(where: dict[str, str]) -> None:
    result = invoke("run", f"{where['{m}']}:ok", "--json", "-b", where["{d}"])
    assert result.exit_code == 0
    assert RAW_CONTROL.search(result.stdout) is None
    outcome = json.loads(result.stdout)
    assert outcome["results"]["out"] == f"[/] {MARKUP} {CONTROLS} {UNICODE}"
    assert outcome["flow"] == "[/]flow\x1b]0;title\x07"


def test_printable_escapes_controls_and_keeps_text() -> None:
    assert printable("a\x1b[2Jb\rc\x07d\x00\x7f\x9b\u202e\u2028\te\n") == (
        r"a\x1b[2Jb\rc\x07d\x00\x7f\x9b\u202e\u2028\te\n"
    )
    assert printable("one\ntwo\r", lines=True) == "one\ntwo\\r"
    assert printable(f"{MARKUP} {UNICODE} \\x1b") == f"{MARKUP} {UNICODE} \\x1b"
    assert printable(7) == "7"


def test_shown_is_never_read_as_markup() -> None:
    out = Console(record=True, width=200, force_terminal=True, color_system="truecolor")
    out.print(shown(f"[/] {MARKUP}"))
    assert out.export_text() == f"[/] {MARKUP}\n"
    assert "\x1b[1;31m" not in out.export_text(styles=True)


def test_the_progress_label_is_escaped() -> None:
    @pf.task
    def step() -> None:
        pass

    flow = pf.LinearFlow(f"{MARKUP}{CONTROLS}").add(step)
    engine = pf.Engine(flow)
    out = Console(record=True, width=200, force_terminal=True)
    bar = RunProgress(engine, out)
    assert bar.label() == f"flow '{SHOWN_NAME}' running"
    with bar:
        engine.listeners.append(bar)
        engine.run()
    text = out.export_text()
    assert f"flow '{SHOWN_NAME}' SUCCESS" in text
    assert_not_forged(text)
