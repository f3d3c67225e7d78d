"""`provenflow run` and `resume`: runs recorded in a store, and the options the commands share.

`run` builds a flow from a factory (`FILE_OR_MODULE:NAME`) and runs it, recording the factory
with the run; `resume FLOW_ID` (or `latest`) continues a crashed or suspended run with a flow
rebuilt by a named or trusted factory. `history` and `runs` (`_history`) read what a store
holds. The default store is the SQLite file `./provenflow.db`. Only `run` makes a store where
there is none (or, with `--init-store`, in a database or directory holding other data);
`resume` needs one, and `history`, `runs` and `diagram --run` only read it: a missing store is
"no store at ...", exit 2, and a read-only store can be read.

`run` and `resume` first name the run on stderr (`starting run ID ...`, so a run killed
before it ends can be resumed), then print each transition to stdout as it is recorded and, on
stderr, a bar of the atoms done out of the atoms to do (`_progress`): shown when stderr is a
terminal, or always with `--progress`; never with `--quiet` or `--json`, or with
`--no-progress`. How each ends, and its exit status, is `_exits`'s: a run stopped by the store
or the engine prints no outcome. Every string from the flow or the store is printed through
`_output`, escaped.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import click
from rich.text import Text

from provenflow.cli._exits import FLOW_FAILED, fail_run, is_flow_failure, json_option
from provenflow.cli._group import main
from provenflow.cli._output import ShownTransitions, console, shown
from provenflow.cli._progress import RunProgress, attach
from provenflow.engine import Engine
from provenflow.engine._lease import DEFAULT_LEASE_TTL
from provenflow.errors import UsageError
from provenflow.persistence import open_storage

__all__ = ["DEFAULT_BACKEND", "LATEST", "OUTCOME_STYLE", "resume", "run"]

DEFAULT_BACKEND = "sqlite:///provenflow.db"
"""Where the command records runs unless told otherwise: ./provenflow.db."""

OUTCOME_STYLE = {"SUCCESS": "green", "SUSPENDED": "yellow"}
"""The states a run may end in with exit status 0, and their colour."""

LATEST = "latest"
"""The FLOW_ID that names the store's last run (for `resume` and `history`)."""

backend_option = click.option(
    "--backend", "-b", default=DEFAULT_BACKEND, show_default=True, help="Storage URL."
)
executor_option = click.option(
    "--executor",
    "-e",
    type=click.Choice(["serial", "threads", "processes"]),
    default="serial",
    show_default=True,
)
quiet_option = click.option(
    "--quiet", is_flag=True, help="Print only the outcome, not each transition."
)
lease_ttl_option = click.option(
    "--lease-ttl",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_LEASE_TTL,
    show_default=True,
    metavar="SECONDS",
    help="How long the engine's lease on the run lasts unless renewed (renewed every third); "
    "once it expired, another engine may take the run over.",
)
progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a bar of atoms done on stderr (default: when stderr is a terminal; "
    "never with --quiet or --json).",
)


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


def _listeners(quiet: bool, as_json: bool) -> list[Any]:
    return [] if quiet or as_json else [ShownTransitions()]


def _announce(engine: Engine, doing: str) -> None:
    """Name the run on stderr before it starts, so a run killed midway can be resumed."""
    line = f"{doing} run {engine.flow_id} of flow {engine.compiled.name!r} in {engine.storage.url}"
    console(stderr=True).print(shown(line, "dim"), soft_wrap=True)


def _finish(engine: Engine, as_json: bool, bar: RunProgress | None = None) -> None:
    """Run `engine` to its end (drawing `bar` meanwhile, if any), print the outcome, and exit 1
    unless it succeeded or paused.

    An error that is not the flow's own failure (a storage fault, a refused engine, a bad
    record) prints no outcome: `fail_run` reports it as one line and exits 2.
    """
    error: BaseException | None = None
    try:
        with bar if bar is not None else contextlib.nullcontext():
            engine.run()
    except Exception as exc:  # reported below (exit 1), or by fail_run (exit 2)
        error = exc
    except KeyboardInterrupt as exc:  # left as recorded, to be resumed (exit 130)
        fail_run(engine, exc)
    if error is not None and not is_flow_failure(engine, error):
        fail_run(engine, error)
    state = str(engine.state)
    if error is None and state not in OUTCOME_STYLE:
        fail_run(engine, f"the engine returned with the flow still {state}; please report it")
    if as_json:
        outcome = {
            "flow": engine.compiled.name,
            "flow_id": engine.flow_id,
            "backend": engine.storage.url,
            "state": state,
            "results": engine.results(),
            "failures": {name: str(f) for name, f in engine.failures().items()},
        }
        click.echo(json.dumps(outcome, indent=2, sort_keys=True, default=repr))
    else:
        out = console()
        line = shown(f"flow {engine.compiled.name!r} ended ", "bold")
        out.print(line.append(state, style=f"bold {OUTCOME_STYLE.get(state, 'red')}"))
        for name, value in sorted(engine.results().items()):
            out.print(Text("  ").append(shown(name)).append(" = ").append(shown(repr(value))))
        if error is not None:
            out.print(shown(f"  error: {error}", "red"), soft_wrap=True)
        out.print(shown(f"run {engine.flow_id} in {engine.storage.url}", "dim"), soft_wrap=True)
    if state not in OUTCOME_STYLE:
        raise click.exceptions.Exit(FLOW_FAILED)


