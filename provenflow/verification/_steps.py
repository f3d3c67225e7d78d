"""A path's steps as text and as data: what traces print and what diagrams draw.

A step is a `Transition` (a record written), an outcome `("outcome", kind, action, node)`, or
a line of text (a lost write, a crash, a resume, a suspension).
"""

from __future__ import annotations

from typing import Any

from provenflow.persistence import Transition

__all__ = ["event_of", "render"]


def event_of(step: Any) -> dict[str, Any]:
    """The step as data: a dict with `kind` and `text` (see `Simulation.events`)."""
    text = step if isinstance(step, str) else render(step)
    if isinstance(step, Transition):
        return {
            "kind": "record",
            "lifecycle": step.lifecycle,
            "atom": step.atom,
            "old": str(step.old_state),
            "event": str(step.event),
            "new": str(step.new_state),
            "text": text,
        }
    if isinstance(step, tuple):
        _, kind, action, node = step
        return {"kind": action, "atom": node, "outcome": kind, "text": text}
    for prefix, kind in _TEXT_KINDS:
        if step.startswith(prefix):
            return {"kind": kind, "text": text}
    raise AssertionError(f"a step of unknown kind: {step!r}")  # pragma: no cover


_TEXT_KINDS = (
    ("crash before writing", "lost_write"),
    ("CRASH", "crash"),
    ("RESUME", "resume"),
    ("suspend", "suspend"),
)


def render(step: Any) -> str:
    """The step as a line of text."""
    if isinstance(step, Transition):
        return f"record {step.atom or 'flow'}: {step.old_state} --{step.event}--> {step.new_state}"
    _, kind, action, node = step
    if kind == "runs":
        return f"{action} {node!r} runs"
    if kind == "raises":
        return f"{action} {node!r} raises"
    if kind == "crash before":
        return f"crash before {action} {node!r} does anything"
    return f"crash after {action} {node!r}, before its outcome is recorded"
