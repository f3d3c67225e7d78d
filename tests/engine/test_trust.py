"""The store never names code to run: a recorded factory is imported only when trusted.

A hostile factory (a file that writes a marker file when imported or called) is planted in the
record of a real run in each durable store kind, by editing the stored record directly (an SQL
UPDATE on SQLite and PostgreSQL, the run's JSON file in a directory store), as whoever can write
to a store could. Neither `Engine.resume` nor `provenflow resume` imports it; each names it and
says how to trust a factory. The ways the user says which code runs (naming the factory,
`Engine.load` with a flow, the environment variable, `pyproject.toml`) all work.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import provenflow as pf
from provenflow.engine import (
    TRUST_VARIABLE,
    canonical_spec,
    is_trusted,
    load_factory,
    resume_factory,
    trusted_patterns,
)
from provenflow.errors import UntrustedFactory, UsageError
from provenflow.persistence import RunInfo, Transition, open_storage
from tests.cli.conftest import invoke
from tests.persistence.conftest import _driver_url, postgres_url  # noqa: F401 (a fixture)

GOOD = """
import provenflow as pf

@pf.task(provides="x")
def one():
    return 1

@pf.task(provides="y")
def two(x):
    return x + 1

def make_flow():
    return pf.LinearFlow("demo").add(one, two)
"""

EVIL = """
import pathlib

pathlib.Path({marker!r}).write_text("imported")

def make_flow():
    pathlib.Path({marker!r}).write_text("called")
    raise SystemExit("the hostile factory ran")
