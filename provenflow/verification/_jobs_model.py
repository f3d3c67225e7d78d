"""The model `check_board` explores: a job board, its conductors, and the check's own account.

See `provenflow.verification._jobs_protocol` for the moves and the rules. The board keeps
frozen `Job` values and changes them only through `provenflow.jobs._decide` (and a conductor
decides a failed dispatch with `provenflow.jobs._conductor._dispatches`), called through their
modules, so a bug planted in them is what the search explores.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from provenflow.errors import ClaimLost, ProvenflowError
from provenflow.fsm.job import Event, State
from provenflow.jobs import _conductor, _decide
from provenflow.jobs._records import Claim, Job
from provenflow.persistence import Owner
from provenflow.verification._protocol_search import Violated

__all__ = ["FACTORY", "Account", "Conductor", "Path"]

TTL = 30.0
FACTORY = "model.flows:make_flow"


@dataclass
class Account:
    """The check's own account of one job: the newest token granted and to whom, how it
    finished (None, `complete` or `trash`) and how many times it was dispatched."""

    newest: int = 0
    holder: str = ""
    finished: str | None = None
    dispatches: int = 0

    def key(self) -> Hashable:
        return (self.newest, self.holder, self.finished, self.dispatches)


@dataclass
class Conductor:
    """One conductor: its name, its incarnation (a crash starts a new owner), the claim it
    holds and until when it was told the claim lasts (the rules' own account)."""

    name: str
    incarnation: int = 1
    claim: Claim | None = None
    told: float = 0.0

    @property
    def owner(self) -> Owner:
        return Owner("model", self.incarnation, f"{self.name}{self.incarnation}")

    def key(self) -> Hashable:
        claim = self.claim
        held = None if claim is None else (claim.token, claim.expires_at, _job_key(claim.job))
        return (self.incarnation, held, self.told)


def _job_key(job: Job) -> Hashable:
    return (job.id, job.state, job.lease, job.not_before, job.history)


@dataclass
class Path:
    """One state of the search: the board's jobs, its clock, the conductors, the accounts,
    the faults left, and the moves that led here."""

    jobs: dict[str, Job]
    conductors: list[Conductor]
    accounts: dict[str, Account]
    faults: dict[str, int]
    max_dispatches: int
    now: float = 0.0
    trace: tuple[str, ...] = field(default=())

    def copy(self) -> Path:
        return Path(
            dict(self.jobs),
            [Conductor(c.name, c.incarnation, c.claim, c.told) for c in self.conductors],
            {name: Account(**vars(account)) for name, account in self.accounts.items()},
            dict(self.faults),
            self.max_dispatches,
            self.now,
            self.trace,
        )

    def key(self) -> Hashable:
        return (
            self.now,
            tuple(_job_key(job) for job in self.jobs.values()),
            tuple(c.key() for c in self.conductors),
            tuple(account.key() for account in self.accounts.values()),
            tuple(self.faults.values()),
        )

    def _ready(self) -> list[Job]:
        return [job for job in self.jobs.values() if job.ready(self.now)]

    def _held(self) -> dict[str, Conductor]:
        return {c.claim.job_id: c for c in self.conductors if c.claim is not None}

    def _next_time(self) -> float | None:
        """When time passes with no fault: the next not-before time or expiry of a claim that
        nobody alive holds, if it comes before every live holder's claim expires."""
        held = self._held()
        times: list[float] = []
        limit = min((c.told for c in held.values()), default=float("inf"))
        for job in self.jobs.values():
            if job.state is State.UNCLAIMED and job.not_before is not None:
                times.append(job.not_before)
            elif job.state is State.CLAIMED and job.lease is not None and job.id not in held:
                times.append(job.lease.expires_at)
        upcoming = [at for at in times if at > self.now]
        soonest = min(upcoming, default=None)
        return soonest if soonest is not None and soonest < limit else None

    def moves(self) -> list[tuple[str, int]]:
        """Every move from here: (what, which conductor; -1 for the clock)."""
        out: list[tuple[str, int]] = []
        ready = self._ready()
        for number, conductor in enumerate(self.conductors):
            if conductor.claim is None:
                if ready:
                    out.append(("claim", number))
                continue
            out += [("renew", number), ("complete", number), ("fail", number)]
            if self.faults["stops"]:
                out.append(("stop", number))
            if self.faults["crashes"]:
                out.append(("crash", number))
        if self.faults["expiries"]:
            out += [("expire", n) for n, c in enumerate(self.conductors) if self._live(c)]
        if not ready and self._next_time() is not None:
            out.append(("wait", -1))
        return out

    def _live(self, conductor: Conductor) -> bool:
        """Whether the board holds `conductor`'s claim under a lease not yet expired."""
        claim = conductor.claim
        lease = None if claim is None else self.jobs[claim.job_id].lease
        if claim is None or lease is None or lease.token != claim.token:
            return False
        return lease.held and lease.expires_at > self.now

    def _say(self, line: str) -> None:
        self.trace = (*self.trace, line)

    def take(self, move: tuple[str, int]) -> None:
        """Take `move`; raises `Violated` when it breaks a rule."""
        what, number = move
        if what == "wait":
            at = self._next_time()
            assert at is not None
            self.now = at
            self._say(f"time passes to {at:g}")
            return
        conductor = self.conductors[number]
        try:
            getattr(self, f"_{what}")(conductor)
        except ClaimLost as lost:
            conductor.claim = None
            self._say(f"{conductor.name}'s {what} is refused and it lets the job go: {lost}")
        except ProvenflowError as error:
            self._say(f"{conductor.name} tries to {what}")
            raise Violated("decision", f"the board's decision raised {error!r}") from None

    def _claim(self, conductor: Conductor) -> None:
        best = min(self._ready(), key=_decide.sort_key)
        job, claim = _decide.claim_job(best, conductor.owner, self.now, TTL)
        self._say(
            f"{conductor.name} claims {job.id} (token {claim.token}, until {claim.expires_at:g})"
        )
        account = self.accounts[job.id]
        if account.finished == "complete":
            raise Violated("completed once", f"{job.id} was claimed again after it completed")
        for other in self.conductors:
            theirs = other.claim
            if other is conductor or theirs is None or theirs.job_id != job.id:
                continue
            if other.told > self.now:
                raise Violated(
                    "one owner",
                    f"{conductor.name} was granted {job.id} while {other.name}'s claim "
                    f"(token {theirs.token}) lasts until {other.told:g} (now {self.now:g})",
                )
        if claim.token <= account.newest:
            raise Violated(
                "fencing tokens",
                f"{conductor.name} was granted token {claim.token} on {job.id}, not above token "
                f"{account.newest} granted to {account.holder} before",
            )
        account.newest, account.holder = claim.token, conductor.name
        account.dispatches += 1
        self.jobs[job.id] = job
        conductor.claim, conductor.told = claim, claim.expires_at

    def _kept(self, conductor: Conductor, what: str) -> None:
        """Hold a write the board kept to the rules: only the newest claim's owner writes."""
        assert conductor.claim is not None
        account, token = self.accounts[conductor.claim.job_id], conductor.claim.token
        if what == "complete" and account.finished == "complete":
            raise Violated("completed once", f"{conductor.claim.job_id} was completed twice")
        if account.finished is not None or token != account.newest:
            raise Violated(
                "stale token",
                f"{conductor.name}'s {what} with token {token} was kept after "
                f"{account.holder} was granted token {account.newest}"
                + (f" and the job was {account.finished}d" if account.finished else ""),
            )

    def _renew(self, conductor: Conductor) -> None:
        assert conductor.claim is not None
        job, claim = _decide.renew_claim(
            self.jobs[conductor.claim.job_id], conductor.claim, self.now, TTL
        )
        self._say(f"{conductor.name} renews its claim on {job.id} (until {claim.expires_at:g})")
        self._kept(conductor, "renewal")
        self.jobs[job.id] = job
        conductor.claim, conductor.told = claim, claim.expires_at

    def _end(self, conductor: Conductor, event: Event, line: str, **fields: object) -> Job:
        claim = conductor.claim
        assert claim is not None
        job = _decide.finish(self.jobs[claim.job_id], claim, event, self.now, **fields)  # type: ignore[arg-type]
        self._say(f"{conductor.name} {line} {job.id} (token {claim.token})")
        self._kept(conductor, str(event))
        self.jobs[job.id] = job
        conductor.claim = None
        return job

    def _complete(self, conductor: Conductor) -> None:
        job = self._end(conductor, Event.COMPLETE, "completes", outcome="SUCCESS")
        self.accounts[job.id].finished = "complete"

    def _fail(self, conductor: Conductor) -> None:
        claim = conductor.claim
        assert claim is not None
        account = self.accounts[claim.job_id]
        dispatched = _conductor._dispatches(claim)
        trashes = dispatched >= self.max_dispatches
        if trashes:
            self._end(conductor, Event.TRASH, "fails to dispatch and trashes", reason="poisoned")
            account.finished = "trash"
        else:
            self._end(
                conductor,
                Event.ABANDON,
                "fails to dispatch and abandons",
                reason="poisoned",
                delay=float(dispatched),
            )
        if trashes != (account.dispatches >= self.max_dispatches):
            raise Violated(
                "poison",
                f"{claim.job_id} was {'trashed' if trashes else 'abandoned'} after a failed "
                f"dispatch, dispatched {account.dispatches} times (max_dispatches "
                f"{self.max_dispatches})",
            )

    def _stop(self, conductor: Conductor) -> None:
        self.faults["stops"] -= 1
        job = self._end(
            conductor, Event.ABANDON, "is stopped and abandons", reason=_conductor.STOPPED
        )
        self.accounts[job.id].dispatches -= 1

    def _crash(self, conductor: Conductor) -> None:
        assert conductor.claim is not None
        self.faults["crashes"] -= 1
        self._say(
            f"{conductor.name} crashes; its claim on {conductor.claim.job_id} (token "
            f"{conductor.claim.token}) is left to expire"
        )
        conductor.claim, conductor.told = None, 0.0
        conductor.incarnation += 1

    def _expire(self, conductor: Conductor) -> None:
        assert conductor.claim is not None
        job = self.jobs[conductor.claim.job_id]
        assert job.lease is not None
        self.faults["expiries"] -= 1
        self.now = job.lease.expires_at
        self._say(
            f"the clock reaches {self.now:g}: {conductor.name}'s claim on {job.id} (token "
            f"{job.lease.token}) expires while {conductor.name} is paused"
        )

    def end(self) -> None:
        """Where no move is left: every job is COMPLETE or TRASHED, by the account."""
        for name, account in self.accounts.items():
            if account.finished is None:
                raise Violated(
                    "finished",
                    f"{name} is left {self.jobs[name].state} with no move left "
                    f"(dispatched {account.dispatches} times)",
                )
