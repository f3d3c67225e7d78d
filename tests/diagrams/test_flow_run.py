"""`provenflow.diagrams.flow(..., run=, backend=)`: a flow coloured by a real recorded run.

The runs are real: the engine runs a flow on SQLite (or a directory, or a memory store cut
short by a crash) and the diagram reads the run back from the store. The golden files
(`flow_run_reverted.mmd` / `.dot` / `.md`) pin a run that failed and was reverted, with a retried
subflow, an atom a decider ignored and one never reached, so several states and attempt counts
show. The diagram holds no timestamp: recording the same transitions at other times gives the
same bytes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import provenflow as pf
from provenflow.diagrams._flow import flow
from provenflow.diagrams._flow_run import STATE_STYLES
from provenflow.errors import FlowMismatch, MultipleFailures, UnknownRun
from provenflow.fsm import LIFECYCLES
from provenflow.persistence import MemoryStorage, open_storage
from tests.diagrams import assert_golden
from tests.diagrams.test_flow import assert_dot_accepts, markdown_rows, mermaid_boxes, step
from tests.helpers import Crash, CrashingStorage

EXTENSIONS = {"mermaid": "mmd", "dot": "dot", "md": "md"}
RUN_ID = "order-7"


class CourierBusy(Exception):
    """The courier refused the booking."""


class Ship(pf.Task):
    """Books the courier, who is always busy."""

    def execute(self, reservation: str, attempt: int) -> str:
        raise CourierBusy(f"courier busy for {reservation} (attempt {attempt})")


class Release(pf.Task):
    """Releases a reservation; with `broken`, its revert raises."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        super().__init__("release", provides="released")

    def execute(self, reservation: str) -> str:
        return reservation

    def revert(self, **_: Any) -> None:
        if self.broken:
            raise RuntimeError("the stock service is down")


def plenty_in_stock(history: dict[str, object]) -> bool:
    """A decider: audit only when the stock is low (it is not)."""
    count = history["count_stock"]
    return isinstance(count, int) and count < 10


