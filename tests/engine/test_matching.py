"""Resume checks the flow against the run's record, on the API and on the command.

Each case starts a real run on SQLite from a factory in a file, kills it (a store that dies
before its Nth write, as a process would), then resumes it with a changed flow: through
`Engine.load` and through `provenflow resume --factory`. A removed or renamed atom, an atom
moved to another flow or retry, and an atom of another kind are refused before anything runs,
naming every difference: no task executes (the tasks log every execute to a file) and nothing
is written. An atom added where the run has not reached is accepted and runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import provenflow as pf
from provenflow.engine import check_flow, load_factory
from provenflow.errors import FlowMismatch
from provenflow.flows import compile_flow
from provenflow.persistence import AtomInfo, MemoryStorage, RunInfo, open_storage
from tests.cli.conftest import invoke
from tests.helpers import Crash, CrashingStorage

FLOWS = """
import pathlib
import provenflow as pf

LOG = pathlib.Path({log!r})


def step(name):
    def execute():
        with LOG.open("a") as log:
            log.write(name + "\\n")
    return pf.task(execute, name=name)


def dns():
    return pf.LinearFlow("dns").add(step("create_vm"), step("register_dns"), step("configure"))


def dns_renamed():
    return pf.LinearFlow("dns").add(step("create_vm"), step("publish_dns"), step("configure"))


def dns_grown():
    return pf.LinearFlow("dns").add(
        step("create_vm"), step("register_dns"), step("audit"), step("configure"), step("notify")
    )


def dns_renamed_root():
    return pf.LinearFlow("dns-v2").add(
        step("create_vm"), step("register_dns"), step("configure")
    )


def nested():
    return pf.LinearFlow("nested").add(step("a"), pf.LinearFlow("inner").add(step("b")), step("c"))


def nested_moved():
    return pf.LinearFlow("nested").add(step("a"), step("b"), pf.LinearFlow("inner").add(step("c")))


def guarded():
    sub = pf.LinearFlow("sub", retry=pf.Times(2, name="again")).add(step("b"), step("c"))
    return pf.LinearFlow("guarded").add(step("a"), sub)


def guarded_moved():
    sub = pf.LinearFlow("sub", retry=pf.Times(2, name="again")).add(step("c"))
    return pf.LinearFlow("guarded").add(step("a"), sub, step("b"))


def kinds():
    return pf.LinearFlow("kinds").add(
        step("a"), step("check"), pf.LinearFlow("sub").add(step("b"))
    )


def kinds_changed():
    sub = pf.LinearFlow("sub", retry=pf.Times(2, name="check")).add(step("b"))
    return pf.LinearFlow("kinds").add(step("a"), sub)
