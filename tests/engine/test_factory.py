"""Flow factories named by FILE_OR_MODULE:FACTORY specs."""

from __future__ import annotations

from pathlib import Path

import pytest

import provenflow as pf
from provenflow.engine import factory_spec, load_factory

FLOWS = """
import provenflow as pf

@pf.task(provides="x")
def one():
    return 1

def make_flow():
    return pf.LinearFlow("demo").add(one)

def not_a_flow():
    return 42

value = 3
"""


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_flows.py"
    path.write_text(FLOWS)
    return path


def test_a_file_spec_loads_the_factory(flows_file: Path) -> None:
    flow = load_factory(f"{flows_file}:make_flow")()
    assert pf.run(flow) == {"x": 1}


def test_a_module_spec_loads_the_factory() -> None:
    factory = load_factory("tests.engine.test_factory:module_level_factory")
    assert factory().name == "module"


def module_level_factory() -> pf.Flow:
    return pf.LinearFlow("module")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-colon", "expected FILE_OR_MODULE:NAME"),
        ("missing.py:f", "no such file 'missing.py'"),
        ("no_such_module_here:f", "no module named 'no_such_module_here'"),
        ("{file}:nothing", "has no attribute 'nothing'"),
        ("{file}:value", "'value' is a int, not callable"),
    ],
)
def test_bad_specs_are_refused_naming_the_spec(flows_file: Path, spec: str, message: str) -> None:
    spec = spec.format(file=flows_file)
    with pytest.raises(pf.UsageError, match=message):
        load_factory(spec)


def test_a_factory_that_returns_no_flow_is_refused(flows_file: Path) -> None:
    factory = load_factory(f"{flows_file}:not_a_flow")
    with pytest.raises(pf.UsageError, match="returned 'int', not a flow"):
        factory()


def test_factory_spec_names_importable_factories_only() -> None:
    assert factory_spec(module_level_factory) == "tests.engine.test_factory:module_level_factory"
    assert factory_spec(lambda: pf.LinearFlow("x")) is None

    def nested() -> pf.Flow:
        return pf.LinearFlow("n")

    assert factory_spec(nested) is None