def order(broken_release: bool = False) -> pf.LinearFlow:
    """Checks (a decider skips the audit), reserve, ship under Times(2) (always fails), notify."""
    count_stock = step("count_stock", "order_id", provides="stock")
    audit = step("audit")
    checks = pf.GraphFlow("checks").add(count_stock, audit)
    checks.link(count_stock, audit, decider=plenty_in_stock, depth=pf.Depth.ATOM)
    shipping = pf.LinearFlow(
        "shipping", retry=pf.Times(2, name="retry_shipping", provides="attempt")
    ).add(Ship(name="ship", provides="parcel"))
    return pf.LinearFlow("order").add(
        checks,
        step("reserve", "order_id", "stock", provides="reservation"),
        Release(broken_release),
        shipping,
        step("notify", "parcel"),
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite store holding run RUN_ID of `order()`, which failed and was reverted."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    engine = pf.Engine(order(), store={"order_id": 7}, backend=url, flow_id=RUN_ID)
    with pytest.raises(CourierBusy):
        engine.run()
    assert engine.state == "REVERTED"
    return url


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_a_reverted_run_matches_its_golden_file(sqlite_url: str, format: str) -> None:
    text = flow(order(), format, run=RUN_ID, backend=sqlite_url)
    assert_golden(f"flow_run_reverted.{EXTENSIONS[format]}", text)


def test_each_atom_shows_its_replayed_state_and_attempts(sqlite_url: str) -> None:
    text = flow(order(), run=RUN_ID, backend=sqlite_url)
    boxes = mermaid_boxes(text)
    expected = {
        "count_stock": ("REVERTED", 1),
        "audit": ("IGNORE", 0),
        "reserve": ("REVERTED", 1),
        "release": ("REVERTED", 1),
        "retry_shipping": ("REVERTED", 2),
        "ship": ("REVERTED", 2),
        "notify": ("PENDING", 0),
    }
    assert sorted(label for label in boxes.values() if label != "store") == sorted(
        [*expected, "PENDING", "REVERTED", "IGNORE"]  # the atoms, and the legend's states
    )
    for name, (state, attempts) in expected.items():
        retry = "<br/>Times(2)" if name == "retry_shipping" else ""
        assert f'"{name}{retry}<br/>{state}<br/>attempts: {attempts}"' in text
    assert 'title: "run order-7 of flow order: REVERTED"' in text.splitlines()[1]
    reverted = "n_count__stock,n_reserve,n_release,n_retry__shipping,n_ship"
    assert f"    class {reverted},legend_REVERTED state_REVERTED\n" in text
    assert "    class n_audit,legend_IGNORE state_IGNORE\n" in text
    assert "    class n_notify,legend_PENDING state_PENDING\n" in text


def test_the_markdown_table_shows_the_same_states_and_attempts(sqlite_url: str) -> None:
    text = flow(order(), "md", run=RUN_ID, backend=sqlite_url)
    assert text.splitlines()[0] == "Run `order-7` of flow `order`: `REVERTED`; 7 atoms."
    lines = text.splitlines()
    assert lines[2] == "| atom | kind | flow | requires | provides | state | attempts |"
    rows = {row[0].strip("`"): row for row in markdown_rows(text)}
    mermaid = flow(order(), run=RUN_ID, backend=sqlite_url)
    labels = [label.split("<br/>") for label in re.findall(r'[(\[{]"([^"]*)"', mermaid)]
    drawn = {label[0]: (label[-2], label[-1]) for label in labels if len(label) > 2}
    assert {name: (row[5].strip("`"), f"attempts: {row[6]}") for name, row in rows.items()} == drawn
    assert rows["retry_shipping"][1:] == [
        "retry `Times(2)`",
        "`order / shipping`",
        "",
        "`attempt`",
        "`REVERTED`",
        "2",
    ]
    assert rows["notify"][5:] == ["`PENDING`", "0"]
    assert rows["audit"][5:] == ["`IGNORE`", "0"]
    assert "- `count_stock` -> `audit`: decider `plenty_in_stock`, depth `ATOM`\n" in text


def test_the_legend_lists_the_states_drawn_in_lifecycle_order(sqlite_url: str) -> None:
    text = flow(order(), run=RUN_ID, backend=sqlite_url)
    legend = text[text.index('subgraph legend["legend"]') :].split("    end\n")[0]
    assert [line.split('"')[1] for line in legend.splitlines()[1:]] == [
        "PENDING",
        "REVERTED",
        "IGNORE",
    ]
    dot = flow(order(), "dot", run=RUN_ID, backend=sqlite_url)
    assert 'label="run order-7 of flow order: REVERTED", labelloc=t' in dot
    reverted = STATE_STYLES["REVERTED"]
    assert f'fillcolor="{reverted.fill}", color="{reverted.stroke}"' in dot


def test_graphviz_accepts_the_run_coloured_dot_text(sqlite_url: str) -> None:
    assert_dot_accepts(flow(order(), "dot", run=RUN_ID, backend=sqlite_url))


def test_timestamps_do_not_change_the_diagram(sqlite_url: str) -> None:
    storage = open_storage(sqlite_url)
    info, transitions, _version = storage.load(RUN_ID)
    later = MemoryStorage()
    later.create(info)
    later.record(RUN_ID, [t._replace(at=t.at + 86_400.5) for t in transitions], 0)
    for format in EXTENSIONS:
        drawn = flow(order(), format, run=RUN_ID, backend=sqlite_url)
        assert flow(order(), format, run=RUN_ID, backend=later) == drawn
        assert str(int(transitions[0].at)) not in drawn


def test_a_revert_that_raised_is_red_and_the_flow_failed(tmp_path: Path) -> None:
    url = f"dir:///{tmp_path / 'runs'}"
    engine = pf.Engine(order(broken_release=True), store={"order_id": 7}, backend=url)
    with pytest.raises(MultipleFailures):  # the courier's refusal and the revert's error
        engine.run()
    assert engine.state == "FAILURE"
    text = flow(order(broken_release=True), "dot", run=engine.flow_id, backend=url)
    style = STATE_STYLES["REVERT_FAILURE"]
    assert (
        f'n_release [label="release\\nREVERT_FAILURE\\nattempts: 1", '
        f'fillcolor="{style.fill}", color="{style.stroke}", fontcolor="{style.text}"];'
    ) in text
    assert f'label="run {engine.flow_id} of flow order: FAILURE"' in text
    assert_dot_accepts(text)


def test_a_run_cut_by_a_crash_shows_the_atom_still_running() -> None:
    storage = CrashingStorage(MemoryStorage(), crash_at=6)
    engine = pf.Engine(order(), store={"order_id": 7}, backend=storage, flow_id=RUN_ID)
    with pytest.raises(Crash):
        engine.run()
    text = flow(order(), run=RUN_ID, backend=storage.inner)
    assert 'title: "run order-7 of flow order: RUNNING"' in text
    assert '("reserve<br/>RUNNING<br/>attempts: 1")' in text
    assert '("count_stock<br/>SUCCESS<br/>attempts: 1")' in text
    assert "    class n_reserve,legend_RUNNING state_RUNNING\n" in text


def test_an_atom_added_where_the_run_has_not_reached_is_drawn_pending() -> None:
    storage = CrashingStorage(MemoryStorage(), crash_at=6)
    engine = pf.Engine(order(), store={"order_id": 7}, backend=storage, flow_id=RUN_ID)
    with pytest.raises(Crash):
        engine.run()
    grown = pf.LinearFlow("order").add(*order(), step("thank", "parcel"))
    text = flow(grown, run=RUN_ID, backend=storage.inner)
    assert '("thank<br/>PENDING<br/>attempts: 0")' in text
    assert '("reserve<br/>RUNNING<br/>attempts: 1")' in text
    early = pf.LinearFlow("order").add(step("greet"), *order())  # before what already ran
    with pytest.raises(FlowMismatch, match="new atom 'greet': the run already recorded"):
        flow(early, run=RUN_ID, backend=storage.inner)


def test_every_atom_state_has_a_style() -> None:
    states = {str(state) for name in ("task", "retry") for state in LIFECYCLES[name].states}
    assert states <= set(STATE_STYLES)
    assert len({style.fill for style in STATE_STYLES.values()}) == len(STATE_STYLES)


def test_an_unknown_run_is_refused(sqlite_url: str) -> None:
    with pytest.raises(UnknownRun):
        flow(order(), run="no-such-run", backend=sqlite_url)


def test_a_run_of_another_flow_is_refused_naming_the_difference(sqlite_url: str) -> None:
    other = pf.LinearFlow("signup").add(
        step("count_stock", "order_id", provides="stock"), step("welcome")
    )
    with pytest.raises(FlowMismatch) as refused:
        flow(other, run=RUN_ID, backend=sqlite_url)
    message = str(refused.value)
    assert "run 'order-7' of flow 'order' does not match flow 'signup'" in message
    for name in ("audit", "notify", "release"):
        assert f"{name!r} (" in message
    assert "recorded task 'notify' (PENDING) is not in the flow" in message
    assert "'count_stock' moved: recorded in flow 'checks', now in flow 'signup'" in message
    assert "new atom 'welcome': the run is over (REVERTED)" in message
    assert refused.value.added == ("welcome",)


def test_a_run_whose_atom_is_now_another_kind_is_refused(sqlite_url: str) -> None:
    shipping = pf.LinearFlow("shipping", retry=pf.Times(2, name="ship", provides="attempt")).add(
        step("retry_shipping", "attempt", provides="parcel")
    )
    renamed = pf.LinearFlow("order").add(*list(order())[:3], shipping, step("notify", "parcel"))
    with pytest.raises(
        FlowMismatch, match="'retry_shipping' is recorded as a retry, but is a task"
    ):
        flow(renamed, run=RUN_ID, backend=sqlite_url)
