"""A search stopped by a bound says which fault level it finished, and that claim is true.

The search goes in order of faults (crashes, injected failures, suspensions), so when a bound
stops it while it explores runs with L faults, every run with fewer was explored: every
violation the complete search finds with fewer than L faults, the bounded one found too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from provenflow.cli import main
from provenflow.verification import Report, Violation, check
from tests.helpers import make_careless, make_sound

SAGA = Path(__file__).resolve().parents[2] / "examples" / "flawed_saga.py"


def faults(violation: Violation) -> int:
    """The faults on a violation's path: injected failures, crashes, suspensions."""
    kinds = [event["kind"] for event in violation.events]
    raised = sum(event.get("outcome") == "raises" for event in violation.events)
    return raised + kinds.count("crash") + kinds.count("suspend")


def found(report: Report, below: int | None = None) -> set[tuple[str, int]]:
    """Each violation as (message, faults), those with fewer than `below` faults if given."""
    pairs = {(violation.message, faults(violation)) for violation in report.violations}
    return {pair for pair in pairs if below is None or pair[1] < below}


@pytest.mark.parametrize("snapshots", [False, True])
def test_a_bounded_search_found_every_violation_below_the_level_it_reports(
    snapshots: bool,
) -> None:
    options = {"crashes": 2, "all_violations": True, "snapshots": snapshots}

    def make() -> object:
        return make_careless()[0]  # snapshots take no context

    complete = check(make, **options)
    assert complete.incomplete is None and complete.fault_level is None
    assert {count for _, count in found(complete)} >= {1, 2, 3}
    levels = set()
    for max_states in range(20, complete.states_explored, complete.states_explored // 8):
        bounded = check(make, max_states=max_states, **options)
        assert bounded.incomplete == f"stopped at max_states={max_states}"
        level = bounded.fault_level
        assert level is not None and bounded.fault_level_explored is not None
        assert 0.0 <= bounded.fault_level_explored <= 1.0
        assert found(complete, below=level) <= found(bounded), (max_states, level)
        assert bounded.complete_up_to == (level - 1 if level else None)
        levels.add(level)
    assert len(levels) >= 3  # the claim was tested at several levels, not only the first


def test_the_report_prints_the_level_it_finished_and_how_far_the_next_got() -> None:
    complete = check(make_sound, crashes=2)
    assert complete.ok and complete.describe_level() is None
    assert "sound up to" not in str(complete)
    for max_states in range(50, complete.states_explored, 50):
        bounded = check(make_sound, crashes=2, max_states=max_states)
        level, explored = bounded.fault_level, bounded.fault_level_explored
        assert level is not None and explored is not None
        if level >= 2:
            break
    else:
        pytest.fail("no bound stopped the search at 2 faults or more")
    line = str(bounded).splitlines()[2]
    assert line == (
        f"sound up to {level - 1} fault{'s' if level > 2 else ''}; {level} faults: "
        f"{int(explored * 100)} % explored (crashes, injected failures and suspensions are "
        "faults)"
    )
    assert re.fullmatch(r"sound up to \d+ faults?; \d+ faults: \d+ % explored .*", line)


def test_a_search_stopped_among_the_runs_without_faults_claims_no_level() -> None:
    bounded = check(make_sound, crashes=2, max_states=3)
    assert bounded.fault_level == 0
    assert str(bounded).splitlines()[2].startswith("sound at no fault level; runs with 0 faults: ")


def test_with_violations_the_level_is_complete_not_sound() -> None:
    bounded = check(make_careless, crashes=2, max_states=60, all_violations=True)
    assert bounded.violations and bounded.fault_level is not None
    level = bounded.describe_level()
    assert level is not None and level.startswith("complete ")


def test_verify_json_gives_the_fault_level() -> None:
    runner = CliRunner()
    args = ["verify", f"{SAGA}:make_fixed", "--invariant", f"{SAGA}:consistent", "--json"]
    bounded = json.loads(runner.invoke(main, [*args, "--max-states", "40"]).output)
    assert bounded["incomplete"] == "stopped at max_states=40"
    assert isinstance(bounded["fault_level"], int)
    level = bounded["fault_level"]
    assert bounded["complete_up_to"] == (level - 1 if level else None)
    assert 0.0 <= bounded["fault_level_explored"] <= 1.0
    complete = json.loads(runner.invoke(main, args).output)
    assert complete["ok"] is True
    assert complete["fault_level"] is None and complete["fault_level_explored"] is None
    assert complete["complete_up_to"] is None
    printed = runner.invoke(main, [*args[:-1], "--max-states", "40"]).output
    assert re.search(r"^(sound|complete) (up to|at no fault level)", printed, re.MULTILINE)
