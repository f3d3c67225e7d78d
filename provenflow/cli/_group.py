"""The `provenflow` command group, and how it reports bad usage.

`main` is a click group whose class, `ProvenflowGroup`, turns any provenflow error a
subcommand raises (a `UsageError`, a `StorageError` or `RecordError` of any kind, an
`IllegalTransition`, ...) into one red line on stderr and exit status 2 (`_exits.fail`), so a
command reports bad usage or bad data by raising and never prints a traceback for it; an
exception that is not provenflow's own is a bug, reported the same way below its traceback.
click's own usage errors (a missing argument, an unknown option or command, a value outside a
`Choice`) get the same one line, naming the `--help` to read, instead of click's usage block;
only a group called without a command still shows its help. The exit statuses are in `_exits`:
0 on success, 1 when a flow fails or a check finds a violation, 2 for everything else.
"""

from __future__ import annotations

from typing import Any, NoReturn

import click
from click.exceptions import NoArgsIsHelpError

from provenflow import __version__
from provenflow.cli._exits import ERROR, INTERRUPTED, fail

__all__ = ["USAGE_EXIT", "ProvenflowGroup", "fail_click_usage", "fail_usage", "main"]

USAGE_EXIT = ERROR
"""Exit status for bad usage (an unknown name, a bad argument) and every other error."""


def fail_usage(error: Exception | str) -> NoReturn:
    """Print `error` as one red line on stderr and exit with status 2 (see `_exits.fail`).

    Raises `click.exceptions.Exit(2)`, which click turns into the process exit status (and
    `CliRunner` into `result.exit_code`). The line is never wrapped, whatever the terminal
    width, and control characters in it are shown as escapes.
    """
    fail(error)


def fail_click_usage(error: click.UsageError) -> NoReturn:
    """Print click's usage `error` as one red line naming the command's `--help`; exit 2.

    click's message is kept (first letter lowered, final period dropped, newlines joined), so
    `Missing argument 'FACTORY'.` becomes `missing argument 'FACTORY' (see 'provenflow run
    --help')`. Raises `click.exceptions.Exit(2)` like `fail_usage`.
    """
    message = " ".join(error.format_message().split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    if error.ctx is not None:
        message += f" (see '{error.ctx.command_path} --help')"
    fail_usage(message)


class ProvenflowGroup(click.Group):
    """A click group whose subcommands report bad usage as one red line and exit 2."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Parse the group's own options; a usage error in them becomes one line (exit 2).

        A group called without a command still shows its help (click's `NoArgsIsHelpError`).
        """
        try:
            return super().make_context(info_name, args, parent, **extra)
        except NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            fail_click_usage(error)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the chosen subcommand; a click usage error (in the subcommand's arguments, or an
        unknown subcommand) becomes `fail_click_usage(error)`, click's own exits and aborts
        pass, and any other exception becomes `fail(error)`: one line, exit 2 (130 for an
        interruption, Ctrl-C)."""
        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            fail_click_usage(error)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as error:  # every other error becomes one line and exit 2
            fail(error)
        except KeyboardInterrupt as error:  # one line too, and the shell's 130, not 1
            fail(error, status=INTERRUPTED)


@click.group(cls=ProvenflowGroup)
@click.version_option(__version__, "--version", prog_name="provenflow")
def main() -> None:
    """Reliable, resumable task workflows on a formal state-machine core.

    Every lifecycle (task, retry, flow, engine, job) is a checked transition table; the
    commands below show and use them. Exit status: 0 on success, 1 when a flow fails or a
    check finds a violation, 2 on bad usage and on any other error (a storage fault, a run
    owned by another engine, a damaged record), reported as one line on stderr.

    Runs are recorded in ./provenflow.db (SQLite) unless --backend names another store:
    sqlite:///path.db, postgresql://user@host/db, dir:///path or memory://.

    \b
    Examples:
      provenflow run examples/order_saga.py:make_flow --store '{"order_id": 7}'
      provenflow history                 # the last run, step by step
      provenflow runs                    # every recorded run
      provenflow resume FLOW_ID          # continue a crashed or suspended run
      provenflow lifecycles task --json  # the task table as JSON
      provenflow verify examples/flawed_saga.py:make_flawed --json > report.json
      provenflow diagram lifecycle task -f svg -o task.svg
      provenflow diagram flow examples/order_saga.py:make_flow --run latest
      provenflow diagram trace report.json  # the counterexample, step by step
      provenflow jobs list --board sqlite:///jobs.db  # the jobs on a job board
    """
