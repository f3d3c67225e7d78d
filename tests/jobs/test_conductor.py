"""Conductors (`provenflow.jobs._conductor`): claim, trust, run, renew, and end each claim.

Factories are files written into the test's directory; their tasks append to a log file, the
side-effect record that says what ran (and so what never ran twice). Boards are memory and
SQLite with a fake clock (`BoardCase`); stores are memory and SQLite.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from provenflow.engine import Engine, load_object
from provenflow.errors import ClaimLost, StorageUnavailable, UsageError
from provenflow.jobs import Board, Claim, Conductor, Dispatch, MemoryBoard, job_run_id, new_owner
from provenflow.persistence import Storage, open_storage
from tests.jobs.conftest import BoardCase, _case

FLOWS = """
import os
import provenflow as pf

LOG = {log!r}


def _step(name):
    def run(order_id):
        with open(LOG, "a") as log:
            log.write(f"{{name}} {{order_id}}\\n")
        if name == "ship" and os.path.exists(LOG + ".fail"):
            raise RuntimeError("courier refused")
        return name
    return pf.task(run, name=name, provides=name + "_done")


def make_flow():
    return pf.LinearFlow("order").add(_step("reserve"), _step("charge"), _step("ship"))


def make_broken():
    raise RuntimeError("cannot build")
"""


SLOW = """
import provenflow as pf
HOOKS = {}
def wait(order_id):
    HOOKS["started"].set()
    HOOKS["release"].wait(10)
def after(order_id):
    raise AssertionError("ran after the claim was lost or the conductor stopped")
def make_flow():
    return pf.LinearFlow("slow").add(pf.task(wait, name="wait"), pf.task(after, name="after"))
