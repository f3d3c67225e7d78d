"""Counterexample diagrams: `trace` and `trace_path` over real violations of the model checker.

Two real counterexamples are drawn: the flawed saga of `examples/flawed_saga.py` (a revert that
assumes `execute` returned; its shortest trace loses a write to a crash) and a double charge
(a non-idempotent charge run again after a crash, with a suspension and a retry atom on the
way). Golden files (`trace_*`) hold every format; the other tests check what the drawings must
say whatever their layout, and that data which is not a violation is refused clearly.
"""

from __future__ import annotations

import json
import re
import shutil
from typing import Any
from xml.etree import ElementTree

import pytest

import provenflow as pf
from examples.flawed_saga import consistent, make_flawed
from provenflow.diagrams import render, trace, trace_path
from provenflow.errors import UsageError
from provenflow.verification import Violation, check
from tests.diagrams import assert_golden

EXTENSIONS = {"mermaid": "mmd", "dot": "dot", "md": "md"}


class Account:
    """What the double-charge flow changes outside the engine."""

    def __init__(self) -> None:
        self.charged = 0
        self.shipped = 0

    def __repr__(self) -> str:
        return f"Account(charged={self.charged}, shipped={self.shipped})"


def make_double_charge() -> tuple[pf.Flow, Account]:
    """A charge that is not idempotent, then shipping retried by `Times(2)`."""
    account = Account()

    class Charge(pf.Task):
        def execute(self) -> None:
            account.charged += 10

        def revert(self, **_: Any) -> None:
            account.charged = 0

    class Ship(pf.Task):
        def execute(self) -> None:
            account.shipped = 1

        def revert(self, **_: Any) -> None:
            account.shipped = 0

    shipping = pf.LinearFlow("shipping", retry=pf.Times(2, name="again")).add(Ship(name="ship"))
    return pf.LinearFlow("order").add(Charge(name="charge"), shipping), account


def charged_once(account: Account, outcome: str) -> bool:
    return account.charged == (10 if outcome == "SUCCESS" else 0)


@pytest.fixture(scope="module")
def saga() -> Violation:
    report = check(make_flawed, crashes=1, invariant=consistent)
    assert not report.ok
    return report.violations[0]


@pytest.fixture(scope="module")
def double_charge() -> Violation:
    report = check(make_double_charge, crashes=1, suspends=1, invariant=charged_once)
    assert not report.ok
    return report.violations[0]


def step_number(violation: Violation, atom: str | None, event: str) -> int:
    """The number of the (only) step recording `event` for `atom` (None: the flow)."""
    (number,) = [
        number
        for number, found in enumerate(violation.events, 1)
        if found["kind"] == "record" and found["atom"] == atom and found["event"] == event
    ]
    return number


def kinds(violation: Violation) -> set[str]:
    return {event["kind"] for event in violation.events}


def test_the_two_counterexamples_cover_every_kind_of_step(
    saga: Violation, double_charge: Violation
) -> None:
    assert kinds(saga) | kinds(double_charge) == {
        "record", "execute", "revert", "lost_write", "crash", "resume", "suspend",
    }  # fmt: skip
    outcomes = {event.get("outcome") for event in (*saga.events, *double_charge.events)}
    assert {"runs", "raises", "crash after"} <= outcomes
    assert any(event.get("lifecycle") == "retry" for event in double_charge.events)


# -- golden files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_the_saga_trace_matches_its_golden_files(saga: Violation, format: str) -> None:
    assert_golden(f"trace_saga.{EXTENSIONS[format]}", trace(saga, format))


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_the_double_charge_trace_matches_its_golden_files(
    double_charge: Violation, format: str
) -> None:
    assert_golden(f"trace_double_charge.{EXTENSIONS[format]}", trace(double_charge, format))


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_the_paths_through_lifecycles_match_their_golden_files(
    saga: Violation, double_charge: Violation, format: str
) -> None:
    extension = EXTENSIONS[format]
    assert_golden(f"trace_path_saga_flow.{extension}", trace_path(saga, format=format))
    reserve = trace_path(saga, "task", "reserve", format)
    assert_golden(f"trace_path_saga_reserve.{extension}", reserve)
    again = trace_path(double_charge, "retry", "again", format)
    assert_golden(f"trace_path_double_charge_again.{extension}", again)


# -- what each format says ------------------------------------------------------------------------


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_a_violation_and_its_data_as_json_draw_the_same(
    double_charge: Violation, format: str
) -> None:
    data = json.loads(json.dumps(double_charge.to_data()))
    assert trace(data, format) == trace(double_charge, format)
    assert trace_path(data, "task", "charge", format) == (
        trace_path(double_charge, "task", "charge", format)
    )


