"""`provenflow diagram lifecycle|flow|trace` (`provenflow/cli/_diagram.py`).

What each diagram looks like is `provenflow.diagrams`' business (its golden files); these tests
check that the command wires the functions: what it prints or writes is exactly what the
function returns, images are real SVG (naming the states) and PNG, and bad input exits 2.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from provenflow import diagrams
from provenflow.engine import load_factory
from provenflow.errors import RenderUnavailable
from provenflow.fsm import LIFECYCLES
from tests.cli.conftest import invoke, plain

ROOT = Path(__file__).resolve().parents[2]
SAGA = ROOT / "examples" / "flawed_saga.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_FORMATS = ("mermaid", "dot", "md")


def svg_text(data: bytes) -> str:
    """Return every text of an SVG document (which must parse as XML)."""
    return " ".join(ElementTree.fromstring(data).itertext())


def as_printed(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


# -- lifecycle -----------------------------------------------------------------------------


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_lifecycle_text_is_what_the_function_returns(format_name: str, tmp_path: Path) -> None:
    expected = diagrams.lifecycle("retry", format_name)
    result = invoke("diagram", "lifecycle", "retry", "--format", format_name)
    assert result.exit_code == 0, result.output
    assert result.stdout == as_printed(expected)
    target = tmp_path / "retry.txt"
    written = invoke("diagram", "lifecycle", "retry", "-f", format_name, "-o", str(target))
    assert written.exit_code == 0, written.output
    assert written.stdout == ""
    assert target.read_text() == expected


def test_lifecycle_defaults_to_mermaid() -> None:
    assert invoke("diagram", "lifecycle", "task").stdout == as_printed(
        diagrams.lifecycle("task", "mermaid")
    )


def test_lifecycle_svg_names_every_state(tmp_path: Path) -> None:
    target = tmp_path / "task.svg"
    result = invoke("diagram", "lifecycle", "task", "-f", "svg", "-o", str(target))
    assert result.exit_code == 0, result.output
    text = svg_text(target.read_bytes())
    for state in LIFECYCLES["task"].states:
        assert str(state) in text
    piped = invoke("diagram", "lifecycle", "task", "-f", "svg")  # stdout is no terminal here
    assert piped.exit_code == 0
    assert piped.stdout_bytes == target.read_bytes()


def test_lifecycle_png_is_a_png(tmp_path: Path) -> None:
    target = tmp_path / "flow.png"
    result = invoke("diagram", "lifecycle", "flow", "-f", "png", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    piped = invoke("diagram", "lifecycle", "flow", "-f", "png")
    assert piped.exit_code == 0
    assert piped.stdout_bytes.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("format_name", [*TEXT_FORMATS, "svg"])
def test_lifecycle_all_writes_one_file_each(format_name: str, tmp_path: Path) -> None:
    target = tmp_path / "made" / "here"
    result = invoke("diagram", "lifecycle", "all", "-f", format_name, "-o", str(target))
    assert result.exit_code == 0, result.output
    extension = {"mermaid": "mmd"}.get(format_name, format_name)
    assert sorted(path.name for path in target.iterdir()) == sorted(
        f"{name}.{extension}" for name in LIFECYCLES
    )
    for name in LIFECYCLES:
        content = (target / f"{name}.{extension}").read_bytes()
        if format_name == "svg":
            assert str(LIFECYCLES[name].initial) in svg_text(content)
        else:
            assert content.decode() == diagrams.lifecycle(name, format_name)


def test_png_is_refused_on_a_terminal_and_svg_is_not() -> None:
    """Run under a pseudo-terminal, as a user at a shell would."""

    def on_terminal(*args: str) -> tuple[int, bytes]:
        leader, follower = pty.openpty()
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "provenflow", *args],
                stdout=follower,
                stderr=subprocess.PIPE,
                cwd=ROOT,
                timeout=60,
                check=False,
            )
        finally:
            os.close(follower)
            os.close(leader)
        return completed.returncode, completed.stderr

    code, stderr = on_terminal("diagram", "lifecycle", "task", "-f", "png")
    assert code == 2
    assert plain(stderr.decode()).startswith("provenflow: error: refusing to write PNG bytes")
    assert b"Traceback" not in stderr
    assert on_terminal("diagram", "lifecycle", "task", "-f", "svg") == (0, b"")


def test_graphviz_missing_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    result = invoke("diagram", "lifecycle", "task", "-f", "svg", "-o", str(tmp_path / "t.svg"))
    assert result.exit_code == 2
    assert plain(result.stderr) == f"provenflow: error: {RenderUnavailable('svg', 'dot')}\n"
    assert not (tmp_path / "t.svg").exists()


def test_an_unwritable_output_is_one_line_and_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "task.mmd"
    result = invoke("diagram", "lifecycle", "task", "-o", str(target))
    assert result.exit_code == 2
    assert plain(result.stderr).startswith(f"provenflow: error: cannot write '{target}'")


# -- flow ------------------------------------------------------------------------------------


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
@pytest.mark.parametrize("factory", ["make_flow", "make_pair"])
def test_flow_text_is_what_the_function_returns(
    flows: Path, tmp_path: Path, format_name: str, factory: str
) -> None:
    flow = load_factory(f"{flows}:make_flow")()
    expected = diagrams.flow(flow, format_name)
    result = invoke("diagram", "flow", f"{flows}:{factory}", "-f", format_name)
    assert result.exit_code == 0, result.output
    assert result.stdout == as_printed(expected)
    target = tmp_path / "flow.out"
    written = invoke("diagram", "flow", f"{flows}:{factory}", "-f", format_name, "-o", str(target))
    assert written.exit_code == 0, written.output
    assert target.read_text() == expected


def test_flow_store_names_the_inputs(tmp_path: Path) -> None:
    spec = f"{ROOT / 'examples' / 'order_saga.py'}:make_flow"
    refused = invoke("diagram", "flow", spec)
    assert refused.exit_code == 2
    assert "order_id" in refused.stderr
    result = invoke("diagram", "flow", spec, "--store", '{"order_id": 7}')
    assert result.exit_code == 0, result.output
    expected = diagrams.flow(load_factory(spec)(), "mermaid", store_keys=["order_id"])
    assert result.stdout == as_printed(expected)


def test_flow_images(flows: Path, tmp_path: Path) -> None:
    svg = tmp_path / "flow.svg"
    png = tmp_path / "flow.png"
    assert (
        invoke("diagram", "flow", f"{flows}:make_flow", "-f", "svg", "-o", str(svg)).exit_code == 0
    )
    assert (
        invoke("diagram", "flow", f"{flows}:make_flow", "-f", "png", "-o", str(png)).exit_code == 0
    )
    text = svg_text(svg.read_bytes())
    assert "one" in text
    assert "two" in text
    assert png.read_bytes().startswith(PNG_SIGNATURE)


@pytest.fixture
def failed_run(flows: Path, db: str) -> str:
    """The id of a run of `failing` made with `provenflow run` into `db` (it exits 1)."""
    ran = invoke("run", f"{flows}:failing", "-b", db, "--json")
    assert ran.exit_code == 1
    flow_id: str = json.loads(ran.stdout)["flow_id"]
    return flow_id


def draw_run(flows: Path, run: str, db: str) -> tuple[str, ...]:
    """The arguments that draw `failing` coloured by `run` from the store `db`."""
    return ("diagram", "flow", f"{flows}:failing", "--run", run, "-b", db)


def test_flow_coloured_by_a_run_made_with_the_command(
    flows: Path, db: str, failed_run: str, tmp_path: Path
) -> None:
    flow_id = failed_run
    expected = diagrams.flow(load_factory(f"{flows}:failing")(), "mermaid", run=flow_id, backend=db)
    assert expected != diagrams.flow(load_factory(f"{flows}:failing")(), "mermaid")
    for run_id in (flow_id, "latest"):
        result = invoke(*draw_run(flows, run_id, db))
        assert result.exit_code == 0, result.output
        assert result.stdout == as_printed(expected)
    assert "REVERTED" in expected
    svg = tmp_path / "run.svg"
    drawn = invoke(*draw_run(flows, flow_id, db), "-f", "svg", "-o", str(svg))
    assert drawn.exit_code == 0, drawn.output
    assert "REVERTED" in svg_text(svg.read_bytes())


def test_flow_md_with_a_run_is_what_the_function_returns(
    flows: Path, db: str, failed_run: str, tmp_path: Path
) -> None:
    flow_id = failed_run
    expected = diagrams.flow(load_factory(f"{flows}:failing")(), "md", run=flow_id, backend=db)
    assert expected.startswith(f"Run `{flow_id}` of flow ")
    assert "| state | attempts |" in expected
    result = invoke(*draw_run(flows, "latest", db), "-f", "md")
    assert result.exit_code == 0, result.output
    assert result.stdout == as_printed(expected)
    target = tmp_path / "run.md"
    written = invoke(*draw_run(flows, flow_id, db), "--format", "md", "-o", str(target))
    assert written.exit_code == 0, written.output
    assert target.read_text() == expected


def test_flow_run_uses_the_default_store_of_provenflow_run(
    flows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("run", f"{flows}:make_flow", "--quiet").exit_code == 0
    assert (tmp_path / "provenflow.db").is_file()
    result = invoke("diagram", "flow", f"{flows}:make_flow", "--run", "latest")
    assert result.exit_code == 0, result.output
    flow_id = json.loads(invoke("runs", "--json").stdout)[-1]["flow_id"]
    expected = diagrams.flow(
        load_factory(f"{flows}:make_flow")(),
        "mermaid",
        run=flow_id,
        backend="sqlite:///provenflow.db",
    )
    assert result.stdout == as_printed(expected)


# -- trace -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_text() -> str:
    """The JSON report of `provenflow verify examples/flawed_saga.py:make_flawed --json`."""
    result = invoke("verify", f"{SAGA}:make_flawed", "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["violations"]
    return result.stdout


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_trace_text_is_what_the_function_returns(
    report_text: str, tmp_path: Path, format_name: str
) -> None:
    violation = json.loads(report_text)["violations"][0]
    expected = diagrams.trace(violation, format_name)
    report = tmp_path / "report.json"
    report.write_text(report_text)
    result = invoke("diagram", "trace", str(report), "-f", format_name)
    assert result.exit_code == 0, result.output
    assert result.stdout == as_printed(expected)
    from_stdin = invoke(
        "diagram", "trace", "-", "--violation", "1", "-f", format_name, input=report_text
    )
    assert from_stdin.stdout == result.stdout
    target = tmp_path / "trace.out"
    assert (
        invoke("diagram", "trace", str(report), "-f", format_name, "-o", str(target)).exit_code == 0
    )
    assert target.read_text() == expected


def test_trace_images(report_text: str, tmp_path: Path) -> None:
    svg = tmp_path / "trace.svg"
    png = tmp_path / "trace.png"
    assert (
        invoke("diagram", "trace", "-", "-f", "svg", "-o", str(svg), input=report_text).exit_code
        == 0
    )
    assert (
        invoke("diagram", "trace", "-", "-f", "png", "-o", str(png), input=report_text).exit_code
        == 0
    )
    text = svg_text(svg.read_bytes())
    assert "REVERT_FAILURE" in text
    assert "reserve" in text
    assert png.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("entity", "lifecycle", "atom"), [("flow", "flow", None), ("reserve", "task", "reserve")]
)
@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_trace_path_draws_one_entity_through_its_lifecycle(
    report_text: str, entity: str, lifecycle: str, atom: str | None, format_name: str
) -> None:
    violation = json.loads(report_text)["violations"][0]
    expected = diagrams.trace_path(violation, lifecycle, atom, format_name)
    result = invoke("diagram", "trace", "-", "--path", entity, "-f", format_name, input=report_text)
    assert result.exit_code == 0, result.output
    assert result.stdout == as_printed(expected)


def test_trace_path_of_an_unknown_entity_names_those_it_has(report_text: str) -> None:
    result = invoke("diagram", "trace", "-", "--path", "nope", input=report_text)
    assert result.exit_code == 2
    assert "--path 'nope': no records of it in this trace (allowed: flow, reserve)" in result.stderr


@pytest.mark.parametrize(
    ("report", "args", "message"),
    [
        ('{"ok": true, "violations": []}', [], "the report has no violation to draw"),
        (None, ["--violation", "2"], "--violation 2: the report has 1 violation (allowed: 1 to 1)"),
        (None, ["--violation", "0"], "--violation 0: the report has 1 violation (allowed: 1 to 1)"),
    ],
)
def test_trace_without_that_violation_is_one_line_and_exit_2(
    report_text: str, report: str | None, args: list[str], message: str
) -> None:
    result = invoke("diagram", "trace", "-", *args, input=report or report_text)
    assert result.exit_code == 2
    assert plain(result.stderr) == f"provenflow: error: {message}\n"
