"""The `provenflow` command.

Theory of operation. `main` (in `_group`) is a click group; each subcommand is a small function
in a module of its own that reads or runs provenflow's data, renders it with rich (or as JSON
with `--json`) and returns. Two small modules serve them all:

- `_output`: every string the command did not write itself (names, results, messages, run
  ids, URLs) is printed through `printable` / `shown`, escaped, never read as markup or obeyed
  by the terminal; `console()` prints to a pipe without cutting to 80 columns.
- `_exits`: the exit statuses (0 done, 1 the flow failed or a check found a violation, 2 every
  other error, 130 interrupted) and how an error is reported: the group turns any provenflow
  error a subcommand raises (bad usage, a storage fault, a refused engine, a bad record, an
  `IllegalTransition`) and click's own usage errors into one red line on stderr and exit
  status 2 (and, after `--json`, a JSON error on stdout), so a command reports them by
  raising and never prints a traceback for them.

Commands: `lifecycles` (`_lifecycles`), `run`, `resume` (`_runs`), `history`, `runs`
(`_history`), `verify` (`_verify`), `diagram lifecycle|flow|trace` (`_diagram`), `jobs
post|list|show|history|trash|wait` (`_jobs`), `conductor` (`_conductor`), `locks list`
(`_locks`). `_progress` draws the bar of atoms done that `run` and `resume` show on stderr;
`_leases` words what `runs` says of each run's engine.

Only this package and `provenflow/__main__.py` know about click and rich output; nothing else in
the package imports `provenflow.cli`.
"""

from __future__ import annotations

from provenflow.cli._conductor import conductor as _conductor  # noqa: F401 (registers the command)
from provenflow.cli._diagram import diagram as _diagram  # noqa: F401 (registers the command)
from provenflow.cli._group import USAGE_EXIT, ProvenflowGroup, fail_usage, main
from provenflow.cli._history import history as _history  # noqa: F401 (registers the command)
from provenflow.cli._jobs import jobs as _jobs  # noqa: F401 (registers the command)
from provenflow.cli._lifecycles import lifecycle_json, select_lifecycles
from provenflow.cli._locks import locks as _locks  # noqa: F401 (registers the command)
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