"""


@pytest.fixture(params=["memory", "sqlite"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> BoardCase:
    return _case(request.param, tmp_path, request)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'runs.db'}"
    return open_storage(url)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(FLOWS.format(log=str(tmp_path / "log.txt")))
    return path


def log_of(flows: Path) -> list[str]:
    path = flows.parent / "log.txt"
    return path.read_text().splitlines() if path.exists() else []


def conductor(case: BoardCase, store: Storage, flows: Path, **options: object) -> Conductor:
    return Conductor(case.board, store, trusted=[f"{flows.parent}/*.py:*"], **options)  # type: ignore[arg-type]


def test_a_job_runs_and_completes_with_its_outcome(
    case: BoardCase, store: Storage, flows: Path
) -> None:
    job = case.board.post(f"{flows}:make_flow", store={"order_id": 7})
    done = conductor(case, store, flows).run_once()
    assert done is not None and (done.job_id, done.action, done.detail) == (
        job.id,
        "completed",
        "SUCCESS",
    )
    finished = case.board.get(job.id)
    assert (finished.state, finished.outcome) == ("COMPLETE", "SUCCESS")
    assert log_of(flows) == ["reserve 7", "charge 7", "ship 7"]
    assert store.load(job_run_id(job.id))[0].factory == f"{flows.resolve()}:make_flow"
    assert conductor(case, store, flows).run_once() is None


def test_a_failed_flow_completes_with_its_outcome(
    case: BoardCase, store: Storage, flows: Path
) -> None:
    Path(f"{flows.parent / 'log.txt'}.fail").write_text("")
    job = case.board.post(f"{flows}:make_flow", store={"order_id": 1})
    done = conductor(case, store, flows).run_once()
    assert done is not None and done.action == "completed"
    assert done.detail in ("REVERTED", "FAILURE")
    assert case.board.get(job.id).outcome == done.detail


def test_an_untrusted_factory_is_trashed_and_never_imported(
    case: BoardCase, store: Storage, tmp_path: Path
) -> None:
    marker = tmp_path / "imported"
    evil = tmp_path / "elsewhere" / "evil.py"
    evil.parent.mkdir()
    evil.write_text(f"open({str(marker)!r}, 'w').close()\ndef make_flow(): pass\n")
    job = case.board.post(f"{evil}:make_flow")
    only = Conductor(case.board, store, trusted=[f"{tmp_path}/flows/*.py:*"])
    done = only.run_once()
    assert done is not None and done.action == "trashed" and "not trusted" in done.detail
    trashed = case.board.get(job.id)
    assert trashed.state == "TRASHED" and "not trusted" in (trashed.history[-1].reason or "")
    assert not marker.exists()


def test_without_trusted_patterns_the_environment_decides(
    case: BoardCase, store: Storage, flows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(flows.parent)
    monkeypatch.delenv("PROVENFLOW_TRUSTED_FACTORIES", raising=False)
    refused = case.board.post(f"{flows}:make_flow", store={"order_id": 1})
    done = Conductor(case.board, store).run_once()
    assert done is not None and (done.job_id, done.action) == (refused.id, "trashed")
    monkeypatch.setenv("PROVENFLOW_TRUSTED_FACTORIES", f"{flows.parent}/*.py:*")
    job = case.board.post(f"{flows}:make_flow", store={"order_id": 2})
    done = Conductor(case.board, store).run_once()
    assert done is not None and (done.job_id, done.action) == (job.id, "completed")


def test_a_factory_that_raises_on_import_is_trashed(
    case: BoardCase, store: Storage, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("raise ImportError('missing dependency')\n")
    job = case.board.post(f"{bad}:make_flow")
    done = Conductor(case.board, store, trusted=[f"{tmp_path}/*"]).run_once()
    assert done is not None and done.action == "trashed"
    assert "missing dependency" in done.detail
    assert case.board.get(job.id).state == "TRASHED"


def test_a_poison_job_ends_in_the_trash_after_max_dispatches(
    case: BoardCase, store: Storage, flows: Path
) -> None:
    job = case.board.post(f"{flows}:make_broken")
    worker = conductor(case, store, flows, max_dispatches=3, backoff=5.0)
    actions = []
    for _ in range(3):
        done = worker.run_once()
        assert done is not None
        actions.append(done.action)
        assert worker.run_once() is None  # backed off: not ready again at once
        case.pass_time(60)
    assert actions == ["abandoned", "abandoned", "trashed"]
    trashed = case.board.get(job.id)
    assert trashed.state == "TRASHED" and "cannot build" in (trashed.history[-1].reason or "")
    assert worker.run_once() is None


def test_a_crashed_run_is_resumed_without_redoing_recorded_successes(
    case: BoardCase, store: Storage, flows: Path
) -> None:
    job = case.board.post(f"{flows}:make_flow", store={"order_id": 3})
    crashed = case.board.claim(new_owner(), ttl=30)
    assert crashed is not None
    engine = Engine.from_factory(
        f"{flows}:make_flow", {"order_id": 3}, store, flow_id=job_run_id(job.id)
    )
    rounds = engine.run_iter()
    for _ in rounds:  # the conductor dies once the first step's success is on record
        if ("reserve", "SUCCESS") in {(t.atom, t.new_state) for t in engine.history()}:
            break
    rounds.close()
    assert engine.stopped is not None and log_of(flows) == ["reserve 3"]
    case.pass_time(60)  # its claim expires
    done = conductor(case, store, flows).run_once()
    assert done is not None and (done.job_id, done.action, done.detail) == (
        job.id,
        "completed",
        "SUCCESS",
    )
    assert log_of(flows) == ["reserve 3", "charge 3", "ship 3"]
    events = [step.event for step in case.board.get(job.id).history]
    assert events == ["post", "claim", "claim_lost", "claim", "complete"]
    with pytest.raises(ClaimLost):
        case.board.complete(crashed, "SUCCESS")


def test_a_stale_claim_cannot_complete(case: BoardCase, store: Storage, flows: Path) -> None:
    job = case.board.post(f"{flows}:make_flow", store={"order_id": 4})
    first = conductor(case, store, flows)
    stale = case.board.claim(first.owner, ttl=30)
    assert stale is not None
    case.pass_time(60)
    taken = case.board.claim(new_owner(), ttl=30)
    assert taken is not None and taken.token > stale.token
    before = case.board.get(job.id)
    done = first.dispatch(stale)
    assert done.action == "left"
    after = case.board.get(job.id)
    assert (after.state, after.history, after.lease) == (before.state, before.history, before.lease)


def test_a_lost_claim_suspends_the_engine_and_leaves_the_job(
    case: BoardCase, store: Storage, tmp_path: Path
) -> None:
    started, release = threading.Event(), threading.Event()
    flows = tmp_path / "slow.py"
    flows.write_text(SLOW)
    load_object(f"{flows}:make_flow").__globals__["HOOKS"].update(started=started, release=release)
    job = case.board.post(f"{flows}:make_flow", store={"order_id": 5})
    gate = threading.Event()
    board = GatedRenewals(case.board, gate)
    worker = Conductor(board, store, trusted=[f"{tmp_path}/*"], ttl=0.3)
    result: list[Dispatch | None] = []
    thread = threading.Thread(target=lambda: result.append(worker.run_once()))
    thread.start()
    assert started.wait(10)
    case.pass_time(60)
    taken = case.board.claim(new_owner(), ttl=30)  # the claim expired and was taken
    assert taken is not None
    gate.set()  # the conductor's next renewal is refused: it suspends its engine
    renewer = next(t for t in threading.enumerate() if t.name == f"provenflow-claim-{job.id}")
    renewer.join(10)
    release.set()
    thread.join(10)
    assert result and result[0] is not None and result[0].action == "left"
    after = case.board.get(job.id)
    assert after.state == "CLAIMED" and after.owner == taken.owner
    transitions = store.load(job_run_id(job.id))[1]
    assert "after" not in {transition.atom for transition in transitions}
    assert transitions[-1].new_state == "SUSPENDED"


class GatedRenewals:
    """A board whose renewals wait until `gate` is set (so that a test takes the claim first)."""

    def __init__(self, board: Board, gate: threading.Event) -> None:
        self._board, self._gate = board, gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._board, name)

    def renew(self, claim: Claim, ttl: float) -> Claim:
        self._gate.wait(10)
        return self._board.renew(claim, ttl)


def test_run_works_until_stopped(case: BoardCase, store: Storage, flows: Path) -> None:
    jobs = [case.board.post(f"{flows}:make_flow", store={"order_id": n}) for n in range(4)]
    stop = threading.Event()
    worker = conductor(case, store, flows, concurrency=2)
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    finished = [case.board.wait(job.id, timeout=30) for job in jobs]
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    assert [(job.state, job.outcome) for job in finished] == [("COMPLETE", "SUCCESS")] * 4, [
        job.history[-1].reason for job in finished
    ]
    assert sorted(log_of(flows)) == sorted(
        f"{step} {n}" for n in range(4) for step in ("reserve", "charge", "ship")
    )


def test_stop_suspends_the_running_engine_and_abandons_its_job(
    case: BoardCase, store: Storage, tmp_path: Path
) -> None:
    started, release = threading.Event(), threading.Event()
    flows = tmp_path / "slow.py"
    flows.write_text(SLOW)
    load_object(f"{flows}:make_flow").__globals__["HOOKS"].update(started=started, release=release)
    job = case.board.post(f"{flows}:make_flow", store={"order_id": 6})
    worker = Conductor(case.board, store, trusted=[f"{tmp_path}/*"])
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert started.wait(10)
    worker.stop()
    release.set()
    thread.join(30)
    assert not thread.is_alive()
    after = case.board.get(job.id)
    assert after.state == "UNCLAIMED" and after.history[-1].reason == "conductor stopped"
    assert after.ready(case.board.now())  # ready again at once for another conductor
    resumed = Conductor(case.board, store, trusted=[f"{tmp_path}/*"])
    done = resumed.run_once()  # the same run goes on, past "wait", into "after" (which raises)
    assert (
        done is not None and done.action == "completed" and done.detail in ("REVERTED", "FAILURE")
    )
    attempts = [t.attempt for t in store.load(job_run_id(job.id))[1] if t.atom == "wait"]
    assert set(attempts) == {1}  # "wait" ran once: its success was on record


def test_bad_settings_are_refused(case: BoardCase, store: Storage) -> None:
    with pytest.raises(UsageError, match="concurrency"):
        Conductor(case.board, store, concurrency=0)
    with pytest.raises(UsageError, match="ttl"):
        Conductor(case.board, store, ttl=0)
    with pytest.raises(UsageError, match="max_dispatches"):
        Conductor(case.board, store, max_dispatches=0)


class Outage:
    """A board or store proxy whose named method raises `StorageUnavailable` `times` times."""

    def __init__(self, target: Any, method: str, times: int) -> None:
        self._target, self._method, self.left = target, method, times

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._target, name)
        if name != self._method:
            return found

        def failing(*args: Any, **kwargs: Any) -> Any:
            if self.left > 0:
                self.left -= 1
                raise StorageUnavailable("test://", "connection refused")
            return found(*args, **kwargs)

        return failing


def test_board_and_store_outages_back_off_and_go_on(store: Storage, flows: Path) -> None:
    real = MemoryBoard()  # the real clock: back-off delays pass by themselves
    job = real.post(f"{flows}:make_flow", store={"order_id": 8})
    board, backend = Outage(real, "claim", 2), Outage(store, "load", 1)
    worker = Conductor(
        board,
        backend,
        trusted=[f"{flows.parent}/*"],
        backoff=0.01,
        max_dispatches=1,
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    finished = real.wait(job.id, timeout=30)
    stop.set()
    thread.join(30)
    assert not thread.is_alive() and (board.left, backend.left) == (0, 0)
    assert (finished.state, finished.outcome) == ("COMPLETE", "SUCCESS")
    events = [(step.event, (step.reason or "")[:7]) for step in finished.history]
    assert events == [
        ("post", ""),
        ("claim", ""),
        ("abandon", "outage:"),
        ("claim", ""),
        ("complete", ""),
    ]