def test_the_sequence_diagram_has_every_step_in_order(double_charge: Violation) -> None:
    lines = trace(double_charge).splitlines()
    assert lines[0] == "sequenceDiagram"
    assert lines[2:7] == [
        "    participant Engine",
        "    participant Store",
        "    participant charge",
        "    participant again",
        "    participant ship",
    ]
    numbers = [int(found) for line in lines for found in re.findall(r": (\d+)\. ", line)]
    assert numbers == list(range(1, len(double_charge.events) + 1))
    records = [line for line in lines if line.startswith("    Engine->>Store: ")]
    assert len(records) == sum(event["kind"] == "record" for event in double_charge.events)
    crashed = 1 + [event.get("outcome") for event in double_charge.events].index("crash after")
    assert (
        f"    Engine->>charge: {crashed}. crash after execute 'charge', before its outcome is "
        "recorded"
    ) in lines
    crash = lines.index(
        f"        Note over Engine,Store: {crashed + 1}. CRASH: the process dies#59; memory is lost"
    )
    assert lines[crash - 1] == "    rect rgb(255, 228, 225)" and lines[crash + 1] == "    end"
    assert any(line.startswith("    Note over Engine: ") and "suspend" in line for line in lines)
    assert lines[-2] == f"        Note over Engine,ship: VIOLATION: {double_charge.message}"


def test_a_raising_execute_is_drawn_as_a_failed_call(saga: Violation) -> None:
    text = trace(saga)
    assert "    Engine-xreserve: 5. execute 'reserve' raises" in text.splitlines()
    assert "    Engine-xStore: 1. crash before writing [flow RUNNING]" in text.splitlines()


def test_the_markdown_lists_every_step_then_the_violation_and_its_replay(
    saga: Violation,
) -> None:
    lines = trace(saga, "md").splitlines()
    rows = [re.fullmatch(r"\| (\d+) \| (.*?) \| (.*) \|", line) for line in lines]
    steps = [(int(row[1]), row[3]) for row in rows if row]
    assert [number for number, _ in steps] == list(range(1, len(saga.steps) + 1))
    assert [text for _, text in steps[2:]] == [step.replace("|", "\\|") for step in saga.steps[2:]]
    assert steps[1] == (2, "**CRASH: the process dies; memory is lost**")
    violation = lines.index(f"**Violation:** {saga.message}")
    assert violation > lines.index(f"| {len(saga.steps)} | flow | {saga.steps[-1]} |")
    replay_call = lines[violation + 2]
    assert replay_call.startswith(
        f"Replay it: `replay('examples.flawed_saga:make_flawed', choices={list(saga.choices)}, "
    )
    assert "crashes=1, suspends=0" in replay_call


def test_the_dot_trace_draws_a_cluster_per_entity_with_numbered_paths(
    double_charge: Violation,
) -> None:
    text = trace(double_charge, "dot")
    labels = re.findall(r'label="([^"]*)", style="rounded"', text)
    assert labels == ["flow", "task 'charge'", "retry 'again'", "task 'ship'"]
    for atom, lifecycle in ((None, "flow"), ("charge", "task")):
        number = step_number(double_charge, atom, "crash_recovered")
        prefix = "flow" if atom is None else f"task {atom}"
        assert (
            f'"{prefix}/RUNNING" -> "{prefix}/RUNNING" [color="#1f6feb", fontcolor="#1f6feb", '
            f'label="crash_recovered ({number})", penwidth="2.5"];'
        ) in text, lifecycle


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_every_dot_drawing_of_a_trace_renders(saga: Violation, double_charge: Violation) -> None:
    sources = [
        trace(saga, "dot"),
        trace(double_charge, "dot"),
        trace_path(saga, "task", "reserve", "dot"),
        trace_path(double_charge, "retry", "again", "dot"),
    ]
    for source in sources:
        root = ElementTree.fromstring(render(source, "svg"))
        assert root.tag.endswith("svg")


def test_a_path_numbers_each_edge_by_the_steps_that_took_it(double_charge: Violation) -> None:
    recovered = step_number(double_charge, "charge", "crash_recovered")
    started = step_number(double_charge, "charge", "start")
    text = trace_path(double_charge, "task", "charge", format="md")
    assert f"| `RUNNING` | `crash_recovered` | `RUNNING` | {recovered} |" in text
    assert f"| `PENDING` | `start` | `RUNNING` | {started} |" in text
    assert "Task 'charge' in a counterexample, its edges numbered by step." in text
    mermaid = trace_path(double_charge, "task", "charge")
    assert f"    RUNNING --> RUNNING: crash_recovered ({recovered})" in mermaid.splitlines()
    assert "        violation: invariant charged_once does not hold" in mermaid.splitlines()


