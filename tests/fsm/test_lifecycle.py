"""`Lifecycle` (the one chokepoint) and `EntityState` (one entity's state, no setter)."""

from __future__ import annotations

import dataclasses
from enum import StrEnum

import pytest

from provenflow.errors import IllegalTransition, UsageError
from provenflow.fsm import LIFECYCLES, EntityState, engine, flow, job, retry, task
from provenflow.fsm.task import LIFECYCLE, Event, State

TASK_STATES = "PENDING, RUNNING, SUCCESS, FAILURE, REVERTING, REVERTED, REVERT_FAILURE, IGNORE"

# A path from PENDING to every task state, written out by hand.
PATH_TO = {
    State.PENDING: [],
    State.RUNNING: [Event.START],
    State.SUCCESS: [Event.START, Event.SUCCEED],
    State.FAILURE: [Event.START, Event.FAIL],
    State.REVERTING: [Event.START, Event.FAIL, Event.REVERT],
    State.REVERTED: [Event.START, Event.FAIL, Event.REVERT, Event.REVERTED],
    State.REVERT_FAILURE: [Event.START, Event.FAIL, Event.REVERT, Event.REVERT_FAILED],
    State.IGNORE: [Event.IGNORE],
}
# The events each task state refuses, written out by hand.
REFUSED = {
    State.PENDING: "succeed fail crash_recovered revert reverted revert_failed reset",
    State.RUNNING: "start reverted revert_failed ignore reset",
    State.SUCCESS: "start succeed fail crash_recovered reverted revert_failed ignore reset",
    State.FAILURE: "start succeed fail crash_recovered reverted revert_failed ignore reset",
    State.REVERTING: "start succeed fail revert ignore reset",
    State.REVERTED: "start succeed fail crash_recovered revert reverted revert_failed ignore",
    State.REVERT_FAILURE: (
        "start succeed fail crash_recovered revert reverted revert_failed ignore reset"
    ),
    State.IGNORE: "start succeed fail crash_recovered revert reverted revert_failed ignore",
}


def snapshot() -> dict[str, dict[str, str]]:
    return {
        str(state): {str(e): str(t) for e, t in row.items()}
        for state, row in LIFECYCLE.table.items()
    }


# -- Lifecycle.apply -----------------------------------------------------------------------------


def test_apply_returns_the_target_and_changes_nothing() -> None:
    before = snapshot()
    state = State.PENDING
    assert LIFECYCLE.apply(state, Event.START) is State.RUNNING
    assert state is State.PENDING
    assert snapshot() == before
    assert LIFECYCLE.apply(state, Event.START) is State.RUNNING  # same answer again


def test_a_refused_apply_changes_nothing() -> None:
    before = snapshot()
    with pytest.raises(IllegalTransition):
        LIFECYCLE.apply(State.SUCCESS, Event.START, "charge_card", "order-7")
    assert snapshot() == before
    assert LIFECYCLE.apply(State.SUCCESS, Event.REVERT) is State.REVERTING


def test_apply_accepts_plain_strings_because_states_are_str_enums() -> None:
    assert LIFECYCLE.apply("PENDING", "start") is State.RUNNING  # type: ignore[arg-type]


def test_an_unknown_state_is_a_usage_error_naming_the_states() -> None:
    with pytest.raises(UsageError) as caught:
        LIFECYCLE.apply("BOGUS", Event.START, "charge_card")  # type: ignore[arg-type]
    assert not isinstance(caught.value, IllegalTransition)
    assert str(caught.value) == (
        f"task 'charge_card': 'BOGUS' is not a task state (states: {TASK_STATES})"
    )


def test_a_state_of_another_lifecycle_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        LIFECYCLE.apply(retry.State.RETRYING, Event.START)  # type: ignore[arg-type]
    assert "is not a task state" in str(caught.value)
    assert f"(states: {TASK_STATES})" in str(caught.value)


def test_an_unknown_event_is_an_illegal_transition() -> None:
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLE.apply(State.PENDING, "launch")  # type: ignore[arg-type]
    assert (caught.value.event, caught.value.allowed) == ("launch", ("ignore", "start"))


