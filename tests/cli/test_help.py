"""Every command's `--help` ends with real examples (`provenflow/cli/`)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from provenflow.cli import main
from tests.cli.conftest import invoke


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Yield the path of `group` and of every command under it, groups recursively."""
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


PATHS = list(command_paths(main))


def test_every_command_is_reached() -> None:
    assert {
        ("run",),
        ("resume",),
        ("history",),
        ("runs",),
        ("verify",),
        ("lifecycles",),
        ("diagram",),
        ("diagram", "lifecycle"),
        ("diagram", "flow"),
        ("diagram", "trace"),
    } <= set(PATHS)


def test_the_main_help_shows_the_diagram_commands() -> None:
    examples = invoke("--help").stdout.split("Examples:", 1)[1]
    for command in ("lifecycle", "flow", "trace"):
        assert f"provenflow diagram {command} " in examples


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(("provenflow", *path)))
def test_help_ends_with_an_example(path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.stdout
    description, _, rest = result.stdout.partition("Examples:")
    assert "Options:" not in description  # the examples close the description
    examples = rest.split("\n\n", 1)[0].splitlines()[1:]  # click's \b kept them as lines
    invocation = " ".join(("provenflow", *path))
    assert examples, result.stdout
    assert all(line.startswith("    ") for line in examples), examples
    assert any(line.strip().startswith(invocation) for line in examples), examples
