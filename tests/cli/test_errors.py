"""Bad input to any command is one line on stderr and exit status 2, never a traceback.

Each case runs the command in-process (CliRunner) with something wrong in it: a factory that
cannot be found or raises, a bad --store, a store that cannot be opened, an unknown run, a
missing argument, a value outside a choice, a trace REPORT that is not a verify report. The
line starts `provenflow: error:` and says what was wrong; click's own usage errors get the
same one line instead of click's usage block.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import invoke, plain

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_POSTGRES = "postgresql://postgres@127.0.0.1:1/test"

CASES = [
    # (arguments, what the line must say); {f} is the flows module, {d} a directory
    (["run", "{d}/nofile.py:make_flow"], "no such file"),
    (["run", "{f}:nothing"], "has no attribute 'nothing'"),
    (["run", "json:nothing"], "json has no attribute 'nothing'"),
    (["run", "no_such_module_anywhere:make"], "no module named 'no_such_module_anywhere'"),
    (["run", "{f}"], "expected FILE_OR_MODULE:NAME"),
    (["run", "{f}:not_callable"], "'not_callable' is a int, not callable"),
    (["run", "{d}/raiser.py:make"], "raised RuntimeError: broken at import"),
    (["verify", "{d}/raiser.py:make"], "raised RuntimeError: broken at import"),
    (["run", "{f}:raising"], "calling it raised ValueError: no flow today"),
    (["verify", "{f}:raising"], "calling it raised ValueError: no flow today"),
    (["run", "{f}:make_flow", "--store", "{nope"], "--store: not valid JSON"),
    (["run", "{f}:make_flow", "--store", "[1]"], "--store: expected a JSON object, got list"),
    (["run", "{f}:make_flow", "-b", "ftp://x"], "unknown URL scheme"),
    (["runs", "-b", "ftp://x"], "unknown URL scheme"),
    (["run", "{f}:make_flow", "-b", UNREACHABLE_POSTGRES], "cannot open the database"),
    (["runs", "-b", UNREACHABLE_POSTGRES], "cannot open the database"),
    (["history", "-b", UNREACHABLE_POSTGRES, "some-id"], "cannot open the database"),
    (["runs", "-b", "sqlite:///{d}/no/such/dir/x.db"], "no store at sqlite:///"),
    (["history", "nope"], "runs.db does not exist; check the URL"),
    (["resume", "nope"], "runs.db does not exist; check the URL"),
    (["history"], "runs.db does not exist; check the URL"),
    (["run"], "missing argument 'FACTORY' (see 'provenflow run --help')"),
    (["resume"], "missing argument 'FLOW_ID' (see 'provenflow resume --help')"),
    (["verify"], "missing argument 'FACTORY' (see 'provenflow verify --help')"),
    (["run", "{f}:make_flow", "-e", "fibers"], "invalid value for '--executor'"),
    (["run", "{f}:make_flow", "--bogus"], "no such option '--bogus'"),
    (["verify", "{f}:make_flow", "--crashes", "-1"], "bounds must be positive"),
    (["verify", "{f}:make_flow", "--crashes", "many"], "'many' is not a valid integer"),
    (["lifecycles", "nope"], "unknown lifecycle 'nope' (known: task, retry, flow, engine, job)"),
    (["diagram", "lifecycle", "nope"], "unknown lifecycle 'nope' (known: task, retry, flow"),
    (["diagram", "lifecycle", "task", "--format", "gif"], "invalid value for '--format'"),
    (["diagram", "lifecycle"], "missing argument 'NAME' (see 'provenflow diagram lifecycle"),
    (["diagram", "nope"], "no such command 'nope' (see 'provenflow diagram --help')"),
    (["diagram", "flow", "{d}/nofile.py:make"], "no such file"),
    (["diagram", "flow", "{f}:nothing"], "has no attribute 'nothing'"),
    (["diagram", "flow", "{d}/raiser.py:make"], "raised RuntimeError: broken at import"),
    (["diagram", "flow", "{f}:make_flow", "--store", "{nope"], "--store: not valid JSON"),
    (["diagram", "flow", "{f}:make_flow", "-f", "markdown"], "'markdown' is not one of 'mermaid'"),
    (
        ["diagram", "flow", "{f}:make_flow", "--run", "nope", "-b", "sqlite:///{d}/x.db"],
        "x.db does not exist",
    ),
    (["diagram", "flow", "{f}:make_flow", "--run", "x", "-b", UNREACHABLE_POSTGRES], "cannot open"),
    (["diagram", "trace", "{d}/nofile.json"], "nofile.json': No such file or directory"),
    (["diagram", "trace", "{d}/not.json"], "REPORT is not JSON"),
    (["diagram", "trace", "{d}/list.json"], "REPORT is not a verify report"),
    (["diagram", "trace", "{d}/empty.json"], "the report has no violation to draw"),
    (["diagram", "trace", "{d}/foreign.json"], "not a model checker violation"),
    (["nope"], "no such command 'nope' (see 'provenflow --help')"),
    (["--bogus"], "no such option '--bogus' (see 'provenflow --help')"),
]


@pytest.fixture
def where(flows: Path, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "raiser.py").write_text("raise RuntimeError('broken at import')\n")
    (tmp_path / "not.json").write_text("states explored: 5\n")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "empty.json").write_text('{"ok": true, "violations": []}')
    (tmp_path / "foreign.json").write_text('{"violations": [{"steps": 3}]}')
    return {"{f}": str(flows), "{d}": str(tmp_path)}


def expand(args: list[str], where: dict[str, str]) -> list[str]:
    for key, value in where.items():
        args = [arg.replace(key, value) for arg in args]
    return args


def assert_one_line_error(result_stderr: str, output: str, message: str) -> None:
    lines = plain(result_stderr).splitlines()
    assert len(lines) == 1, result_stderr
    assert lines[0].startswith("provenflow: error: "), lines[0]
    assert message in lines[0], lines[0]
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("args", "message"), CASES, ids=lambda v: v if isinstance(v, str) else " ".join(v)
)
def test_bad_usage_is_one_line_and_exit_2(
    where: dict[str, str], db: str, args: list[str], message: str
) -> None:
    argv = expand(args, where)
    if argv and argv[0] in ("run", "resume", "history") and "-b" not in argv:
        argv += ["-b", db]
    result = invoke(*argv)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert_one_line_error(result.stderr, result.output, message)


def test_a_group_without_a_command_still_shows_its_help() -> None:
    result = invoke()
    assert "Usage: provenflow" in result.output
    assert "Examples:" in result.output


def test_the_console_script_prints_no_traceback_for_a_factory_that_raises(
    tmp_path: Path,
) -> None:
    (tmp_path / "raiser.py").write_text("raise RuntimeError('broken at import')\n")
    completed = subprocess.run(
        [sys.executable, "-m", "provenflow", "run", "raiser.py:make", "-b", "memory://"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert_one_line_error(completed.stderr, completed.stderr, "broken at import")
