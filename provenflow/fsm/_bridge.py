"""The bridge to `transitions`: embed a provenflow lifecycle on a service's own objects.

`to_machine(lifecycle, model)` builds a `transitions.Machine` from the table, so a model gets
one trigger method per event (`model.start()`, `model.fail()`, ...) and a `state` attribute
holding the lifecycle's `State` members. The machine is built without the back doors that
`transitions` offers by default: no auto transitions (`to_<state>()`), and an event that the
table does not allow raises `transitions.MachineError` instead of being ignored. The table stays
the one source: a property test checks that the table and the machine accept and reject exactly
the same event sequences.
"""

from __future__ import annotations

from typing import Any

from transitions import Machine

from provenflow.fsm._lifecycle import Lifecycle

__all__ = ["to_machine"]


def to_machine(lifecycle: Lifecycle[Any, Any], model: object) -> Machine:
    """Return a `transitions.Machine` driving `model` through `lifecycle`'s table.

    The model starts in the lifecycle's initial state; every trigger is named after an event's
    value. Terminal states are marked `final` in the machine. A refused trigger raises
    `transitions.MachineError` and leaves `model.state` unchanged. What `transitions` itself
    keeps public (`Machine.set_state`, an assignable `model.state`) bypasses the table: don't use
    it where the table's guarantees matter.
    """
    states: list[dict[str, Any]] = [
        {"name": state, "final": state in lifecycle.terminal} for state in lifecycle.states
    ]
    transitions = [
        {"trigger": str(event), "source": state, "dest": target}
        for state, event, target in lifecycle.edges()
    ]
    machine = Machine(
        model=model,
        states=states,
        transitions=transitions,
        initial=lifecycle.initial,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )
    return machine
