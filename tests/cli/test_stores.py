"""The command and its stores: only `run` makes one, a foreign database is refused unless
`--init-store`, a read-only store can be listed and read, and a corrupt run spoils no listing.

The read-only stores are read by real `python -m provenflow` processes. Run as root, such a
process is started without the capabilities that let root write whatever it likes
(`CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`), so file modes bind it as they bind anyone.
"""

from __future__ import annotations

import ctypes
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import invoke

ROOT = Path(__file__).resolve().parents[2]
_PR_CAPBSET_DROP = 24
_DAC_CAPABILITIES = (1, 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` with its content (a store's whole state on disk)."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def store_url(kind: str, place: Path) -> str:
    return f"sqlite:///{place / 'runs.db'}" if kind == "sqlite" else f"dir://{place / 'runs'}"


# -- readers never make a store ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["runs", "--json"],
        ["history", "some-id"],
        ["history"],
        ["resume", "some-id"],
        ["diagram", "flow", "{f}:make_flow", "--run", "some-id"],
    ],
)
def test_a_command_that_reads_a_missing_store_makes_none(
    tmp_path: Path, flows: Path, kind: str, command: list[str]
) -> None:
    place = tmp_path / "stores"
    place.mkdir()
    url = store_url(kind, place)
    argv = [arg.replace("{f}", str(flows)) for arg in command]
    result = invoke(*argv, "-b", url)
    assert result.exit_code == 2, result.output
    assert f"no store at {url}" in result.stderr
    assert "does not exist" in result.stderr
    if "--json" in command:  # the error, for scripts
        assert json.loads(result.stdout)["error"]["type"] == "StoreNotFound"
    else:
        assert result.stdout == ""
    assert list(place.iterdir()) == []


# -- another application's database -----------------------------------------------------------


def test_run_refuses_a_foreign_database_unless_told_to_init_it(tmp_path: Path, flows: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO customers VALUES (1, 'Ada')")
    connection.close()
    before = path.read_bytes()
    refused = invoke("run", f"{flows}:make_flow", "-b", f"sqlite:///{path}")
    assert refused.exit_code == 2
    assert "holds table customers and no provenflow store" in refused.stderr
    assert "--init-store" in refused.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "cli_flows.py"]

    done = invoke("run", f"{flows}:make_flow", "-b", f"sqlite:///{path}", "--init-store")
    assert done.exit_code == 0, done.output
    listed = json.loads(invoke("runs", "-b", f"sqlite:///{path}", "--json").stdout)
    assert [run["state"] for run in listed] == ["SUCCESS"]
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT name FROM customers").fetchall() == [("Ada",)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    connection.close()


# -- a corrupt run ------------------------------------------------------------------------------


def test_runs_marks_a_corrupt_run_and_lists_the_others(flows: Path, db: str) -> None:
    for _ in range(2):
        assert invoke("run", f"{flows}:make_flow", "-b", db, "--quiet").exit_code == 0
    first, second = (
        run["flow_id"] for run in json.loads(invoke("runs", "-b", db, "--json").stdout)
    )
    with sqlite3.connect(db[len("sqlite:///") :]) as connection:
        connection.execute(
            "UPDATE provenflow_runs SET state = 'EXPLODED' WHERE flow_id = ?", (second,)
        )
    connection.close()

    listed = json.loads(invoke("runs", "-b", db, "--json").stdout)
    assert [(run["flow_id"], run["state"]) for run in listed] == [
        (first, "SUCCESS"),
        (second, "CORRUPT"),
    ]
    assert "unknown flow state 'EXPLODED'" in listed[1]["problem"]
    table = invoke("runs", "-b", db)
    assert table.exit_code == 0, table.output
    rows = {line.split()[1]: line for line in table.stdout.splitlines() if first in line}
    assert "SUCCESS" in rows[first]
    assert any(second in line and "CORRUPT" in line for line in table.stdout.splitlines())
    assert f"run {second} is corrupt: " in table.stdout
    assert "unknown flow state 'EXPLODED'" in table.stdout


# -- a read-only store --------------------------------------------------------------------------


def _bound_by_file_modes() -> None:
    """Run in the child before exec: as root, drop the capabilities that ignore file modes."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in _DAC_CAPABILITIES:
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) was refused")


def provenflow(*args: str, cwd: Path, read_only: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `python -m provenflow ARGS` as a process of its own (bound by file modes if
    `read_only`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "provenflow", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_bound_by_file_modes if read_only else None,
    )


def make_read_only(place: Path, directories: bool) -> None:
    for path in sorted(place.rglob("*"), reverse=True):
        if path.is_file():
            path.chmod(0o444)
        elif directories:
            path.chmod(0o555)
    if directories:
        place.chmod(0o555)


def make_writable(place: Path) -> None:
    place.chmod(0o755)
    for path in place.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.parametrize(
    ("kind", "directories"),
    [("sqlite", False), ("sqlite", True), ("dir", True)],
    ids=["sqlite-file-0444", "sqlite-file-and-directory-read-only", "dir-read-only"],
)
def test_a_read_only_store_can_be_listed_and_its_history_read(
    tmp_path: Path, flows: Path, kind: str, directories: bool
) -> None:
    place = tmp_path / "stores"
    place.mkdir()
    url = store_url(kind, place)
    made = provenflow("run", f"{flows}:make_flow", "-b", url, "--quiet", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    make_read_only(place, directories)
    try:
        check = provenflow("run", f"{flows}:make_flow", "-b", url, cwd=tmp_path, read_only=True)
        assert check.returncode != 0  # the store really is read-only to these processes
        before = snapshot(place)
        listed = provenflow("runs", "-b", url, "--json", cwd=tmp_path, read_only=True)
        assert listed.returncode == 0, listed.stderr
        runs = json.loads(listed.stdout)
        assert [run["state"] for run in runs] == ["SUCCESS"]
        flow_id = runs[0]["flow_id"]
        shown = provenflow("history", flow_id, "-b", url, "--json", cwd=tmp_path, read_only=True)
        assert shown.returncode == 0, shown.stderr
        steps = json.loads(shown.stdout)["steps"]
        assert (steps[-1]["atom"], steps[-1]["to"]) == (None, "SUCCESS")
        table = provenflow("runs", "-b", url, cwd=tmp_path, read_only=True)
        assert table.returncode == 0, table.stderr
        assert flow_id in table.stdout
        after = snapshot(place)
        assert {name: after[name] for name in before} == before  # nothing was changed
    finally:
        make_writable(place)
