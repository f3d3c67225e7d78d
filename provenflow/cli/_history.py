"""`provenflow history` and `runs`: what a store holds, read and never changed.

`history` shows one run step by step from its record (the last one without FLOW_ID, or with
`latest`); `runs` lists the runs a store holds, oldest first, with their flow's state and
engine (live, abandoned, resumable), optionally only those in some states (`--state`, the flow
lifecycle's states). A run that cannot be read back is listed as CORRUPT, with what is wrong.
Both open the store read-only: a missing store is "no store at ...", exit 2. Every string from
the store is printed through `_output`, escaped; tables printed to a pipe are never cut.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from provenflow.cli._exits import json_option
from provenflow.cli._group import main
from provenflow.cli._leases import engine_json, engine_text, taken_over_text
from provenflow.cli._output import console, shown
from provenflow.cli._runs import LATEST, OUTCOME_STYLE, _latest, backend_option
from provenflow.fsm import LIFECYCLES
from provenflow.persistence import Transition, open_storage

__all__ = ["FLOW_STATES", "history", "runs"]

FLOW_STATES = tuple(str(state) for state in LIFECYCLES["flow"].states)
"""The states `runs --state` accepts: the flow lifecycle's."""


def _detail(step: Transition) -> str:
    if step.failure is not None:
        return str(step.failure)
    if step.event == "succeed" and step.result is not None:
        return repr(step.result)
    if step.event == "taken_over" and isinstance(step.result, dict):
        return taken_over_text(step.result)
    return ""


def _step_json(index: int, step: Transition) -> dict[str, Any]:
    return {
        "seq": index,
        "atom": step.atom,
        "lifecycle": str(step.lifecycle),
        "from": str(step.old_state),
        "event": str(step.event),
        "to": str(step.new_state),
        "attempt": step.attempt,
        "at": step.at,
        "result": step.result,
        "failure": None if step.failure is None else step.failure.to_dict(),
    }


@main.command()
@click.argument("flow_id", required=False)
@backend_option
@json_option()
def history(flow_id: str | None, backend: str, as_json: bool) -> None:
    """Show a recorded run step by step: every transition, oldest first.

    Without FLOW_ID (or with `latest`), the last run recorded in the store.

    \b
    Examples:
      provenflow history
      provenflow history 3f2a9c... --json
    """
    flow_id = _latest(backend) if flow_id in (None, LATEST) else flow_id
    info, steps, _ = open_storage(backend, read_only=True).load(flow_id)
    if as_json:
        document = {
            "flow_id": flow_id,
            "flow": info.flow_name,
            "factory": info.factory,
            "steps": [_step_json(i, step) for i, step in enumerate(steps, 1)],
        }
        click.echo(json.dumps(document, indent=2, sort_keys=True, default=repr))
        return
    start = steps[0].at if steps else 0.0
    table = Table(title=shown(f"run {flow_id} of flow {info.flow_name!r}"))
    for header in ("#", "atom", "from", "event", "to", "attempt", "+s", "detail"):
        table.add_column(header, no_wrap=header != "detail")
    for index, step in enumerate(steps, 1):
        table.add_row(
            str(index),
            Text("(flow)", style="bold") if step.atom is None else shown(step.atom),
            shown(step.old_state),
            shown(step.event),
            shown(step.new_state),
            str(step.attempt) if step.atom else "",
            f"{step.at - start:.3f}",
            shown(_detail(step)),
        )
    console().print(table)


def _flow_states(_: click.Context, __: click.Parameter, given: tuple[str, ...]) -> set[str]:
    """Return the states `--state` names, upper-cased; `BadParameter` names a state the flow
    lifecycle lacks, and the states it has."""
    wanted = {state.upper() for state in given}
    unknown = sorted(wanted.difference(FLOW_STATES))
    if unknown:
        raise click.BadParameter(
            f"{', '.join(map(repr, unknown))}: not a flow state (allowed: {', '.join(FLOW_STATES)})"
        )
    return wanted


@main.command()
@backend_option
@click.option(
    "--state",
    "states",
    metavar="STATE",
    multiple=True,
    callback=_flow_states,
    help=f"Only the runs whose flow is in STATE, one of {', '.join(FLOW_STATES)} (in any case; "
    "may be given more than once).",
)
@json_option()
def runs(backend: str, states: set[str], as_json: bool) -> None:
    """List the runs a store holds, oldest first, with their flow's state and engine.

    The engine column says whether an engine is live on the run (its lease holds: resuming is
    refused), or whether the run is abandoned (its engine's lease expired) or otherwise
    resumable; `--json` gives it as `engine: {status, lease}`.

    Printed to a pipe or a file, the table is never cut to the terminal's width; for scripts,
    --json gives the same list as JSON.

    \b
    Examples:
      provenflow runs
      provenflow runs --state RUNNING --state SUSPENDED   # what may be resumed
      provenflow runs -b postgresql://app@db/flows --json
    """
    storage = open_storage(backend, read_only=True)
    found, corrupt = storage.list_runs()
    leases, now = storage.leases()
    if states:  # a corrupt run has no state to select by: it is always shown
        found = [(info, state) for info, state in found if str(state) in states]
    if as_json:
        document = [
            {
                "flow_id": i.flow_id,
                "flow": i.flow_name,
                "state": str(s),
                "factory": i.factory,
                "engine": engine_json(str(s), leases.get(i.flow_id), now),
            }
            for i, s in found
        ]
        document += [
            {"flow_id": c.flow_id, "flow": None, "state": "CORRUPT", "factory": None,
             "problem": str(c.error)}
            for c in corrupt
        ]  # fmt: skip
        click.echo(json.dumps(document, indent=2))
        return
    table = Table(title=shown(f"runs in {backend}"))
    for header in ("flow id", "flow", "state", "engine", "factory"):
        table.add_column(header, no_wrap=True)
    for info, state in found:
        style = OUTCOME_STYLE.get(str(state), "red" if state in ("REVERTED", "FAILURE") else "")
        engine = engine_text(str(state), leases.get(info.flow_id), now)
        table.add_row(
            shown(info.flow_id),
            shown(info.flow_name),
            shown(state, style),
            shown(engine),
            shown(info.factory),
        )
    for bad in corrupt:
        table.add_row(shown(bad.flow_id), "", shown("CORRUPT", "bold red"), "", "")
    out = console()
    out.print(table)  # piped: as wide as it needs, so ids and factories stay whole
    for bad in corrupt:
        out.print(shown(f"run {bad.flow_id} is corrupt: {bad.error}", "red"))
