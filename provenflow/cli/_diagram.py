"""`provenflow diagram`: draw a lifecycle, a flow (optionally a run of it) or a counterexample.

Theory of operation. Each subcommand gathers its data (a lifecycle name, a factory's flow and
perhaps a recorded run, a violation from a `provenflow verify --json` report) and hands it to
the matching pure function of `provenflow.diagrams`, which returns text. Text formats (mermaid,
dot, md) are written as the function returns them; images (svg, png) are that function's DOT
text drawn by `provenflow.diagrams.render` through Graphviz.

Where it goes: with `-o FILE`, to that file (text as returned, images as bytes); without it, to
stdout. A PNG is refused on a terminal (its bytes would garble it): give `-o FILE` or redirect
stdout. Everything the user can get wrong (an unknown name or format, a report that is not one,
Graphviz missing, a file that cannot be written) is a `UsageError`, which the group prints as
one line with exit status 2.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import click

from provenflow import diagrams
from provenflow.cli._group import main
from provenflow.cli._output import printable
from provenflow.cli._runs import _latest, _parse_store, backend_option
from provenflow.engine import load_factory
from provenflow.errors import UsageError
from provenflow.fsm import LIFECYCLES

__all__ = ["EXTENSIONS", "IMAGE_FORMATS", "diagram", "draw", "read_violation"]

IMAGE_FORMATS = ("svg", "png")
"""Formats drawn by Graphviz from the DOT text."""

EXTENSIONS = {"mermaid": "mmd", "dot": "dot", "md": "md", "svg": "svg", "png": "png"}
"""The file name extension of each format (for `diagram lifecycle all -o DIRECTORY`)."""


def _format_option(formats: tuple[str, ...]) -> Callable[[Any], Any]:
    return click.option(
        "--format",
        "-f",
        "format_name",
        type=click.Choice(formats),
        default="mermaid",
        show_default=True,
        help="Text (mermaid, dot, md) or an image drawn by Graphviz (svg, png).",
    )


output_option = click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Write the diagram to this file instead of stdout.",
)


def draw(make: Callable[[str], str], format_name: str) -> str | bytes:
    """Return the diagram `make(text format)` gives, as text, or as image bytes for svg/png.

    An image is `make("dot")` drawn by `provenflow.diagrams.render`, which raises
    `RenderUnavailable` (a `UsageError`) when Graphviz is missing.
    """
    if format_name in IMAGE_FORMATS:
        return diagrams.render(make("dot"), format_name)
    return make(format_name)


def _write_file(content: str | bytes, output: Path) -> None:
    try:
        if isinstance(content, bytes):
            output.write_bytes(content)
        else:
            output.write_text(content, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {str(output)!r}: {error.strerror or error}") from None


def emit(content: str | bytes, output: Path | None, format_name: str) -> None:
    """Write `content` to `output`, or to stdout when it is None.

    Text is written to a file as given; on stdout, with a final newline added if it has none
    and every control character but the newline shown as an escape (`_output.printable`), so
    a name in the diagram cannot drive the terminal. Image bytes are written as they are.
    Raises `UsageError` when the file cannot be written, or for a PNG when stdout is a
    terminal.
    """
    if output is not None:
        _write_file(content, output)
        return
    if isinstance(content, str):
        click.echo(printable(content, lines=True), nl=not content.endswith("\n"))
        return
    stdout: IO[bytes] = click.get_binary_stream("stdout")
    if format_name == "png" and stdout.isatty():
        raise UsageError(
            "refusing to write PNG bytes to a terminal: give -o FILE, or redirect stdout"
        )
    stdout.write(content)
    stdout.flush()


@main.group(cls=click.Group)
def diagram() -> None:
    """Draw a lifecycle, a flow (optionally coloured by a recorded run) or a counterexample.

    Text formats are mermaid (the default), dot and md; svg and png are drawn by Graphviz
    (its `dot` program must be installed). The diagram goes to stdout, or to -o FILE.

    \b
    Examples:
      provenflow diagram lifecycle task
      provenflow diagram flow examples/order_saga.py:make_flow --store '{"order_id": 7}'
      provenflow diagram trace report.json -f svg -o trace.svg
    """


@diagram.command("lifecycle")
@click.argument("name")
@_format_option(("mermaid", "dot", "md", "svg", "png"))
@output_option
def lifecycle_command(name: str, format_name: str, output: Path | None) -> None:
    """Draw a lifecycle's transition table.

    NAME is one of task, retry, flow, engine, job, or `all` to write each of them to its own
    file, `NAME.EXT`, in the directory -o names (made if missing).

    \b
    Examples:
      provenflow diagram lifecycle task
      provenflow diagram lifecycle retry --format dot
      provenflow diagram lifecycle flow -f svg -o flow.svg
      provenflow diagram lifecycle all -f png -o docs/lifecycles
    """
    if name != "all":
        emit(draw(lambda text: diagrams.lifecycle(name, text), format_name), output, format_name)
        return
    if output is None:
        raise UsageError("'all' writes one file per lifecycle: give -o DIRECTORY")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot make directory {str(output)!r}: {error.strerror}") from None
    for each in LIFECYCLES:
        content = draw(functools.partial(diagrams.lifecycle, each), format_name)
        _write_file(content, output / f"{each}.{EXTENSIONS[format_name]}")


@diagram.command("flow")
@click.argument("factory")
@click.option(
    "--run",
    "run_id",
    metavar="FLOW_ID",
    help="Colour each atom by its state in this recorded run ('latest': the store's last run).",
)
@backend_option
@click.option("--store", "store_json", metavar="JSON", help="Values for the flow's inputs.")
@_format_option(("mermaid", "dot", "md", "svg", "png"))
@output_option
def flow_command(  # noqa: PLR0917 (click passes every option by name)
    factory: str,
    run_id: str | None,
    backend: str,
    store_json: str | None,
    format_name: str,
    output: Path | None,
) -> None:
    """Draw the flow a factory builds: its atoms, nested flows, order and data links.

    FACTORY is FILE_OR_MODULE:NAME, as for `provenflow run`; it may return a flow or a
    (flow, context) pair. Inputs the flow takes from the store need --store (their values do
    not matter, only their names). With --run, each atom is coloured by its state in that run,
    read from --backend (the same default store as `provenflow run`). As md, the flow is a
    table of its atoms (with --run, their states and attempts) and a list of its links.

    \b
    Examples:
      provenflow diagram flow examples/order_saga.py:make_flow --store '{"order_id": 7}'
      provenflow diagram flow examples/order_saga.py:make_flow --run latest -f md
      provenflow diagram flow examples/order_saga.py:make_flow --run latest -f svg -o run.svg
    """
    store = _parse_store(store_json)
    built = load_factory(factory)()
    if run_id == "latest":
        run_id = _latest(backend)

    def make(text: str) -> str:
        return diagrams.flow(
            built,
            text,
            run=run_id,
            backend=None if run_id is None else backend,
            store_keys=store.keys(),
        )

    emit(draw(make, format_name), output, format_name)


def read_violation(text: str, number: int) -> dict[str, Any]:
    """Return violation `number` (from 1) of a `provenflow verify --json` report's text.

    Raises `UsageError` when the text is not JSON, is not such a report, has no violation, or
    has fewer than `number`.
    """
    try:
        report = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"REPORT is not JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
            "expected the output of `provenflow verify --json`"
        ) from None
    violations = report.get("violations") if isinstance(report, dict) else None
    if not isinstance(violations, list) or not all(isinstance(v, dict) for v in violations):
        raise UsageError(
            "REPORT is not a verify report (no 'violations' list); "
            "expected the output of `provenflow verify --json`"
        )
    if not violations:
        raise UsageError("the report has no violation to draw")
    if not 1 <= number <= len(violations):
        count = len(violations)
        raise UsageError(
            f"--violation {number}: the report has {count} "
            f"violation{'s' if count > 1 else ''} (allowed: 1 to {count})"
        )
    found: dict[str, Any] = violations[number - 1]
    return found


@diagram.command("trace")
@click.argument("report", type=click.File("r", encoding="utf-8"))
@click.option(
    "--violation",
    "number",
    type=int,
    default=1,
    show_default=True,
    help="Which violation of the report to draw, from 1.",
)
@click.option(
    "--path",
    "entity",
    metavar="flow|ATOM",
    help="Draw one entity's path through its lifecycle: the flow's, or an atom's by name.",
)
@_format_option(("mermaid", "dot", "md", "svg", "png"))
@output_option
def trace_command(
    report: IO[str], number: int, entity: str | None, format_name: str, output: Path | None
) -> None:
    """Draw a counterexample: the steps of a violation `provenflow verify --json` found.

    REPORT is the file that report was saved to, or - for stdin. As mermaid, the steps are a
    sequence diagram (engine, store, atoms, crashes and resumes); as dot, svg or png, the
    lifecycles of the flow and of each atom with the path numbered by step. With --path, only
    that entity's lifecycle is drawn, its path highlighted.

    \b
    Examples:
      provenflow verify examples/flawed_saga.py:make_flawed --json > report.json
      provenflow diagram trace report.json
      provenflow diagram trace report.json --violation 1 -f png -o trace.png
      provenflow diagram trace report.json --path reserve -f md
      provenflow verify examples/flawed_saga.py:make_flawed --json | provenflow diagram trace -
    """
    try:
        text = report.read()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read REPORT {report.name!r}: {error}") from None
    violation = read_violation(text, number)
    if entity is None:
        emit(draw(lambda text: diagrams.trace(violation, text), format_name), output, format_name)
        return
    lifecycle, atom = _entity(violation, entity)
    emit(
        draw(lambda text: diagrams.trace_path(violation, lifecycle, atom, text), format_name),
        output,
        format_name,
    )


def _entity(violation: dict[str, Any], entity: str) -> tuple[str, str | None]:
    """Return (lifecycle, atom) for `--path`: the flow, or an atom with records in the trace.

    Raises `UsageError` naming the entities that have records when `entity` is none of them.
    """
    if entity == "flow":
        return "flow", None
    records = [e for e in violation.get("events") or () if isinstance(e, dict)]
    lifecycles = {
        e.get("atom"): str(e.get("lifecycle"))
        for e in records
        if e.get("kind") == "record" and e.get("atom") is not None
    }
    if entity not in lifecycles:
        known = ", ".join(["flow", *sorted(str(atom) for atom in lifecycles)])
        raise UsageError(f"--path {entity!r}: no records of it in this trace (allowed: {known})")
    return lifecycles[entity], entity