"""


@pytest.fixture(autouse=True)
def no_trust_around(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Start with nothing trusted: no variable, and a working directory without pyproject."""
    monkeypatch.delenv(TRUST_VARIABLE, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def good(tmp_path: Path) -> str:
    """The spec of a well-behaved factory in a file (two atoms: `one`, `two`)."""
    path = tmp_path / "flows" / "good.py"
    path.parent.mkdir()
    path.write_text(GOOD)
    return f"{path}:make_flow"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """The file the hostile factory writes if it is ever imported or called."""
    return tmp_path / "the-hostile-factory-ran"


@pytest.fixture
def evil(tmp_path: Path, marker: Path) -> str:
    """The spec of the hostile factory."""
    path = tmp_path / "evil.py"
    path.write_text(EVIL.format(marker=str(marker)))
    return f"{path}:make_flow"


@pytest.fixture(params=["sqlite", "dir", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, URL) of a fresh durable store of each kind."""
    kind = request.param
    if kind == "sqlite":
        yield kind, f"sqlite:///{tmp_path / 'runs.db'}"
    elif kind == "dir":
        yield kind, f"dir://{tmp_path / 'runs'}"
    else:
        yield kind, request.getfixturevalue("postgres_url")


def suspended_run(spec: str, url: str) -> str:
    """Start a run of `spec` on `url`, suspended after its first atom; return its id."""
    engine = pf.Engine.from_factory(spec, backend=url)

    class SuspendAfterOne:
        def on_transition(self, transition: Transition) -> None:
            if transition.new_state == "SUCCESS":
                engine.suspend()

    engine.listeners.append(SuspendAfterOne())
    engine.run()
    assert engine.state == "SUSPENDED"
    return engine.flow_id


def plant(kind: str, url: str, flow_id: str, factory: str) -> None:
    """Change the factory recorded with run `flow_id`, directly in the stored record."""
    if kind == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            update = "UPDATE provenflow_runs SET factory = ? WHERE flow_id = ?"
            assert conn.execute(update, (factory, flow_id)).rowcount == 1
        conn.close()
    elif kind == "dir":
        path = Path(url.removeprefix("dir://")) / "runs" / quote(flow_id, safe="") / "run.json"
        data = json.loads(path.read_text())
        data["factory"] = factory
        path.write_text(json.dumps(data))
    else:
        import sqlalchemy as sa  # noqa: PLC0415

        engine = sa.create_engine(_driver_url(url), poolclass=sa.NullPool)
        with engine.begin() as conn:
            update = sa.text("UPDATE provenflow_runs SET factory = :f WHERE flow_id = :id")
            assert conn.execute(update, {"f": factory, "id": flow_id}).rowcount == 1
        engine.dispose()
    assert open_storage(url).load(flow_id)[0].factory == factory


def history_length(url: str, flow_id: str) -> int:
    return len(open_storage(url).load(flow_id)[1])


def test_a_planted_factory_never_runs(
    store: tuple[str, str], good: str, evil: str, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, url = store
    flow_id = suspended_run(good, url)
    plant(kind, url, flow_id, evil)
    written = history_length(url, flow_id)

    with pytest.raises(UntrustedFactory) as refused:
        pf.Engine.resume(url, flow_id)
    assert refused.value.factory == evil
    message = str(refused.value)
    assert f"was started with factory {evil!r}, which is not trusted" in message
    assert f"provenflow resume {flow_id} --factory SPEC" in message
    assert f"{TRUST_VARIABLE}={evil!r}" in message
    assert f"trusted-factories = [{evil!r}] under [tool.provenflow]" in message

    result = invoke("resume", flow_id, "-b", url)
    assert result.exit_code == 2, result.output
    assert "which is not trusted" in " ".join(result.stderr.split())

    monkeypatch.setenv(TRUST_VARIABLE, f"{Path(good).parent}/*.py:*")  # trusts good, not evil
    with pytest.raises(UntrustedFactory):
        pf.Engine.resume(url, flow_id)
    assert not marker.exists()
    assert history_length(url, flow_id) == written  # nothing was written either

    # The user names the code: the run goes on with it, and the planted one never runs.
    assert invoke("resume", flow_id, "-b", url, "--factory", good).exit_code == 0
    assert open_storage(url).runs()[-1][1] == "SUCCESS"
    assert not marker.exists()


def test_the_trusted_ways_resume_a_run(
    good: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    by_variable, by_file, by_name, by_flow, by_function = (
        suspended_run(good, url) for _ in range(5)
    )

    monkeypatch.setenv(TRUST_VARIABLE, f" other:thing , {tmp_path}/flows/g*.py:make_*")
    assert pf.Engine.resume(url, by_variable).run() == {"x": 1, "y": 2}
    monkeypatch.delenv(TRUST_VARIABLE)

    Path("pyproject.toml").write_text(
        '[tool.provenflow]\ntrusted-factories = ["../flows/good.py:make_flow"]\n'
    )
    result = invoke("resume", by_file, "-b", url)
    assert result.exit_code == 0, result.output
    Path("pyproject.toml").unlink()

    with pytest.raises(UntrustedFactory):
        pf.Engine.resume(url, by_name)
    assert invoke("resume", by_name, "-b", url, "--factory", good).exit_code == 0
    assert pf.Engine.load(load_factory(good)(), url, by_flow).run() == {"x": 1, "y": 2}
    engine = pf.Engine.resume(url, by_function, factory=load_factory(good))
    assert engine.run() == {"x": 1, "y": 2}
    assert [state for _, state in open_storage(url).runs()] == ["SUCCESS"] * 5


def test_a_path_that_leaves_a_trusted_directory_is_not_trusted(tmp_path: Path) -> None:
    trusted = {TRUST_VARIABLE: f"{tmp_path}/flows/*.py:*"}
    outside = f"{tmp_path}/flows/../evil.py:make_flow"
    assert not is_trusted(outside, environ=trusted, directory=tmp_path)
    assert is_trusted(f"{tmp_path}/flows/good.py:make_flow", environ=trusted, directory=tmp_path)
    assert canonical_spec(outside, tmp_path) == f"{tmp_path.resolve()}/evil.py:make_flow"
    link = tmp_path / "flows" / "link.py"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "evil.py")
    assert not is_trusted(f"{link}:make_flow", environ=trusted, directory=tmp_path)


def test_the_spec_imported_is_the_canonical_one_that_matched(tmp_path: Path) -> None:
    info = RunInfo("r1", "demo", (), {}, "flows/../flows/good.py:make_flow")
    trusted = {TRUST_VARIABLE: "flows/good.py:make_flow"}
    spec = resume_factory(info, "memory://", environ=trusted, directory=tmp_path)
    assert spec == f"{tmp_path.resolve()}/flows/good.py:make_flow"
    assert resume_factory(info, "memory://", "mine.py:f", environ={}) == "mine.py:f"


def test_module_specs_match_as_written(tmp_path: Path) -> None:
    environ = {TRUST_VARIABLE: "mypackage.flows:*,,"}
    assert trusted_patterns(environ=environ, directory=tmp_path) == ("mypackage.flows:*",)
    assert is_trusted("mypackage.flows:make_order", environ=environ, directory=tmp_path)
    assert not is_trusted("mypackage.flowsx:make_order", environ=environ, directory=tmp_path)
    assert not is_trusted("os:getcwd", environ=environ, directory=tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.provenflow\n", "cannot read the trusted factories"),
        ("[tool.provenflow]\ntrusted-factories = 'x.py:f'\n", "must be a list of factory specs"),
        ("[tool.provenflow]\ntrusted-factories = [1]\n", "must be a list of factory specs"),
    ],
)
def test_a_bad_pyproject_is_refused_naming_it(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(UsageError, match=message) as refused:
        trusted_patterns(environ={}, directory=tmp_path)
    assert str(tmp_path / "pyproject.toml") in str(refused.value)


def test_a_pyproject_without_the_setting_trusts_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n[tool.provenflow]\ny = 2\n")
    assert trusted_patterns(environ={}, directory=tmp_path) == ()


def test_a_run_without_a_factory_says_how_to_resume_it() -> None:
    info = RunInfo("r1", "demo", (), {}, None)
    with pytest.raises(UsageError, match="not started from a factory; name one"):
        resume_factory(info, "memory://", environ={})
