"""The JSON rules of the durable backends (`provenflow.persistence._json`), unit by unit."""

from __future__ import annotations

import math
from typing import Any

import pytest

from provenflow.errors import CorruptRecord, UnstorableValue
from provenflow.persistence import AtomInfo
from provenflow.persistence._json import atoms_from_json, atoms_to_json, check_value, dumps, loads

ACCEPTED = [
    None,
    "text ü",
    0,
    -(2**80),
    1.5,
    True,
    [],
    {},
    {"a": [1, {"b": None}], "c": (1, 2)},
]


@pytest.mark.parametrize("value", ACCEPTED)
def test_json_values_are_accepted_and_come_back_with_their_types(value: Any) -> None:
    check_value(value, "run", "atom", "result")
    back = loads(dumps(value), "here")
    assert back == value
    if isinstance(value, dict) and value:
        assert type(back["c"]) is tuple


def test_a_shared_value_is_not_a_cycle() -> None:
    shared = [1, 2]
    check_value({"a": shared, "b": shared, "c": [shared]}, "run", "atom", "result")


def test_the_refusal_names_run_atom_place_and_type() -> None:
    with pytest.raises(UnstorableValue) as caught:
        check_value({"rows": [{"id": 1, "seen": {1}}]}, "run-7", "load", "result")
    error = caught.value
    assert error.args == (
        "run-7",
        "load",
        "result['rows'][0]['seen']",
        "set",
        "JSON cannot hold it",
    )
    assert str(error).startswith(
        "run 'run-7': atom 'load': result['rows'][0]['seen'] is of type set: JSON cannot hold it; "
    )


def test_a_value_nested_too_deeply_is_refused() -> None:
    value: Any = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(UnstorableValue, match="nested too deeply"):
        check_value(value, "run", "atom", "result")


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "-Infinity", "{'a': 1}", "[1,", ""])
def test_loads_refuses_what_is_not_strict_json(text: str) -> None:
    with pytest.raises(CorruptRecord, match=r"^here: not valid JSON"):
        loads(text, "here")


def test_dumps_is_compact_and_keeps_unicode() -> None:
    assert dumps({"ü": [1, 2.5], "n": None}) == '{"ü":[1,2.5],"n":null}'
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps(math.nan)  # check_value refuses it first; dumps never writes NaN either


def test_atoms_keep_their_scope_and_old_entries_have_none() -> None:
    atoms = (
        AtomInfo("charge", "task", "1.0", "payment", "again"),
        AtomInfo("again", "retry", "2", "order", None),
        AtomInfo("old", "task", "1.0"),
    )
    data = atoms_to_json(atoms)
    assert data[2] == {"name": "old", "kind": "task", "version": "1.0"}
    assert atoms_from_json(loads(dumps(data), "here"), "here") == atoms
    unscoped = {"name": "x", "kind": "task", "version": "1", "retry": "r"}
    assert atoms_from_json([unscoped], "here") == (AtomInfo("x", "task", "1"),)


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "x", "kind": "task", "version": "1", "flow": 3},
        {"name": "x", "kind": "task", "version": "1", "flow": "f", "retry": ["r"]},
    ],
)
def test_a_bad_scope_is_refused_naming_the_entry(entry: dict[str, Any]) -> None:
    with pytest.raises(CorruptRecord, match=r"here: atoms\[0\]: expected flow and retry strings"):
        atoms_from_json([entry], "here")
