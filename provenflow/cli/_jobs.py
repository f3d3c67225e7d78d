"""`provenflow jobs`: post jobs to a job board, and list, show, trash or wait for them.

`post` puts a job on the board named by `--board` (made if missing) and prints its id; the
factory is kept as text and never imported (a job record never decides what code runs: whoever
runs jobs imports only the factories it trusts). `list`, `show`, `history` and `wait` read the
board (a missing board is "no job board at ...", exit 2); `trash` is an operator's: it trashes
a job that no live claim holds. Every string from the board is printed through `_output`,
escaped; `--json` gives the same as one JSON document.

Exit statuses: 0 done; for `wait`, 0 when the job is COMPLETE, 1 when it was TRASHED, and 2
when the timeout passed first (like every other error: an unknown job id, an unknown URL
scheme, a job that does not read back).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from provenflow.cli._exits import FLOW_FAILED, fail, json_option
from provenflow.cli._group import main
from provenflow.cli._output import console, printable, shown
from provenflow.cli._runs import _parse_store
from provenflow.errors import IllegalTransition, UsageError
from provenflow.fsm.job import LIFECYCLE
from provenflow.jobs import Board, Job, JobStep, open_board

__all__ = ["JOB_STATES", "job_json", "jobs"]

JOB_STATES = tuple(str(state) for state in LIFECYCLE.states)
"""The states `jobs list --state` accepts: the job lifecycle's."""

_STYLE = {"COMPLETE": "green", "TRASHED": "red", "CLAIMED": "yellow"}

board_option = click.option(
    "--board",
    "board_url",
    required=True,
    envvar="PROVENFLOW_BOARD",
    metavar="URL",
    help="The job board: memory://, sqlite:///path or postgresql://user@host/db "
    "(default: $PROVENFLOW_BOARD).",
)


def _time(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _step_json(step: JobStep) -> dict[str, Any]:
    owner = step.owner
    return {
        "seq": step.seq,
        "event": step.event,
        "from": step.old_state,
        "to": step.new_state,
        "at": step.at,
        "owner": None if owner is None else {"id": owner.id, "pid": owner.pid, "host": owner.host},
        "token": step.token,
        "reason": step.reason,
        "outcome": step.outcome,
    }


def job_json(job: Job, now: float, *, history: bool = False) -> dict[str, Any]:
    """Return `job` as the JSON object the commands print (its `history` when asked)."""
    claim = None
    if job.owner is not None and job.lease is not None:
        claim = {
            "owner": job.owner.id,
            "pid": job.owner.pid,
            "host": job.owner.host,
            "token": job.lease.token,
            "expires_at": job.lease.expires_at,
            "expires_in": job.lease.expires_at - now,
        }
    document: dict[str, Any] = {
        "id": job.id,
        "name": job.name,
        "state": str(job.state),
        "factory": job.factory,
        "priority": job.priority,
        "key": job.key,
        "posted_at": job.posted_at,
        "not_before": job.not_before,
        "claim": claim,
        "outcome": job.outcome,
        "store": dict(job.store),
        "details": dict(job.details),
    }
    if history:
        document["history"] = [_step_json(step) for step in job.history]
    return document


def _claim_text(job: Job, now: float) -> str:
    if job.owner is None or job.lease is None:
        return ""
    left = job.lease.expires_at - now
    when = f"{left:.0f} s left" if left > 0 else f"expired {-left:.0f} s ago"
    return f"{job.owner} (token {job.lease.token}, {when})"


def _echo_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=True))


def _read_board(url: str) -> Board:
    return open_board(url, create=False)


@main.group(cls=click.Group)
def jobs() -> None:
    """Post jobs to a job board, and list, show, trash or wait for them.

    A job names a flow factory (FILE_OR_MODULE:NAME) and the store its run starts with; whoever
    runs jobs claims them from the board under a lease. The board is named by --board (or
    $PROVENFLOW_BOARD): memory://, sqlite:///path or postgresql://user@host/db.

    \b
    Examples:
      provenflow jobs post flows.py:make_flow --board sqlite:///jobs.db --store '{"n": 1}'
      provenflow jobs list --board sqlite:///jobs.db --state UNCLAIMED
      provenflow jobs wait JOB_ID --board sqlite:///jobs.db --timeout 60
    """


