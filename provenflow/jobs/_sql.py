"""The SQL job boards, `sqlite:///path` and `postgresql://...`, on SQLAlchemy Core: `SqlBoard`.

Opening a board uses the database opening of the SQL stores (`persistence._sql_engine`: the
URLs, SQLite's WAL mode and `BEGIN IMMEDIATE`, psycopg 3 for PostgreSQL, the errors) and makes
the `provenflow_jobs` table of `_sql_rows` when it is missing (unless `create=False`). A board
may live in the same database as a store of runs.

Every request is one transaction: it reads the job's row (PostgreSQL: `FOR UPDATE`, so that
requests on one job are serialized; SQLite: the transaction holds the database's write lock from
its start, `BEGIN IMMEDIATE`), reads the board's time, asks `_decide` what to do, writes the
row and commits, or writes nothing when `_decide` refuses. A claim is one transaction too: a
`SELECT ... WHERE <ready at now> ORDER BY priority DESC, posted_at, seq LIMIT 1 FOR UPDATE SKIP
LOCKED` picks the best ready job that no other claim is deciding on (so concurrent claimers take
different jobs instead of queueing on one), then the same decide-and-write. A ready row that
does not read back is passed over (listing the board shows it as corrupt) and left as it is.

Time: PostgreSQL's `clock_timestamp()`, the same for every worker; the board's clock on SQLite
(`time.time` unless given: one machine's workers share it).

Wake-ups. On PostgreSQL every change sends `NOTIFY provenflow_jobs, '<job id>'` in its
transaction (delivered on commit); `wait` and `wait_for_work` `LISTEN` on a connection of their
own and sleep until a notification or the next time a job becomes ready (a not-before time, a
claim's expiry), never polling. SQLite has no notifications: they look again after a short
pause that grows to 0.2 s.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa

from provenflow.errors import BoardNotFound, CorruptRecord, StoreNotFound, UnknownJob
from provenflow.fsm.job import Event, State
from provenflow.jobs import _decide
from provenflow.jobs._board_base import ListeningBoard
from provenflow.jobs._records import Claim, CorruptJob, Job, JobListing
from provenflow.jobs._sql_rows import (
    JOBS,
    JOBS_METADATA,
    SELECT_JOB,
    job_from_row,
    job_values,
    lease_values,
)
from provenflow.persistence import Owner
from provenflow.persistence._sql_engine import _BEGIN, _make_engine, database_errors, use_wal
from provenflow.persistence._sql_lease import server_now

__all__ = ["CHANNEL", "SqlBoard", "channel_of"]

CHANNEL = "provenflow_jobs"
"""The stem of the PostgreSQL notification channel of job changes; the payload is the job's id.
A board's own channel is `channel_of(its schema)`: a database's channels are shared by all its
schemas, and boards in two schemas must not wake each other."""


def channel_of(schema: str) -> str:
    """Return the notification channel of the board in `schema` (at most 63 bytes, as
    PostgreSQL's identifiers; quote it in LISTEN)."""
    digest = hashlib.sha256(schema.encode("utf-8")).hexdigest()[:24]
    return f"{CHANNEL}.{digest}"


Answer = TypeVar("Answer")

_CLAIMED = JOBS.c.state == str(State.CLAIMED)
_UNCLAIMED = JOBS.c.state == str(State.UNCLAIMED)
_BEST_FIRST = (JOBS.c.priority.desc(), JOBS.c.posted_at, JOBS.c.seq)


def _ready(now: float) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
    """The rows of jobs a claim at `now` may take (see `Job.ready`): unclaimed and past their
    not-before time, and claimed under an expired claim. Two conditions, each searched on its
    own down the `provenflow_jobs_ready` index, best first, so that a claim reads a few rows
    whatever the backlog (one condition with an OR would sort every ready job)."""
    waiting_done = sa.or_(JOBS.c.not_before.is_(None), JOBS.c.not_before <= now)
    expired = sa.and_(JOBS.c.lease_held == 1, JOBS.c.lease_expires <= now)
    return sa.and_(_UNCLAIMED, waiting_done), sa.and_(_CLAIMED, expired)


class SqlBoard(ListeningBoard):
    """A job board in an SQL database (SQLite or PostgreSQL); see the module docstring.

    Raises, when opened, `BoardNotFound` (with `create=False`, for a board not made yet),
    `StorageUnavailable` when the database cannot be reached and `UsageError` for a URL it does
    not handle. Safe to share between threads; `close()` releases the connections.
    """

    def __init__(
        self, url: str, *, create: bool = True, clock: Callable[[], float] = time.time
    ) -> None:
        try:
            self._engine, self.url, self._dialect = _make_engine(
                url, "create" if create else "write"
            )
        except StoreNotFound as error:
            raise BoardNotFound(error.url, str(error.args[1])) from None
        self._writer = self._engine.execution_options(**{_BEGIN: "IMMEDIATE"})
        self._dbapi_error: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        self._clock = clock
        self._postgres = self._dialect == "postgresql"
        self._channel = CHANNEL
        try:
            self._prepare(create)
        except BaseException:
            self._engine.dispose()
            raise

    def _prepare(self, create: bool) -> None:
        with self._guard("open the job board"), self._writer.begin() as conn:
            if self._postgres:  # one creator per schema at a time
                schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
                self._channel = channel_of(str(schema))
                lock = (
                    "SELECT pg_advisory_xact_lock(hashtext('provenflow_jobs:' || current_schema()))"
                )
                conn.execute(sa.text(lock))
            if sa.inspect(conn).has_table(JOBS.name):
                return
            if not create:
                raise BoardNotFound(self.url, f"the database holds no {JOBS.name} table")
            JOBS_METADATA.create_all(conn)
        if not self._postgres:
            use_wal(self._engine, self._guard)

    def __repr__(self) -> str:
        return f"SqlBoard({self.url!r})"

    def close(self) -> None:
        """Close the pooled connections; the board may still be used (it reconnects)."""
        self._engine.dispose()

    def _guard(self, action: str) -> contextlib.AbstractContextManager[None]:
        return database_errors(self.url, self._dialect, self._dbapi_error, action)

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[sa.Connection]:
        with self._guard(action), self._writer.begin() as conn:
            yield conn

    def _now(self, conn: sa.Connection) -> float:
        return server_now(conn) if self._postgres else self._clock()

    def now(self) -> float:
        """Return the board's time: the server's on PostgreSQL, the clock's on SQLite."""
        if not self._postgres:
            return self._clock()
        with self._guard("read the time"), self._engine.connect() as conn:
            return server_now(conn)

    def _write(self, conn: sa.Connection, job: Job) -> None:
        values = {"state": str(job.state), "not_before": job.not_before, **lease_values(job)}
        values["history"] = job_values(job)["history"]
        conn.execute(JOBS.update().where(JOBS.c.id == job.id).values(**values))
        if self._postgres:
            conn.execute(sa.select(sa.func.pg_notify(self._channel, job.id)))

    # -- posting and reading ----------------------------------------------------------------

    def post(
        self,
        factory: str,
        *,
        store: Mapping[str, Any] | None = None,
        name: str | None = None,
        priority: int = 0,
        details: Mapping[str, Any] | None = None,
        key: str | None = None,
        not_before: float | None = None,
    ) -> Job:
        """Post a job, or return the one posted with `key` (see `Board.post`)."""
        fields: dict[str, Any] = {
            "store": store, "name": name, "priority": priority, "details": details,
            "key": key, "not_before": not_before,
        }  # fmt: skip
        _decide.new_job(factory, 0.0, **fields)  # refuses bad fields before connecting
        with self._guard("post a job"):
            try:
                with self._writer.begin() as conn:
                    found = self._by_key(conn, key)
                    if found is not None:
                        return found
                    job = _decide.new_job(factory, self._now(conn), **fields)
                    conn.execute(JOBS.insert().values(**job_values(job)))
                    if self._postgres:
                        conn.execute(sa.select(sa.func.pg_notify(self._channel, job.id)))
                    return job
            except sa.exc.IntegrityError:  # a concurrent post of the key won (PostgreSQL)
                with self._engine.connect() as conn:
                    found = self._by_key(conn, key)
                if found is None:
                    raise
                return found

    def _by_key(self, conn: sa.Connection, key: str | None) -> Job | None:
        if key is None:
            return None
        row = conn.execute(SELECT_JOB.where(JOBS.c.idempotency_key == key)).first()
        return None if row is None else job_from_row(tuple(row), self.url)

    def get(self, job_id: str) -> Job:
        """Return the job; `UnknownJob` when there is none, `CorruptRecord` when it does not
        read back."""
        with self._guard("read a job"), self._engine.connect() as conn:
            return self._read(conn, job_id)

    def _read(self, conn: sa.Connection, job_id: str, *, lock: bool = False) -> Job:
        query = SELECT_JOB.where(JOBS.c.id == job_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise UnknownJob(job_id, self.url)
        return job_from_row(tuple(row), self.url)

    def jobs(self, state: str | None = None) -> JobListing:
        """Return every job (in `state`, if given), oldest first, and those that do not read
        back (as `CorruptJob`s)."""
        query = SELECT_JOB.order_by(JOBS.c.seq)
        if state is not None:
            query = query.where(JOBS.c.state == str(state))
        with self._guard("list the jobs"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        healthy: list[Job] = []
        corrupt: list[CorruptJob] = []
        for row in rows:
            try:
                healthy.append(job_from_row(tuple(row), self.url))
            except CorruptRecord as error:
                corrupt.append(CorruptJob(str(row[0]), str(error.args[1])))
        return JobListing(tuple(healthy), tuple(corrupt))

    # -- claims -----------------------------------------------------------------------------

    def claim(self, owner: Owner, ttl: float) -> Claim | None:
        """Claim the best ready job (see `Board.claim`); None when none is ready."""
        passed_over: list[int] = []
        with self._transaction("claim a job") as conn:
            now = self._now(conn)
            while True:
                found = [self._best(conn, ready, passed_over) for ready in _ready(now)]
                rows = [row for row in found if row is not None]
                if not rows:
                    return None
                best = min(rows, key=lambda row: (-row.priority, row.posted_at, row.seq))
                seq, columns = int(best[0]), tuple[Any, ...](best[1:])
                try:
                    job = job_from_row(columns, self.url)
                except CorruptRecord:
                    passed_over.append(seq)  # left as it is; listing shows it
                    continue
                job, claim = _decide.claim_job(job, owner, now, ttl)
                self._write(conn, job)
                return claim

    def _best(
        self, conn: sa.Connection, ready: sa.ColumnElement[bool], passed_over: list[int]
    ) -> sa.Row[Any] | None:
        """Return (seq, the columns of `SELECT_JOB`) of the best job `ready` selects that no
        other transaction has locked, locking it; None when there is none."""
        query = sa.select(JOBS.c.seq, *SELECT_JOB.selected_columns).where(ready)
        if passed_over:
            query = query.where(JOBS.c.seq.not_in(passed_over))
        query = query.order_by(*_BEST_FIRST).limit(1).with_for_update(skip_locked=True)
        return conn.execute(query).first()

    def _change(
        self, job_id: str, action: str, decide: Callable[[Job, float], tuple[Job, Answer]]
    ) -> Answer:
        with self._transaction(action) as conn:
            job = self._read(conn, job_id, lock=True)
            changed, answer = decide(job, self._now(conn))
            self._write(conn, changed)
            return answer

    def renew(self, claim: Claim, ttl: float) -> Claim:
        """Extend the claim (see `Board.renew`); `ClaimLost` when its token is stale."""
        return self._change(
            claim.job_id,
            "renew a claim",
            lambda job, now: _decide.renew_claim(job, claim, now, ttl),
        )

    def _finish(self, claim: Claim, event: Event, **fields: Any) -> Job:
        def decide(job: Job, now: float) -> tuple[Job, Job]:
            done = _decide.finish(job, claim, event, now, **fields)
            return done, done

        return self._change(claim.job_id, f"{event} a job", decide)

    def discard(self, job_id: str, reason: str) -> Job:
        """Trash a job no live claim holds (see `Board.discard`)."""

        def decide(job: Job, now: float) -> tuple[Job, Job]:
            done = _decide.discard(job, now, reason)
            return done, done

        return self._change(job_id, "trash a job", decide)

    # -- waiting ----------------------------------------------------------------------------

    def _soonest_ready(self) -> float | None:
        """Return in how many seconds a job becomes ready (<= 0: one is), None if none will
        without a change (every job is finished, or claimed and not expiring)."""
        query = sa.select(
            sa.func.min(JOBS.c.not_before).filter(_UNCLAIMED, JOBS.c.not_before.is_not(None)),
            sa.func.count().filter(_UNCLAIMED, JOBS.c.not_before.is_(None)),
            sa.func.min(JOBS.c.lease_expires).filter(_CLAIMED),
        )
        with self._guard("look for ready jobs"), self._engine.connect() as conn:
            waiting, free, expiring = conn.execute(query).one()
            now = self._now(conn)
        if free:
            return 0.0
        times = [at - now for at in (waiting, expiring) if at is not None]
        return min(times) if times else None

    @contextlib.contextmanager
    def _listening(
        self, action: str, job_id: str | None = None
    ) -> Iterator[Callable[[float | None], None]]:
        """Yield `sleep(seconds)`: return when a job (`job_id`, or any) may have changed
        (PostgreSQL: a notification of it came on this board's channel; SQLite: a short pause
        passed) or `seconds` (None: no limit) passed. On PostgreSQL the connection listens
        before the first look, so no change is missed."""
        if not self._postgres:
            pause = [0.005]

            def poll(seconds: float | None) -> None:
                time.sleep(pause[0] if seconds is None else max(min(pause[0], seconds), 0.0))
                pause[0] = min(pause[0] * 2, 0.2)

            yield poll
            return
        with self._guard(action), self._engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql(f'LISTEN "{self._channel}"')
            raw: Any = conn.connection.driver_connection

            def sleep(seconds: float | None) -> None:
                timeout = None if seconds is None else max(seconds, 0.0)
                for notice in raw.notifies(timeout=timeout):
                    if job_id is None or notice.payload == job_id:
                        break

            try:
                yield sleep
            finally:
                conn.exec_driver_sql("UNLISTEN *")
