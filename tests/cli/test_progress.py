"""The progress bar of `provenflow run` and `resume` (`provenflow/cli/_progress.py`).

The bar goes to stderr; these tests force it on with `--progress` (rich then prints its final
state once, since CliRunner's stderr is no terminal) or make rich's console a terminal with
FORCE_COLOR, and check what it ends on. No test waits on time.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

import provenflow as pf
from provenflow.cli._progress import RunProgress, wanted
from provenflow.persistence import Transition
from tests.cli.conftest import invoke, plain

SAGA = Path(__file__).resolve().parents[2] / "examples" / "order_saga.py"


@pytest.fixture(autouse=True)
def no_terminal_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich takes FORCE_COLOR or TTY_COMPATIBLE as "stderr is a terminal"; start without."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)


def bar_lines(stderr: str) -> list[str]:
    return [line for line in plain(stderr).splitlines() if line.startswith("flow '")]


def test_progress_shows_every_atom_done_and_keeps_the_transitions_on_stdout(
    flows: Path, db: str
) -> None:
    result = invoke("run", f"{flows}:make_flow", "-b", db, "--progress")
    assert result.exit_code == 0, result.output
    (bar,) = bar_lines(result.stderr)
    assert re.search(r"^flow 'demo' SUCCESS .* 2/2 ", bar), bar
    assert "task 'two': RUNNING --succeed--> SUCCESS (attempt 1)" in result.stdout
    assert "2/2" not in result.stdout


def test_a_reverted_run_counts_the_atoms_it_undid(flows: Path, db: str) -> None:
    result = invoke("run", f"{flows}:failing", "-b", db, "--progress")
    assert result.exit_code == 1
    (bar,) = bar_lines(result.stderr)
    # one, two and boom started and were reverted; `never` never ran, so it is not counted
    assert re.search(r"^flow 'failing' REVERTED .* 3/3 ", bar), bar


def test_a_terminal_gets_the_bar_by_default(
    flows: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    result = invoke("run", f"{flows}:make_flow", "-b", db)
    assert result.exit_code == 0, result.output
    assert "flow 'demo' SUCCESS" in plain(result.stderr)
    assert "2/2" in plain(result.stderr)


@pytest.mark.parametrize(
    ("terminal", "flags"),
    [
        (False, []),  # auto, and stderr is no terminal
        (True, ["--no-progress"]),
        (True, ["--quiet", "--progress"]),
        (True, ["--json", "--progress"]),
    ],
)
def test_no_bar_when_not_wanted(
    flows: Path, db: str, monkeypatch: pytest.MonkeyPatch, terminal: bool, flags: list[str]
) -> None:
    if terminal:
        monkeypatch.setenv("FORCE_COLOR", "1")
    result = invoke("run", f"{flows}:make_flow", "-b", db, *flags)
    assert result.exit_code == 0, result.output
    assert plain(result.stderr).startswith("starting run ")  # the run's id, and no bar
    assert len(result.stderr.splitlines()) == 1, result.stderr
    if "--json" in flags:
        assert json.loads(result.stdout)["state"] == "SUCCESS"


def test_wanted_follows_the_flags_then_the_terminal() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    not_terminal = Console(file=io.StringIO(), force_terminal=False)
    assert wanted(None, False, False, terminal)
    assert not wanted(None, False, False, not_terminal)
    assert wanted(True, False, False, not_terminal)
    assert not wanted(False, False, False, terminal)
    assert not wanted(True, True, False, terminal)
    assert not wanted(True, False, True, terminal)


def test_resume_shows_the_bar_from_the_recorded_states(flows: Path, db: str) -> None:
    """A run suspended after its first atom resumes at 1/2, and the command ends it at 2/2."""
    engine = pf.Engine.from_factory(f"{flows}:make_flow", backend=db)

    class SuspendAfterOne:
        def on_transition(self, transition: Transition) -> None:
            if transition.new_state == "SUCCESS":
                engine.suspend()

    engine.listeners.append(SuspendAfterOne())
    engine.run()
    assert engine.state == "SUSPENDED"
    resumed = pf.Engine.resume(db, engine.flow_id, factory=f"{flows}:make_flow")
    bar = RunProgress(resumed, Console(file=io.StringIO()))
    assert bar.counts() == (1, 2)
    assert bar.label() == "flow 'demo' SUSPENDED"

    result = invoke(
        "resume", engine.flow_id, "-b", db, "--progress", "--factory", f"{flows}:make_flow"
    )
    assert result.exit_code == 0, result.output
    (line,) = bar_lines(result.stderr)
    assert re.search(r"^flow 'demo' SUCCESS .* 2/2 ", line), line
    assert "task 'one'" not in result.stdout  # the recorded success is not run again


def test_the_bar_follows_states_so_a_retry_moves_it_back() -> None:
    """The saga's shipping fails once and is retried: the bar goes back by the reset atoms,
    and ends at every atom done."""
    engine = pf.Engine.from_factory(f"{SAGA}:make_flow", store={"order_id": 7})
    bar = RunProgress(engine, Console(file=io.StringIO()))
    seen: list[tuple[int, int]] = []

    class Spy:
        def on_transition(self, transition: Transition) -> None:
            seen.append(bar.counts())

    engine.listeners += [bar, Spy()]
    with bar:
        engine.run()
    done = [count for count, _ in seen]
    assert seen[-1] == (4, 4)
    assert any(later < earlier for earlier, later in itertools.pairwise(done))
    assert {total for _, total in seen} == {4}