def test_allowed_is_sorted_by_name_not_by_declaration() -> None:
    # RUNNING's row is declared succeed, fail, crash_recovered, revert.
    assert LIFECYCLE.allowed(State.RUNNING) == ("crash_recovered", "fail", "revert", "succeed")
    assert LIFECYCLE.allowed(State.PENDING) == ("ignore", "start")
    assert all(isinstance(event, Event) for event in LIFECYCLE.allowed(State.RUNNING))


def test_allowed_is_empty_from_a_terminal_state() -> None:
    assert LIFECYCLE.allowed(State.REVERT_FAILURE) == ()


@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_allowed_is_sorted_in_every_lifecycle(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    for state in lifecycle.states:
        allowed = lifecycle.allowed(state)
        assert list(allowed) == sorted(str(event) for event in allowed)
        assert set(allowed) == set(lifecycle.table[state])


# -- read-only table ----------------------------------------------------------------------------


def test_the_table_cannot_be_assigned() -> None:
    with pytest.raises(TypeError):
        LIFECYCLE.table[State.PENDING] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        del LIFECYCLE.table[State.PENDING]  # type: ignore[attr-defined]


def test_a_row_cannot_be_assigned() -> None:
    with pytest.raises(TypeError):
        LIFECYCLE.table[State.PENDING][Event.SUCCEED] = State.SUCCESS  # type: ignore[index]
    assert Event.SUCCEED not in LIFECYCLE.table[State.PENDING]


def test_the_lifecycle_attributes_cannot_be_assigned() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        LIFECYCLE.initial = State.SUCCESS  # type: ignore[misc]
    assert LIFECYCLE.initial is State.PENDING


def test_the_table_has_a_row_for_every_state() -> None:
    assert list(LIFECYCLE.table) == list(State)
    assert LIFECYCLE.table[State.REVERT_FAILURE] == {}


def test_repr_names_the_lifecycle_and_its_size() -> None:
    assert repr(LIFECYCLE) == "<Lifecycle 'task': 8 states, 9 events>"


# -- EntityState --------------------------------------------------------------------------------


def test_an_entity_starts_at_the_initial_state() -> None:
    holder = EntityState(LIFECYCLE, "charge_card", "order-7")
    assert holder.state is State.PENDING
    assert (holder.entity, holder.flow, holder.lifecycle) == ("charge_card", "order-7", LIFECYCLE)


def test_an_entity_moves_through_apply() -> None:
    holder = EntityState(LIFECYCLE, "charge_card")
    assert holder.apply(Event.START) is State.RUNNING
    assert holder.state is State.RUNNING
    assert holder.apply(Event.SUCCEED) is State.SUCCESS
    assert holder.state is State.SUCCESS


@pytest.mark.parametrize(
    ("state", "event"),
    [(state, Event(event)) for state, events in REFUSED.items() for event in events.split()],
    ids=str,
)
def test_a_refused_event_raises_and_leaves_the_state_unchanged(state: State, event: Event) -> None:
    holder = EntityState.replay(LIFECYCLE, PATH_TO[state], "charge_card", "order-7")
    before = holder.state
    assert before is state
    with pytest.raises(IllegalTransition) as caught:
        holder.apply(event)
    assert holder.state is before
    error = caught.value
    assert (error.entity, error.flow, error.state, error.event) == (
        "charge_card",
        "order-7",
        str(state),
        str(event),
    )


def test_the_state_has_no_setter() -> None:
    holder = EntityState(LIFECYCLE, "charge_card")
    with pytest.raises(AttributeError):
        holder.state = State.SUCCESS  # type: ignore[misc]
    assert holder.state is State.PENDING


def test_an_entity_takes_no_new_attributes() -> None:
    holder = EntityState(LIFECYCLE, "charge_card")
    with pytest.raises(AttributeError):
        holder.set_state = None  # type: ignore[attr-defined]


def test_can_tells_whether_an_event_is_allowed_now() -> None:
    holder = EntityState(LIFECYCLE)
    assert holder.can(Event.START)
    assert holder.can(Event.IGNORE)
    assert not holder.can(Event.SUCCEED)
    holder.apply(Event.START)
    assert holder.can(Event.SUCCEED)
    assert not holder.can(Event.START)


def test_can_matches_apply_for_every_event_from_every_state() -> None:
    for state, path in PATH_TO.items():
        holder = EntityState.replay(LIFECYCLE, path)
        refused = set(REFUSED[state].split())
        assert {str(event) for event in Event if not holder.can(event)} == refused


def test_replay_reaches_the_state_of_the_recorded_events() -> None:
    events = [Event.START, Event.FAIL, Event.REVERT, Event.REVERTED, Event.RESET, Event.START]
    holder = EntityState.replay(LIFECYCLE, events, "charge_card", "order-7")
    assert holder.state is State.RUNNING
    assert (holder.entity, holder.flow) == ("charge_card", "order-7")


def test_replay_accepts_an_iterator_and_an_empty_history() -> None:
    assert EntityState.replay(LIFECYCLE, iter([Event.START])).state is State.RUNNING
    assert EntityState.replay(LIFECYCLE, []).state is State.PENDING


def test_a_refused_replay_raises_at_the_first_refused_event() -> None:
    events = [Event.START, Event.SUCCEED, Event.RESET, Event.START]
    with pytest.raises(IllegalTransition) as caught:
        EntityState.replay(LIFECYCLE, events, "charge_card", "order-7")
    assert str(caught.value) == (
        "task 'charge_card' in flow 'order-7': cannot 'reset' from SUCCESS (allowed: revert)"
    )


def test_states_of_reads_each_holder_in_order() -> None:
    holders = [
        EntityState.replay(LIFECYCLE, events)
        for events in ([Event.START], [], [Event.START, Event.FAIL])
    ]
    assert EntityState.states_of(holders) == (State.RUNNING, State.PENDING, State.FAILURE)
    assert EntityState.states_of([]) == ()


def test_repr_names_the_entity_and_its_state() -> None:
    holder = EntityState.replay(LIFECYCLE, [Event.START], "charge_card")
    assert repr(holder) == "<task 'charge_card': RUNNING>"


# -- LIFECYCLES and str enums -------------------------------------------------------------------


def test_lifecycles_holds_exactly_the_five() -> None:
    assert sorted(LIFECYCLES) == ["engine", "flow", "job", "retry", "task"]
    assert LIFECYCLES["engine"] is engine.LIFECYCLE
    assert LIFECYCLES["flow"] is flow.LIFECYCLE
    assert LIFECYCLES["job"] is job.LIFECYCLE
    assert LIFECYCLES["retry"] is retry.LIFECYCLE
    assert LIFECYCLES["task"] is task.LIFECYCLE
    assert all(name == lifecycle.name for name, lifecycle in LIFECYCLES.items())


def test_lifecycles_is_read_only() -> None:
    with pytest.raises(TypeError):
        LIFECYCLES["task"] = retry.LIFECYCLE  # type: ignore[index]
    with pytest.raises(TypeError):
        del LIFECYCLES["task"]  # type: ignore[attr-defined]
    assert LIFECYCLES["task"] is task.LIFECYCLE


def test_states_compare_equal_to_their_text() -> None:
    assert task.State.SUCCESS == "SUCCESS"
    assert flow.State.SUCCESS == "SUCCESS"
    assert engine.State.SUCCESS == "SUCCESS"
    assert job.State.COMPLETE == "COMPLETE"
    assert task.Event.CRASH_RECOVERED == "crash_recovered"


@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_states_and_events_are_str_enums_that_round_trip(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    for member in (*lifecycle.states, *lifecycle.events):
        assert isinstance(member, StrEnum)
        assert isinstance(member, str)
        assert type(member)(str(member)) is member
    for state in lifecycle.states:
        assert str(state) == state.name  # persisted by value; the value is the name
