"""Build-time checks: every refusal path of `_checks`, with its exact message and attributes.

The toy lifecycle has four states and three events. `GOOD_ROWS` is a sound table; each case
changes one thing and names the one check that must refuse it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import pytest

from provenflow.errors import LifecycleDefinitionError
from provenflow.fsm import LIFECYCLES, Lifecycle, build_lifecycle
from provenflow.fsm._checks import CHECKS, Definition, first_problem


class Spot(StrEnum):
    START = "START"
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    DONE = "DONE"


class Move(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    FINISH = "finish"


class Stray(StrEnum):
    """Names that belong to neither `Spot` nor `Move`."""

    NOWHERE = "NOWHERE"
    JUMP = "jump"


Row = Sequence[tuple[StrEnum, StrEnum]]

GOOD_ROWS: dict[StrEnum, Row] = {
    Spot.START: [(Move.LEFT, Spot.LEFT), (Move.RIGHT, Spot.RIGHT)],
    Spot.LEFT: [(Move.FINISH, Spot.DONE)],
    Spot.RIGHT: [(Move.FINISH, Spot.DONE)],
    Spot.DONE: [],
}
NOT_A_SPOT = "is not a state of Spot (states: DONE, LEFT, RIGHT, START)"

CHECK_NAMES = [
    "initial and terminal states are declared states",
    "every state has a row, and every row is a state",
    "every edge names a known event and target",
    "one target per (state, event)",
    "no edge leaves a terminal state",
    "every event is used",
    "every state is reachable from the initial state",
    "every non-terminal state can reach a terminal state",
]


def arguments(
    rows: Mapping[StrEnum, Row] | None = None,
    initial: StrEnum = Spot.START,
    terminal: Sequence[StrEnum] = (Spot.DONE,),
    **changed_rows: Row,
) -> dict[str, Any]:
    """Return `build_lifecycle` keyword arguments: the good toy with the given changes."""
    table = dict(GOOD_ROWS if rows is None else rows)
    table.update({Spot[name]: row for name, row in changed_rows.items()})
    return {
        "states": Spot,
        "events": Move,
        "initial": initial,
        "terminal": terminal,
        "rows": table,
    }


def definition(kwargs: Mapping[str, Any]) -> Definition:
    """Return the unchecked `Definition` that `build_lifecycle` would check for `kwargs`."""
    return Definition(
        name="toy",
        states=kwargs["states"],
        events=kwargs["events"],
        initial=kwargs["initial"],
        terminal=frozenset(kwargs["terminal"]),
        rows=MappingProxyType({state: tuple(row) for state, row in kwargs["rows"].items()}),
    )


def refusal(kwargs: Mapping[str, Any]) -> LifecycleDefinitionError:
    """Build the toy from `kwargs`, expect a refusal, and return it."""
    with pytest.raises(LifecycleDefinitionError) as caught:
        build_lifecycle("toy", **kwargs)
    return caught.value


# (id, build arguments, index of the check that refuses, entry, problem)
CASES = [
    (
        "initial-not-a-state",
        arguments(initial=Stray.NOWHERE),
        0,
        "initial state <Stray.NOWHERE: 'NOWHERE'>",
        NOT_A_SPOT,
    ),
    (
        "no-terminal-declared",
        arguments(terminal=()),
        0,
        "terminal states",
        "none declared (a lifecycle needs at least one)",
    ),
    (
        "terminal-not-a-state",
        arguments(terminal=(Spot.DONE, Stray.NOWHERE)),
        0,
        "terminal state <Stray.NOWHERE: 'NOWHERE'>",
        NOT_A_SPOT,
    ),
    (
        "row-keyed-by-a-non-state",
        arguments(rows={**GOOD_ROWS, Stray.NOWHERE: []}),
        1,
        "row <Stray.NOWHERE: 'NOWHERE'>",
        NOT_A_SPOT,
    ),
    (
        "state-without-a-row",
        arguments(rows={state: row for state, row in GOOD_ROWS.items() if state != Spot.RIGHT}),
        1,
        "state RIGHT",
        "has no row (every state needs one; a terminal state has an empty row)",
    ),
    (
        "terminal-state-without-a-row",
        arguments(rows={state: row for state, row in GOOD_ROWS.items() if state != Spot.DONE}),
        1,
        "state DONE",
        "has no row (every state needs one; a terminal state has an empty row)",
    ),
    (
        "edge-with-an-unknown-event",
        arguments(LEFT=[(Move.FINISH, Spot.DONE), (Stray.JUMP, Spot.START)]),
        2,
        "LEFT --jump--> START",
        "event <Stray.JUMP: 'jump'> is not an event of Move (events: finish, left, right)",
    ),
    (
        "edge-with-an-unknown-target",
        arguments(LEFT=[(Move.FINISH, Stray.NOWHERE)], RIGHT=[(Move.FINISH, Spot.DONE)]),
        2,
        "LEFT --finish--> NOWHERE",
        "target <Stray.NOWHERE: 'NOWHERE'> is not a state of Spot"
        " (states: DONE, LEFT, RIGHT, START)",
    ),
    (
        "same-edge-listed-twice",
        arguments(LEFT=[(Move.FINISH, Spot.DONE), (Move.FINISH, Spot.DONE)]),
        3,
        "LEFT --finish--> DONE",
        "is listed twice",
    ),
    (
        "same-pair-with-two-targets",
        arguments(LEFT=[(Move.FINISH, Spot.DONE), (Move.FINISH, Spot.START)]),
        3,
        "LEFT --finish-->",
        "has two targets, DONE and START (one event leads to one state)",
    ),
    (
        "edge-out-of-a-terminal-state",
        arguments(DONE=[(Move.LEFT, Spot.START)]),
        4,
        "DONE --left--> START",
        "leaves terminal state DONE (terminal states have an empty row)",
    ),
    (
        "unused-event",
        arguments(START=[(Move.LEFT, Spot.LEFT), (Move.FINISH, Spot.RIGHT)]),
        5,
        "event right",
        "is used by no edge (remove it or give it an edge)",
    ),
    (
        "unreachable-state",
        arguments(START=[(Move.LEFT, Spot.LEFT)], RIGHT=[(Move.RIGHT, Spot.DONE)]),
        6,
        "state RIGHT",
        "cannot be reached from the initial state START",
    ),
    (
        "non-terminal-state-with-an-empty-row",
        arguments(RIGHT=[]),
        7,
        "state RIGHT",
        "is not terminal but has an empty row (declare it terminal or add an edge)",
    ),
    (
        "cycle-with-no-exit",
        arguments(
            START=[(Move.LEFT, Spot.LEFT), (Move.FINISH, Spot.DONE)],
            LEFT=[(Move.RIGHT, Spot.RIGHT)],
            RIGHT=[(Move.LEFT, Spot.LEFT)],
        ),
        7,
        "state LEFT",
        "cannot reach a terminal state (terminal: DONE)",
    ),
]


def test_the_good_toy_builds_and_passes_every_check() -> None:
    toy = build_lifecycle("toy", **arguments())
    assert toy.initial is Spot.START
    assert toy.terminal == {Spot.DONE}
    assert toy.check_results() == [(name, True) for name in CHECK_NAMES]


@pytest.mark.parametrize(
    ("kwargs", "check", "entry", "problem"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_bad_table_is_refused_naming_the_entry(
    kwargs: dict[str, Any], check: int, entry: str, problem: str
) -> None:
    error = refusal(kwargs)
    assert (error.lifecycle, error.entry, error.problem) == ("toy", entry, problem)
    assert str(error) == f"lifecycle 'toy': {entry}: {problem}"


@pytest.mark.parametrize(
    ("kwargs", "check", "entry", "problem"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_refusal_comes_from_its_own_check(
    kwargs: dict[str, Any], check: int, entry: str, problem: str
) -> None:
    bad = definition(kwargs)
    for earlier in CHECKS[:check]:
        assert list(earlier.run(bad)) == [], earlier.name
    found = next(iter(CHECKS[check].run(bad)))
    assert found.args == ("toy", entry, problem)


def test_the_checks_run_in_the_documented_order() -> None:
    assert [check.name for check in CHECKS] == CHECK_NAMES


@pytest.mark.parametrize(
    ("kwargs", "entry", "also"),
    [
        pytest.param(
            arguments(initial=Stray.NOWHERE, terminal=()),
            "initial state <Stray.NOWHERE: 'NOWHERE'>",
            (0, "terminal states"),
            id="initial-before-terminal",
        ),
        pytest.param(
            arguments(
                rows={
                    Spot.START: GOOD_ROWS[Spot.START],
                    Spot.LEFT: [(Move.FINISH, Spot.DONE), (Stray.JUMP, Spot.DONE)],
                    Spot.DONE: [],
                }
            ),
            "state RIGHT",
            (2, "LEFT --jump--> DONE"),
            id="missing-row-before-unknown-event",
        ),
        pytest.param(
            arguments(
                START=[(Move.LEFT, Spot.LEFT), (Move.LEFT, Spot.LEFT), (Move.RIGHT, Spot.RIGHT)],
                RIGHT=[(Move.FINISH, Stray.NOWHERE)],
            ),
            "RIGHT --finish--> NOWHERE",
            (3, "START --left--> LEFT"),
            id="unknown-target-before-earlier-duplicate",
        ),
        pytest.param(
            arguments(
                rows={
                    Spot.DONE: [(Move.LEFT, Spot.START)],
                    Spot.START: GOOD_ROWS[Spot.START],
                    Spot.RIGHT: GOOD_ROWS[Spot.RIGHT],
                    Spot.LEFT: [(Move.FINISH, Spot.DONE), (Move.FINISH, Spot.START)],
                }
            ),
            "LEFT --finish-->",
            (4, "DONE --left--> START"),
            id="two-targets-before-earlier-terminal-edge",
        ),
        pytest.param(
            arguments(rows={state: [] for state in Spot}),
            "event left",
            (6, "state LEFT"),
            id="unused-events-before-unreachable-states",
        ),
        pytest.param(
            arguments(
                rows={
                    Spot.START: [(Move.LEFT, Spot.DONE)],
                    Spot.RIGHT: [(Move.RIGHT, Spot.DONE)],
                    Spot.LEFT: [(Move.FINISH, Spot.DONE)],
                    Spot.DONE: [],
                }
            ),
            "state LEFT",
            (6, "state RIGHT"),
            id="states-in-declaration-order-not-row-order",
        ),
    ],
)
def test_the_first_problem_wins(kwargs: dict[str, Any], entry: str, also: tuple[int, str]) -> None:
    assert refusal(kwargs).entry == entry
    # The table really has the other problem too: its check reports it.
    check, other = also
    assert other in [error.entry for error in CHECKS[check].run(definition(kwargs))]


# One problem for each of the last four checks: DONE has an edge out, `right` is unused, RIGHT
# is unreachable, LEFT loops on itself forever.
FOUR_PROBLEMS = arguments(
    START=[(Move.LEFT, Spot.LEFT), (Move.FINISH, Spot.DONE)],
    LEFT=[(Move.LEFT, Spot.LEFT)],
    RIGHT=[(Move.FINISH, Spot.DONE)],
    DONE=[(Move.FINISH, Spot.START)],
)


def test_every_check_reports_its_own_problem_and_the_earliest_is_raised() -> None:
    bad = definition(FOUR_PROBLEMS)
    found = {check.name: [error.entry for error in check.run(bad)] for check in CHECKS}
    assert found == {
        CHECK_NAMES[0]: [],
        CHECK_NAMES[1]: [],
        CHECK_NAMES[2]: [],
        CHECK_NAMES[3]: [],
        CHECK_NAMES[4]: ["DONE --finish--> START"],
        CHECK_NAMES[5]: ["event right"],
        CHECK_NAMES[6]: ["state RIGHT"],
        CHECK_NAMES[7]: ["state LEFT"],
    }
    problem = first_problem(bad)
    assert problem is not None
    assert problem.entry == "DONE --finish--> START"
    assert refusal(FOUR_PROBLEMS).args == problem.args


def test_first_problem_is_none_for_a_sound_table() -> None:
    assert first_problem(definition(arguments())) is None


def test_a_check_result_can_be_false() -> None:
    bad = definition(FOUR_PROBLEMS)
    results = [(check.name, next(iter(check.run(bad)), None) is None) for check in CHECKS]
    assert results == [(name, index < 4) for index, name in enumerate(CHECK_NAMES)]
    # `check_results()` reports the same for a Lifecycle holding that definition (one built
    # directly, bypassing `build_lifecycle`, which would refuse it).
    unchecked = Lifecycle(
        name="toy",
        states=tuple(Spot),
        events=tuple(Move),
        initial=Spot.START,
        terminal=frozenset({Spot.DONE}),
        table=MappingProxyType({}),
        _definition=bad,
    )
    assert unchecked.check_results() == results


@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_every_real_lifecycle_passes_every_check(name: str) -> None:
    assert LIFECYCLES[name].check_results() == [(check, True) for check in CHECK_NAMES]