"""


class Run:
    """A run of one of `FLOWS`' factories on SQLite, killed before its Nth write."""

    def __init__(self, tmp_path: Path, factory: str, crash_at: int) -> None:
        self.log = tmp_path / "executed.log"
        self.module = tmp_path / "dns_flows.py"
        self.module.write_text(FLOWS.format(log=str(self.log)))
        self.url = f"sqlite:///{tmp_path / 'runs.db'}"
        storage = CrashingStorage(open_storage(self.url), crash_at=crash_at)
        engine = pf.Engine.from_factory(self.spec(factory), backend=storage)
        with pytest.raises(Crash):
            engine.run()
        self.flow_id = engine.flow_id

    def spec(self, factory: str) -> str:
        return f"{self.module}:{factory}"

    def executed(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def history(self) -> list[str]:
        transitions = open_storage(self.url).load(self.flow_id)[1]
        return [f"{t.atom}:{t.event}" for t in transitions]

    def resume(self, driver: str, factory: str) -> str | None:
        """Resume with `factory`; return the refusal's text, or None when it ran to the end."""
        if driver == "api":
            flow = load_factory(self.spec(factory))()
            try:
                engine = pf.Engine.load(flow, self.url, self.flow_id)
            except FlowMismatch as refused:
                return str(refused)
            engine.run()
            return None
        result = invoke("resume", self.flow_id, "-b", self.url, "--factory", self.spec(factory))
        if result.exit_code == 0:
            return None
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("provenflow: error: run "), result.stderr
        return " ".join(result.stderr.split())

    def refused(self, driver: str, factory: str) -> str:
        """Resume with `factory`, which must be refused with nothing run or written."""
        executed, history = self.executed(), self.history()
        message = self.resume(driver, factory)
        assert message is not None, f"{factory} was accepted"
        assert self.executed() == executed
        assert self.history() == history
        return message


DRIVERS = ["api", "command"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_renamed_atom_after_a_crash_is_refused_naming_both(driver: str, tmp_path: Path) -> None:
    run = Run(tmp_path, "dns", crash_at=6)  # dies before recording configure RUNNING
    assert run.executed() == ["create_vm", "register_dns"]
    message = run.refused(driver, "dns_renamed")
    assert f"run {run.flow_id!r} of flow 'dns' does not match flow 'dns'" in message
    assert "recorded task 'register_dns' (SUCCESS) is not in the flow" in message
    assert "atoms the run never recorded: 'publish_dns'" in message
    assert "a renamed atom is a removed one plus a new one" in message


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_rename_the_run_has_passed_names_both_as_differences(driver: str, tmp_path: Path) -> None:
    run = Run(tmp_path, "dns", crash_at=7)  # dies inside configure, recorded RUNNING
    message = run.refused(driver, "dns_renamed")
    assert "(2 differences: recorded task 'register_dns' (SUCCESS) is not in the flow; " in message
    assert "new atom 'publish_dns': the run already recorded 'configure', ordered after" in message


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_atom_moved_to_another_flow_is_refused(driver: str, tmp_path: Path) -> None:
    run = Run(tmp_path, "nested", crash_at=4)  # a done, b not started
    message = run.refused(driver, "nested_moved")
    assert "(2 differences: " in message
    assert "'b' moved: recorded in flow 'inner', now in flow 'nested'" in message
    assert "'c' moved: recorded in flow 'nested', now in flow 'inner'" in message


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_atom_moved_out_of_its_retry_is_refused(driver: str, tmp_path: Path) -> None:
    run = Run(tmp_path, "guarded", crash_at=4)
    message = run.refused(driver, "guarded_moved")
    assert (
        "'b' moved: recorded in flow 'sub' under retry 'again', "
        "now in flow 'guarded' under no retry"
    ) in message


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_atom_of_another_kind_is_refused(driver: str, tmp_path: Path) -> None:
    run = Run(tmp_path, "kinds", crash_at=4)
    message = run.refused(driver, "kinds_changed")
    assert "'check' is recorded as a task, but is a retry in the flow" in message
    assert "'b' moved: recorded under no retry, now under retry 'check'" in message


@pytest.mark.parametrize("driver", DRIVERS)
def test_atoms_added_where_the_run_has_not_reached_are_accepted(
    driver: str, tmp_path: Path
) -> None:
    run = Run(tmp_path, "dns", crash_at=4)  # create_vm done, register_dns not started
    assert run.resume(driver, "dns_grown") is None
    assert run.executed() == ["create_vm", "register_dns", "audit", "configure", "notify"]
    assert open_storage(run.url).runs()[-1][1] == "SUCCESS"


@pytest.mark.parametrize("driver", DRIVERS)
def test_renaming_the_outermost_flow_moves_nothing(driver: str, tmp_path: Path) -> None:
    run = Run(tmp_path, "dns", crash_at=4)
    assert run.resume(driver, "dns_renamed_root") is None
    assert run.executed() == ["create_vm", "register_dns", "configure"]


def test_an_atom_added_to_a_run_that_is_over_is_refused(tmp_path: Path) -> None:
    run = Run(tmp_path, "dns", crash_at=4)
    assert run.resume("api", "dns") is None
    message = run.refused("api", "dns_grown")
    assert "new atom 'audit': the run is over (SUCCESS)" in message
    assert "new atom 'notify': the run is over (SUCCESS)" in message


def step(name: str) -> pf.Task:
    return pf.task(lambda: None, name=name)


def test_a_record_without_scopes_is_checked_for_names_and_kinds_only() -> None:
    flow = pf.LinearFlow("f").add(step("a"), pf.LinearFlow("inner").add(step("b")))
    compiled = compile_flow(flow)
    old = RunInfo("r1", "f", (AtomInfo("a", "task", "1.0"), AtomInfo("b", "task", "1.0")))
    check_flow(compiled, old, [])
    gone = RunInfo("r1", "f", (*old.atoms, AtomInfo("z", "retry", "1.0")))
    with pytest.raises(FlowMismatch, match="recorded retry 'z' \\(PENDING\\) is not in the flow"):
        check_flow(compiled, gone, [])


def test_a_run_records_each_atoms_scope() -> None:
    storage = MemoryStorage()
    inner = pf.LinearFlow("inner", retry=pf.Times(2, name="again")).add(step("b"))
    engine = pf.Engine(pf.LinearFlow("f").add(step("a"), inner), backend=storage)
    atoms = {atom.name: atom for atom in storage.load(engine.flow_id)[0].atoms}
    assert (atoms["a"].flow, atoms["a"].retry) == ("f", None)
    assert (atoms["again"].flow, atoms["again"].retry) == ("inner", None)
    assert (atoms["b"].flow, atoms["b"].retry) == ("inner", "again")
