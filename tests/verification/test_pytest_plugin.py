"""The pytest plugin's `assert_sound` and `provenflow_check`: a user's own flow in their tests.

A user's test file is run with `pytester`: a sound flow passes, a flawed one fails with the
numbered trace and the reproduction in the output, and a search stopped by a bound fails
saying so (nothing is proven).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest

import provenflow as pf
import provenflow.verification
from provenflow.verification import check
from provenflow.verification._pytest import assert_sound


def plugin_args() -> list[str]:
    """`-p` for the plugin, unless the installed entry point already loads it."""
    if any(point.name == "provenflow" for point in entry_points(group="pytest11")):
        return []
    return ["-p", "provenflow.verification._pytest"]


# Until `assert_sound` is exported from provenflow.verification, the user's file imports it
# from the plugin module; the user's code is otherwise what the docs show.
IMPORT = (
    "from provenflow.verification import assert_sound"
    if hasattr(provenflow.verification, "assert_sound")
    else "from provenflow.verification._pytest import assert_sound"
)

FLOWS = """
import provenflow as pf


class Reserve(pf.Task):
    def execute(self):
        return {"id": 7}

    def revert(self, result, **_):
        pass


class CarelessReserve(Reserve):
    def revert(self, result, **_):
        assert result["id"] == 7  # assumes execute returned


class Charge(pf.Task):
    def execute(self):
        return None

    def revert(self, **_):
        pass


def make_sound():
    return pf.LinearFlow("order").add(Reserve(name="reserve"), Charge(name="charge"))


def make_flawed():
    return pf.LinearFlow("order").add(CarelessReserve(name="reserve"), Charge(name="charge"))
"""


def user_tests(body: str) -> str:
    return f"{IMPORT}\n{FLOWS}\n{body}"


def test_a_sound_flow_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=user_tests(
            "def test_sound():\n"
            "    report = assert_sound(make_sound)\n"
            "    assert report.ok and report.states_explored > 0\n"
        )
    )
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(passed=1)


def test_a_flawed_flow_fails_with_the_trace_and_the_reproduction(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_user=user_tests("def test_flawed():\n    assert_sound(make_flawed)\n"))
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*assert_sound(make_flawed)*",
            "E *Failed: model check of make_flawed found a violation (states explored: *",
            "E *violation: the run ended FAILURE: a revert raised*",
            "E *trace:",
            "E *   1. *",
            "E * *. execute 'reserve' raises*",
            "E *reproduction:",
            "E *    from provenflow.verification import replay",
            "E *    print(replay('test_user:make_flawed', choices=*))",
        ]
    )


def test_the_fixture_gives_the_same_check(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=FLOWS
        + "\n\ndef test_sound(provenflow_check):\n    provenflow_check(make_sound, crashes=1)\n"
        + "\n\ndef test_flawed(provenflow_check):\n    provenflow_check(make_flawed, crashes=0)\n"
    )
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *Failed: model check of make_flawed found a violation*",
            "E *checked with crashes=0; replay needs the same bounds and checks",
            "E *violation: the run ended FAILURE: a revert raised*",
        ]
    )


def test_a_search_stopped_by_a_bound_fails_saying_nothing_is_proven(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_user=user_tests("def test_bounded():\n    assert_sound(make_sound, max_states=1)\n")
    )
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *Failed: model check of make_sound is incomplete, so nothing is proven: "
            "stopped at max_states=1",
            "E *(states explored: *); raise the bound or make the flow smaller",
        ]
    )


# -- assert_sound called directly -----------------------------------------------------------------


class World:
    def __init__(self) -> None:
        self.charged = 0


def make_double_charge() -> tuple[pf.Flow, World]:
    world = World()

    class Charge(pf.Task):
        def execute(self) -> None:
            world.charged += 1  # not idempotent: a crash between execute and record repeats it

        def revert(self, **_: Any) -> None:
            world.charged = 0

    return pf.LinearFlow("pay").add(Charge(name="charge")), world


def charged_once(world: World, outcome: str) -> bool:
    return world.charged == (1 if outcome == "SUCCESS" else 0)


def test_the_failure_message_is_the_printed_counterexample() -> None:
    report = check(make_double_charge, crashes=1, invariant=charged_once)
    violation = report.violations[0]
    with pytest.raises(pytest.fail.Exception) as caught:
        assert_sound(make_double_charge, crashes=1, invariant=charged_once)
    message = str(caught.value)
    assert str(violation) in message
    assert violation.reproduction() in message.replace("\n    ", "\n")
    assert "checked with crashes=1, invariant=charged_once" in message


def test_a_sound_flow_returns_its_report() -> None:
    report = assert_sound(make_double_charge, crashes=0, invariant=charged_once)
    assert report.ok
    assert report.paths > 0
