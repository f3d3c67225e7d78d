"""`provenflow lifecycles`: every lifecycle's transition table and its build-time checks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from provenflow.cli._exits import json_option
from provenflow.cli._group import main
from provenflow.cli._output import console as output_console
from provenflow.errors import UsageError
from provenflow.fsm import LIFECYCLES, Lifecycle

__all__ = ["lifecycle_json", "lifecycles", "select_lifecycles"]


def select_lifecycles(names: Sequence[str]) -> list[Lifecycle[Any, Any]]:
    """Return the lifecycles named in `names` (in that order, once each), or all when empty.

    Raises `UsageError` naming the unknown name and the known ones; nothing is printed.
    """
    if not names:
        return list(LIFECYCLES.values())
    unknown = [name for name in names if name not in LIFECYCLES]
    if unknown:
        known = ", ".join(LIFECYCLES)
        noun = "lifecycle" if len(unknown) == 1 else "lifecycles"
        raise UsageError(f"unknown {noun} {', '.join(map(repr, unknown))} (known: {known})")
    return [LIFECYCLES[name] for name in dict.fromkeys(names)]


def lifecycle_json(lifecycle: Lifecycle[Any, Any]) -> dict[str, Any]:
    """Return `lifecycle` as plain JSON data: initial, terminal, states, events, table, checks.

    `states` and `events` keep declaration order, `terminal` is sorted, `table` maps every state
    (terminal ones to an empty object) to `{event: target}`, `checks` maps each build-time
    check's name to whether it passed.
    """
    return {
        "initial": str(lifecycle.initial),
        "terminal": sorted(str(state) for state in lifecycle.terminal),
        "states": [str(state) for state in lifecycle.states],
        "events": [str(event) for event in lifecycle.events],
        "table": {
            str(state): {str(event): str(target) for event, target in row.items()}
            for state, row in lifecycle.table.items()
        },
        "checks": dict(lifecycle.check_results()),
    }


def _state_text(lifecycle: Lifecycle[Any, Any], state: object) -> Text:
    if state == lifecycle.initial:
        return Text(str(state), style="bold green")
    if state in lifecycle.terminal:
        return Text(str(state), style="bold red")
    return Text(str(state))


def _transition_table(lifecycle: Lifecycle[Any, Any]) -> Table:
    """Return the rich table of `lifecycle`: one row per edge, in table order.

    A terminal state gets one row of its own with no event, since its table row is empty.
    """
    table = Table()
    for header in ("from", "event", "to"):
        table.add_column(header, no_wrap=True)
    for state, row in lifecycle.table.items():
        if not row:
            table.add_row(_state_text(lifecycle, state), Text("-", style="dim"), "(terminal)")
        for event, target in row.items():
            table.add_row(_state_text(lifecycle, state), str(event), _state_text(lifecycle, target))
    return table


def _legend(lifecycle: Lifecycle[Any, Any]) -> Text:
    terminal = ", ".join(sorted(str(state) for state in lifecycle.terminal))
    return (
        Text("initial: ")
        .append(str(lifecycle.initial), style="bold green")
        .append("; terminal: ")
        .append(terminal, style="bold red")
    )


def _print_checks(console: Console, results: Iterable[tuple[str, bool]]) -> None:
    utf8 = console.encoding.lower().replace("-", "").startswith("utf8")
    passed, failed = ("✓", "✗") if utf8 else ("ok", "FAILED")
    console.print("build-time checks:")
    for name, ok in results:
        mark = Text(passed, style="green") if ok else Text(failed, style="bold red")
        console.print(Text("  ").append(mark).append(f" {name}"), soft_wrap=True)


@main.command()
@click.argument("names", metavar="[NAME]...", nargs=-1)
@json_option("Print one JSON object instead of tables.")
def lifecycles(names: tuple[str, ...], as_json: bool) -> None:
    """Show lifecycles as transition tables, with their build-time checks.

    NAME is one of task, retry, flow, engine, job; without a NAME every lifecycle is shown.
    Each table lists every (from, event, to) edge in table order; the initial state and the
    terminal states are named under it. With --json, stdout holds one JSON object,
    {name: {initial, terminal, states, events, table, checks}}, with sorted keys.

    \b
    Examples:
      provenflow lifecycles
      provenflow lifecycles task retry
      provenflow lifecycles flow --json
    """
    selected = select_lifecycles(names)
    if as_json:
        document = {lifecycle.name: lifecycle_json(lifecycle) for lifecycle in selected}
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    console = output_console()
    for index, lifecycle in enumerate(selected):
        if index:
            console.print()
        console.print(Text(f"lifecycle {lifecycle.name!r}", style="bold"), soft_wrap=True)
        console.print(_transition_table(lifecycle))
        console.print(_legend(lifecycle), soft_wrap=True)
        _print_checks(console, lifecycle.check_results())
