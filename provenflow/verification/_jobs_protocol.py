"""Conductors that share one job board: the claim protocol, model-checked.

Theory of operation. `check_board` explores what several conductors do to the jobs of one
board, in every order, on a simulated clock that only the search moves. The board is a model
of `memory://` that applies the very decisions every board applies (`provenflow.jobs._decide`,
on leases of `provenflow.persistence._lease`): a claim takes the best ready job with
`claim_job`, and renew, complete, abandon and trash go through `renew_claim` and `finish`. A
conductor does what `Conductor` does (and decides a failed dispatch with its own count,
`_conductor._dispatches`): it claims a ready job, renews its claim, and ends it:

- `complete`: the flow is over, the job is completed;
- `fail`: the dispatch failed (a poisoned job), the job is abandoned with a back-off, or
  trashed once it was dispatched `max_dispatches` times;
- `stop` (a fault, up to `stops`): the conductor is asked to stop and abandons the job;
- `crash` (a fault, up to `crashes`): the conductor loses its memory and starts again as a new
  owner; its claim is left to expire;
- a refused request (`ClaimLost`) makes it let the job go.

The clock moves by two moves: `expire` (a fault, up to `expiries`) jumps to a live claim's
expiry while its holder is paused, and `wait` (no fault: time passes while conductors keep
running) jumps, when no job is ready, to the next not-before time or to the expiry of a claim
nobody alive holds, never past a live holder's claim.

Each move is held to rules kept by the check's own account, not the board's:

- `one owner`: a claim is granted only when no other conductor was told (granted or renewed)
  a claim on that job lasting past now;
- `fencing tokens`: each claim's token is above every token granted before on that job;
- `stale token`: a renewal, completion, abandon or trash is kept only from the conductor
  granted the job's claim last;
- `completed once`: a completed job is never claimed or completed again;
- `poison`: a failed dispatch trashes its job exactly when the job was dispatched
  `max_dispatches` times (its claims, less those abandoned by a stop);

and, where no move is left, every job must be COMPLETE or TRASHED (`finished`). A decision
that raises something other than `ClaimLost` is a violation too (`decision`). Breadth-first,
with states merged by key, so the first violation found has the shortest trace.
"""

from __future__ import annotations

import time
from dataclasses import astuple, dataclass

from provenflow.errors import UsageError
from provenflow.jobs import _decide
from provenflow.verification._jobs_model import FACTORY, Account, Conductor, Path
from provenflow.verification._protocol_search import explore

__all__ = ["BoardReport", "BoardViolation", "check_board"]


@dataclass(frozen=True)
class BoardViolation:
    """A broken rule (see the module docstring), what broke it, and the shortest sequence of
    moves that leads there (`trace`, oldest first)."""

    rule: str
    message: str
    trace: tuple[str, ...]

    def __str__(self) -> str:
        steps = (f"  {number}. {line}" for number, line in enumerate(self.trace, 1))
        return "\n".join((f"VIOLATION ({self.rule}): {self.message}", *steps))


@dataclass(frozen=True)
class BoardReport:
    """What `check_board` found: `ok` when no rule broke in what it explored, `complete` when
    it explored every state within the bounds (not stopped by `max_states`)."""

    conductors: int
    jobs: int
    states_explored: int
    transitions: int
    complete: bool
    violations: tuple[BoardViolation, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether no rule broke in the states explored."""
        return not self.violations

    def __str__(self) -> str:
        if self.violations:
            verdict = "VIOLATION"
        elif self.complete:
            verdict = "complete, no violation"
        else:
            verdict = "INCOMPLETE (stopped at max_states), no violation so far"
        head = (
            f"{verdict}: {self.conductors} conductors, {self.jobs} jobs on one board; "
            f"{self.states_explored} states, {self.transitions} transitions "
            f"in {self.seconds:.2f} s"
        )
        return "\n".join((head, *map(str, self.violations)))


def check_board(
    *,
    conductors: int = 2,
    jobs: int = 1,
    expiries: int = 1,
    crashes: int = 1,
    stops: int = 1,
    max_dispatches: int = 2,
    max_states: int = 200_000,
) -> BoardReport:
    """Explore `conductors` conductors on a board of `jobs` jobs, claiming, renewing,
    completing, failing to dispatch, stopping and crashing in every order, with up to
    `expiries` claim expiries, `crashes` crashes and `stops` stops (see the module docstring);
    return the report, with the shortest trace to the first broken rule.

    Raises `UsageError` for bounds below 1 (conductors, jobs, max_dispatches, max_states) or
    below 0 (expiries, crashes, stops).
    """
    if min(conductors, jobs, max_dispatches, max_states) < 1 or min(expiries, crashes, stops) < 0:
        raise UsageError(
            "check_board: conductors, jobs, max_dispatches and max_states must be at least 1, "
            f"expiries, crashes and stops at least 0 (got conductors={conductors}, jobs={jobs}, "
            f"max_dispatches={max_dispatches}, max_states={max_states}, expiries={expiries}, "
            f"crashes={crashes}, stops={stops})"
        )
    started = time.perf_counter()
    posted = [_decide.new_job(FACTORY, 0.0, job_id=f"j{n}") for n in range(1, jobs + 1)]
    first = Path(
        {job.id: job for job in posted},
        [Conductor(chr(ord("A") + number)) for number in range(conductors)],
        {job.id: Account() for job in posted},
        {"expiries": expiries, "crashes": crashes, "stops": stops},
        max_dispatches,
    )
    found = explore(first, max_states)
    broken = found.broken
    violations = () if broken is None else (BoardViolation(*astuple(broken)),)
    return BoardReport(
        conductors=conductors,
        jobs=jobs,
        states_explored=found.states,
        transitions=found.transitions,
        complete=found.complete,
        violations=violations,
        seconds=time.perf_counter() - started,
    )
