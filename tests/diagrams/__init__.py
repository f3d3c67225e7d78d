"""Tests of provenflow.diagrams, and the golden-file check they share.

`assert_golden(name, text)` compares `text` with `tests/diagrams/golden/<name>`; with the
environment variable `PROVENFLOW_UPDATE_GOLDEN=1` it rewrites the file instead (and the test
still passes), so an intended change of a diagram is one command and a reviewed diff.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = "PROVENFLOW_UPDATE_GOLDEN"


def assert_golden(name: str, text: str) -> None:
    """Fail unless `text` is the content of golden file `name` (or rewrite it, see above)."""
    path = GOLDEN / name
    if os.environ.get(UPDATE) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        return
    assert path.is_file(), (
        f"golden file {path} is missing; write it with {UPDATE}=1 python3 -m pytest tests/diagrams"
    )
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"{name} differs from its golden file; if the change is intended, rewrite it with "
        f"{UPDATE}=1 python3 -m pytest tests/diagrams and review the diff"
    )
