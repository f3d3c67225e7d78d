"""The progress bar of `provenflow run` and `resume`: atoms done out of atoms to do, on stderr.

Theory of operation. `RunProgress` is an engine listener (see `provenflow.engine`): the engine
tells it of every transition after it is recorded, and it keeps the state of each atom of the
flow and of the flow itself. The bar is computed from those states, never by counting events,
so it cannot drift: a retry that resets its subflow moves the bar back, and a resumed run
starts from what the store holds.

What "done" means follows the flow's direction, and the bar's label says which it is:

- forward (the flow is PENDING, RUNNING, SUSPENDING or SUSPENDED, or ended SUCCESS): an atom
  is done in SUCCESS or IGNORE, out of every atom of the flow (tasks and retry controllers);
- reverting (the flow is REVERTING, or ended REVERTED or FAILURE): an atom is done in REVERTED
  or REVERT_FAILURE, out of the atoms that have to be undone, i.e. those that left PENDING and
  were not ignored. A run that fails at its third of five atoms shows `running 2/5`, then
  `reverting 0/3` up to `REVERTED 3/3`: the bar counts the undoing, it does not pretend the
  run went further.

The bar is drawn by `rich.progress` on its own console (stderr). On a terminal it is redrawn
in place; elsewhere rich prints it once, when the run ends. While the bar is live, what the run
prints to stdout is routed above the bar only when stdout is a terminal too (so the lines do
not tear the bar); a redirected stdout is left alone and keeps every line.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from provenflow.cli._output import printable
from provenflow.engine import Engine
from provenflow.persistence import Transition

__all__ = ["FORWARD_DONE", "REVERT_DONE", "RunProgress"]

FORWARD_DONE = frozenset({"SUCCESS", "IGNORE"})
"""Atom states that count as done while the flow runs forward."""

REVERT_DONE = frozenset({"REVERTED", "REVERT_FAILURE"})
"""Atom states that count as done while the flow reverts."""

_NOT_TO_UNDO = frozenset({"PENDING", "IGNORE"})
_REVERTING_FLOW = frozenset({"REVERTING", "REVERTED", "FAILURE"})
_ATOM_LIFECYCLES = frozenset({"task", "retry"})


class RunProgress:
    """A listener that draws one engine's run as a bar on `console`; use it as a context.

    Built from the engine before it runs (it reads every atom's current state, so a resumed
    run starts where its record is); `with RunProgress(engine, console):` shows the bar for the
    run, and leaves its final state printed when the block ends.
    """

    def __init__(self, engine: Engine, console: Console) -> None:
        self.name = engine.compiled.name
        self.flow_state = str(engine.state)
        self.atoms = {
            name: str(engine.atom_state(name))
            for name, node in engine.compiled.nodes.items()
            if node.atom is not None
        }
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            redirect_stdout=sys.stdout.isatty(),
            refresh_per_second=4,
        )
        done, total = self.counts()
        self.task = self.progress.add_task(self.label(), total=total, completed=done)

    def counts(self) -> tuple[int, int]:
        """Return (done, total) for the flow's current direction (see the module docstring)."""
        states = self.atoms.values()
        if self.flow_state in _REVERTING_FLOW:
            to_undo = [state for state in states if state not in _NOT_TO_UNDO]
            return sum(state in REVERT_DONE for state in to_undo), len(to_undo)
        return sum(state in FORWARD_DONE for state in states), len(self.atoms)

    def label(self) -> str:
        """Return the bar's label: the flow's name (escaped, see `_output`) and what it is
        doing (or how it ended)."""
        if self.flow_state in ("SUCCESS", "REVERTED", "FAILURE", "SUSPENDED"):
            doing = self.flow_state
        elif self.flow_state == "REVERTING":
            doing = "reverting"
        else:
            doing = "running"
        return printable(f"flow {self.name!r} {doing}")

    def on_transition(self, transition: Transition) -> None:
        """Take the new state of an atom or of the flow, and redraw the bar from the states."""
        if transition.lifecycle == "flow":
            self.flow_state = str(transition.new_state)
        elif transition.lifecycle in _ATOM_LIFECYCLES and transition.atom in self.atoms:
            self.atoms[transition.atom] = str(transition.new_state)
        else:
            return
        done, total = self.counts()
        self.progress.update(self.task, description=self.label(), completed=done, total=total)

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.progress.stop()


def wanted(progress: bool | None, quiet: bool, as_json: bool, console: Console) -> bool:
    """Return whether to draw the bar: never with --quiet or --json, else as `progress` says,
    and when it is unset (auto) only if `console` writes to a terminal."""
    if quiet or as_json:
        return False
    return console.is_terminal if progress is None else progress


def attach(engine: Engine, progress: bool | None, quiet: bool, as_json: bool) -> RunProgress | None:
    """Return a `RunProgress` listening to `engine` (as `wanted` decides), or None.

    The bar writes to a new stderr console; the engine's other listeners are kept.
    """
    console = Console(stderr=True)
    if not wanted(progress, quiet, as_json, console):
        return None
    bar = RunProgress(engine, console)
    engine.listeners.append(bar)
    return bar
