"""Counterexample diagrams: a model checker's violation drawn as a sequence, a list or lifecycles.

`trace(violation, format)` draws the whole counterexample (a `Violation` or its `to_data()`
dict, read and checked by `_trace_data`):

- `mermaid`: a `sequenceDiagram` between the Engine, the Store and each atom (in order of first
  appearance): each record is an Engine->>Store message, each execute or revert an Engine->>atom
  call with its outcome (a cross when it raised or the process died before it did anything),
  crashes and resumes are shaded notes across Engine and Store, and the violation is the last
  note. Steps carry the numbers `str(violation)` gives them. The loop of a run that can go on
  forever is a `loop` block around its steps.
- `md`: a numbered table of the steps (a loop's marked), then the violation, the world at the
  violation (when the data has one) and the `replay(...)` call.
- `dot`: one digraph with a cluster per lifecycle entity (the flow, then each atom with a
  record), each its lifecycle's diagram with the entity's path highlighted and every edge on it
  labelled with the steps that took it; the caption says which steps loop forever, if any.

`trace_path(violation, lifecycle, atom, format)` draws one entity's path: the lifecycle diagram
of `lifecycle(...)` with that path highlighted and numbered. All output is byte-stable.
"""

from __future__ import annotations

import json
import re
import textwrap

from provenflow.diagrams._describe import describe
from provenflow.diagrams._lifecycle import check_format, write
from provenflow.diagrams._style import DOT
from provenflow.diagrams._text import (
    GENERATED,
    dot_attributes,
    dot_label,
    dot_quote,
    dot_statements,
    markdown_cell,
    mermaid_text,
)
from provenflow.diagrams._trace_data import ATOM_LIFECYCLES, Counterexample, Step, read_violation
from provenflow.errors import UsageError
from provenflow.fsm import LIFECYCLES

__all__ = ["trace", "trace_path"]

_INDENT = "    "
_MERMAID_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RESERVED = frozenset(
    {"engine", "store", "end", "participant", "actor", "note", "loop", "alt", "else", "opt"}
    | {"par", "and", "rect", "critical", "break", "box", "activate", "deactivate"}
    | {"autonumber", "title", "link", "links", "create", "destroy", "over", "as"}
)
_SHADES = {"crash": "rgb(255, 228, 225)", "resume": "rgb(221, 244, 255)"}
_VIOLATION_SHADE = "rgb(255, 205, 210)"
_CALLS = {
    "runs": "->>",
    "raises": "-x",
    "times out": "-x",
    "lands": "->>",
    "crash before": "-x",
    "crash after": "->>",
}


def _describe_bounds(example: Counterexample, code: str = "") -> str:
    where = f"{code}{example.factory}{code}" if example.factory else "a flow"
    bounds = ", ".join(f"{name}={value}" for name, value in example.bounds)
    return f"{where} ({bounds})" if bounds else where


# -- mermaid --------------------------------------------------------------------------------------


