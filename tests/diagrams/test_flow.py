"""`provenflow.diagrams.flow`: a flow's structure as Mermaid and DOT, against golden files.

The golden files (`flow_<case>.mmd` / `.dot`) pin the whole text of a linear flow, an unordered
flow, a graph flow with data edges and decider links, and nested flows under retries. Besides
them the tests check what a golden file cannot say alone: Graphviz accepts every DOT text, the
Mermaid text declares every atom, ids never collide, a rebuilt flow gives the same bytes, and
bad arguments are refused naming what is allowed. Runs are drawn in `test_flow_run.py`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import provenflow as pf
from provenflow.diagrams._flow import flow
from provenflow.diagrams._flow_model import describe_retry, encode
from provenflow.errors import MissingInput, UsageError
from provenflow.flows import Flow, compile_flow
from tests.diagrams import assert_golden

EXTENSIONS = {"mermaid": "mmd", "dot": "dot"}


def _none() -> str:
    return "done"


def _one(first: object) -> str:
    return f"{first}+"


def _two(first: object, second: object) -> str:
    return f"{first}+{second}"


_FUNCTIONS: dict[int, Callable[..., str]] = {0: _none, 1: _one, 2: _two}


def step(name: str, *needs: str, provides: str | None = None) -> pf.Task:
    """Return a task `name` that takes the symbols `needs` and provides `provides`."""
    rebind = dict(zip(("first", "second"), needs, strict=False))
    return pf.task(_FUNCTIONS[len(needs)], name=name, provides=provides, rebind=rebind)


def stock_is_low(history: dict[str, object]) -> bool:
    """A decider: go on only when the stock counted is below 10."""
    return bool(isinstance(count := history.get("count_stock"), int) and count < 10)


def linear() -> Flow:
    return pf.LinearFlow("signup").add(
        step("create_account", "email", provides="account"),
        step("send_welcome", "account"),
        step("audit"),
    )


def unordered() -> Flow:
    return pf.UnorderedFlow("create-volumes").add(
        *(step(f"volume-{number}", "size_gb", provides=f"volume-{number}") for number in range(3))
    )


def graph() -> Flow:
    """A graph flow ordered by data, with a decider between atoms and one into a subflow."""
    build = step("build", "source", provides="artifact")
    test = step("test", "artifact", provides="report")
    publish = step("publish", "artifact", "report", provides="release")
    announce = pf.LinearFlow("announce").add(
        step("write_notes", "release", provides="notes"), step("post_notes", "notes")
    )
    release = pf.GraphFlow("release").add(announce, publish, test, build)
    release.link(test, publish, decider=checks_passed, depth=pf.Depth.FLOW)
    release.link(publish, announce, decider=lambda history: True)
    return release


def checks_passed(history: dict[str, object]) -> bool:
    return history.get("test") == "ok"


def nested() -> Flow:
    """Flows in flows, each kind of retry controller, and a join between two parallel groups."""
    payments = pf.UnorderedFlow("payments", retry=pf.AlwaysRevert(name="give_up")).add(
        step("charge_card", "order_id"), step("charge_points", "order_id")
    )
    packing = pf.UnorderedFlow("packing").add(step("pack_box"), step("print_label"))
    courier = pf.LinearFlow(
        "courier",
        retry=pf.ParameterizedForEach(
            name="pick_courier", rebind={"values": "couriers"}, provides="courier"
        ),
    ).add(step("book", "courier", "attempt"))
    shipping = pf.LinearFlow(
        "shipping", retry=pf.Times(3, name="retry_shipping", provides="attempt", revert_all=True)
    ).add(courier)
    mirrors = pf.LinearFlow(
        "mirrors", retry=pf.ForEach(["eu", "us"], name="try_mirrors", provides="mirror")
    ).add(step("upload_invoice", "mirror"))
    return pf.LinearFlow("order").add(
        step("reserve", "order_id", provides="reservation"),
        payments,
        packing,
        shipping,
        mirrors,
    )


CASES: dict[str, tuple[Callable[[], Flow], tuple[str, ...]]] = {
    "linear": (linear, ("email",)),
    "unordered": (unordered, ("size_gb",)),
    "graph": (graph, ("source",)),
    "nested": (nested, ("couriers", "order_id")),
}


def atom_names(built: Flow, store_keys: tuple[str, ...]) -> set[str]:
    compiled = compile_flow(built, store_keys=store_keys)
    return {name for name, node in compiled.nodes.items() if node.atom is not None}


def assert_dot_accepts(text: str) -> None:
    """Fail unless Graphviz's `dot` lays `text` out without an error or a warning."""
    if shutil.which("dot") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Graphviz's dot is not installed, and CI must check the DOT output")
        pytest.skip("Graphviz's dot is not installed")
    done = subprocess.run(
        ["dot", "-Tsvg"], input=text, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    assert "<svg" in done.stdout


def mermaid_boxes(text: str) -> dict[str, str]:
    """Return {id: first label line} of every box a Mermaid flowchart declares."""
    found = re.findall(r'^\s*(\w+)[(\[{]+"([^"]*?)(?:<br/>[^"]*)?"[)\]}]+$', text, re.MULTILINE)
    return dict(found)


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_flow_matches_its_golden_file(case: str, format: str) -> None:
    build, store_keys = CASES[case]
    assert_golden(f"flow_{case}.{EXTENSIONS[format]}", flow(build(), format, store_keys=store_keys))


@pytest.mark.parametrize("case", sorted(CASES))
def test_graphviz_accepts_every_dot_text(case: str) -> None:
    build, store_keys = CASES[case]
    assert_dot_accepts(flow(build(), "dot", store_keys=store_keys))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_mermaid_text_declares_every_atom_once(case: str) -> None:
    build, store_keys = CASES[case]
    text = flow(build(), store_keys=store_keys)
    assert text.splitlines()[0] == "flowchart TD"
    labels = [label for label in mermaid_boxes(text).values() if label not in ("join", "store")]
    assert sorted(labels) == sorted(atom_names(build(), store_keys))
    stripped = [line.strip() for line in text.splitlines()]
    assert stripped.count("end") == sum(line.startswith("subgraph ") for line in stripped)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_rebuilt_flow_gives_the_same_bytes(case: str) -> None:
    build, store_keys = CASES[case]
    for format in EXTENSIONS:
        first = flow(build(), format, store_keys=store_keys)
        assert flow(build(), format, store_keys=reversed(store_keys)) == first


def test_nested_flows_are_frames_labelled_with_name_and_pattern() -> None:
    text = flow(nested(), store_keys=("couriers", "order_id"))
    for name, pattern in [
        ("order", "linear"),
        ("payments", "unordered"),
        ("shipping", "linear"),
        ("courier", "linear"),
    ]:
        assert f'["{name} ({pattern})"]' in text
    dot = flow(graph(), "dot", store_keys=("source",))
    assert 'label="release (graph)"' in dot
    assert 'label="announce (linear)"' in dot


def test_a_retry_is_drawn_inside_the_flow_it_guards_naming_its_controller() -> None:
    lines = flow(nested(), store_keys=("couriers", "order_id")).splitlines()
    opened = lines.index('        subgraph f_shipping["shipping (linear)"]')
    assert lines[opened + 1] == (
        '            n_retry__shipping{{"retry_shipping<br/>Times(3, revert_all)"}}'
    )
    assert (
        '{{"give_up<br/>AlwaysRevert()"}}'
        in lines[lines.index('        subgraph f_payments["payments (unordered)"]') + 1]
    )
    dot = flow(nested(), "dot", store_keys=("couriers", "order_id"))
    assert 'n_pick__courier [label="pick_courier\\nParameterizedForEach(values=couriers)", ' in dot
    assert 'n_try__mirrors [label="try_mirrors\\nForEach(2 values)", shape=hexagon' in dot


def test_data_edges_carry_their_symbols_and_deciders_are_dashed_and_named() -> None:
    text = flow(graph(), store_keys=("source",))
    assert '    store -.->|"source"| n_build\n' in text
    assert '    n_build -->|"artifact"| n_test\n' in text
    assert '    n_test -.->|"report; decider: checks_passed, depth FLOW"| n_publish\n' in text
    assert '    n_publish -.->|"decider: #60;lambda#62;, depth ALL"| f_announce\n' in text
    dot = flow(graph(), "dot", store_keys=("source",))
    assert (
        'n_test -> n_publish [label="report; decider: checks_passed, depth FLOW", style=dashed'
        in dot
    )
    assert 'label="decider: <lambda>, depth ALL", lhead=cluster_f_announce, style=dashed' in dot


def test_data_from_an_earlier_atom_without_an_order_edge_is_a_dotted_arrow() -> None:
    text = flow(linear(), store_keys=("email",))
    assert '    n_create__account -->|"account"| n_send__welcome\n' in text
    assert "    n_send__welcome --> n_audit\n" in text
    order = pf.LinearFlow("o").add(step("a", provides="x"), step("b"), step("c", "x"))
    drawn = flow(order)
    assert '    n_a -.->|"x"| n_c\n' in drawn
    assert "    linkStyle 1 stroke:#1565c0," in drawn


def test_ids_of_names_that_a_plain_sanitiser_would_merge_stay_apart() -> None:
    names = ["a-b", "a_b", "a.b", "a__b", "a b", "ä"]
    built = pf.UnorderedFlow("x").add(*(step(name) for name in names))
    boxes = mermaid_boxes(flow(built))
    assert sorted(boxes.values()) == sorted(names)
    assert len(set(boxes)) == len(names)
    assert_dot_accepts(flow(built, "dot"))


@given(st.text(), st.text())
def test_encoding_is_injective_and_gives_plain_ids(first: str, second: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_]*", encode(first))
    assert (encode(first) == encode(second)) == (first == second)


def test_labels_with_characters_special_to_mermaid_and_dot_are_escaped() -> None:
    built = pf.LinearFlow('say "hi" #1 <b>').add(step('quote"back\\slash|pipe'))
    text = flow(built)
    assert '["say #34;hi#34; #35;1 #60;b#62; (linear)"]' in text
    assert '("quote#34;back\\slash#124;pipe")' in text
    dot = flow(built, "dot")
    assert 'label="quote\\"back\\\\slash|pipe"' in dot
    assert_dot_accepts(dot)


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        (pf.Times(2), "Times(2)"),
        (pf.ForEach([1]), "ForEach(1 value)"),
        (pf.ForEach([1, 2], revert_all=True), "ForEach(2 values, revert_all)"),
        (pf.ParameterizedForEach(), "ParameterizedForEach(values=values)"),
        (pf.AlwaysRevertAll(), "AlwaysRevertAll()"),
    ],
)
def test_each_retry_controller_is_described_by_its_kind(retry: Any, expected: str) -> None:
    assert describe_retry(retry) == expected


