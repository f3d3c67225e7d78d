"""The `provenflow` command.

Theory of operation. `main` is a click group; each subcommand is a small function that reads
provenflow's data, renders it with rich (or as JSON with `--json`) and returns. The group is a
`ProvenflowGroup`, which turns a `provenflow.errors.UsageError` raised by any subcommand into
one red line on stderr and exit status 2, so a command reports bad usage by raising
`UsageError` (or calling `fail_usage`) and never prints a traceback for it. Exit statuses follow
DESIGN.md: 0 on success, 1 when a flow fails or a check finds a violation, 2 on bad usage.

Commands now: `lifecycles` (every lifecycle's transition table and its build-time checks).
Later commands (`run`, `resume`, `verify`, `history`, `diagram`) are added the same way: a
function decorated with `@main.command()`, with an example in its docstring.

Only this module and `provenflow/__main__.py` know about click and rich output; nothing else in
the package imports `provenflow.cli`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from provenflow import __version__
from provenflow.errors import UsageError
from provenflow.fsm import LIFECYCLES, Lifecycle

__all__ = ["ProvenflowGroup", "fail_usage", "lifecycle_json", "main", "select_lifecycles"]

USAGE_EXIT = 2
"""Exit status for bad usage: an unknown name, a bad argument."""


def fail_usage(error: UsageError | str) -> NoReturn:
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
        """Run the chosen subcommand; a `UsageError` it raises becomes `fail_usage(error)`."""
        try:
            return super().invoke(ctx)
        except UsageError as error:
            fail_usage(error)


@click.group(cls=ProvenflowGroup)
@click.version_option(__version__, "--version", prog_name="provenflow")
def main() -> None:
    """Reliable, resumable task workflows on a formal state-machine core.

    Every lifecycle (task, retry, flow, engine, job) is a checked transition table; the
    commands below show and use them. Exit status: 0 on success, 1 when a flow fails or a
    check finds a violation, 2 on bad usage.

    \b
    Examples:
      provenflow lifecycles              # every transition table and its checks
      provenflow lifecycles task --json  # the task table as JSON
      provenflow --version
    """


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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
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
    console = Console(highlight=False)
    for index, lifecycle in enumerate(selected):
        if index:
            console.print()
        console.print(Text(f"lifecycle {lifecycle.name!r}", style="bold"), soft_wrap=True)
        console.print(_transition_table(lifecycle))
        console.print(_legend(lifecycle), soft_wrap=True)
        _print_checks(console, lifecycle.check_results())


def _parse_store(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        store = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--store: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(store, dict):
        raise UsageError(f"--store: expected a JSON object, got {type(store).__name__}")
    return store


@main.command()
@click.argument("factory")
@click.option("--store", "store_json", metavar="JSON", help="Values for the flow's inputs.")
@click.option("--backend", "-b", default="memory://", show_default=True, help="Storage URL.")
@click.option(
    "--executor",
    "-e",
    type=click.Choice(["serial", "threads", "processes"]),
    default="serial",
    show_default=True,
)
@click.option("--quiet", is_flag=True, help="Print only the outcome, not each transition.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
def run(  # noqa: PLR0917 (click passes every option positionally by name)
    factory: str,
    store_json: str | None,
    backend: str,
    executor: str,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run the flow a factory builds, printing each transition; exit 1 if it fails.

    The run is recorded in the storage backend (default: in memory, gone at exit).

    FACTORY is FILE_OR_MODULE:NAME, a function without arguments that returns a flow.

    \b
    Examples:
      provenflow run examples/simple_linear.py:make_flow
      provenflow run mypackage.flows:make_order --store '{"order_id": 7}'
    """
    from provenflow.engine import Engine, PrintingListener, load_factory  # noqa: PLC0415

    flow = load_factory(factory)()
    listeners = [] if quiet or as_json else [PrintingListener(kinds=["flow", "task", "retry"])]
    engine = Engine(flow, _parse_store(store_json), backend, executor, listeners=listeners)
    error: BaseException | None = None
    try:
        engine.run()
    except Exception as exc:  # the flow's own failure: reported below, exit 1
        error = exc
    outcome = {
        "flow": flow.name,
        "flow_id": engine.flow_id,
        "state": engine.state,
        "results": engine.results(),
        "failures": {name: str(f) for name, f in engine.failures().items()},
    }
    if as_json:
        click.echo(json.dumps(outcome, indent=2, sort_keys=True, default=repr))
    else:
        style = "green" if engine.state == "SUCCESS" else "red"
        console = Console(highlight=False)
        console.print(
            Text(f"flow {flow.name!r} ended ", style="bold").append(
                engine.state, style=f"bold {style}"
            ),
            soft_wrap=True,
        )
        for name, value in sorted(engine.results().items()):
            console.print(f"  {name} = {value!r}", soft_wrap=True)
        if error is not None:
            console.print(Text(f"  error: {error}", style="red"), soft_wrap=True)
    if engine.state not in {"SUCCESS", "SUSPENDED"}:
        raise click.exceptions.Exit(1)
