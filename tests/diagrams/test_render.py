"""`provenflow.diagrams.render`: SVG and PNG through Graphviz, and a clear error without it.

The DOT text of every lifecycle (plain, highlighted, covered) is rendered by the real `dot`:
the SVG must parse as XML and name every state, the PNG must carry the PNG signature. Without
`dot` on PATH (the PATH variable is changed, not our code) `RenderUnavailable` says what to
install.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest

from provenflow.diagrams import lifecycle, render
from provenflow.errors import RenderUnavailable, UsageError
from provenflow.fsm import LIFECYCLES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (.ci/run installs it)"
)


def svg_text(svg: bytes) -> str:
    root = ElementTree.fromstring(svg)
    return " ".join(text for element in root.iter() for text in [element.text or ""] if text)


@needs_dot
@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_an_svg_of_each_lifecycle_is_xml_naming_every_state(name: str) -> None:
    found = LIFECYCLES[name]
    text = svg_text(render(lifecycle(name, "dot"), "svg"))
    for state in found.states:
        assert str(state) in text.split()
    for _, event, _ in found.edges():
        assert str(event) in text.split()


@needs_dot
def test_highlighted_and_covered_drawings_render() -> None:
    first = next(iter(LIFECYCLES["task"].edges()))
    edge = (str(first[0]), str(first[1]), str(first[2]))
    highlighted = svg_text(render(lifecycle("task", "dot", highlight=[edge]), "svg"))
    assert "task lifecycle" in highlighted and "coverage" not in highlighted
    for covered in ([edge], []):
        drawn = svg_text(render(lifecycle("task", "dot", highlight=[edge], covered=covered), "svg"))
        assert f"coverage {len(covered)} of 13 edges taken" in drawn


GOLDEN_DOT = sorted(
    path.name
    for pattern in ("lifecycle_*.dot", "trace_*.dot")
    for path in (Path(__file__).resolve().parent / "golden").glob(pattern)
)


@needs_dot
@pytest.mark.parametrize("name", GOLDEN_DOT)
def test_dot_accepts_every_golden_dot_file(name: str) -> None:
    source = (Path(__file__).resolve().parent / "golden" / name).read_text(encoding="utf-8")
    assert ElementTree.fromstring(render(source, "svg")).tag.endswith("svg")


def test_there_are_golden_dot_files_to_render() -> None:
    assert len(GOLDEN_DOT) >= 10


@needs_dot
def test_a_png_starts_with_the_png_signature() -> None:
    png = render(lifecycle("flow", "dot"), "png")
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 1000


@needs_dot
def test_dot_text_that_dot_refuses_is_a_usage_error_with_dots_message() -> None:
    with pytest.raises(UsageError) as caught:
        render("digraph { a -> }", "svg")
    assert "cannot render svg: dot refused the DOT text: " in str(caught.value)
    assert "syntax error" in str(caught.value)


def test_an_unknown_image_format_names_the_allowed_ones() -> None:
    with pytest.raises(UsageError) as caught:
        render(lifecycle("task", "dot"), "mermaid")
    assert str(caught.value) == "unknown image format 'mermaid' (allowed: svg, png)"


def test_without_dot_on_path_rendering_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot there
    with pytest.raises(RenderUnavailable) as caught:
        render(lifecycle("task", "dot"), "png")
    error = caught.value
    assert isinstance(error, UsageError)
    assert error.missing == "dot"
    message = str(error)
    assert message.startswith("cannot render png: the Graphviz program `dot` is not on PATH")
    assert "apt-get install graphviz" in message
    assert "mermaid, dot and md text need neither" in message


def test_the_error_pickles_and_names_the_python_package_when_that_is_missing() -> None:
    error = RenderUnavailable("svg", "graphviz")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert "pip install graphviz" in str(error)
