"""A trace's steps as text (`provenflow/verification/_steps.py`): records show their values,
each cut to a readable length with how much was left out."""

from __future__ import annotations

from provenflow.failure import Failure
from provenflow.persistence import Transition
from provenflow.verification._steps import LONGEST, render, shortened


def record(result: object = None, failure: Failure | None = None) -> Transition:
    event, new = ("fail", "FAILURE") if failure else ("succeed", "SUCCESS")
    return Transition("fetch", "task", "RUNNING", event, new, 1, 0.0, result, failure)


def test_short_text_is_kept_whole() -> None:
    assert shortened("x" * LONGEST) == "x" * LONGEST


def test_long_text_says_how_much_was_cut() -> None:
    assert shortened("y" * (LONGEST + 1_234)) == "y" * LONGEST + "… (1,234 more characters)"
    assert shortened("abcdef", 2) == "ab… (4 more characters)"


def test_a_line_break_stays_on_one_line() -> None:
    assert shortened("first\nsecond") == "first\\nsecond"


def test_a_record_shows_its_result_shortened() -> None:
    assert (
        render(record({"id": 7})) == "record fetch: RUNNING --succeed--> SUCCESS, result {'id': 7}"
    )
    page = "<html>" + "p" * 5_000
    line = render(record(page))
    assert line.startswith("record fetch: RUNNING --succeed--> SUCCESS, result '<html>ppp")
    assert line.endswith(f"… ({len(repr(page)) - LONGEST:,} more characters)")
    assert len(line) < 250


def test_a_record_shows_its_failure_shortened() -> None:
    failure = Failure.from_exception(ValueError("bad row:\n" + "r" * 3_000))
    line = render(record(failure=failure))
    assert line.startswith(
        "record fetch: RUNNING --fail--> FAILURE, failure ValueError: bad row:\\nrrr"
    )
    assert line.endswith(f"… ({len(str(failure)) + 1 - LONGEST:,} more characters)")


def test_a_record_without_a_value_is_the_transition_alone() -> None:
    assert render(record()) == "record fetch: RUNNING --succeed--> SUCCESS"
    flow = Transition(None, "flow", "RUNNING", "succeed", "SUCCESS", 0, 0.0)
    assert render(flow) == "record flow: RUNNING --succeed--> SUCCESS"
