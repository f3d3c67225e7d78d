"""The README's two commands stay the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.DOTALL)


def test_the_readme_opens_with_the_install_and_test_commands() -> None:
    main_job, tests = sh_blocks()[:2]
    assert main_job.startswith("python3 -m pip install -e . && provenflow run ")
    assert tests.startswith("python3 -m pip install -e '.[dev]' && python3 -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    install, test_command = sh_blocks()[1].split(" && ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"{test_command} || status=$?" in ci
    assert "-e '.[dev]'" in install
    assert "-e '.[dev]'" in ci
