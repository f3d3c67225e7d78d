"""Every example in the user docs runs, and does what the page says.

Each ```python block of `docs/*.md` and of `README.md` is executed in a fresh module (its own
namespace, registered in `sys.modules` so that classes pickle for the "processes" executor)
in a new temporary working directory; its own `assert`s check the behaviour the page
documents. Each ```sh block of `docs/command.md` is run by bash in a temporary directory
holding a copy of `examples/`, with the installed `provenflow` command first on PATH; a command
whose line ends with `# exit N` must exit N, every other command 0. The `provenflow`
lines of the other pages' sh blocks must be among those, so they are run too. A block preceded
by the line `<!-- not run -->` is skipped; the page says why (a server it needs, a cost)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOT_RUN = "<!-- not run -->"
FENCE = re.compile(r"^```(\w*)\s*$")
EXIT = re.compile(r"#\s*exit (\d+)\b")
HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: its language, its first line's number, its text."""

    page: Path
    language: str
    line: int
    text: str
    runs: bool

    @property
    def label(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Return the fenced blocks of `page`, in order."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None or not opening.group(1):
            index += 1
            continue
        previous = lines[index - 1].strip() if index else ""
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        body = "\n".join(lines[index + 1 : end])
        found.append(Block(page, opening.group(1), index + 2, body, previous != NOT_RUN))
        index = end + 1
    return found


def pages() -> list[Path]:
    return [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]


def all_blocks(language: str, *, docs_only: bool = False) -> list[Block]:
    return [
        block
        for page in pages()
        if not (docs_only and page.parent != DOCS)
        for block in blocks(page)
        if block.language == language and block.runs
    ]


def script_dir() -> str:
    """The directory of the installed `provenflow` script (not a pyenv shim, which is slow)."""
    beside = Path(sys.executable).parent / "provenflow"
    if beside.exists():
        return str(beside.parent)
    found = shutil.which("provenflow")
    assert found is not None, "the provenflow command is not installed (pip install -e .)"
    return str(Path(found).parent)


# -- the pages and their blocks ----------------------------------------------------------------

CONCEPT_PAGES = (
    "index",
    "tasks-and-flows",
    "engines",
    "persistence",
    "retries-and-deciders",
    "verification",
    "locks",
    "diagrams",
    "command",
)


@pytest.mark.parametrize("name", CONCEPT_PAGES)
def test_each_concept_page_exists_with_a_python_example_that_runs(name: str) -> None:
    page = DOCS / f"{name}.md"
    assert page.is_file(), f"docs/{name}.md is missing"
    assert any(b.language == "python" and b.runs for b in blocks(page)), page


def test_the_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for name in (*CONCEPT_PAGES[1:], "lifecycles"):  # lifecycles.md: python3 -m provenflow.diagrams
        assert f"({name}.md)" in index, f"docs/index.md does not link {name}.md"


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings: `## asyncio: `run_async`` gives
    `asyncio-run_async`."""
    found = set()
    for heading in re.findall(r"^#+ (.*)$", page.read_text(encoding="utf-8"), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_relative_links_between_pages_resolve() -> None:
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#:]*?)(?:#([^)]*))?\)", text):
            path = page.parent / target if target else page
            assert path.exists(), f"{page.name} links {target}, which is missing"
            if anchor and path.suffix == ".md":
                missing = f"{page.name} links {target}#{anchor}: no such heading"
                assert anchor in anchors(path), missing


def test_a_block_is_not_run_only_where_the_page_says_why() -> None:
    for page in pages():
        lines = page.read_text(encoding="utf-8").splitlines()
        for block in blocks(page):
            if not block.runs:
                above = " ".join(lines[max(block.line - 6, 0) : block.line - 2])
                assert "does not run this block" in above, (
                    f"{block.label}: say above a block marked {NOT_RUN} why the docs test "
                    "does not run this block"
                )


def test_the_block_parser_finds_fences_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "text\n```python\nx = 1\n```\n<!-- not run -->\n```sh\nfalse\n```\n```\nplain\n```\n"
    )
    found = blocks(page)
    assert [(b.language, b.line, b.text, b.runs) for b in found] == [
        ("python", 3, "x = 1", True),
        ("sh", 7, "false", False),
    ]


# -- running the Python examples ---------------------------------------------------------------


@pytest.mark.parametrize("block", all_blocks("python"), ids=lambda block: block.label)
def test_python_example_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    name = f"provenflow_docs_{block.page.stem.replace('-', '_')}_{block.line}"
    module = types.ModuleType(name)
    module.__file__ = str(tmp_path / f"{name}.py")
    code = compile("\n" * (block.line - 1) + block.text, str(block.page), "exec")
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    finally:
        del sys.modules[name]


# -- running the shell examples ----------------------------------------------------------------


def commands(text: str) -> list[tuple[str, int]]:
    """Split a sh block into commands (continued lines and heredocs joined), each with the
    exit status its last line (before any heredoc body) announces with `# exit N` (default
    0); comment lines are dropped."""
    found: list[tuple[str, int]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        command = [line]
        while command[-1].endswith("\\") and index < len(lines):
            command.append(lines[index])
            index += 1
        expected = EXIT.search(command[-1])
        heredoc = HEREDOC.search(line)
        if heredoc is not None:
            while index < len(lines):
                command.append(lines[index])
                index += 1
                if command[-1].strip() == heredoc.group(1):
                    break
        found.append(("\n".join(command), int(expected.group(1)) if expected else 0))
    return found


def checked_script(text: str) -> str:
    """Return `text` as a bash script that stops at the first command whose exit status is
    not the one announced, saying which."""
    parts = ["set -u"]
    for command, expected in commands(text):
        first = command.splitlines()[0].strip()
        parts.append(command)
        parts.append(
            f'status=$?; if [ "$status" != {expected} ]; then '
            f"echo {_quoted(f'exit status $status, expected {expected}: {first}')} >&2; "
            "exit 99; fi"
        )
    return "\n".join(parts) + "\n"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_commands_split_continuations_heredocs_and_statuses() -> None:
    text = "# a comment\nprovenflow runs\nprovenflow run a.py:f \\\n  --quiet  # exit 1\n"
    text += "cat > f.py <<'EOF'\nx = 1\nEOF\n"
    assert commands(text) == [
        ("provenflow runs", 0),
        ("provenflow run a.py:f \\\n  --quiet  # exit 1", 1),
        ("cat > f.py <<'EOF'\nx = 1\nEOF", 0),
    ]


def test_a_checked_script_fails_on_an_unexpected_status(tmp_path: Path) -> None:
    script = checked_script("true\nfalse  # exit 1\ntrue  # exit 1\necho never")
    ran = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 99
    assert "expected 1: true  # exit 1" in ran.stderr
    assert "never" not in ran.stdout


COMMAND_PAGE = DOCS / "command.md"


def command_lines(block: Block) -> list[str]:
    return [line.strip() for line in block.text.splitlines() if line.startswith("provenflow ")]


def test_the_commands_shown_on_other_pages_are_run_on_the_command_page() -> None:
    """Only docs/command.md's blocks are run (each command costs a process start); every
    `provenflow ...` line of another page's block must be one of them, so it runs too."""
    run_there = {
        line for block in blocks(COMMAND_PAGE) if block.runs for line in command_lines(block)
    }
    for block in all_blocks("sh", docs_only=True):
        if block.page != COMMAND_PAGE:
            for line in command_lines(block):
                assert line in run_there, f"{block.label}: {line!r} is not run in command.md"


def test_the_shell_examples_of_the_command_page_exit_as_documented(tmp_path: Path) -> None:
    """Each block of docs/command.md runs as one bash script in a directory of its own (with a
    copy of examples/), all blocks at once; each command must exit as its comment says."""
    env = {**os.environ, "PATH": f"{script_dir()}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    started = []
    for number, block in enumerate(b for b in blocks(COMMAND_PAGE) if b.language == "sh"):
        if not block.runs:
            continue
        where = tmp_path / f"block{number}"
        shutil.copytree(ROOT / "examples", where / "examples")
        process = subprocess.Popen(
            ["bash", "-c", checked_script(block.text)],
            cwd=where,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append((block, process))
    assert len(started) >= 5
    for block, process in started:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, f"{block.label}:\n{stdout}\n{stderr}"