@main.command()
@click.argument("factory")
@click.option("--store", "store_json", metavar="JSON", help="Values for the flow's inputs.")
@backend_option
@click.option(
    "--init-store",
    is_flag=True,
    help="Keep runs in a database or directory that holds other data too (refused otherwise).",
)
@executor_option
@quiet_option
@json_option()
@progress_option
@lease_ttl_option
def run(  # noqa: PLR0917 (click passes every option by name)
    factory: str,
    store_json: str | None,
    backend: str,
    init_store: bool,
    executor: str,
    quiet: bool,
    as_json: bool,
    progress: bool | None,
    lease_ttl: float,
) -> None:
    """Run the flow a factory builds, printing each transition; exit 1 if it fails.

    FACTORY is FILE_OR_MODULE:NAME, a function without arguments that returns a flow. The
    run and its factory are recorded in the store, so `provenflow resume FLOW_ID` can continue
    it after a crash.

    \b
    Examples:
      provenflow run examples/order_saga.py:make_flow --store '{"order_id": 7}'
      provenflow run mypackage.flows:make_order -b postgresql://app@db/flows -e threads
    """
    store = _parse_store(store_json)
    storage = open_storage(backend, initialise=init_store)
    engine = Engine.from_factory(
        factory, store, storage, executor, listeners=_listeners(quiet, as_json), lease_ttl=lease_ttl
    )
    _announce(engine, "starting")
    _finish(engine, as_json, attach(engine, progress, quiet, as_json))


@main.command()
@click.argument("flow_id")
@click.option(
    "--factory",
    metavar="SPEC",
    help="The FILE_OR_MODULE:NAME that rebuilds the run's flow (default: the recorded one, "
    "if trusted).",
)
@backend_option
@executor_option
@quiet_option
@json_option()
@progress_option
@lease_ttl_option
def resume(  # noqa: PLR0917 (click passes every option by name)
    flow_id: str,
    factory: str | None,
    backend: str,
    executor: str,
    quiet: bool,
    as_json: bool,
    progress: bool | None,
    lease_ttl: float,
) -> None:
    """Continue a recorded run (crashed or suspended) to its end; exit 1 if it fails.

    FLOW_ID is the id `provenflow run` and `runs` print, or `latest` for the store's last run.
    The flow is rebuilt by --factory, or else by the factory recorded with the run, but only
    when that one is trusted: listed (shell patterns allowed) in PROVENFLOW_TRUSTED_FACTORIES
    (comma-separated) or in trusted-factories under [tool.provenflow] in ./pyproject.toml.
    The store never names code to run. The flow must match the run's record (no recorded atom
    removed, renamed, moved or of another kind); it is refused before anything runs otherwise.
    Recorded successes are never executed again; a task that was running when the process died
    runs again as a new attempt. A run whose engine is alive (its lease holds) is refused before
    anything runs; one whose engine's lease expired is taken over (recorded as `taken_over`).

    \b
    Examples:
      provenflow resume 3f2a9c... --factory examples/order_saga.py:make_flow
      PROVENFLOW_TRUSTED_FACTORIES='examples/*.py:*' provenflow resume latest
      provenflow resume latest -b sqlite:///other.db --factory mypackage.flows:make_order
    """
    flow_id = _latest(backend) if flow_id == LATEST else flow_id
    engine = Engine.resume(
        backend,
        flow_id,
        executor,
        factory=factory,
        listeners=_listeners(quiet, as_json),
        lease_ttl=lease_ttl,
    )
    _announce(engine, "resuming")
    _finish(engine, as_json, attach(engine, progress, quiet, as_json))


def _latest(url: str) -> str:
    found = open_storage(url, read_only=True).list_runs().runs  # the last run that reads back
    if not found:
        raise UsageError(f"no runs recorded in {url}")
    return found[-1][0].flow_id