@jobs.command("post")
@click.argument("factory")
@board_option
@click.option("--store", "store_text", metavar="JSON", help="The run's store, a JSON object.")
@click.option("--details", "details_text", metavar="JSON", help="Free-form details (JSON).")
@click.option("--name", help="The job's name (default: the factory's NAME).")
@click.option("--key", metavar="KEY", help="Idempotency key: posting it again returns that job.")
@click.option("--priority", type=int, default=0, show_default=True, help="Higher is claimed first.")
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Do not run the job before SECONDS from now (the board's time).",
)
@json_option("Print the posted job as JSON.")
def post(  # noqa: PLR0917 (one parameter per option)
    factory: str,
    board_url: str,
    store_text: str | None,
    details_text: str | None,
    name: str | None,
    key: str | None,
    priority: int,
    delay: float | None,
    as_json: bool,
) -> None:
    """Post a job running FACTORY (FILE_OR_MODULE:NAME); print its id.

    The factory is not imported here (nor by the board): the one who runs the job decides
    which factories to trust. With --key, posting the same key again prints the id of the job
    first posted with it and changes nothing.

    \b
    Examples:
      provenflow jobs post flows.py:make_flow --board sqlite:///jobs.db
      provenflow jobs post mypkg.flows:ship --board postgresql://app@db/jobs --key order-7
    """
    store = _parse_store(store_text)
    try:
        details = _parse_store(details_text)
    except UsageError as error:
        raise UsageError(str(error).replace("--store", "--details")) from None
    board = open_board(board_url)
    not_before = None if delay is None else board.now() + delay
    job = board.post(
        factory,
        store=store,
        details=details,
        name=name,
        key=key,
        priority=priority,
        not_before=not_before,
    )
    if as_json:
        _echo_json(job_json(job, board.now()))
        return
    click.echo(printable(job.id))


@jobs.command("list")
@board_option
@click.option(
    "--state",
    type=click.Choice(JOB_STATES, case_sensitive=False),
    help="Only the jobs in this state.",
)
@json_option("Print the jobs as a JSON list.")
def list_jobs(board_url: str, state: str | None, as_json: bool) -> None:
    """List the jobs of a board, oldest first, with their state and claim.

    A job that cannot be read back is listed as CORRUPT, with what is wrong (and left as it
    is). Printed to a pipe, the table is never cut; --json gives each job's id, name, state,
    claim and the rest.

    \b
    Examples:
      provenflow jobs list --board sqlite:///jobs.db
      provenflow jobs list --board sqlite:///jobs.db --state CLAIMED --json
    """
    board = _read_board(board_url)
    listing = board.jobs(None if state is None else state.upper())
    now = board.now()
    if as_json:
        document = [job_json(job, now) for job in listing.jobs]
        document += [
            {"id": bad.id, "name": None, "state": "CORRUPT", "problem": bad.problem}
            for bad in listing.corrupt
        ]
        _echo_json(document)
        return
    table = Table(title=shown(f"jobs on {board.url}"))
    for header in ("id", "name", "state", "priority", "posted (UTC)", "claim", "factory"):
        table.add_column(header, no_wrap=True)
    for job in listing.jobs:
        table.add_row(
            shown(job.id),
            shown(job.name),
            shown(job.state, _STYLE.get(str(job.state), "")),
            str(job.priority),
            _time(job.posted_at),
            shown(_claim_text(job, now)),
            shown(job.factory),
        )
    for bad in listing.corrupt:
        table.add_row(shown(bad.id), "", shown("CORRUPT", "bold red"), "", "", "", "")
    out = console()
    out.print(table)
    for bad in listing.corrupt:
        out.print(shown(f"job {bad.id} is corrupt: {bad.problem}", "red"))


