"""A path's steps and options as text, and its steps as data: what traces print, what the
diagrams draw, and what each option at a choice is called.

A step is a `Transition` (a record written), an outcome `("outcome", kind, action, node)`, or
a line of text (a lost write, a crash, a resume, a suspension). A path keeps its steps as a
trail `(previous trail, step)`, shared by the paths that branch from it.

A record's line shows the result or the failure it holds, each cut to `LONGEST` characters
with how much was left out (`shortened`): a trace stays one screen wide whatever a task
returned or raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from provenflow.engine import Work
from provenflow.persistence import Transition

__all__ = ["LONGEST", "describe_options", "event_of", "render", "shortened", "unwound"]

LONGEST = 120
"""The most characters of a value or a failure a step shows."""


def unwound(trail: tuple[Any, ...] | None) -> list[Any]:
    """The steps of `trail`, oldest first."""
    found: list[Any] = []
    while trail is not None:
        trail, step = trail
        found.append(step)
    found.reverse()
    return found


def describe_options(
    stage: str,
    pending: Sequence[Transition],
    in_flight: Sequence[Work],
    picked: Work | None,
    *,
    late: Sequence[Work] = (),
    count: int,
    crashes_left: bool,
    revert_failures: bool,
) -> tuple[str, ...]:
    """What each option of a path's current choice does, in the options' order (`count` of
    them)."""
    if stage == "write":
        what = ", ".join(f"{t.atom or 'flow'} {t.new_state}" for t in pending)
        if crashes_left and pending:
            return (f"write [{what}]", f"crash before writing [{what}]")
        return (f"write [{what}]",)
    if stage == "take":
        return tuple(f"the executor takes up to {count - index} work" for index in range(count))
    if stage == "pick":
        return tuple(f"complete {w.action} of {w.node!r}" for w in in_flight) + tuple(
            f"the abandoned {w.action} of {w.node!r} finishes late" for w in late
        ) or ("wait",)
    if stage == "outcome":
        assert picked is not None
        return _outcomes(picked, crashes_left=crashes_left, revert_failures=revert_failures)
    return _FIXED.get(stage, ("continue",))


_FIXED = {"suspend": ("go on", "suspend the run")}


def _outcomes(work: Work, *, crashes_left: bool, revert_failures: bool) -> tuple[str, ...]:
    options = [f"{work.action} {work.node!r} runs"]
    if work.action == "execute" or revert_failures:
        options.append(f"{work.action} {work.node!r} raises")
    if work.atom.timeout is not None:
        options.append(render(("outcome", "times out", work.action, work.node)))
    if crashes_left:
        options.append(f"crash before {work.action} {work.node!r} does anything")
        options.append(f"crash after {work.action} {work.node!r}, before its outcome is recorded")
    return tuple(options)


def event_of(step: Any) -> dict[str, Any]:
    """The step as data: a dict with `kind` and `text` (the line `render` prints): `record`
    (with `lifecycle`, `atom`, `old`, `event`, `new`), `execute` or `revert` (with `atom` and
    `outcome`: runs, raises, crash before, crash after), `lost_write` (a crash before a batch
    was written), `crash`, `resume`, `suspend`."""
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


def shortened(text: str, longest: int = LONGEST) -> str:
    """`text` on one line (a line break as `\\n`), or its first `longest` characters and how
    many more there were."""
    text = text.replace("\n", "\\n")
    if len(text) <= longest:
        return text
    return f"{text[:longest]}… ({len(text) - longest:,} more characters)"


def render(step: Any) -> str:
    """The step as a line of text (a record with its result or failure, each `shortened`)."""
    if isinstance(step, Transition):
        return _record_line(step)
    _, kind, action, node = step
    return _CALL_LINES[kind].format(action=action, node=repr(node))


_CALL_LINES = {
    "runs": "{action} {node} runs",
    "raises": "{action} {node} raises",
    "times out": "{action} {node} times out: the engine stops waiting, the call goes on",
    "lands": "the abandoned {action} of {node} finishes late; its outcome is ignored",
    "crash before": "crash before {action} {node} does anything",
    "crash after": "crash after {action} {node}, before its outcome is recorded",
}
"""How each outcome of an atom's call reads in a trace."""


def _record_line(step: Transition) -> str:
    line = f"record {step.atom or 'flow'}: {step.old_state} --{step.event}--> {step.new_state}"
    if step.failure is not None:
        return f"{line}, failure {shortened(str(step.failure))}"
    if step.result is not None:
        return f"{line}, result {shortened(repr(step.result))}"
    return line
