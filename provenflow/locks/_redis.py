"""Locks in Redis (`redis://host:port/db`, `rediss://` for TLS), with redis-py.

Every lock of a service is one field of a single hash, `{prefix}locks` (the prefix is
`provenflow:` unless the URL's `prefix=` option names another, e.g. one per test or per
application), whose value is the lease as JSON: `{"host", "pid", "owner", "token", "expires",
"held"}`, `expires` in milliseconds of the server's clock. A released lock keeps its field,
so the next token is higher: tokens come from a per-lock counter that never goes back.

Every operation is **one Lua script**, so Redis runs it atomically: it reads the server's
clock (`TIME`), reads the lock, applies the rules of `provenflow.persistence._lease` (the same
rules the memory and SQL services take from that module, written again in Lua: acquire,
renew, release, check), and writes the answer. The reply is the outcome, the server's now and
the lease as found or written. No script touches a key it was not given, and all of a
service's locks are in one key (one hash slot).

Errors: a server that cannot be reached, or a connection cut (`CLIENT KILL`, a restart), gives
`StorageUnavailable` naming the service and what it was doing, and nothing is retried behind
the caller's back (a script whose reply was lost may have run: the caller decides; a renewal
thread simply tries again later); the next call opens a new connection. A field that holds no
lease, or a key of another type, gives `CorruptRecord`. The URL's other options are redis-py's
(`socket_timeout=`, `client_name=`, ...); a socket timeout of 10 s applies unless given.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from provenflow.errors import CorruptRecord, StorageUnavailable, UsageError
from provenflow.locks._protocol import LockService, check_name, check_ttl, refused
from provenflow.persistence._lease import Lease, Owner, Refusal

__all__ = ["DEFAULT_PREFIX", "RedisLocks"]

DEFAULT_PREFIX = "provenflow:"
"""The prefix of the service's key unless the URL's `prefix=` option says otherwise."""

_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local now = now_ms()
local cur = nil
if raw then
  local ok, decoded = pcall(cjson.decode, raw)
  if not ok or type(decoded) ~= 'table' or type(decoded.token) ~= 'number'
      or type(decoded.expires) ~= 'number' or (decoded.held ~= 0 and decoded.held ~= 1) then
    return {'corrupt', now, raw}
  end
  cur = decoded
end
local function keep(lease, outcome)
  local encoded = cjson.encode(lease)
  redis.call('HSET', KEYS[1], ARGV[1], encoded)
  return {outcome, now, encoded}
end
local function found(outcome)
  return {outcome, now, raw}
end
local function holder_refusal()
  if not cur then return found('unleased') end
  if cur.token ~= tonumber(ARGV[5]) or cur.held ~= 1 or cur.host ~= ARGV[2]
      or tostring(cur.pid) ~= ARGV[3] or cur.owner ~= ARGV[4] then
    return found('lost')
  end
  return nil
end
"""

_ACQUIRE = (
    _COMMON
    + """
local expires = now + tonumber(ARGV[5])
local mine = {host = ARGV[2], pid = tonumber(ARGV[3]), owner = ARGV[4], held = 1}
if not cur then
  mine.token = 1
  mine.expires = expires
  return keep(mine, 'granted')
end
if cur.held == 1 and cur.host == ARGV[2] and tostring(cur.pid) == ARGV[3]
    and cur.owner == ARGV[4] then
  cur.expires = math.max(cur.expires, expires)
  return keep(cur, 'granted')
end
if cur.held == 1 and now < cur.expires then
  return found('held')
end
mine.token = cur.token + 1
mine.expires = expires
return keep(mine, 'granted')
"""
)

_RENEW = (
    _COMMON
    + """
local refusal = holder_refusal()
if refusal then return refusal end
cur.expires = math.max(cur.expires, now + tonumber(ARGV[6]))
return keep(cur, 'granted')
"""
)

_RELEASE = (
    _COMMON
    + """
local refusal = holder_refusal()
if refusal then return refusal end
cur.held = 0
return keep(cur, 'granted')
"""
)

_CHECK = (
    _COMMON
    + """
if not cur or cur.token ~= tonumber(ARGV[2]) or cur.held ~= 1 then
  return found('lost')
end
return found('granted')
"""
)