def _participant_ids(atoms: list[str]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for index, atom in enumerate(atoms, 1):
        plain = _MERMAID_ID.fullmatch(atom) and atom.lower() not in _RESERVED
        ids[atom] = atom if plain else f"atom{index}"
    return ids


def _shaded(shade: str, over: str, text: str) -> list[str]:
    return [f"rect {shade}", f"{_INDENT}Note over {over}: {mermaid_text(text)}", "end"]


def _sequence_step(step: Step, ids: dict[str, str]) -> list[str]:
    label = mermaid_text(f"{step.number}. {step.text}")
    if step.kind == "record":
        return [f"Engine->>Store: {label}"]
    if step.kind in ("execute", "revert"):
        assert step.atom is not None and step.outcome is not None
        return [f"Engine{_CALLS[step.outcome]}{ids[step.atom]}: {label}"]
    if step.kind == "lost_write":
        return [f"Engine-xStore: {label}"]
    if step.kind in _SHADES:
        return _shaded(_SHADES[step.kind], "Engine,Store", f"{step.number}. {step.text}")
    return [f"Note over Engine: {label}"]  # suspend


def _trace_mermaid(example: Counterexample) -> str:
    atoms = example.participants()
    ids = _participant_ids(atoms)
    lines = [
        "sequenceDiagram",
        f"{_INDENT}%% counterexample of {_describe_bounds(example)}, {GENERATED}",
        f"{_INDENT}participant Engine",
        f"{_INDENT}participant Store",
    ]
    for atom, ident in ids.items():
        alias = "" if atom == ident else f" as {mermaid_text(atom)}"
        lines.append(f"{_INDENT}participant {ident}{alias}")
    looping = False
    for step in example.steps:
        if step.number == example.loop_first:
            looping = True
            caption = example.loop_caption()
            assert caption is not None
            lines.append(f"{_INDENT}loop {mermaid_text(caption)}")
        indent = _INDENT * (2 if looping else 1)
        lines += [f"{indent}{line}" for line in _sequence_step(step, ids)]
    if looping:
        lines.append(f"{_INDENT}end")
    last = ids[atoms[-1]] if atoms else "Store"
    lines += [
        f"{_INDENT}{line}"
        for line in _shaded(_VIOLATION_SHADE, f"Engine,{last}", f"VIOLATION: {example.message}")
    ]
    return "\n".join(lines) + "\n"


# -- markdown -------------------------------------------------------------------------------------


def _who(step: Step) -> str:
    if step.kind == "lost_write":
        return "store"
    return step.entity


def _trace_markdown(example: Counterexample) -> str:
    lines = [f"Counterexample found by the model checker in {_describe_bounds(example, '`')}.", ""]
    lines += ["| # | who | what happened |", "| --- | --- | --- |"]
    for step in example.steps:
        text = markdown_cell(step.text)
        if step.kind in ("crash", "resume", "lost_write"):
            text = f"**{text}**"
        looping = example.loop_first is not None and step.number >= example.loop_first
        number = f"{step.number} ↻" if looping else str(step.number)
        lines.append(f"| {number} | {markdown_cell(_who(step))} | {text} |")
    lines += ["", f"**Violation:** {markdown_cell(example.message)}", ""]
    if example.world is not None:
        world = json.dumps(example.world, separators=(",", ":"), ensure_ascii=False)
        lines += [f"**World at the violation:** `{markdown_cell(world)}`", ""]
    caption = example.loop_caption()
    if caption is not None:
        lines += [f"↻ {markdown_cell(caption)}.", ""]
    lines.append(f"Replay it: `{example.replay()}`")
    if example.checks is None:
        lines += ["", "(Pass the same `invariant=`, `always=` and `eventually=` as the search.)"]
    return "\n".join(lines) + "\n"


# -- dot ------------------------------------------------------------------------------------------


def _entity_name(lifecycle: str, atom: str | None) -> str:
    return "flow" if atom is None else f"{lifecycle} {atom!r}"


def _trace_dot(example: Counterexample) -> str:
    looping = example.loop_caption()
    caption = [
        *textwrap.wrap(f"violation: {example.message}", 90),
        *textwrap.wrap(looping or "", 90),
        "each entity's path in blue, its edges numbered by the steps that took them",
    ]
    label = dot_label(f"counterexample of {_describe_bounds(example)}", caption)
    lines = [
        'digraph "counterexample" {',
        f"{_INDENT}// {GENERATED}",
        f"{_INDENT}graph{dot_attributes({**DOT['graph'], 'label': label})};",
        f"{_INDENT}node{dot_attributes(DOT['node'])};",
        f"{_INDENT}edge{dot_attributes(DOT['edge'])};",
    ]
    entities: list[tuple[str, str | None]] = [("flow", None), *example.atoms()]
    for index, (lifecycle, atom) in enumerate(entities):
        diagram = describe(LIFECYCLES[lifecycle], steps=example.path(lifecycle, atom))
        prefix = "flow/" if atom is None else f"{lifecycle} {atom}/"
        cluster = {**DOT["cluster"], "label": _entity_name(lifecycle, atom)}
        lines.append(f"{_INDENT}subgraph {dot_quote(f'cluster_{index}')} {{")
        lines.append(f"{_INDENT * 2}graph{dot_attributes(cluster)};")
        lines += [f"{_INDENT * 2}{line}" for line in dot_statements(diagram, prefix)]
        lines.append(f"{_INDENT}}}")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- public ---------------------------------------------------------------------------------------

_TRACE_WRITERS = {"mermaid": _trace_mermaid, "dot": _trace_dot, "md": _trace_markdown}


def trace(violation: object, format: str = "mermaid") -> str:
    """Return a counterexample diagram: `mermaid` (a sequence diagram), `md` or `dot`.

    `violation`: a `provenflow.verification.Violation` or its `to_data()` dict (see the module
    docstring for what each format draws). Raises `UsageError` for an unknown format (naming
    the allowed ones) and for data that is not a violation (naming what is wrong).
    """
    check_format(format, _TRACE_WRITERS, "trace")
    return _TRACE_WRITERS[format](read_violation(violation))


def trace_path(
    violation: object,
    lifecycle: str = "flow",
    atom: str | None = None,
    format: str = "mermaid",
) -> str:
    """Return `lifecycle`'s diagram with one entity's path in a counterexample highlighted.

    `lifecycle="flow"` (with `atom=None`) draws the flow's path; `task` or `retry` with an
    `atom` name draws that atom's. Each edge on the path is labelled with the numbers of the
    steps that took it. `format`: `mermaid`, `dot` or `md`, as for `lifecycle()`.

    Raises `UsageError` for data that is not a violation, an unknown format or lifecycle, and
    an atom that has no record of that lifecycle in the trace (naming those that have).
    """
    example = read_violation(violation)
    check_format(format)
    if lifecycle == "flow":
        if atom is not None:
            raise UsageError(f"trace_path: the flow lifecycle takes no atom (got atom={atom!r})")
    elif lifecycle in ATOM_LIFECYCLES:
        known = [name for kind, name in example.atoms() if kind == lifecycle]
        if atom not in known:
            listed = ", ".join(repr(name) for name in known) or "none"
            raise UsageError(
                f"trace_path: no {lifecycle} {atom!r} in this counterexample "
                f"({lifecycle} atoms with records: {listed})"
            )
    else:
        allowed = ", ".join(("flow", *ATOM_LIFECYCLES))
        raise UsageError(f"trace_path: unknown lifecycle {lifecycle!r} (allowed: {allowed})")
    caption = [
        f"{_entity_name(lifecycle, atom)} in a counterexample, its edges numbered by step",
        f"violation: {example.message}",
        *filter(None, [example.loop_caption()]),
    ]
    diagram = describe(LIFECYCLES[lifecycle], steps=example.path(lifecycle, atom), caption=caption)
    return write(diagram, format)
