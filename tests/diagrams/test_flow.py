"""`provenflow.diagrams.flow`: a flow as Mermaid, DOT and Markdown text, against golden files.

The golden files (`flow_<case>.mmd` / `.dot` / `.md`) pin the whole text of a linear flow, an
unordered flow, a graph flow with data edges and decider links, and nested flows under retries.
Besides them the tests check what a golden file cannot say alone: Graphviz accepts every DOT
text, the Mermaid text declares every atom, the Markdown table has one row per atom in the
compiled order and says what the other formats draw, ids never collide, special characters
are escaped, a rebuilt flow gives the same bytes, and bad arguments are refused naming what is
allowed. Runs are drawn in `test_flow_run.py`.
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

EXTENSIONS = {"mermaid": "mmd", "dot": "dot", "md": "md"}


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


def markdown_rows(text: str) -> list[list[str]]:
    """Return the cells of every row of the Markdown table in `text`, header and rule left out.

    Cells are split at unescaped `|` and stripped, as a Markdown renderer splits them.
    """
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_markdown_table_has_one_row_per_atom_in_the_order_they_run(case: str) -> None:
    build, store_keys = CASES[case]
    text = flow(build(), "md", store_keys=store_keys)
    compiled = compile_flow(build(), store_keys=store_keys)
    atoms = [name for name in compiled.order if compiled.nodes[name].atom is not None]
    count = f"{len(atoms)} atom{'s' if len(atoms) != 1 else ''}"
    assert text.splitlines()[0] == f"Flow `{compiled.name}`: {count}."
    assert text.splitlines()[2] == "| atom | kind | flow | requires | provides |"
    rows = markdown_rows(text)
    assert [row[0] for row in rows] == [f"`{name}`" for name in atoms]
    assert all(len(row) == 5 for row in rows)
    for row, name in zip(rows, atoms, strict=True):
        assert row[2] == f"`{' / '.join(compiled.nodes[name].flows)}`"


def test_the_markdown_kinds_name_the_controllers_the_drawings_show() -> None:
    text = flow(nested(), "md", store_keys=("couriers", "order_id"))
    kinds = {row[0].strip("`"): row[1] for row in markdown_rows(text)}
    mermaid = flow(nested(), store_keys=("couriers", "order_id"))
    hexagons = re.findall(r'\{\{"([^"<]+)<br/>([^"]+)"\}\}', mermaid)
    assert len(hexagons) == 4
    for name, controller in hexagons:
        assert kinds[name] == f"retry `{controller}`"
    assert kinds["retry_shipping"] == "retry `Times(3, revert_all)`"
    assert {kind for name, kind in kinds.items() if name not in dict(hexagons)} == {"task"}


def test_the_markdown_requires_say_where_each_symbol_comes_from() -> None:
    rows = {row[0]: row for row in markdown_rows(flow(graph(), "md", store_keys=("source",)))}
    assert rows["`build`"][3:] == ["`source` from the store", "`artifact`"]
    assert rows["`publish`"][3:] == [
        "`artifact` from `build`, `report` from `test`",
        "`release`",
    ]
    assert rows["`post_notes`"][2:] == ["`release / announce`", "`notes` from `write_notes`", ""]
    nested_rows = markdown_rows(flow(nested(), "md", store_keys=("couriers", "order_id")))
    book = next(row for row in nested_rows if row[0] == "`book`")
    assert book[3] == "`attempt` from `retry_shipping`, `courier` from `pick_courier`"


def test_the_markdown_lists_decider_links_then_order_links_as_written() -> None:
    first, second, third = step("a", provides="x"), step("b"), step("c", "x")
    later = pf.LinearFlow("later").add(step("d"))
    built = pf.GraphFlow("g").add(first, second, third, later)
    built.link(second, first)
    built.link(third, later, decider=checks_passed, depth=pf.Depth.ATOM)
    built.link(first, later)
    text = flow(built, "md")
    assert text.endswith(
        "\n\nDecider links:\n\n"
        "- `c` -> `later` (flow): decider `checks_passed`, depth `ATOM`\n"
        "\nOrder links:\n\n"
        "- `b` -> `a`\n"
        "- `a` -> `later` (flow)\n"
    )
    assert "links:" not in flow(linear(), "md", store_keys=("email",))


def test_markdown_escapes_pipes_in_cells_and_fences_backquotes() -> None:
    odd = step("a|b", "in|put", provides="out`put")
    built = pf.GraphFlow("g|h").add(odd, step("`tick`", "out`put"))
    built.link(odd, list(built)[1], decider=checks_passed)
    text = flow(built, "md", store_keys=("in|put",))
    assert text.splitlines()[0] == "Flow `g|h`: 2 atoms."  # not a table cell: no escape
    rows = markdown_rows(text)
    assert all(len(row) == 5 for row in rows)
    assert rows[0] == ["`a\\|b`", "task", "`g\\|h`", "`in\\|put` from the store", "``out`put``"]
    assert rows[1][0] == "`` `tick` ``"
    assert rows[1][3] == "``out`put`` from `a\\|b`"
    assert "- `a|b` -> `` `tick` ``: decider `checks_passed`, depth `ALL`\n" in text


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


@pytest.mark.parametrize("format", ["svg", "MERMAID", "", "png", "MD", "markdown"])
def test_an_unknown_format_is_refused_naming_the_allowed_ones(format: str) -> None:
    with pytest.raises(UsageError, match=r"format .* is not known \(allowed: dot, md, mermaid\)"):
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
