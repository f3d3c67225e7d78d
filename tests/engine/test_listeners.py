"""The built-in listeners: logging, printing, timing, capturing."""

from __future__ import annotations

import io
import logging

import pytest

import provenflow as pf
from provenflow.engine import CaptureListener, printing_durations
from provenflow.persistence import Transition
from tests.helpers import Journal, make_task


def two_tasks(journal: Journal, fail: bool = False) -> pf.Flow:
    return pf.LinearFlow("pair").add(make_task(journal, "a"), make_task(journal, "b", fail=fail))


def test_printing_listener_prints_one_line_per_transition() -> None:
    stream = io.StringIO()
    listener = pf.PrintingListener(stream, kinds=["flow", "task"])
    pf.Engine(two_tasks(Journal()), listeners=[listener]).run()
    assert stream.getvalue().splitlines() == [
        "flow: PENDING --start--> RUNNING",
        "task 'a': PENDING --start--> RUNNING (attempt 1)",
        "task 'a': RUNNING --succeed--> SUCCESS (attempt 1)",
        "task 'b': PENDING --start--> RUNNING (attempt 1)",
        "task 'b': RUNNING --succeed--> SUCCESS (attempt 1)",
        "flow: RUNNING --succeed--> SUCCESS",
    ]


def test_logging_listener_logs_failures_as_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="provenflow")
    engine = pf.Engine(two_tasks(Journal(), fail=True), listeners=[pf.LoggingListener()])
    with pytest.raises(ValueError):
        engine.run()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["task 'b': RUNNING --fail--> FAILURE (attempt 1): ValueError: b failed"]
    assert any("--reverted--> REVERTED" in r.getMessage() for r in caplog.records)


def test_timing_listener_measures_execute_and_revert_from_recorded_times() -> None:
    timing = pf.TimingListener()
    engine = pf.Engine(two_tasks(Journal(), fail=True), listeners=[timing])
    with pytest.raises(ValueError):
        engine.run()
    assert sorted(timing.durations) == ["a", "b"]
    assert sorted(timing.durations["a"]) == ["execute", "revert"]
    assert all(d >= 0 for phases in timing.durations.values() for d in phases.values())
    again = pf.TimingListener.from_history(engine.history())
    assert again.durations == timing.durations


def test_printing_durations_reports_each_measure() -> None:
    stream = io.StringIO()
    pf.Engine(two_tasks(Journal()), listeners=[printing_durations(stream)]).run()
    lines = stream.getvalue().splitlines()
    assert [line.split(" took ")[0] for line in lines] == ["a: execute", "b: execute"]


def test_capture_listener_can_keep_only_some_lifecycles() -> None:
    capture = CaptureListener(kinds=["flow"])
    pf.Engine(two_tasks(Journal()), listeners=[capture]).run()
    assert capture.steps() == [(None, "start", "RUNNING"), (None, "succeed", "SUCCESS")]


def test_a_listener_hears_only_what_was_recorded() -> None:
    recorded_when_heard: list[bool] = []
    holder: dict[str, pf.Engine] = {}

    class Checker:
        def on_transition(self, transition: Transition) -> None:
            if transition.lifecycle != "engine":  # the loop's phases are not recorded
                recorded_when_heard.append(transition in holder["engine"].history())

    engine = holder["engine"] = pf.Engine(two_tasks(Journal()), listeners=[Checker()])
    engine.run()
    assert len(recorded_when_heard) == len(engine.history()) == 6
    assert all(recorded_when_heard)
