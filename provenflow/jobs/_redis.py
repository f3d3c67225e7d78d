"""`redis://host:port/db` (and `rediss://` for TLS): a job board in Redis, with redis-py.

Keys and scripts are in `_redis_scripts`. Every request reads the job and the server's time
(`TIME`, so every worker's claims expire by one clock) in one script, decides with `_decide`
(the rules every board follows, from the job table), and writes the result in one more script,
a compare-and-set on the record as read: if another worker changed the job in between, the
write is refused and the request starts again from the read (a claim then looks for the best
ready job again). A claim reads the best ready jobs from the claim index (priority, then
posting order; jobs whose not-before time came and claims that expired are moved into it by
the same script); a record that does not read back is passed over and left as it is.

Records are JSON objects with the columns of the SQL boards' row, read back by the same reader
(`_sql_rows.job_from_row`): a record that does not, or a key of the wrong type, is one
`CorruptRecord` naming the board and the job.

Wake-ups: every write publishes the job's id on the board's `changes` channel; `wait` and
`wait_for_work` subscribe before they look, then sleep on the subscription until a message,
the soonest not-before time or claim expiry, or their deadline: no polling.

Errors, as for the Redis lock service: a server that cannot be reached or a connection cut
(`CLIENT KILL`, a restart) is `StorageUnavailable` naming the board and the request; nothing
is retried behind the caller's back; the next call opens a new connection. The URL's
`prefix=` option names the keys' prefix (default `provenflow:`); its other options are
redis-py's.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from provenflow.errors import (
    CorruptRecord,
    InternalError,
    StorageUnavailable,
    UnknownJob,
    UsageError,
)
from provenflow.fsm.job import Event, State
from provenflow.jobs import _decide, _redis_scripts
from provenflow.jobs._board_base import ListeningBoard
from provenflow.jobs._records import Claim, CorruptJob, Job, JobListing
from provenflow.jobs._sql_rows import _COLUMNS, job_from_row, job_values
from provenflow.locks._redis import DEFAULT_PREFIX
from provenflow.persistence import Owner

__all__ = ["RedisBoard"]

Answer = TypeVar("Answer")
_BATCH = 16


def _index(job: Job) -> str:
    """Return the claim index entry of `job` (see `_redis_scripts.COMMIT`)."""
    if job.state is State.UNCLAIMED:
        return "ready" if job.not_before is None else f"waiting:{job.not_before!r}"
    if job.state is State.CLAIMED and job.lease is not None:
        return f"claimed:{job.lease.expires_at!r}"
    return "none"


class RedisBoard(ListeningBoard):
    """A job board in Redis; see the module docstring. Safe to share between threads."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        options = parse_qsl(parts.query, keep_blank_values=True)
        prefixes = [value for key, value in options if key == "prefix"]
        self.prefix = prefixes[-1] if prefixes else DEFAULT_PREFIX
        rest = urlencode([(key, value) for key, value in options if key != "prefix"])
        shown = parts
        if parts.password is not None:
            shown = shown._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
        self.url = urlunsplit(shown)
        try:
            self._client = redis.Redis.from_url(
                urlunsplit(parts._replace(query=rest)),
                retry=Retry(NoBackoff(), 0),
                socket_timeout=10.0,
                socket_connect_timeout=10.0,
            )
        except (ValueError, TypeError) as error:
            raise UsageError(f"job board {self.url}: not a Redis URL ({error})") from None
        self._keys = _redis_scripts.key_names(self.prefix)
        register = self._client.register_script
        self._read_script = register(_redis_scripts.READ)
        self._candidates_script = register(_redis_scripts.CANDIDATES)
        self._soonest_script = register(_redis_scripts.SOONEST)
        self._commit_script = register(_redis_scripts.COMMIT)

    def __repr__(self) -> str:
        return f"RedisBoard({self.url!r})"

    def close(self) -> None:
        """Close the board's connections (it reconnects if used again)."""
        self._client.close()

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except redis.ResponseError as error:
            if "WRONGTYPE" in str(error):
                problem = f"a key of the board has another type ({error})"
                raise CorruptRecord(self.url, problem) from None
            raise StorageUnavailable(self.url, f"cannot {action}: {error}") from error
        except redis.RedisError as error:
            reason = str(error).strip() or type(error).__name__
            raise StorageUnavailable(self.url, f"cannot {action}: {reason}") from error

    def _keys_of(self, *names: str) -> list[str]:
        return [self._keys[name] for name in names]

    def now(self) -> float:
        """Return the Redis server's time."""
        with self._guard("read the time"):
            seconds, micros = self._client.time()
        return seconds + micros / 1_000_000

    # -- records ----------------------------------------------------------------------------

    def _decode(self, job_id: str, raw: bytes | str) -> Job:
        """Return the job in the record `raw`; `CorruptRecord` when it does not read back."""
        where = f"{self.url}: job {job_id!r}"
        try:
            values = json.loads(raw)
        except ValueError as error:
            raise CorruptRecord(where, f"the record is not JSON ({error})") from None
        if not isinstance(values, dict) or set(values) != set(_COLUMNS):
            found = sorted(values) if isinstance(values, dict) else type(values).__name__
            raise CorruptRecord(where, f"the record holds {found}, not {sorted(_COLUMNS)}")
        if values["id"] != job_id:
            raise CorruptRecord(where, f"the record is of job {values['id']!r}")
        return job_from_row([values[name] for name in _COLUMNS], self.url)

    def _read(self, job_id: str, action: str) -> tuple[float, bytes, Job]:
        """Return the server's time, the job's record and the job; `UnknownJob` for none."""
        with self._guard(action):
            now, _, raw = self._read_script(
                keys=self._keys_of("records", "keys"), args=[job_id, ""]
            )
        if not raw:
            raise UnknownJob(job_id, self.url)
        return float(now), raw, self._decode(job_id, raw)

    def _commit(self, job: Job, expected: bytes, action: str) -> tuple[str, str, bytes]:
        """Write `job` if its record is still `expected` (b'' for a new job); see `COMMIT`."""
        record = json.dumps(job_values(job), sort_keys=True)
        keys = self._keys_of(
            "records", "order", "seq", "keys", "rank", "ready", "waiting", "claimed"
        )
        arguments: list[bytes | str | int] = [
            job.id, expected, record, _index(job), job.priority, job.key or "",
            self._keys["changes"],
        ]  # fmt: skip
        with self._guard(action):
            outcome, job_id, raw = self._commit_script(keys=keys, args=arguments)
        return outcome.decode(), job_id.decode(), raw

    def _change(
        self, job_id: str, action: str, decide: Callable[[Job, float], tuple[Job, Answer]]
    ) -> Answer:
        """Read the job, decide, and write; again from the read when another write came first."""
        while True:
            now, raw, job = self._read(job_id, action)
            changed, answer = decide(job, now)
            if self._commit(changed, raw, action)[0] == "written":
                return answer

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
        with self._guard("post a job"):
            now, found, raw = self._read_script(
                keys=self._keys_of("records", "keys"), args=["", key or ""]
            )
        if found:
            return self._decode(bytes(found).decode(), raw)
        job = _decide.new_job(
            factory, float(now), store=store, name=name, priority=priority,
            details=details, key=key, not_before=not_before,
        )  # fmt: skip
        outcome, job_id, raw = self._commit(job, b"", "post a job")
        if outcome == "conflict":
            raise InternalError(f"{self.url}: a new job's id {job.id!r} is taken")
        return job if outcome == "written" else self._decode(job_id, raw)

    def get(self, job_id: str) -> Job:
        """Return the job; `UnknownJob` when there is none, `CorruptRecord` when it does not
        read back."""
        return self._read(job_id, "read a job")[2]

    def jobs(self, state: str | None = None) -> JobListing:
        """Return every job (in `state`, if given), oldest first, and those that do not read
        back (as `CorruptJob`s)."""
        with self._guard("list the jobs"):
            members: Any = self._client.zrange(self._keys["order"], 0, -1)
            ids = [bytes(member).decode() for member in members]
            records: Any = self._client.hmget(self._keys["records"], ids) if ids else []
        healthy: list[Job] = []
        corrupt: list[CorruptJob] = []
        for job_id, raw in zip(ids, records, strict=True):
            if raw is None:
                continue
            try:
                job = self._decode(job_id, raw)
            except CorruptRecord as error:
                corrupt.append(CorruptJob(job_id, str(error.args[1])))
                continue
            if state is None or job.state == state:
                healthy.append(job)
        return JobListing(tuple(healthy), tuple(corrupt))

    # -- claims -----------------------------------------------------------------------------

    def claim(self, owner: Owner, ttl: float) -> Claim | None:
        """Claim the best ready job (see `Board.claim`); None when none is ready."""
        keys = self._keys_of("ready", "waiting", "claimed", "rank", "records")
        offset = 0
        while True:
            with self._guard("claim a job"):
                found = self._candidates_script(keys=keys, args=[offset, _BATCH])
            now, flat = float(found[0]), found[1:]
            if not flat:
                return None
            for job_id, raw in zip(flat[::2], flat[1::2], strict=True):
                try:
                    job = self._decode(job_id.decode(), raw) if raw else None
                except CorruptRecord:
                    job = None  # passed over and left as it is; listing shows it
                if job is None or not job.ready(now):
                    continue
                claimed, claim = _decide.claim_job(job, owner, now, ttl)
                if self._commit(claimed, raw, "claim a job")[0] == "written":
                    return claim
                offset = 0  # another worker changed the job: look again from the best
                break
            else:
                offset += _BATCH

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
        without a change."""
        keys = self._keys_of("ready", "waiting", "claimed", "rank", "records")
        with self._guard("look for ready jobs"):
            now, ready, waiting, expiring = self._soonest_script(keys=keys, args=[])
        if int(ready):
            return 0.0
        times = [float(at) - float(now) for at in (waiting, expiring) if at]
        return min(times) if times else None

    @contextlib.contextmanager
    def _listening(
        self, action: str, job_id: str | None = None
    ) -> Iterator[Callable[[float | None], None]]:
        """Yield `sleep(seconds)`: return when a job changed (a message on the board's channel;
        any job's, `job_id` included) or `seconds` (None: no limit) passed. Subscribed before
        the first look: nothing is missed."""
        with self._guard(action):
            subscription = self._client.pubsub()
            subscription.subscribe(self._keys["changes"])
            confirmed = subscription.get_message(timeout=10.0)  # subscribed before the look
        if confirmed is None or confirmed.get("type") != "subscribe":
            subscription.close()
            raise StorageUnavailable(self.url, f"cannot {action}: no subscription ({confirmed})")

        def sleep(seconds: float | None) -> None:
            with self._guard(action):
                # no limit: look again every few seconds (the socket's timeout is longer)
                subscription.get_message(timeout=5.0 if seconds is None else max(seconds, 0.0))

        try:
            yield sleep
        finally:
            with contextlib.suppress(redis.RedisError):
                subscription.close()