# -- refusals -------------------------------------------------------------------------------------


def saga_data(saga: Violation, **changes: Any) -> dict[str, Any]:
    data = saga.to_data()
    data.update(changes)
    return data


def event_changed(saga: Violation, index: int, **changes: Any) -> dict[str, Any]:
    events = [dict(event) for event in saga.events]
    events[index].update(changes)
    return saga_data(saga, events=events)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda saga: 42, "not a model checker violation: got int; expected a "),
        (
            lambda saga: check(make_flawed, crashes=0),
            "not a model checker violation: got Report (draw one of its .violations)",
        ),
        (lambda saga: saga_data(saga, message=None), "no 'message' string"),
        (lambda saga: {"message": "m"}, "no 'events' list"),
        (lambda saga: saga_data(saga, events=[]), "it has steps but no 'events'"),
        (lambda saga: saga_data(saga, events=["x"]), "event 1 is str, not a dict"),
        (
            lambda saga: event_changed(saga, 0, kind="explode"),
            "event 1: unknown kind 'explode' (kinds: record, execute, revert, lost_write",
        ),
        (
            lambda saga: event_changed(saga, 2, new="SUCCESS"),
            "event 3: PENDING --start--> SUCCESS is not an edge of the flow table",
        ),
        (
            lambda saga: event_changed(saga, 2, lifecycle="job"),
            "event 3: 'lifecycle' must be task, retry or flow, got 'job'",
        ),
        (lambda saga: event_changed(saga, 3, atom=None), "event 4: 'atom' must be a name"),
        (lambda saga: event_changed(saga, 4, outcome="explodes"), "event 5: 'outcome' must be"),
        (lambda saga: event_changed(saga, 4, text=3), "event 5: 'text' must be a string"),
        (lambda saga: saga_data(saga, bounds="x"), "'bounds' must map names to numbers"),
    ],
)
def test_data_that_is_not_a_violation_is_refused_naming_what_is_wrong(
    saga: Violation, make: Any, message: str
) -> None:
    data = make(saga)
    for draw in (lambda: trace(data), lambda: trace_path(data)):
        with pytest.raises(UsageError) as caught:
            draw()
        assert message in str(caught.value)
        assert "expected a provenflow.verification.Violation, or its to_data() dict" in str(
            caught.value
        )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda v: trace(v, "svg"), "unknown trace format 'svg' (allowed: mermaid, dot, md"),
        (lambda v: trace_path(v, format="png"), "unknown diagram format 'png'"),
        (
            lambda v: trace_path(v, "flow", "charge"),
            "trace_path: the flow lifecycle takes no atom (got atom='charge')",
        ),
        (
            lambda v: trace_path(v, "task", "again"),
            "trace_path: no task 'again' in this counterexample (task atoms with records: "
            "'charge', 'ship')",
        ),
        (lambda v: trace_path(v, "task"), "trace_path: no task None in this counterexample"),
        (
            lambda v: trace_path(v, "engine"),
            "trace_path: unknown lifecycle 'engine' (allowed: flow, task, retry)",
        ),
    ],
)
def test_bad_arguments_are_refused_naming_what_is_allowed(
    double_charge: Violation, call: Any, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        call(double_charge)
    assert message in str(caught.value)


def test_atoms_mermaid_cannot_name_are_aliased_and_text_is_escaped() -> None:
    data = {
        "message": "broken; #1",
        "events": [
            {"kind": "record", "lifecycle": "task", "atom": "count-stock", "old": "PENDING",
             "event": "start", "new": "RUNNING", "text": "record count-stock: PENDING -> RUNNING"},
            {"kind": "execute", "atom": "count-stock", "outcome": "crash before",
             "text": "crash before execute 'count-stock' does anything"},
            {"kind": "record", "lifecycle": "task", "atom": "Store", "old": "PENDING",
             "event": "start", "new": "RUNNING", "text": "record Store: PENDING -> RUNNING"},
        ],
    }  # fmt: skip
    lines = trace(data).splitlines()
    assert "    participant atom1 as count-stock" in lines
    assert "    participant atom2 as Store" in lines
    assert "    Engine-xatom1: 2. crash before execute 'count-stock' does anything" in lines
    assert lines[-2] == "        Note over Engine,atom2: VIOLATION: broken#59; #35;1"
    assert (
        trace(data, "md").splitlines()[0] == "Counterexample found by the model checker in a flow."
    )
