"""`provenflow.diagrams.lifecycle`: every lifecycle in every text format, against golden files.

Besides the golden files (`lifecycle_<name>.<ext>`, plus highlighted and covered variants), the
tests check what a golden file cannot say on its own: that the Mermaid text has every state and
edge of the table, that the output does not depend on the order a table's rows are written in,
and that bad names, formats and edges are refused naming what is allowed.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import pytest

from provenflow.diagrams import lifecycle
from provenflow.errors import UsageError
from provenflow.fsm import LIFECYCLES, Lifecycle, build_lifecycle, task
from tests.diagrams import assert_golden

EXTENSIONS = {"mermaid": "mmd", "dot": "dot", "md": "md"}

TASK_PATH = [
    ("PENDING", "start", "RUNNING"),
    ("RUNNING", "fail", "FAILURE"),
    ("FAILURE", "revert", "REVERTING"),
    ("REVERTING", "reverted", "REVERTED"),
]
FLOW_TAKEN = [
    ("PENDING", "start", "RUNNING"),
    ("RUNNING", "succeed", "SUCCESS"),
    ("RUNNING", "fail", "REVERTING"),
    ("REVERTING", "reverted", "REVERTED"),
]


def edges(found: Lifecycle[Any, Any]) -> list[tuple[str, str, str]]:
    return [(str(state), str(event), str(target)) for state, event, target in found.edges()]


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_every_lifecycle_in_every_format_matches_its_golden_file(name: str, format: str) -> None:
    assert_golden(f"lifecycle_{name}.{EXTENSIONS[format]}", lifecycle(name, format))


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_a_highlighted_path_matches_its_golden_file(format: str) -> None:
    text = lifecycle("task", format, highlight=TASK_PATH)
    assert_golden(f"lifecycle_task_highlight.{EXTENSIONS[format]}", text)


@pytest.mark.parametrize("format", sorted(EXTENSIONS))
def test_a_coverage_drawing_matches_its_golden_file(format: str) -> None:
    text = lifecycle("flow", format, covered=FLOW_TAKEN)
    assert_golden(f"lifecycle_flow_covered.{EXTENSIONS[format]}", text)


@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_the_mermaid_text_is_a_state_diagram_with_every_state_and_edge(name: str) -> None:
    found = LIFECYCLES[name]
    lines = lifecycle(name).splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert all(line.startswith("    ") for line in lines[1:])
    body = [line.strip() for line in lines[1:]]
    assert body.count(f"[*] --> {found.initial}") == 1
    assert {line.split(" ")[0] for line in body if line.endswith("--> [*]")} == {
        str(state) for state in found.terminal
    }
    drawn = [
        tuple(re.fullmatch(r"(\S+) --> (\S+): (\S+)", line).groups())  # type: ignore[union-attr]
        for line in body
        if ": " in line and not line.startswith(("%%", "note"))
    ]
    assert sorted((state, event, target) for state, target, event in drawn) == sorted(edges(found))
    mentioned = {word for line in body for word in re.findall(r"[A-Z_]+", line)}
    assert {str(state) for state in found.states} <= mentioned


@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_the_markdown_table_has_one_row_per_edge_and_names_initial_and_terminal(name: str) -> None:
    found = LIFECYCLES[name]
    text = lifecycle(name, "md")
    first = text.splitlines()[0]
    assert f"initial state `{found.initial}`" in first
    assert all(f"`{state}`" in first for state in found.terminal)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert sorted(tuple(cell.strip(" `") for cell in row.split("|")[1:4]) for row in rows) == (
        sorted(edges(found))
    )


def test_the_dot_text_marks_initial_and_terminal_states() -> None:
    text = lifecycle("flow", "dot")
    assert text.startswith('digraph "flow" {\n')
    assert '"__start__" [label="", shape="point", width="0.15"];' in text
    assert '"__start__" -> "PENDING";' in text
    for state in ("SUCCESS", "REVERTED", "FAILURE"):
        assert f'"{state}" [shape="doublecircle"];' in text
    assert '"RUNNING";' in text


def test_a_highlight_marks_only_its_edges_and_states() -> None:
    text = lifecycle("task", "dot", highlight=TASK_PATH)
    emphasised = [line for line in text.splitlines() if 'penwidth="2.5"' in line]
    assert len(emphasised) == len(TASK_PATH)
    mermaid = lifecycle("task", highlight=TASK_PATH)
    assert mermaid.count("(on path)") == len(TASK_PATH)
    assert "class PENDING,RUNNING,FAILURE,REVERTING,REVERTED onPath" in mermaid
    assert "onPath" not in lifecycle("task")


def test_coverage_marks_every_edge_taken_or_never_taken() -> None:
    total = len(edges(LIFECYCLES["flow"]))
    dot = lifecycle("flow", "dot", covered=FLOW_TAKEN)
    assert dot.count('style="dashed"') == total - len(FLOW_TAKEN)
    assert dot.count('[color="#1a7f37"') == len(FLOW_TAKEN)
    assert f"coverage {len(FLOW_TAKEN)} of {total} edges taken" in dot
    mermaid = lifecycle("flow", covered=FLOW_TAKEN)
    assert mermaid.count(": ✓ ") == len(FLOW_TAKEN)
    assert mermaid.count("(never taken)") == total - len(FLOW_TAKEN)
    md = lifecycle("flow", "md", covered=[])
    assert md.count("| **no** |") == total
    everything = lifecycle("flow", covered=edges(LIFECYCLES["flow"]))
    assert "never taken)" not in everything and f"coverage {total} of {total}" in everything


def test_edges_may_be_enum_members_or_lists() -> None:
    as_enums = [(task.State.PENDING, task.Event.START, task.State.RUNNING)]
    as_lists = [["PENDING", "start", "RUNNING"]]
    plain = lifecycle("task", highlight=[("PENDING", "start", "RUNNING")])
    assert lifecycle("task", highlight=as_enums) == plain
    assert lifecycle("task", highlight=as_lists) == plain  # type: ignore[arg-type]


def test_a_lifecycle_object_draws_like_its_name() -> None:
    for name, found in LIFECYCLES.items():
        assert lifecycle(found, "dot") == lifecycle(name, "dot")


class Light(StrEnum):
    OFF = "OFF"
    ON = "ON"
    BROKEN = "BROKEN"


class Switch(StrEnum):
    FLIP = "flip"
    BREAK = "break"


def build_light(rows: dict[Light, list[tuple[Switch, Light]]]) -> Lifecycle[Light, Switch]:
    return build_lifecycle(
        "light", states=Light, events=Switch, initial=Light.OFF, terminal=[Light.BROKEN], rows=rows
    )


def test_the_text_does_not_depend_on_how_the_rows_are_written() -> None:
    written = build_light(
        {
            Light.OFF: [(Switch.FLIP, Light.ON), (Switch.BREAK, Light.BROKEN)],
            Light.ON: [(Switch.BREAK, Light.BROKEN), (Switch.FLIP, Light.OFF)],
            Light.BROKEN: [],
        }
    )
    reordered = build_light(
        {
            Light.BROKEN: [],
            Light.ON: [(Switch.FLIP, Light.OFF), (Switch.BREAK, Light.BROKEN)],
            Light.OFF: [(Switch.BREAK, Light.BROKEN), (Switch.FLIP, Light.ON)],
        }
    )
    for format in EXTENSIONS:
        assert lifecycle(written, format) == lifecycle(reordered, format)
    assert lifecycle(written).splitlines()[2:5] == [
        "    [*] --> OFF",
        "    OFF --> BROKEN: break",
        "    OFF --> ON: flip",
    ]


class Odd(StrEnum):
    START = "start here"
    END = "end"


class Go(StrEnum):
    GO = "go; #1"


def test_mermaid_aliases_states_it_cannot_take_as_ids_and_escapes_labels() -> None:
    odd = build_lifecycle(
        "odd", states=Odd, events=Go, initial=Odd.START, terminal=[Odd.END],
        rows={Odd.START: [(Go.GO, Odd.END)], Odd.END: []},
    )  # fmt: skip
    lines = lifecycle(odd).splitlines()
    assert '    state "start here" as s0' in lines
    assert '    state "end" as s1' in lines
    assert "    s0 --> s1: go#59; #35;1" in lines
    assert "    s1 --> [*]" in lines


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lifecycle("tsk"), "unknown lifecycle 'tsk' (known: task, retry, flow, engine"),
        (lambda: lifecycle(3), "lifecycle() takes a lifecycle's name (task, retry, flow"),
        (
            lambda: lifecycle("task", "svg"),
            "unknown diagram format 'svg' (allowed: mermaid, dot, md",
        ),
        (
            lambda: lifecycle("task", highlight=[("PENDING", "fail", "FAILURE")]),
            "lifecycle 'task': highlight edge PENDING --fail--> FAILURE is not an edge of the "
            "table (edges from PENDING: PENDING --ignore--> IGNORE, PENDING --start--> RUNNING)",
        ),
        (
            lambda: lifecycle("task", covered=[("REVERT_FAILURE", "reset", "PENDING")]),
            "covered edge REVERT_FAILURE --reset--> PENDING is not an edge of the table (edges "
            "from REVERT_FAILURE: none, REVERT_FAILURE is terminal)",
        ),
        (lambda: lifecycle("task", covered=[("NOWHERE", "x", "y")]), "(states: PENDING, RUNNING"),
        (lambda: lifecycle("task", highlight=["PENDING"]), "takes (state, event, target) tuples"),
    ],
)
def test_bad_arguments_are_refused_naming_what_is_allowed(call: Any, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        call()
    assert message in str(caught.value)