_LEASES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {now, redis.call('HGETALL', KEYS[1])}
"""


class RedisLocks(LockService):
    """A lock service in Redis; see the module docstring and `LockService`."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        options = parse_qsl(parts.query, keep_blank_values=True)
        prefixes = [value for key, value in options if key == "prefix"]
        self.prefix = prefixes[-1] if prefixes else DEFAULT_PREFIX
        self.key = f"{self.prefix}locks"
        rest = urlencode([(key, value) for key, value in options if key != "prefix"])
        shown = parts._replace(query=rest)
        if parts.password is not None:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            shown = shown._replace(netloc=netloc)
        self.url = urlunsplit(shown)
        try:
            self._client = redis.Redis.from_url(
                urlunsplit(parts._replace(query=rest)),
                retry=Retry(NoBackoff(), 0),
                socket_timeout=10.0,
                socket_connect_timeout=10.0,
            )
        except (ValueError, TypeError) as error:
            raise UsageError(f"lock service {self.url}: not a Redis URL ({error})") from None
        register = self._client.register_script
        self._scripts = {
            "acquire": register(_ACQUIRE),
            "renew": register(_RENEW),
            "release": register(_RELEASE),
            "check": register(_CHECK),
            "leases": register(_LEASES),
        }

    def acquire(self, name: str, owner: Owner, ttl: float) -> Lease:
        """See `LockService.acquire`."""
        name, ttl = check_name(name), check_ttl(ttl)
        return self._run("acquire", name, None, [*_owner(owner), _ms(ttl)])

    def renew(self, name: str, owner: Owner, token: int, ttl: float) -> Lease:
        """See `LockService.renew`."""
        name, ttl = check_name(name), check_ttl(ttl)
        return self._run("renew", name, token, [*_owner(owner), token, _ms(ttl)])

    def release(self, name: str, owner: Owner, token: int) -> None:
        """See `LockService.release`."""
        name = check_name(name)
        self._run("release", name, token, [*_owner(owner), token])

    def check(self, name: str, token: int) -> None:
        """See `LockService.check`."""
        name = check_name(name)
        self._run("check", name, token, [token])

    def leases(self) -> tuple[dict[str, Lease], float]:
        """See `LockService.leases`; a field that holds no lease is left out."""
        now, flat = self._call("leases", "list the locks", [])
        found: dict[str, Lease] = {}
        for raw_name, raw in zip(flat[::2], flat[1::2], strict=True):
            name = raw_name.decode("utf-8", errors="replace")
            try:
                found[name] = self._lease(name, raw)
            except CorruptRecord:
                continue  # a listing shows the healthy locks
        return found, now / 1000

    def close(self) -> None:
        """Close the service's connections (it reconnects if used again)."""
        self._client.close()

    def _run(self, action: str, name: str, token: int | None, arguments: list[Any]) -> Lease:
        """Run the script of `action` on lock `name`; return the lease it kept or found, or
        raise its refusal (`LockHeld`, `LockLost`) or `CorruptRecord`."""
        outcome, now_ms, raw = self._call(action, f"{action} lock {name!r}", [name, *arguments])
        outcome, now = outcome.decode(), now_ms / 1000
        if outcome == "corrupt":
            raise CorruptRecord(f"{self.url}: key {self.key!r}, lock {name!r}", f"{raw!r}")
        current = None if raw is None else self._lease(name, raw)
        if outcome == "granted":
            assert current is not None
            return current
        raise refused(name, Refusal(outcome, current), now, token)  # held, lost or unleased

    def _call(self, script: str, action: str, arguments: list[Any]) -> Any:
        try:
            return self._scripts[script](keys=[self.key], args=arguments)
        except redis.ResponseError as error:
            if "WRONGTYPE" in str(error):
                raise CorruptRecord(
                    f"{self.url}: key {self.key!r}", f"not a hash of locks ({error})"
                ) from None
            raise StorageUnavailable(self.url, f"cannot {action}: {error}") from error
        except redis.RedisError as error:
            reason = str(error).strip() or type(error).__name__
            raise StorageUnavailable(self.url, f"cannot {action}: {reason}") from error

    def _lease(self, name: str, raw: bytes) -> Lease:
        """Return the lease kept as JSON in `raw`; `CorruptRecord` when it holds none."""
        try:
            data = json.loads(raw)
            owner = Owner(data["host"], data["pid"], data["owner"])
            token, expires, held = data["token"], data["expires"], data["held"]
        except (ValueError, TypeError, KeyError) as error:
            raise CorruptRecord(
                f"{self.url}: key {self.key!r}, lock {name!r}", f"not a lease ({error!r})"
            ) from None
        kinds = (
            (owner.host, str), (owner.pid, int), (owner.id, str), (token, int),
            (expires, int | float),
        )  # fmt: skip
        if any(not isinstance(value, kind) for value, kind in kinds) or held not in (0, 1):
            raise CorruptRecord(f"{self.url}: key {self.key!r}, lock {name!r}", f"{raw!r}")
        return Lease(owner, token, expires / 1000, bool(held))


def _owner(owner: Owner) -> list[str]:
    return [owner.host, str(owner.pid), owner.id]


def _ms(ttl: float) -> int:
    """Return `ttl` seconds as whole milliseconds (at least one)."""
    return max(1, math.ceil(ttl * 1000))
