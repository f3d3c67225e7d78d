"""What every lifecycle's table must be, pair by pair: checked for all five at once.

Each lifecycle's expected table is written out, literally, in its own test module
(`test_task.py`, ...), never derived from the table under test; this module checks the real
table against it: the states and events, the edges, the initial and terminal states, every legal
(state, event) pair leading to its target, and every other pair refused with the full error.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from provenflow.errors import IllegalTransition
from provenflow.fsm import LIFECYCLES
from tests.fsm import test_engine, test_flow, test_job, test_retry, test_task

MODULES: dict[str, ModuleType] = {
    "task": test_task,
    "retry": test_retry,
    "flow": test_flow,
    "engine": test_engine,
    "job": test_job,
}


def expected(name: str) -> Any:
    return MODULES[name].EXPECTED


def names_of(enum_type: Any) -> set[str]:
    return {str(member) for member in enum_type}


@pytest.mark.parametrize("name", list(MODULES))
def test_states_and_events_are_exactly_the_expected_ones(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    module = MODULES[name]
    assert names_of(module.State) == expected(name).states
    assert names_of(module.Event) == expected(name).events
    assert set(lifecycle.states) == expected(name).states
    assert set(lifecycle.events) == expected(name).events


@pytest.mark.parametrize("name", list(MODULES))
def test_edges_are_exactly_the_expected_table(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    actual = {(str(state), str(event), str(target)) for state, event, target in lifecycle.edges()}
    assert actual == expected(name).edges
    assert set(lifecycle.table) == expected(name).states


@pytest.mark.parametrize("name", list(MODULES))
def test_initial_and_terminal_states(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    state = MODULES[name].State
    assert lifecycle.name == name
    assert lifecycle.initial is state(expected(name).initial)
    assert lifecycle.terminal == {state(s) for s in expected(name).terminal}
    assert lifecycle is MODULES[name].LIFECYCLE


LEGAL = [(name, *pair) for name in MODULES for pair in expected(name).legal_pairs()]
ILLEGAL = [(name, *pair) for name in MODULES for pair in expected(name).illegal_pairs()]


@pytest.mark.parametrize(("name", "state", "event", "target"), LEGAL)
def test_legal_pair_leads_to_its_target(name: str, state: str, event: str, target: str) -> None:
    module = MODULES[name]
    moved = LIFECYCLES[name].apply(module.State(state), module.Event(event), "x", "f")
    assert moved is module.State(target)


@pytest.mark.parametrize(("name", "state", "event"), ILLEGAL)
def test_illegal_pair_is_refused_with_a_full_error(name: str, state: str, event: str) -> None:
    module = MODULES[name]
    entity, flow = module.ENTITY, module.FLOW
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLES[name].apply(module.State(state), module.Event(event), entity, flow)
    error = caught.value
    assert (error.lifecycle, error.entity, error.state, error.event, error.flow) == (
        name,
        entity,
        state,
        event,
        flow,
    )
    assert error.allowed == expected(name).allowed(state)
    assert str(error) == expected(name).message(state, event, entity, flow)


@pytest.mark.parametrize("name", list(MODULES))
def test_every_pair_is_covered_once(name: str) -> None:
    table = expected(name)
    legal = {(state, event) for state, event, _ in table.legal_pairs()}
    illegal = set(table.illegal_pairs())
    assert not legal & illegal
    assert legal | illegal == table.all_pairs()
    assert len(legal | illegal) == len(table.states) * len(table.events)
