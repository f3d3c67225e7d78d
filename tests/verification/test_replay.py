"""Replaying a path (`provenflow/verification/_replay.py`): under the bounds and store it was
found with, and no other."""

from __future__ import annotations

import pytest

from provenflow.errors import UsageError
from provenflow.verification import Violation, check, replay
from tests.helpers import consistent, make_double_charge, make_sound


@pytest.fixture(scope="module")
def double_charge() -> Violation:
    return check(make_double_charge, crashes=1, invariant=consistent).violations[0]


def test_a_violation_replays_under_its_own_bounds(double_charge: Violation) -> None:
    text = replay(make_double_charge, double_charge, invariant=consistent)
    assert text == replay(
        make_double_charge, double_charge.choices, crashes=1, invariant=consistent
    )
    lines = text.splitlines()
    assert lines[-1] == "violation: invariant consistent does not hold"
    assert lines[-2] == 'world: {"__class__":"World","charged":2,"reserved":1,"shipped":1}'
    assert lines[:-2] == list(double_charge.steps)


def test_its_data_replays_too(double_charge: Violation) -> None:
    data = double_charge.to_data()
    assert replay(make_double_charge, data, invariant=consistent) == replay(
        make_double_charge, double_charge, invariant=consistent
    )


def test_the_same_bounds_given_again_are_accepted(double_charge: Violation) -> None:
    text = replay(
        make_double_charge, double_charge, {}, crashes=1, suspends=0, invariant=consistent
    )
    assert text.endswith("violation: invariant consistent does not hold")


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"crashes": 2}, "crashes=2 given, but the violation was found with crashes=1"),
        ({"suspends": 1}, "suspends=1 given, but the violation was found with suspends=0"),
        (
            {"revert_failures": True},
            "revert_failures=1 given, but the violation was found with revert_failures=0",
        ),
        (
            {"crashes": 0, "store": {"order": 7}},
            "crashes=0, store={'order': 7} given, but the violation was found with crashes=1, "
            "store={}",
        ),
    ],
)
def test_other_bounds_than_the_violations_are_refused_naming_both(
    double_charge: Violation, given: dict[str, object], named: str
) -> None:
    with pytest.raises(UsageError) as refused:
        replay(make_double_charge, double_charge, invariant=consistent, **given)  # type: ignore[arg-type]
    assert named in str(refused.value)


def test_a_choice_its_path_does_not_have_is_refused(double_charge: Violation) -> None:
    # No choice of this path has six options (an outcome has at most four: runs, raises, and
    # two crashes).
    choices = [*double_charge.choices[:5], 0, 0, 0, 5]
    with pytest.raises(UsageError) as refused:
        replay(make_double_charge, choices, crashes=1, invariant=consistent)
    assert (
        "replay: choice 9 is 5, but with crashes=1, suspends=0, revert_failures=0, workers=2 "
        in (str(refused.value))
    )


def test_a_path_that_ends_before_its_last_choice_is_refused(double_charge: Violation) -> None:
    # Without crashes, the writes are no choice at all: the choices run out of step with the
    # path, which ends SUCCESS with choices left.
    with pytest.raises(UsageError) as refused:
        replay(make_double_charge, double_charge.choices, crashes=0, invariant=consistent)
    assert str(refused.value).startswith(
        "replay: with crashes=0, suspends=0, revert_failures=0, workers=2 the path ends (finished: "
        "SUCCESS) before choice "
    )


def test_choices_alone_take_checks_defaults() -> None:
    text = replay(make_sound, [], invariant=consistent)
    assert text.splitlines()[-1].startswith("next choice: write [flow RUNNING], crash before")


def test_bounds_out_of_range_are_refused() -> None:
    with pytest.raises(UsageError, match=r"replay: workers=0: .* workers 1 or more"):
        replay(make_double_charge, [0], workers=0)
    with pytest.raises(UsageError, match=r"replay: crashes=-1"):
        replay(make_double_charge, [0], crashes=-1)
