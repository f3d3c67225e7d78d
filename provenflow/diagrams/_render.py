"""SVG and PNG from DOT text, through Graphviz.

`render(dot_source, format)` hands the text to the `dot` program through the Python `graphviz`
package and returns the image's bytes. Rendering is the only part of `provenflow.diagrams` that
needs anything outside Python: without the `dot` program on PATH, or without the `graphviz`
package, it raises `RenderUnavailable` saying what to install; Mermaid, DOT and Markdown text
are produced without either.
"""

from __future__ import annotations

from provenflow.diagrams._lifecycle import check_format
from provenflow.errors import RenderUnavailable, UsageError

__all__ = ["RENDER_FORMATS", "render"]

RENDER_FORMATS = ("svg", "png")
"""The image formats `render` produces."""


def render(dot_source: str, format: str) -> bytes:
    """Return `dot_source` (DOT text, e.g. `lifecycle(name, "dot")`) drawn as `svg` or `png`.

    Raises `UsageError` for another format or for DOT text that `dot` refuses (with `dot`'s
    message), and `RenderUnavailable` when the `dot` program or the `graphviz` package is
    missing, saying what to install. Nothing is written anywhere.
    """
    check_format(format, RENDER_FORMATS, "image")
    try:
        # Imported here: text formats work without it. It ships no type information.
        import graphviz  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:
        raise RenderUnavailable(format, "graphviz") from None
    try:
        image: bytes = graphviz.Source(dot_source).pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise RenderUnavailable(format, "dot") from None
    except graphviz.CalledProcessError as error:
        stderr = error.stderr.decode("utf-8", "replace") if isinstance(error.stderr, bytes) else ""
        problem = stderr.strip() or str(error)
        raise UsageError(f"cannot render {format}: dot refused the DOT text: {problem}") from None
    return image
