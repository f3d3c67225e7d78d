"""The `provenflow` command.

Theory of operation. `main` (in `_group`) is a click group; each subcommand is a small function
in a module of its own that reads or runs provenflow's data, renders it with rich (or as JSON
with `--json`) and returns. The group turns a `UsageError`, `RecordError` or `StorageError`
raised by any subcommand, and click's own usage errors, into one red line on stderr and exit
status 2, so a command reports bad usage by raising and never prints a traceback for it. Exit
statuses follow DESIGN.md: 0 on success, 1 when a flow fails or a check finds a violation, 2 on
bad usage.

Commands: `lifecycles` (`_lifecycles`), `run`, `resume`, `history`, `runs` (`_runs`),
`verify` (`_verify`), `diagram lifecycle|flow|trace` (`_diagram`). `_progress` draws the bar
of atoms done that `run` and `resume` show on stderr.

Only this package and `provenflow/__main__.py` know about click and rich output; nothing else in
the package imports `provenflow.cli`.
"""

from __future__ import annotations

from provenflow.cli._diagram import diagram as _diagram  # noqa: F401 (registers the command)
from provenflow.cli._group import USAGE_EXIT, ProvenflowGroup, fail_usage, main
from provenflow.cli._lifecycles import lifecycle_json, select_lifecycles
from provenflow.cli._runs import DEFAULT_BACKEND
from provenflow.cli._verify import verify as _verify  # noqa: F401 (registers the command)

__all__ = [
    "DEFAULT_BACKEND",
    "USAGE_EXIT",
    "ProvenflowGroup",
    "fail_usage",
    "lifecycle_json",
    "main",
    "select_lifecycles",
]
