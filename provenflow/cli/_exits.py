"""Exit statuses a script can trust, and how an error that ends a command is reported.

Theory of operation. Every subcommand ends in one of four ways, and its exit status says which:

- `OK` (0): it did what was asked; a run ended SUCCESS or SUSPENDED; a check was sound.
- `FLOW_FAILED` (1): a run ended REVERTED or FAILURE because its own atoms failed (the
  failure is on record, every started atom was reverted or the revert failure is recorded),
  or `verify` found a violation or stopped at a bound.
- `ERROR` (2): the command could not do its work: bad usage (an unknown name, a bad argument,
  a factory that cannot be imported), a storage fault (disk full, a read-only or damaged file,
  an unreachable server), an engine refused by the store (`StaleVersion`, a run owned by
  another engine, any `StorageError`), a record that cannot be read back (any `RecordError`),
  a recorded sequence that the lifecycle tables forbid (`IllegalTransition`), or a bug.
- `INTERRUPTED` (130, the shell's 128 + SIGINT): interrupted (Ctrl-C) before it was done; a run
  is left as recorded, to be resumed.

A status-2 error is one line on stderr, `provenflow: error: ...`, with every user-supplied
string in it escaped (`_output.printable`), and no traceback (except for an exception that is
not provenflow's own, i.e. a bug, whose traceback is printed above the line so it can be
reported). With `--json`, stdout also holds one JSON object, `{"error": {"type": ...,
"message": ...}}` (and for a run that stopped, the run's `flow_id`, `flow` and `backend`), so
a script reading stdout never mistakes it for an outcome. A run stopped by such an error never
prints an outcome line ("flow ... ended ...").

`is_flow_failure` tells a flow's own failure (exit 1), which `Engine.run` re-raises, from an
error of the store or the engine (exit 2): only the exceptions of the failures the run holds
count as the flow's, even when a task itself raised a provenflow error.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import click
from rich.text import Text

from provenflow.cli._output import console, printable
from provenflow.engine import Engine
from provenflow.errors import IllegalTransition, InternalError, MultipleFailures, ProvenflowError
from provenflow.failure import RecordedFailure

__all__ = [
    "ERROR",
    "FLOW_FAILED",
    "INTERRUPTED",
    "JSON_REQUESTED",
    "OK",
    "describe",
    "fail",
    "fail_run",
    "is_flow_failure",
    "json_option",
]

OK = 0
"""The command did what was asked: a run ended SUCCESS or SUSPENDED, a check was sound."""

FLOW_FAILED = 1
"""A run ended REVERTED or FAILURE, or a check found a violation or stopped at a bound."""

ERROR = 2
"""Bad usage, a storage fault, a refused engine, a bad record or a bug: one line on stderr."""

INTERRUPTED = 130
"""Interrupted (Ctrl-C) before it was done: 128 + SIGINT, as the shell reports it."""

JSON_REQUESTED = "provenflow.json"
"""The key of `click.Context.meta` that `json_option` sets when `--json` is given."""

FLOW_FAILURE_STATES = frozenset({"REVERTED", "FAILURE"})


def _remember_json(ctx: click.Context, _: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_REQUESTED] = True
    return value


def json_option(help: str = "Print one JSON object.") -> Callable[[Any], Any]:
    """Return the `--json` flag (passed as `as_json`), remembered so errors are JSON too."""
    return click.option(
        "--json", "as_json", is_flag=True, help=help, callback=_remember_json, is_eager=True
    )


def _lead(error: BaseException) -> str:
    """Return what the error line says before the error's own message, if anything."""
    if isinstance(error, IllegalTransition):
        return "the run's record holds a sequence its lifecycle forbids: "
    if isinstance(error, InternalError) or not isinstance(error, ProvenflowError):
        return f"internal error ({type(error).__name__}), please report it: "
    return ""


def describe(error: BaseException | str) -> str:
    """Return the message the error line gives for `error` (not yet escaped)."""
    if isinstance(error, str):
        return error
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return _lead(error) + str(error)


def fail(
    error: BaseException | str,
    *,
    where: str = "",
    hint: str = "",
    extra: dict[str, Any] | None = None,
    status: int = ERROR,
) -> NoReturn:
    """Report `error` as one line on stderr (and, after `--json`, as JSON on stdout); exit with
    `status` (2 unless told).

    `where` is put before the message (e.g. the run that stopped), `hint` after it (what to
    do), `extra` adds fields to the JSON object. An exception that is not provenflow's own (a
    bug) gets its traceback printed above the line, unless it is an interruption. Raises
    `click.exceptions.Exit(status)`.
    """
    message = where + describe(error) + hint
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(JSON_REQUESTED):
        kind = "UsageError" if isinstance(error, str) else type(error).__name__
        document = {"error": {"type": kind, "message": message}, **(extra or {})}
        click.echo(json.dumps(document, indent=2, sort_keys=True, default=repr))
    if isinstance(error, Exception) and not isinstance(error, ProvenflowError):
        traceback.print_exception(error, file=sys.stderr)
    line = Text(f"provenflow: error: {printable(message)}", style="bold red")
    console(stderr=True).print(line, soft_wrap=True)
    raise click.exceptions.Exit(status)


def is_flow_failure(engine: Engine, error: BaseException) -> bool:
    """Return whether `error`, raised by `engine.run()`, is the flow's own failure.

    It is when the run ended REVERTED or FAILURE and `error` is what `run` re-raises for it:
    the exception of a failure the run holds, a `RecordedFailure` (a failure read back from the
    store), or the `MultipleFailures` holding several. Anything else stopped the run.
    """
    if str(engine.state) not in FLOW_FAILURE_STATES:
        return False
    if isinstance(error, (MultipleFailures, RecordedFailure)):
        return True
    held = [*engine.failures().values(), *engine.revert_failures().values()]
    return any(failure.exception is error for failure in held)


def fail_run(engine: Engine, error: BaseException | str) -> NoReturn:
    """Report `error`, which stopped `engine`'s run, as one line naming the run; exit 2, or
    130 for an interruption (which the line says how to resume).

    The line says which run stopped and where it is recorded, so it can be inspected with
    `provenflow history` once the store is healthy again; nothing claims how the run ended.
    """
    name, flow_id, url = engine.compiled.name, engine.flow_id, engine.storage.url
    stop = isinstance(error, KeyboardInterrupt)
    fail(
        error,
        where=f"run {flow_id} of flow {name!r} in {url} stopped: ",
        hint=f"; resume it with `provenflow resume {flow_id}`" if stop else "",
        extra={"flow": name, "flow_id": flow_id, "backend": url},
        status=INTERRUPTED if stop else ERROR,
    )
