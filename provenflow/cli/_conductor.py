"""`provenflow conductor`: claim jobs from a board and run them, until told to stop.

A `Conductor` (`provenflow.jobs`) on the board named by `--board` and the store named by
`--backend` runs `--concurrency` jobs at a time, each claim a lease of `--ttl` seconds renewed
while its flow runs. It imports only the factories its own configuration trusts: `--trust`
patterns, else `PROVENFLOW_TRUSTED_FACTORIES` and `trusted-factories` in `pyproject.toml`. It
runs until SIGTERM or SIGINT: then it suspends its running engines, abandons their jobs (ready
again at once for another conductor), says so on stderr and exits 0. A board or store outage
makes it back off and go on; it never ends it.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click

from provenflow.cli._group import main
from provenflow.cli._jobs import board_option
from provenflow.cli._output import printable
from provenflow.jobs import Conductor, open_board

__all__ = ["conductor"]


@main.command("conductor")
@board_option
@click.option(
    "--backend",
    required=True,
    metavar="URL",
    help="The store of the jobs' runs: sqlite:///path, postgresql://... or dir:///path.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many jobs run at a time.",
)
@click.option(
    "--ttl",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds a claim lasts unless renewed (renewed every third while its flow runs).",
)
@click.option(
    "--trust",
    "trusted",
    multiple=True,
    metavar="PATTERN",
    help="A factory pattern to trust (repeatable); without it, PROVENFLOW_TRUSTED_FACTORIES "
    "and trusted-factories under [tool.provenflow] in pyproject.toml.",
)
@click.option(
    "--max-dispatches",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Dispatches that failed after which a job is trashed.",
)
def conductor(
    *,
    board_url: str,
    backend: str,
    concurrency: int,
    ttl: float,
    trusted: tuple[str, ...],
    max_dispatches: int,
) -> None:
    """Claim jobs from a board and run their flows until SIGTERM or SIGINT.

    On SIGTERM or SIGINT, running engines are suspended and their jobs abandoned, ready
    again at once for another conductor; the command then exits 0.

    \b
    Examples:
      provenflow conductor --board sqlite:///jobs.db --backend sqlite:///runs.db
      provenflow conductor --board postgresql://app@db/jobs --backend postgresql://app@db/runs \\
          --concurrency 4 --trust 'myapp.flows:*'
    """
    board = open_board(board_url)
    worker = Conductor(
        board,
        backend,
        concurrency=concurrency,
        ttl=ttl,
        trusted=trusted or None,
        max_dispatches=max_dispatches,
    )
    stop = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        worker.stop()
        stop.set()
        name = signal.Signals(number).name
        print(f"provenflow conductor: {name}: stopping", file=sys.stderr, flush=True)

    previous = {number: signal.signal(number, on_signal) for number in _SIGNALS}
    try:
        print(
            f"provenflow conductor {printable(worker.owner.id)}: running "
            "(SIGTERM or Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        worker.run(stop)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        board.close()


_SIGNALS = (signal.SIGTERM, signal.SIGINT)
