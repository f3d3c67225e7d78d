"""Conductors: workers that claim jobs from a board and run their flows to the end.

Theory of operation. A `Conductor` claims a job (a lease with a fencing token, see `_protocol`),
decides whether it may run the job's factory, runs the flow with the job as its run, and ends
the claim as the run ended:

- **Trust.** A job record never decides what code runs: the factory is imported only when it
  matches a pattern the conductor's own configuration names (`trusted`, else the environment
  and `pyproject.toml` rule of `provenflow.engine.is_trusted`). An untrusted factory, one that
  cannot be imported, or a run in the store that cannot be read, is trashed at once with the
  reason: running it again could not go otherwise.
- **The job is the run.** The run id is `job_run_id(job.id)`, so a job claimed again after its
  conductor crashed finds its run in the store and goes on with it (`Engine.load`): nothing
  recorded done is done again. A new run records the factory and starts with the job's store.
- **Renewing.** While the flow runs, a daemon thread renews the claim every third of its time
  to live. A renewal refused with `ClaimLost` (the claim expired and another conductor took the
  job) suspends the engine at its next step and leaves the job to its new owner; the engine's
  store writes are fenced by the run's own lease besides.
- **Ending.** A run over (SUCCESS, REVERTED, FAILURE) completes the job with that outcome. A
  conductor asked to stop (`stop()`) suspends its engines and abandons their jobs. Any other
  error (the factory raised, the engine was cut short) abandons the job with a back-off
  (`delay`) and trashes it once it was dispatched `max_dispatches` times: each claim in its
  history counts, except those abandoned because of an outage or a stop.
- **Outages.** A board or store that cannot be reached makes `run()` back off and go on; it
  never ends the conductor's threads.

`run_once()` claims and dispatches one job in the calling thread and says what happened
(`Dispatch`), which is what tests drive; `run(stop_event)` runs `concurrency` such loops in
threads until the event is set or `stop()` is called.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from provenflow.engine import Engine, canonical_spec, is_trusted, load_factory
from provenflow.errors import (
    ClaimLost,
    ProvenflowError,
    RecordError,
    StorageError,
    UnknownRun,
    UsageError,
)
from provenflow.jobs._protocol import Board
from provenflow.jobs._records import Claim
from provenflow.persistence import Owner, Storage, open_storage
from provenflow.persistence._lease import new_owner

__all__ = ["Conductor", "Dispatch", "job_run_id"]

FINAL_STATES = ("SUCCESS", "REVERTED", "FAILURE")
"""The flow states that end a run, and so complete its job."""

OUTAGE = "outage: "
STOPPED = "conductor stopped"
MAX_BACKOFF = 60.0


def job_run_id(job_id: str) -> str:
    """Return the id of the run of job `job_id` in the conductor's store."""
    return f"job-{job_id}"


@dataclass(frozen=True, slots=True)
class Dispatch:
    """What a conductor did with one claimed job.

    `action` is "completed" (`detail`: the flow's outcome), "trashed" or "abandoned"
    (`detail`: the reason), or "left" (the claim was lost: the job is another owner's).
    """

    job_id: str
    action: str
    detail: str


class _Untrusted(Exception):
    """The job must be trashed at once; the message is the reason."""


