"""The pytest plugin's `assert_sound` and `provenflow_check`: a user's own flow in their tests.

A user's test file is run with `pytester`: a sound flow passes, a flawed one fails with the
numbered trace and the reproduction in the output, and a search stopped by a bound fails
saying so (and which fault level it finished). The last tests draw coverage:
`--provenflow-coverage-diagrams` writes each lifecycle with its edges marked taken or never
taken.
"""

from __future__ import annotations

import shutil
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

import provenflow as pf
import provenflow.verification
from provenflow.diagrams import lifecycle
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


@pytest.mark.parametrize(
    ("max_states", "said"),
    [
        (1, "is incomplete, so nothing is proven: stopped at max_states=1"),
        (
            60,
            "is incomplete: stopped at max_states=60; sound up to * fault*; * faults: * % "
            "explored (*); nothing more is proven",
        ),
    ],
)
def test_a_search_stopped_by_a_bound_fails_saying_what_it_proved(
    pytester: pytest.Pytester, max_states: int, said: str
) -> None:
    body = f"def test_bounded():\n    assert_sound(make_sound, max_states={max_states})\n"
    pytester.makepyfile(test_user=user_tests(body))
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"E *Failed: model check of make_sound {said}",
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


# -- coverage drawings ----------------------------------------------------------------------------

ONE_TASK = """
import provenflow as pf

def test_one_task():
    pf.run(pf.LinearFlow("one").add(pf.task(lambda: 1, name="only", provides="x")))
"""

LIFECYCLE_NAMES = ("task", "retry", "flow", "engine", "job")


def test_coverage_drawings_mark_every_edge_taken_or_never_taken(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_user=ONE_TASK)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage-diagrams=drawings")
    result.assert_outcomes(passed=1)
    assert result.ret == 0  # not strict: drawing is reporting, not judging
    drawn = pytester.path / "drawings"
    expected = {f"{name}.{extension}" for name in LIFECYCLE_NAMES for extension in ("mmd", "dot")}
    if shutil.which("dot"):
        expected |= {f"{name}.svg" for name in LIFECYCLE_NAMES}
    assert {path.name for path in drawn.iterdir()} == expected
    task = (drawn / "task.mmd").read_text(encoding="utf-8")
    assert "    PENDING --> RUNNING: ✓ start" in task.splitlines()
    assert "    RUNNING --> FAILURE: ✗ fail (never taken)" in task.splitlines()
    assert "coverage 2 of 13 edges taken" in task
    taken = [("PENDING", "start", "RUNNING"), ("RUNNING", "succeed", "SUCCESS")]
    assert (drawn / "task.dot").read_text(encoding="utf-8") == lifecycle(
        "task", "dot", covered=taken
    )
    job_edges = sum(map(len, pf.fsm.LIFECYCLES["job"].table.values()))
    assert f"coverage 0 of {job_edges} edges taken" in (drawn / "job.dot").read_text(
        encoding="utf-8"
    )
    if shutil.which("dot"):
        svg = ElementTree.fromstring((drawn / "flow.svg").read_bytes())
        assert svg.tag.endswith("svg")
    result.stdout.fnmatch_lines(
        [
            "*provenflow transition coverage*",
            "  task     2/13 edges covered, 0 listed unreachable, 11 uncovered",
            "drawings of each lifecycle's coverage in drawings/: <name>.mmd, .dot*",
        ]
    )


def test_without_dot_the_drawings_are_text_and_the_summary_says_why(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytester.makepyfile(test_user=ONE_TASK)
    stale = pytester.path / "drawings" / "task.svg"
    stale.parent.mkdir()
    stale.write_text("<svg>from an earlier run</svg>")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot there
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage-diagrams=drawings")
    result.assert_outcomes(passed=1)
    names = {path.name for path in (pytester.path / "drawings").iterdir()}
    assert names == {f"{name}.{ext}" for name in LIFECYCLE_NAMES for ext in ("mmd", "dot")}
    result.stdout.fnmatch_lines(
        [
            "drawings of each lifecycle's coverage in drawings/: <name>.mmd and .dot (no .svg: "
            "cannot render svg: the Graphviz program `dot` is not on PATH; install it*",
        ]
    )


def test_coverage_drawings_that_cannot_be_written_fail_the_session(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_user=ONE_TASK)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage-diagrams=test_user.py")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["could not write the coverage drawings into test_user.py: *"])


def test_an_empty_drawings_folder_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=ONE_TASK)
    result = pytester.runpytest(*plugin_args(), "--provenflow-coverage-diagrams=")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--provenflow-coverage-diagrams=DIR: DIR must not be empty*"])
