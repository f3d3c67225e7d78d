"""Counterexample diagrams: `trace` and `trace_path` over real violations of the model checker.

Two real counterexamples are drawn: the flawed saga of `examples/flawed_saga.py` (a revert that
assumes `execute` returned) and a double charge (a non-idempotent charge run again after a
crash, here with a suspension and a retry atom on the way). Each is drawn twice:

- as found by `check` now (the fixtures `saga` and `double_charge`): the tests say what every
  drawing must show of whatever trace the checker finds (every step, numbered, in order);
- as recorded once from `check` (`golden/trace_saga.json`, `golden/trace_double_charge.json`,
  `Violation.to_data()` of the same checks): the golden files (`trace_*`) are drawn from these,
  so a change to the checker's search order (which shortest trace it finds) does not move them,
  and they cover every kind of step whatever the checker finds first.

A run that can go on forever (`golden/trace_loop.json`, and as `check` finds it now) is drawn
with its loop marked. The last tests refuse data that is not a violation, naming what is wrong.
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
from tests.diagrams import GOLDEN, assert_golden
from tests.helpers import make_forever

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


def recorded(name: str) -> dict[str, Any]:
    """A violation as `to_data()` gave it when recorded (see the module docstring)."""
    data: dict[str, Any] = json.loads((GOLDEN / f"trace_{name}.json").read_text("utf-8"))
    return data


SAGA = recorded("saga")
DOUBLE_CHARGE = recorded("double_charge")
LOOP = recorded("loop")


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


def events_of(violation: Violation | dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(violation, dict):
        return list(violation["events"])
    return list(violation.events)


def step_numbers(violation: Violation | dict[str, Any], atom: str | None, event: str) -> str:
    """The numbers of the steps recording `event` for `atom` (None: the flow), as drawn."""
    return ", ".join(
        str(number)
        for number, found in enumerate(events_of(violation), 1)
        if found["kind"] == "record" and found["atom"] == atom and found["event"] == event
    )


def test_the_recorded_counterexamples_cover_every_kind_of_step() -> None:
    events = [*SAGA["events"], *DOUBLE_CHARGE["events"]]
    assert {event["kind"] for event in events} == {
        "record", "execute", "revert", "lost_write", "crash", "resume", "suspend",
    }  # fmt: skip
    assert {"runs", "raises", "crash after"} <= {event.get("outcome") for event in events}
    assert any(event.get("lifecycle") == "retry" for event in DOUBLE_CHARGE["events"])
    assert SAGA["message"].startswith("the run ended FAILURE: a revert raised")
    assert DOUBLE_CHARGE["message"] == "invariant charged_once does not hold"


def test_the_checker_still_finds_the_recorded_kinds_of_violation(
    saga: Violation, double_charge: Violation
) -> None:
    assert saga.message == SAGA["message"]
    assert double_charge.message == DOUBLE_CHARGE["message"]
    assert set(saga.to_data()) >= set(SAGA)


# -- golden files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_the_saga_trace_matches_its_golden_files(format: str) -> None:
    assert_golden(f"trace_saga.{EXTENSIONS[format]}", trace(SAGA, format))


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_the_double_charge_trace_matches_its_golden_files(format: str) -> None:
    assert_golden(f"trace_double_charge.{EXTENSIONS[format]}", trace(DOUBLE_CHARGE, format))


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_the_paths_through_lifecycles_match_their_golden_files(format: str) -> None:
    extension = EXTENSIONS[format]
    assert_golden(f"trace_path_saga_flow.{extension}", trace_path(SAGA, format=format))
    reserve = trace_path(SAGA, "task", "reserve", format)
    assert_golden(f"trace_path_saga_reserve.{extension}", reserve)
    again = trace_path(DOUBLE_CHARGE, "retry", "again", format)
    assert_golden(f"trace_path_double_charge_again.{extension}", again)


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_the_loop_trace_matches_its_golden_files(format: str) -> None:
    assert LOOP["message"] == "can run forever" and LOOP["loop"]["first_step"] == 14
    assert_golden(f"trace_loop.{EXTENSIONS[format]}", trace(LOOP, format))
    again = trace_path(LOOP, "retry", "forever", format)
    assert_golden(f"trace_path_loop_forever.{EXTENSIONS[format]}", again)


# -- a run that can go on forever, as the checker finds it now ----------------------------------


@pytest.fixture(scope="module")
def forever() -> Violation:
    report = check(make_forever, crashes=1)
    assert not report.ok and report.violations[0].loop is not None
    return report.violations[0]


def test_the_sequence_diagram_puts_the_loop_in_a_loop_block(forever: Violation) -> None:
    assert forever.loop is not None
    first, last = forever.loop.first, len(forever.steps)
    lines = trace(forever).splitlines()
    opened = lines.index(
        f"    loop steps {first}-{last} loop forever: after step {last} the run is back where it "
        f"was before step {first} (apart from retry histories and attempt numbers)"
    )
    closed = lines.index("    end", opened)
    inside = [int(n) for line in lines[opened:closed] for n in re.findall(r": (\d+)\. ", line)]
    before = [int(n) for line in lines[:opened] for n in re.findall(r": (\d+)\. ", line)]
    assert inside == list(range(first, last + 1))
    assert before == list(range(1, first))
    assert all(line.startswith("        ") for line in lines[opened + 1 : closed])
    assert lines[-2] == "        Note over Engine,call: VIOLATION: can run forever"


def test_the_markdown_and_dot_traces_mark_the_loop(forever: Violation) -> None:
    assert forever.loop is not None
    first, last = forever.loop.first, len(forever.steps)
    rows = re.findall(r"^\| (\d+)( ↻)? \|", trace(forever, "md"), re.MULTILINE)
    assert [(int(number), bool(mark)) for number, mark in rows] == [
        (number, number >= first) for number in range(1, last + 1)
    ]
    caption = f"steps {first}-{last} loop forever"
    assert f"↻ {caption}: after step {last}" in trace(forever, "md")
    assert caption in trace(forever, "dot")
    assert caption in trace_path(forever, "retry", "forever", "mermaid")
    assert caption not in trace(SAGA, "dot")  # a run that ends has no loop to mark


def test_a_loop_and_its_data_as_json_draw_the_same(forever: Violation) -> None:
    data = json.loads(json.dumps(forever.to_data()))
    for format in EXTENSIONS:
        assert trace(data, format) == trace(forever, format)


# -- what each format says, of the traces the checker finds now --------------------------------

LIVE = ["saga", "double_charge"]


def atoms_in_order(events: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(event["atom"] for event in events if event.get("atom")))


def entities_with_records(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    found = {e["atom"]: e["lifecycle"] for e in reversed(events) if e["kind"] == "record"}
    order = atoms_in_order([e for e in events if e["kind"] == "record"])
    return [(found[atom], atom) for atom in order]


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_a_violation_and_its_data_as_json_draw_the_same(
    double_charge: Violation, format: str
) -> None:
    data = json.loads(json.dumps(double_charge.to_data()))
    assert trace(data, format) == trace(double_charge, format)
    assert trace_path(data, "task", "charge", format) == (
        trace_path(double_charge, "task", "charge", format)
    )


@pytest.mark.parametrize("name", LIVE)
def test_the_sequence_diagram_has_every_step_in_order(
    request: pytest.FixtureRequest, name: str
) -> None:
    violation: Violation = request.getfixturevalue(name)
    events = events_of(violation)
    lines = trace(violation).splitlines()
    atoms = atoms_in_order(events)
    assert lines[0] == "sequenceDiagram"
    assert lines[2 : 4 + len(atoms)] == [
        f"    participant {who}" for who in ("Engine", "Store", *atoms)
    ]
    numbers = [int(found) for line in lines for found in re.findall(r": (\d+)\. ", line)]
    assert numbers == list(range(1, len(events) + 1))
    records = [line for line in lines if line.startswith("    Engine->>Store: ")]
    assert len(records) == sum(event["kind"] == "record" for event in events)
    for number, event in enumerate(events, 1):
        if event["kind"] == "crash":
            note = lines.index(
                f"        Note over Engine,Store: {number}. {event['text']}".replace(";", "#59;")
            )
            assert lines[note - 1] == "    rect rgb(255, 228, 225)" and lines[note + 1] == "    end"
    last = atoms[-1] if atoms else "Store"
    assert lines[-2] == f"        Note over Engine,{last}: VIOLATION: {violation.message}"


def test_each_kind_of_step_is_drawn_as_its_own_kind_of_message() -> None:
    saga = trace(SAGA).splitlines()
    assert "    Engine-xStore: 1. crash before writing [flow RUNNING]" in saga
    assert "    Engine-xreserve: 5. execute 'reserve' raises" in saga
    assert "    Engine->>reserve: 9. revert 'reserve' runs" in saga
    double = trace(DOUBLE_CHARGE).splitlines()
    assert (
        "    Engine->>charge: 3. crash after execute 'charge', before its outcome is recorded"
    ) in double
    resume = double.index(
        "        Note over Engine,Store: 5. RESUME: a new process loads the run from the store"
    )
    assert double[resume - 1] == "    rect rgb(221, 244, 255)"
    assert "    Note over Engine: 7. suspend the run" in double


def test_the_markdown_lists_every_step_then_the_violation_and_its_replay(
    saga: Violation,
) -> None:
    lines = trace(saga, "md").splitlines()
    rows = [re.fullmatch(r"\| (\d+) \| (.*?) \| (.*) \|", line) for line in lines]
    steps = [(int(row[1]), row[3].strip("*")) for row in rows if row]
    assert steps == [(number, text) for number, text in enumerate(saga.steps, 1)]
    for number, event in enumerate(saga.events, 1):
        if event["kind"] in ("crash", "resume", "lost_write"):
            assert (
                f"| **{event['text']}** |"
                in lines[lines.index("| # | who | what happened |") + 1 + number]
            )
    violation = lines.index(f"**Violation:** {saga.message}")
    assert violation > max(index for index, row in enumerate(rows) if row)
    assert lines[violation + 2].startswith("**World at the violation:** `{")  # saga has a world
    replay_call = lines[violation + 4]
    assert replay_call.startswith(
        f"Replay it: `replay('examples.flawed_saga:make_flawed', choices={list(saga.choices)}, "
    )
    assert "crashes=1, suspends=0" in replay_call


@pytest.mark.parametrize("name", LIVE)
def test_the_dot_trace_draws_a_cluster_per_entity_with_numbered_paths(
    request: pytest.FixtureRequest, name: str
) -> None:
    violation: Violation = request.getfixturevalue(name)
    events = events_of(violation)
    text = trace(violation, "dot")
    labels = re.findall(r'label="([^"]*)", style="rounded"', text)
    entities = entities_with_records(events)
    assert labels == ["flow", *(f"{lifecycle} {atom!r}" for lifecycle, atom in entities)]
    for event in events:
        if event["kind"] == "record":
            prefix = "flow" if event["atom"] is None else f"{event['lifecycle']} {event['atom']}"
            numbers = step_numbers(violation, event["atom"], event["event"])
            assert (
                f'"{prefix}/{event["old"]}" -> "{prefix}/{event["new"]}" [color="#1f6feb", '
                f'fontcolor="#1f6feb", label="{event["event"]} ({numbers})", penwidth="2.5"];'
            ) in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_every_dot_drawing_of_a_trace_renders(saga: Violation, double_charge: Violation) -> None:
    sources = [
        trace(saga, "dot"),
        trace(double_charge, "dot"),
        trace_path(saga, "task", "reserve", "dot"),
        trace_path(double_charge, "task", "charge", "dot"),
    ]
    for source in sources:
        root = ElementTree.fromstring(render(source, "svg"))
        assert root.tag.endswith("svg")


def test_a_path_numbers_each_edge_by_the_steps_that_took_it(double_charge: Violation) -> None:
    text = trace_path(double_charge, "task", "charge", format="md")
    mermaid = trace_path(double_charge, "task", "charge").splitlines()
    taken = 0
    for event in events_of(double_charge):
        if event["kind"] == "record" and event["atom"] == "charge":
            numbers = step_numbers(double_charge, "charge", event["event"])
            row = f"| `{event['old']}` | `{event['event']}` | `{event['new']}` | {numbers} |"
            assert row in text
            assert f"    {event['old']} --> {event['new']}: {event['event']} ({numbers})" in mermaid
            taken += 1
    assert taken >= 2
    assert "Task 'charge' in a counterexample, its edges numbered by step." in text
    assert f"        violation: {double_charge.message}" in mermaid


# -- refusals -------------------------------------------------------------------------------------


def saga_data(**changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(SAGA))
    data.update(changes)
    return data


def event_changed(index: int, **changes: Any) -> dict[str, Any]:
    events = [dict(event) for event in SAGA["events"]]
    events[index].update(changes)
    return saga_data(events=events)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: 42, "not a model checker violation: got int; expected a "),
        (
            lambda: check(make_flawed, crashes=0),
            "not a model checker violation: got Report (draw one of its .violations)",
        ),
        (lambda: saga_data(message=None), "no 'message' string"),
        (lambda: {"message": "m"}, "no 'events' list"),
        (lambda: saga_data(events=[]), "it has steps but no 'events'"),
        (lambda: saga_data(events=["x"]), "event 1 is str, not a dict"),
        (
            lambda: event_changed(0, kind="explode"),
            "event 1: unknown kind 'explode' (kinds: record, execute, revert, lost_write",
        ),
        (
            lambda: event_changed(2, new="SUCCESS"),
            "event 3: PENDING --start--> SUCCESS is not an edge of the flow table",
        ),
        (
            lambda: event_changed(2, lifecycle="job"),
            "event 3: 'lifecycle' must be task, retry or flow, got 'job'",
        ),
        (lambda: event_changed(3, atom=None), "event 4: 'atom' must be a name"),
        (lambda: event_changed(4, outcome="explodes"), "event 5: 'outcome' must be"),
        (lambda: event_changed(4, text=3), "event 5: 'text' must be a string"),
        (lambda: saga_data(bounds="x"), "'bounds' must map names to numbers"),
        (
            lambda: saga_data(loop={"first_step": 99}),
            "'loop' must be null or {'first_step': a step number from 1 to 11, ...}, got ",
        ),
        (lambda: saga_data(loop=[3]), "'loop' must be null or {'first_step'"),
    ],
)
def test_data_that_is_not_a_violation_is_refused_naming_what_is_wrong(
    make: Any, message: str
) -> None:
    data = make()
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
def test_bad_arguments_are_refused_naming_what_is_allowed(call: Any, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        call(DOUBLE_CHARGE)
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


def test_the_markdown_shows_the_world_at_the_violation(double_charge: Violation) -> None:
    # Charged twice: the world of the double charge when its invariant broke.
    assert double_charge.world == {"__class__": "Account", "charged": 20, "shipped": 1}
    lines = trace(double_charge, "md").splitlines()
    world = lines.index(
        '**World at the violation:** `{"__class__":"Account","charged":20,"shipped":1}`'
    )
    assert lines[world - 2].startswith("**Violation:** ")
    assert "World at the violation" not in trace(SAGA, "md")  # recorded without a world
