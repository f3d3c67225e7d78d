"""`to_machine`: a `transitions.Machine` built from a table agrees with the table exactly."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transitions import MachineError

from provenflow.errors import IllegalTransition
from provenflow.fsm import LIFECYCLES, Lifecycle, to_machine

NAMES = sorted(LIFECYCLES)


class Model:
    """A service's own object, driven by the machine; `state` is set by `transitions`."""

    state: Any


def shortest_paths(lifecycle: Lifecycle[Any, Any]) -> dict[Any, list[Any]]:
    """Return a shortest event path from the initial state to every state (breadth first)."""
    paths: dict[Any, list[Any]] = {lifecycle.initial: []}
    queue = deque([lifecycle.initial])
    while queue:
        state = queue.popleft()
        for event, target in lifecycle.table[state].items():
            if target not in paths:
                paths[target] = [*paths[state], event]
                queue.append(target)
    return paths


def trigger(model: Model, event: object) -> None:
    getattr(model, str(event))()


@pytest.mark.parametrize("name", NAMES)
def test_the_model_starts_at_the_initial_state(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    model = Model()
    to_machine(lifecycle, model)
    assert model.state is lifecycle.initial


@pytest.mark.parametrize("name", NAMES)
def test_the_machine_has_one_trigger_per_event_and_no_other(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    model = Model()
    machine = to_machine(lifecycle, model)
    assert set(machine.events) == {str(event) for event in lifecycle.events}
    assert all(callable(getattr(model, str(event))) for event in lifecycle.events)


@pytest.mark.parametrize("name", NAMES)
def test_no_auto_transitions_or_state_setter_on_the_model(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    model = Model()
    machine = to_machine(lifecycle, model)
    for state in lifecycle.states:
        assert not hasattr(model, f"to_{state}")
        assert not hasattr(model, f"to_{state.name}")
        assert f"to_{state}" not in machine.events
    assert not hasattr(model, "set_state")
    with pytest.raises(AttributeError):
        model.trigger(f"to_{lifecycle.initial}")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "state"),
    [(name, state) for name in NAMES for state in LIFECYCLES[name].states],
    ids=str,
)
def test_an_invalid_trigger_raises_and_leaves_the_state_unchanged(name: str, state: Any) -> None:
    lifecycle = LIFECYCLES[name]
    refused = [event for event in lifecycle.events if event not in lifecycle.table[state]]
    assert refused, "every state of every lifecycle refuses some event"
    for event in refused:
        model = Model()
        to_machine(lifecycle, model)
        for step in shortest_paths(lifecycle)[state]:
            trigger(model, step)
        assert model.state is state
        with pytest.raises(MachineError):
            trigger(model, event)
        assert model.state is state


@pytest.mark.parametrize("name", NAMES)
def test_terminal_states_are_final_and_no_others(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    machine = to_machine(lifecycle, Model())
    final = {state for state in lifecycle.states if machine.get_state(state).final}
    assert final == lifecycle.terminal


@pytest.mark.parametrize("name", NAMES)
def test_the_model_can_reach_every_state_through_triggers(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    paths = shortest_paths(lifecycle)
    assert set(paths) == set(lifecycle.states)
    for state, path in paths.items():
        model = Model()
        to_machine(lifecycle, model)
        for step in path:
            trigger(model, step)
        assert model.state is state


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=200, deadline=None, database=None)
@given(data=st.data())
def test_the_machine_and_the_table_accept_and_reject_the_same_events(
    name: str, data: st.DataObject
) -> None:
    lifecycle = LIFECYCLES[name]
    events = data.draw(st.lists(st.sampled_from(lifecycle.events), max_size=40), label="events")
    model = Model()
    to_machine(lifecycle, model)
    state = lifecycle.initial
    for event in events:
        try:
            state = lifecycle.apply(state, event)
            table_accepted = True
        except IllegalTransition:
            table_accepted = False
        try:
            trigger(model, event)
            machine_accepted = True
        except MachineError:
            machine_accepted = False
        assert machine_accepted == table_accepted, (model.state, event)
        assert model.state is state