class Conductor:
    """Claims jobs from `board` and runs them against the store `backend`; see the module
    docstring. Raises `UsageError` for a bad setting."""

    def __init__(
        self,
        board: Board,
        backend: str | Storage,
        *,
        concurrency: int = 1,
        ttl: float = 30.0,
        trusted: Sequence[str] | None = None,
        max_dispatches: int = 3,
        owner: Owner | None = None,
        backoff: float = 1.0,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise UsageError(
                f"conductor concurrency must be a positive integer, got {concurrency!r}"
            )
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
            raise UsageError(f"conductor ttl must be a positive number of seconds, got {ttl!r}")
        if (
            isinstance(max_dispatches, bool)
            or not isinstance(max_dispatches, int)
            or max_dispatches < 1
        ):
            raise UsageError(f"max_dispatches must be a positive integer, got {max_dispatches!r}")
        self.board = board
        self.backend = backend
        self.concurrency = concurrency
        self.ttl = float(ttl)
        self.trusted = None if trusted is None else tuple(trusted)
        self.max_dispatches = max_dispatches
        self.owner = new_owner() if owner is None else owner
        self.backoff = backoff
        self._storage: Storage | None = None
        self._stopping = threading.Event()
        self._engines: set[Engine] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Conductor({self.board.url!r}, owner {self.owner.id!r})"

    # -- running -----------------------------------------------------------------------------

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Claim and run jobs in `concurrency` threads until `stop_event` is set or `stop()` is
        called; then suspend the running engines, abandon their jobs and return. Never raises
        for a board or store outage: it backs off and goes on."""
        stop_event = threading.Event() if stop_event is None else stop_event
        watcher = threading.Thread(target=self._watch, args=(stop_event,), daemon=True)
        watcher.start()
        workers = [
            threading.Thread(target=self._work, name=f"provenflow-conductor-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        stop_event.set()
        watcher.join()

    def stop(self) -> None:
        """Ask the conductor to stop: running engines are suspended and their jobs abandoned;
        `run()` returns once they did. Safe to call from any thread or a signal handler."""
        self._stopping.set()
        with self._lock:
            engines = list(self._engines)
        for engine in engines:
            engine.suspend()

    def _watch(self, stop_event: threading.Event) -> None:
        while not stop_event.wait(0.2):
            if self._stopping.is_set():
                return
        self.stop()

    def _work(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                done = self.run_once()
                failures = 0
            except (ProvenflowError, OSError):  # the board is out: back off and go on
                failures += 1
                self._stopping.wait(min(MAX_BACKOFF, self.backoff * 2 ** (failures - 1)))
                continue
            if done is None:
                try:
                    self.board.wait_for_work(0.5)
                except (ProvenflowError, OSError):
                    self._stopping.wait(self.backoff)

    def run_once(self) -> Dispatch | None:
        """Claim one ready job and dispatch it in this thread; return what was done, or None
        when no job was ready. Raises what the board raises when it cannot be reached (nothing
        was claimed then) or refuses to end the claim."""
        if self._stopping.is_set():
            return None
        claim = self.board.claim(self.owner, self.ttl)
        if claim is None:
            return None
        return self.dispatch(claim)

    # -- one job -------------------------------------------------------------------------------

    def dispatch(self, claim: Claim) -> Dispatch:
        """Run the claimed job and end its claim as the module docstring says; return what was
        done. The claim is renewed first, so a stale one runs nothing; a stale claim is never
        ended: `ClaimLost` gives a "left" dispatch. Raises what the board raises when it cannot
        be reached for that first renewal (nothing ran then)."""
        try:
            claim = self.board.renew(claim, self.ttl)
            try:
                engine = self._engine(claim)
            except _Untrusted as untrusted:
                return self._end(claim, "trashed", str(untrusted))
            except (StorageError, OSError) as error:
                return self._end(claim, "abandoned", f"{OUTAGE}{_describe(error)}")
            except Exception as error:
                return self._failed(claim, f"the flow could not be built: {_describe(error)}")
            return self._drive(claim, engine)
        except ClaimLost as lost:
            return Dispatch(claim.job_id, "left", str(lost))

    def _engine(self, claim: Claim) -> Engine:
        job = claim.job
        spec = self._trusted_spec(job.factory)
        try:
            build = load_factory(spec)  # safe from several threads at once
        except UsageError as error:
            raise _Untrusted(f"the factory cannot be imported: {error}") from None
        storage = self._store()
        run_id = job_run_id(job.id)
        try:
            storage.load(run_id)
            exists = True
        except UnknownRun:
            exists = False
        except RecordError as error:
            raise _Untrusted(f"the run in the store cannot be read: {error}") from None
        flow = build()
        if exists:
            return Engine.load(flow, storage, run_id, lease_ttl=self.ttl)
        return Engine(flow, job.store, storage, flow_id=run_id, factory=spec, lease_ttl=self.ttl)

    def _trusted_spec(self, factory: str) -> str:
        directory = Path.cwd()
        canonical = canonical_spec(factory, directory)
        if self.trusted is not None:
            patterns = [canonical_spec(pattern, directory) for pattern in self.trusted]
            trusted = any(fnmatch.fnmatchcase(canonical, pattern) for pattern in patterns)
        else:
            try:
                trusted = is_trusted(factory, directory=directory)
            except UsageError as error:
                raise _Untrusted(str(error)) from None
        if not trusted:
            raise _Untrusted(
                f"the factory {factory!r} is not trusted by this conductor (name it in its "
                "trusted patterns, PROVENFLOW_TRUSTED_FACTORIES or trusted-factories under "
                "[tool.provenflow] in pyproject.toml)"
            )
        return canonical

    def _store(self) -> Storage:
        if self._storage is None:
            self._storage = open_storage(self.backend)
        return self._storage

    def _drive(self, claim: Claim, engine: Engine) -> Dispatch:
        renewer = _Renewer(self.board, claim, self.ttl, engine)
        with self._lock:
            self._engines.add(engine)
        if self._stopping.is_set():
            engine.suspend()
        error: Exception | None = None
        try:
            engine.run()
        except Exception as raised:  # the flow's own failure, or the run cut short
            error = raised
        finally:
            renewer.stop()
            with self._lock:
                self._engines.discard(engine)
        if renewer.lost is not None:
            return Dispatch(claim.job_id, "left", str(renewer.lost))
        if engine.state in FINAL_STATES:
            return self._end(renewer.claim, "completed", engine.state)
        if error is None:
            return self._end(renewer.claim, "abandoned", STOPPED)
        if isinstance(error, StorageError | OSError):
            return self._end(renewer.claim, "abandoned", f"{OUTAGE}{_describe(error)}")
        return self._failed(renewer.claim, f"the run was cut short: {_describe(error)}")

    def _failed(self, claim: Claim, reason: str) -> Dispatch:
        if _dispatches(claim) >= self.max_dispatches:
            return self._end(
                claim, "trashed", f"dispatched {self.max_dispatches} times; last: {reason}"
            )
        return self._end(claim, "abandoned", reason)

    def _end(self, claim: Claim, action: str, detail: str) -> Dispatch:
        if action == "completed":
            self.board.complete(claim, detail)
        elif action == "trashed":
            self.board.trash(claim, detail)
        else:
            delay = None
            if not detail.startswith(STOPPED):
                delay = min(MAX_BACKOFF, self.backoff * 2 ** max(0, _dispatches(claim) - 1))
            self.board.abandon(claim, detail, delay=delay)
        return Dispatch(claim.job_id, action, detail)


def _dispatches(claim: Claim) -> int:
    """How many times the job was dispatched, this claim included: its claims, less those
    abandoned because of an outage or a stop."""
    history = claim.job.history
    claims = sum(1 for step in history if step.event == "claim")
    excused = sum(
        1
        for step in history
        if step.event == "abandon" and (step.reason or "").startswith((OUTAGE, STOPPED))
    )
    return claims - excused


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _Renewer:
    """Renews a claim every third of its time to live, in a daemon thread, while a flow runs;
    when a renewal is refused (`ClaimLost`) it records it and suspends the engine."""

    def __init__(self, board: Board, claim: Claim, ttl: float, engine: Engine) -> None:
        self.board, self.claim, self.ttl, self.engine = board, claim, ttl, engine
        self.lost: ClaimLost | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._renew, name=f"provenflow-claim-{claim.job_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> Claim | None:
        """Stop renewing; return the claim as last renewed, or None when it was lost."""
        self._done.set()
        self._thread.join()
        return None if self.lost is not None else self.claim

    def _renew(self) -> None:
        while not self._done.wait(self.ttl / 3):
            try:
                self.claim = self.board.renew(self.claim, self.ttl)
            except ClaimLost as lost:
                self.lost = lost
                self.engine.suspend()
                return
            except (ProvenflowError, OSError):
                continue  # the board is out for now: try again before the claim expires
