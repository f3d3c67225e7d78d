"""Every example in `examples/` runs, exits 0 and prints exactly its `<name>.out.txt`.

Examples are discovered, so a new one is tested as soon as it exists, and fails until its
expected output is written beside it (and it is listed in `examples/README.md`). They run as
the user runs them, `python examples/<name>.py` from the repository root, each in its own
process; all of them are started at once, so the whole module takes about as long as the
slowest example.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
EXAMPLES = REPOSITORY / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
TIMEOUT_SECONDS = 60
MAIN_GUARD = '\nif __name__ == "__main__":\n    main()\n'

KNOWN_BUGS: dict[str, str] = {}
"""Example name -> the provenflow bug that makes it fail (the test is a strict xfail)."""


def expected_output(script: Path) -> Path:
    return script.with_suffix(".out.txt")


@pytest.fixture(scope="module")
def processes() -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Start every example at once; each test then waits for its own."""
    path = os.pathsep.join(filter(None, (str(REPOSITORY), os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "PYTHONPATH": path, "PYTHONIOENCODING": "utf-8"}
    started = {
        script.stem: subprocess.Popen(
            [sys.executable, str(script.relative_to(REPOSITORY))],
            cwd=REPOSITORY,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in SCRIPTS
    }
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_examples_are_found() -> None:
    assert SCRIPTS, f"no examples in {EXAMPLES}"


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(
            script,
            id=script.stem,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[script.stem])]
            if script.stem in KNOWN_BUGS
            else [],
        )
        for script in SCRIPTS
    ],
)
def test_example_prints_its_expected_output(
    script: Path, processes: dict[str, subprocess.Popen[str]]
) -> None:
    expected = expected_output(script)
    assert expected.is_file(), (
        f"{script.name} has no expected output: run `python examples/{script.name} > "
        f"examples/{expected.name}` from the repository root and check what it printed"
    )
    stdout, stderr = processes[script.stem].communicate(timeout=TIMEOUT_SECONDS)
    returncode = processes[script.stem].returncode
    assert returncode == 0, f"{script.name} exited with {returncode}; stderr:\n{stderr}"
    assert stdout == expected.read_text(encoding="utf-8"), f"stderr:\n{stderr}"


def test_every_expected_output_has_its_example() -> None:
    stale = [
        path.name
        for path in sorted(EXAMPLES.glob("*.out.txt"))
        if not path.with_name(path.name.removesuffix(".out.txt") + ".py").is_file()
    ]
    assert stale == [], f"expected outputs without an example: {stale}"


def test_every_example_is_listed_in_the_readme() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    missing = [script.name for script in SCRIPTS if f"`{script.name}`" not in readme]
    assert missing == [], f"examples/README.md does not list: {missing}"


def test_every_example_has_a_docstring_a_main_and_a_main_guard() -> None:
    lacking = []
    for script in SCRIPTS:
        source = script.read_text(encoding="utf-8")
        module = ast.parse(source)
        has_main = any(
            isinstance(node, ast.FunctionDef) and node.name == "main" for node in module.body
        )
        if not ast.get_docstring(module) or not has_main or MAIN_GUARD not in source:
            lacking.append(script.name)
    assert lacking == [], f"examples without a module docstring, main() or main guard: {lacking}"
