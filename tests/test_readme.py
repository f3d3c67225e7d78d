"""The README's two commands stay the ones CI runs, and its first command works."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_COMMAND_PREFIX = (
    "python3 -m pip install -e . && provenflow verify examples/order_saga.py:make_flow "
)


def sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.DOTALL)


def test_the_readme_opens_with_the_install_and_test_commands() -> None:
    main_job, tests = sh_blocks()[:2]
    assert main_job.startswith(FIRST_COMMAND_PREFIX)
    assert " && provenflow run examples/order_saga.py:make_flow " in main_job
    assert " && provenflow diagram flow examples/order_saga.py:make_flow --run latest" in main_job
    assert tests.startswith("python3 -m pip install -e '.[dev]' && python3 -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    install, test_command = sh_blocks()[1].split(" && ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"{test_command} || status=$?" in ci
    assert "-e '.[dev]'" in install
    assert "-e '.[dev]'" in ci


def provenflow_directory() -> str:
    """The directory of the installed `provenflow` script (not a slow pyenv shim)."""
    beside = Path(sys.executable).parent / "provenflow"
    found = str(beside) if beside.exists() else shutil.which("provenflow")
    assert found is not None, "the provenflow command is not installed (pip install -e .)"
    return str(Path(found).parent)


def test_the_first_command_verifies_runs_shows_and_draws_the_example(tmp_path: Path) -> None:
    """Its provenflow steps (not the install) succeed in a fresh directory, in order."""
    install, *steps = sh_blocks()[0].split(" && ")
    assert install == "python3 -m pip install -e ."
    assert [step.split()[:2] for step in steps] == [
        ["provenflow", "verify"],
        ["provenflow", "run"],
        ["provenflow", "history"],
        ["provenflow", "diagram"],
    ]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {**os.environ, "PATH": f"{provenflow_directory()}{os.pathsep}{os.environ['PATH']}"}
    ran = subprocess.run(
        ["bash", "-c", " && ".join(steps)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "sound" in ran.stdout
    assert "flow 'order' ended SUCCESS" in ran.stdout
    assert (tmp_path / "provenflow.db").is_file()
    diagram = ran.stdout[ran.stdout.index("---\ntitle: ") :]  # the last step's output
    assert "of flow order: SUCCESS" in diagram
    assert 'n_ship("ship<br/>SUCCESS<br/>attempts: 2")' in diagram  # shipping was retried