@pytest.mark.parametrize("format", ["svg", "MERMAID", "", "png"])
def test_an_unknown_format_is_refused_naming_the_allowed_ones(format: str) -> None:
    with pytest.raises(UsageError, match=r"format .* is not known \(allowed: dot, mermaid\)"):
        flow(linear(), format, store_keys=("email",))


def test_bad_arguments_are_refused_before_anything_is_read() -> None:
    with pytest.raises(UsageError, match="pass run="):
        flow(linear(), backend="sqlite:///nowhere.db", store_keys=("email",))
    with pytest.raises(UsageError, match="pass backend= too"):
        flow(linear(), run="some-run", store_keys=("email",))
    with pytest.raises(UsageError, match="store_keys must be an iterable"):
        flow(linear(), store_keys="email")
    with pytest.raises(MissingInput, match="email"):
        flow(linear())
    with pytest.raises(UsageError, match="compile_flow takes a flow"):
        flow(step("alone"))  # type: ignore[arg-type]


def test_an_atom_named_store_and_an_empty_linked_subflow_are_drawn_apart() -> None:
    empty = pf.LinearFlow("empty")
    store = step("store", "x", provides="y")
    built = pf.GraphFlow("g").add(store, empty, step("b", "y"))
    built.link(store, empty, decider=checks_passed)
    text = flow(built, store_keys=("x",))
    assert '    store[("store")]\n' in text
    assert '        n_store("store")\n' in text
    assert '    store -.->|"x"| n_store\n' in text
    assert '    n_store -.->|"decider: checks_passed, depth ALL"| f_empty\n' in text
    dot = flow(built, "dot", store_keys=("x",))
    assert "lhead=cluster_f_empty" in dot
    assert_dot_accepts(dot)