@jobs.command("show")
@click.argument("job_id")
@board_option
@json_option("Print the job, with its history, as JSON.")
def show(job_id: str, board_url: str, as_json: bool) -> None:
    """Show one job: its state, claim, factory, store and details.

    \b
    Examples:
      provenflow jobs show JOB_ID --board sqlite:///jobs.db
      provenflow jobs show JOB_ID --board sqlite:///jobs.db --json
    """
    board = _read_board(board_url)
    job = board.get(job_id)
    now = board.now()
    if as_json:
        _echo_json(job_json(job, now, history=True))
        return
    rows = [
        ("id", job.id),
        ("name", job.name),
        ("state", str(job.state)),
        ("factory", job.factory),
        ("priority", str(job.priority)),
        ("key", job.key or ""),
        ("posted (UTC)", _time(job.posted_at)),
        ("not before (UTC)", _time(job.not_before)),
        ("claim", _claim_text(job, now)),
        ("outcome", job.outcome or ""),
        ("store", json.dumps(dict(job.store), sort_keys=True)),
        ("details", json.dumps(dict(job.details), sort_keys=True)),
    ]
    out = console()
    for label, value in rows:
        if value:
            out.print(shown(f"{label + ':':<18}{printable(value)}"), soft_wrap=True)


@jobs.command("history")
@click.argument("job_id")
@board_option
@json_option("Print the steps as a JSON list.")
def history(job_id: str, board_url: str, as_json: bool) -> None:
    """Show a job's history: every transition, oldest first, with who and why.

    \b
    Examples:
      provenflow jobs history JOB_ID --board sqlite:///jobs.db
    """
    job = _read_board(board_url).get(job_id)
    if as_json:
        _echo_json([_step_json(step) for step in job.history])
        return
    table = Table(title=shown(f"job {job.id} ({job.name})"))
    for header in ("#", "at (UTC)", "from", "event", "to", "owner", "token", "detail"):
        table.add_column(header, no_wrap=header != "detail")
    for step in job.history:
        table.add_row(
            str(step.seq),
            _time(step.at),
            shown(step.old_state),
            shown(step.event),
            shown(step.new_state),
            shown("" if step.owner is None else step.owner),
            "" if step.token is None else str(step.token),
            shown(step.reason or step.outcome or ""),
        )
    console().print(table)


@jobs.command("trash")
@click.argument("job_id")
@board_option
@click.option("--reason", required=True, help="Why the job is trashed (kept in its history).")
def trash(job_id: str, board_url: str, reason: str) -> None:
    """Trash a job so that it is never run: one that no live claim holds.

    A job whose claim expired is recorded as lost first. A job claimed under a live claim is
    refused (its owner trashes it, or try again once the claim expired).

    \b
    Examples:
      provenflow jobs trash JOB_ID --board sqlite:///jobs.db --reason "posted by mistake"
    """
    board = _read_board(board_url)
    try:
        job = board.discard(job_id, reason)
    except IllegalTransition as error:
        raise UsageError(
            f"job {job_id!r} is {error.state}: only a job not yet finished can be trashed"
        ) from None
    click.echo(printable(f"job {job.id} trashed"))


@jobs.command("wait")
@click.argument("job_id")
@board_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Give up after SECONDS (exit 2); default: wait as long as it takes.",
)
@json_option("Print the finished job as JSON.")
def wait(job_id: str, board_url: str, timeout: float | None, as_json: bool) -> None:
    """Wait until a job is COMPLETE (exit 0) or TRASHED (exit 1); print how it ended.

    On PostgreSQL the board tells waiters of each change (LISTEN/NOTIFY); on SQLite it is
    looked at again every 0.2 s at most. After --timeout SECONDS, exit 2.

    \b
    Examples:
      provenflow jobs wait JOB_ID --board sqlite:///jobs.db --timeout 60
    """
    board = _read_board(board_url)
    job = board.wait(job_id, timeout)
    if not job.finished:
        fail(f"job {job.id} is still {job.state} after {timeout} s", extra={"id": job.id})
    if as_json:
        _echo_json(job_json(job, board.now()))
    else:
        ended = f" ({job.outcome})" if job.outcome else ""
        reason = job.history[-1].reason if str(job.state) == "TRASHED" else None
        words = f"job {job.id} {job.state}{ended}" + (f": {reason}" if reason else "")
        console().print(shown(words, _STYLE.get(str(job.state), "")), soft_wrap=True)
    if str(job.state) == "TRASHED":
        raise click.exceptions.Exit(FLOW_FAILED)
