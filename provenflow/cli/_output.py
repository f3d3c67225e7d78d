"""What the command prints that it did not write itself: shown as text, never obeyed.

Theory of operation. Flow and atom names, results, failure messages and tracebacks, store
values, run ids and URLs come from the user's code or from a store that anyone with write
access could have edited. Printed as they are, they could forge the command's output: rich
would read `[bold red]fake[/]` as markup (and `[/]` alone makes it raise `MarkupError` after
the run already ended), and a terminal obeys control characters (`\\x1b[2J` clears it, `\\r`
overwrites the line, `\\n` starts a line that looks like the command's own).

Every such string goes through `printable` (for plain text) or `shown` (a `rich.text.Text`,
which rich never parses as markup) before it is printed:

- C0 controls (`\\x00`-`\\x1f`, newline included unless the text is meant to span lines),
  DEL and the C1 controls (`\\x80`-`\\x9f`) are shown as escapes (`\\x1b`, `\\r`, `\\n`, `\\t`);
- the characters that reorder or break displayed text (bidirectional overrides and isolates,
  the line and paragraph separators) are shown as `\\uXXXX`;
- everything else, other scripts and emoji included, is shown as it is.

`OUTPUT` is the console factory the subcommands print with: no highlighting, and when stdout
is not a terminal (a pipe, a file) a width that cuts nothing, so a table's ids and messages
stay whole for `grep` (use `--json` to parse). `ShownTransitions` is the listener that prints
each transition of `run` and `resume`, escaped.
"""

from __future__ import annotations

import io
import sys

from rich.console import Console
from rich.text import Text

from provenflow.engine import PrintingListener
from provenflow.persistence import Transition

__all__ = ["PIPE_WIDTH", "ShownTransitions", "console", "printable", "shown"]

PIPE_WIDTH = 100_000
"""The console width when the output is not a terminal: wide enough that nothing is cut."""

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_LAYOUT = [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]


def _escape(code: int) -> str:
    char = chr(code)
    if char in _SHORT:
        return _SHORT[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ESCAPES = {code: _escape(code) for code in [*range(0x20), *range(0x7F, 0xA0), *_LAYOUT]}
_ESCAPES_KEEPING_LINES = {code: text for code, text in _ESCAPES.items() if code != ord("\n")}


def printable(value: object, *, lines: bool = False) -> str:
    """Return `str(value)` with every control character shown as an escape (see the module).

    With `lines=True` newlines are kept (for a traceback or a report that spans lines); every
    other control character is still escaped. Never raises for a value whose `str` works.
    """
    return str(value).translate(_ESCAPES_KEEPING_LINES if lines else _ESCAPES)


def shown(value: object, style: str = "", *, lines: bool = False) -> Text:
    """Return `printable(value)` as a rich `Text` in `style`: printed as written, never markup."""
    return Text(printable(value, lines=lines), style=style)


def console(*, stderr: bool = False) -> Console:
    """Return a console for the command's output (stdout, or stderr when asked).

    No highlighting; when the stream is not a terminal, `PIPE_WIDTH` columns, so nothing
    printed to a pipe or a file is cut or wrapped to 80 columns.
    """
    found = Console(stderr=stderr, highlight=False)
    if found.is_terminal:
        return found
    return Console(stderr=stderr, highlight=False, width=PIPE_WIDTH)


class ShownTransitions:
    """A listener printing each transition as `PrintingListener` words it, escaped, on stdout.

    Each line is `printable` (so a failure message cannot start a line of its own) and is
    written to the `sys.stdout` of the moment, so a progress bar that routes stdout above
    itself gets the lines.
    """

    def __init__(self, kinds: tuple[str, ...] = ("flow", "task", "retry")) -> None:
        self._buffer = io.StringIO()
        self._words = PrintingListener(stream=self._buffer, kinds=kinds)

    def on_transition(self, transition: Transition) -> None:
        """Print the line for `transition` (if its lifecycle is one of the kinds), escaped."""
        self._words.on_transition(transition)
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        if text:
            print(printable(text.removesuffix("\n")), file=sys.stdout)
