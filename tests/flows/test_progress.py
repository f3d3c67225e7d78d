"""Tests of progress reporting (`provenflow.flows._progress`)."""

from __future__ import annotations

import contextvars
from fractions import Fraction

import pytest

from provenflow.flows import Task, reporting_progress
from provenflow.flows._progress import report_progress


class Step(Task):
    def execute(self, fraction: float) -> None:
        self.update_progress(fraction)


def test_values_are_clamped_and_converted_to_float() -> None:
    seen: list[float] = []
    with reporting_progress(seen.append):
        for value in (-1, 0, Fraction(1, 4), 0.75, 1, 7):
            report_progress("task 't'", value)
    assert seen == [0.0, 0.0, 0.25, 0.75, 1.0, 1.0]
    assert all(type(value) is float for value in seen)


def test_blocks_nest_and_restore_the_previous_callback() -> None:
    outer: list[float] = []
    inner: list[float] = []
    with reporting_progress(outer.append):
        Step().call_execute({"fraction": 0.1})
        with reporting_progress(inner.append):
            Step().call_execute({"fraction": 0.2})
        Step().call_execute({"fraction": 0.3})
    Step().call_execute({"fraction": 0.4})
    assert outer == [0.1, 0.3]
    assert inner == [0.2]


def test_the_callback_is_restored_when_the_block_raises() -> None:
    seen: list[float] = []
    with pytest.raises(RuntimeError), reporting_progress(seen.append):
        raise RuntimeError("boom")
    Step().call_execute({"fraction": 0.5})
    assert seen == []


def test_each_context_has_its_own_callback() -> None:
    first: list[float] = []
    second: list[float] = []

    def run(callback: list[float], fraction: float) -> None:
        with reporting_progress(callback.append):
            Step().call_execute({"fraction": fraction})

    contextvars.copy_context().run(run, first, 0.25)
    contextvars.copy_context().run(run, second, 0.75)
    assert (first, second) == ([0.25], [0.75])
