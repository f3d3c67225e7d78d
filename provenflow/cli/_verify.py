"""`provenflow verify`: model-check a flow, every order, failure and crash point of its runs.

A factory that raises is the user's code failing before any run: it is reported as bad usage
(one line, exit 2), like a factory that cannot be imported, not as a violation.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
from collections.abc import Callable
from typing import Any

import click
from rich.text import Text

from provenflow.cli._exits import FLOW_FAILED, json_option
from provenflow.cli._group import main
from provenflow.cli._output import console as output_console
from provenflow.cli._output import printable
from provenflow.cli._runs import _parse_store
from provenflow.engine import load_object
from provenflow.errors import ProvenflowError, UsageError
from provenflow.verification import check

__all__ = ["guarded_factory", "verify"]


def guarded_factory(spec: str) -> Callable[[], Any]:
    """Return the factory `spec` names, made to raise `UsageError` (naming the spec, chained to
    the original) when calling it raises; provenflow's own errors pass unchanged.

    The returned function keeps the factory's module and name, so a violation's reproduction
    still names the factory. Raises `UsageError` when `spec` cannot be loaded.
    """
    factory = load_object(spec, "factory")

    @functools.wraps(factory)
    def build() -> Any:
        try:
            return factory()
        except ProvenflowError:
            raise
        except Exception as exc:
            raise UsageError(
                f"factory {spec!r}: calling it raised {type(exc).__name__}: {exc}"
            ) from exc

    return build


@main.command()
@click.argument("factory")
@click.option("--store", "store_json", metavar="JSON", help="Values for the flow's inputs.")
@click.option("--crashes", default=2, show_default=True, help="Crashes per explored path.")
@click.option("--suspends", default=0, show_default=True, help="Suspensions per path.")
@click.option(
    "--revert-failures",
    is_flag=True,
    help="Make each revert raise too (a FAILURE end is then checked, not reported).",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    help="The executor's workers: each batch the loop takes is tried at every size up to it.",
)
@click.option("--max-states", default=1_000_000, show_default=True, help="Stop after this many.")
@click.option("--max-seconds", default=60.0, show_default=True, help="Stop after this long.")
@click.option("--invariant", metavar="SPEC", help="FILE_OR_MODULE:NAME of invariant(ctx, outcome).")
@click.option("--always", metavar="SPEC", help="FILE_OR_MODULE:NAME of always(ctx).")
@click.option("--eventually", metavar="SPEC", help="FILE_OR_MODULE:NAME of eventually(ctx).")
@json_option("Print the report as one JSON object.")
@click.option(
    "--no-reduction",
    is_flag=True,
    help="Explore every order of completion, also in settled revert phases.",
)
@click.option(
    "--show-output", is_flag=True, help="Let the flow's own prints through (hidden by default)."
)
def verify(  # noqa: PLR0917 (click passes every option by name)
    factory: str,
    store_json: str | None,
    crashes: int,
    suspends: int,
    revert_failures: bool,
    workers: int,
    max_states: int,
    max_seconds: float,
    invariant: str | None,
    always: str | None,
    eventually: str | None,
    as_json: bool,
    no_reduction: bool,
    show_output: bool,
) -> None:
    """Explore every run of a flow: each order of ready atoms, each failure, each crash point
    (followed by a resume), and print the trace with the fewest faults to any broken invariant
    or to a loop a run can take forever; a bound that stops the search says which fault level
    it finished.

    FACTORY is FILE_OR_MODULE:NAME, a function without arguments returning a flow or a
    (flow, context) pair; the context is what --invariant, --always and --eventually check.
    Exit status 0 when the whole space was explored without a violation, 1 on a violation or
    when a bound stopped the search (the report says which).

    \b
    Examples:
      provenflow verify examples/flawed_saga.py:make_flawed \\
          --invariant examples/flawed_saga.py:consistent
      provenflow verify examples/order_saga.py:make_flow --store '{"order_id": 7}'
      provenflow verify mypackage.flows:make_order --crashes 1 --json
    """
    if crashes < 0 or suspends < 0 or max_states < 1 or max_seconds <= 0 or workers < 1:
        raise click.BadParameter("bounds must be positive (crashes and suspends may be 0)")
    quiet = contextlib.nullcontext() if show_output else contextlib.redirect_stdout(io.StringIO())
    with quiet:  # the flow runs once per explored path: its prints would bury the report
        report = check(
            guarded_factory(factory),
            _parse_store(store_json),
            crashes=crashes,
            suspends=suspends,
            revert_failures=revert_failures,
            workers=workers,
            max_states=max_states,
            max_seconds=max_seconds,
            invariant=None if invariant is None else load_object(invariant, "invariant"),
            always=None if always is None else load_object(always, "always"),
            eventually=None if eventually is None else load_object(eventually, "eventually"),
            reduction=not no_reduction,
        )
    rate = report.states_explored / report.elapsed if report.elapsed > 0 else 0.0
    if as_json:
        document = {
            "ok": report.ok,
            "states_explored": report.states_explored,
            "choices": report.choices,
            "transitions": report.transitions,
            "pruned": report.pruned,
            "paths": report.paths,
            "elapsed": report.elapsed,
            "states_per_second": rate,
            "incomplete": report.incomplete,
            "unmerged": list(report.unmerged),
            "collision_probability": report.collision_probability,
            "replayed": report.replayed,
            "fault_level": report.fault_level,
            "complete_up_to": report.complete_up_to,
            "fault_level_explored": report.fault_level_explored,
            "violations": [v.to_data() for v in report.violations],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        console = output_console()
        console.print(Text(printable(report, lines=True)), soft_wrap=True)
        for violation in report.violations:
            console.print(Text("reproduce with:", style="bold"))
            console.print(Text(printable(violation.reproduction(), lines=True)), soft_wrap=True)
        verdict = "sound" if report.ok else ("VIOLATION" if report.violations else "INCOMPLETE")
        console.print(Text(verdict, style="bold green" if report.ok else "bold red"))
    if not report.ok:
        raise click.exceptions.Exit(FLOW_FAILED)
