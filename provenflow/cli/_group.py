"""The `provenflow` command group, and how it reports bad usage.

`main` is a click group whose class, `ProvenflowGroup`, turns a `provenflow.errors.UsageError`,
`RecordError` or `StorageError` raised by any subcommand into one red line on stderr and exit
status 2, so a command reports bad usage or bad data by raising and never prints a traceback
for it. Exit statuses follow DESIGN.md: 0 on success, 1 when a flow fails or a check finds a
violation, 2 on bad usage.
"""

from __future__ import annotations

from typing import Any, NoReturn

import click
from rich.console import Console
from rich.text import Text

from provenflow import __version__
from provenflow.errors import RecordError, StorageError, UsageError

__all__ = ["USAGE_EXIT", "ProvenflowGroup", "fail_usage", "main"]

USAGE_EXIT = 2
"""Exit status for bad usage: an unknown name, a bad argument."""


def fail_usage(error: Exception | str) -> NoReturn:
    """Print `error` as one red line on stderr and exit with status 2.

    Raises `click.exceptions.Exit(2)`, which click turns into the process exit status (and
    `CliRunner` into `result.exit_code`). The line is never wrapped, whatever the terminal width.
    """
    message = str(error)
    Console(stderr=True, highlight=False).print(
        Text(f"provenflow: error: {message}", style="bold red"), soft_wrap=True
    )
    raise click.exceptions.Exit(USAGE_EXIT)


class ProvenflowGroup(click.Group):
    """A click group whose subcommands report `UsageError` as one red line and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the chosen subcommand; a `UsageError`, `RecordError` or `StorageError` it raises
        becomes `fail_usage(error)`."""
        try:
            return super().invoke(ctx)
        except (UsageError, RecordError, StorageError) as error:
            fail_usage(error)


@click.group(cls=ProvenflowGroup)
@click.version_option(__version__, "--version", prog_name="provenflow")
def main() -> None:
    """Reliable, resumable task workflows on a formal state-machine core.

    Every lifecycle (task, retry, flow, engine, job) is a checked transition table; the
    commands below show and use them. Exit status: 0 on success, 1 when a flow fails or a
    check finds a violation, 2 on bad usage.

    Runs are recorded in ./provenflow.db (SQLite) unless --backend names another store:
    sqlite:///path.db, postgresql://user@host/db, dir:///path or memory://.

    \b
    Examples:
      provenflow run examples/order_saga.py:make_flow --store '{"order_id": 7}'
      provenflow history                 # the last run, step by step
      provenflow runs                    # every recorded run
      provenflow resume FLOW_ID          # continue a crashed or suspended run
      provenflow lifecycles task --json  # the task table as JSON
    """
