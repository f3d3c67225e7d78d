"""The Lua scripts of the Redis job board (`_redis`), and the keys they work on.

A board's keys all start with its prefix (`provenflow:` unless the URL's `prefix=` says
otherwise), followed by `jobs:`:

- `records`: a hash, job id -> the job's record, JSON with the fields of the SQL boards' row
  (`_sql_rows.job_values`: store, details and history as JSON text, the lease columns), so that
  one reader (`_sql_rows.job_from_row`) validates both;
- `order`: a sorted set, job id scored by its posting order; `seq`: the counter of that order;
- `keys`: a hash, idempotency key -> job id; `rank`: a hash, job id -> priority;
- the claim index, three sorted sets of members `<seq, 20 digits>:<id>`: `ready` (scored by
  -priority, so the first member is the best: highest priority, then first posted), `waiting`
  (unclaimed jobs scored by their not-before time) and `claimed` (scored by the claim's
  expiry). The index only says where to look: the record decides.

The board decides every change with `_decide` (the same rules as every board, from the job
table) on the server's time, then `COMMIT` writes it in one script: a compare-and-set on the
record as it was read (nothing else may have changed the job in between, or it writes nothing
and says `conflict`), the claim index and a `PUBLISH` on the `changes` channel (the job's id)
for the board's waiters. Since readiness only grows with time and a lease's liveness only
shrinks, a decision made at the time read stays right when the write lands later.
"""

from __future__ import annotations

__all__ = ["CANDIDATES", "COMMIT", "READ", "SOONEST", "key_names"]


def key_names(prefix: str) -> dict[str, str]:
    """Return the board's keys (see the module docstring), by their short names."""
    names = ("records", "order", "seq", "keys", "rank", "ready", "waiting", "claimed", "changes")
    return {name: f"{prefix}jobs:{name}" for name in names}


_TIME = """
local t = redis.call('TIME')
local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
"""

_PROMOTE = """
for _, key in ipairs({KEYS[2], KEYS[3]}) do
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', now)) do
    local priority = tonumber(redis.call('HGET', KEYS[4], string.sub(member, 22)) or '0')
    redis.call('ZADD', KEYS[1], -priority, member)
    redis.call('ZREM', key, member)
  end
end
"""

READ = (
    _TIME
    + """
local id = ARGV[1]
if ARGV[2] ~= '' then id = redis.call('HGET', KEYS[2], ARGV[2]) or '' end
local record = ''
if id ~= '' then record = redis.call('HGET', KEYS[1], id) or '' end
return {now, id, record}
"""
)
"""KEYS: records, keys. ARGV: job id, or '' and an idempotency key. Returns the server's time,
the job id and its record ('' when there is none)."""

CANDIDATES = (
    _TIME
    + _PROMOTE
    + """
local out = {now}
local first = tonumber(ARGV[1])
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], first, first + tonumber(ARGV[2]) - 1)) do
  local id = string.sub(member, 22)
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[5], id) or '')
end
return out
"""
)
"""KEYS: ready, waiting, claimed, rank, records. ARGV: offset, count. Moves the jobs whose
not-before time came or whose claim expired into `ready`, then returns the server's time and
the id and record of `count` ready jobs from `offset`, best first."""

SOONEST = (
    _TIME
    + _PROMOTE
    + """
local function first(key)
  local found = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return found[2] or ''
end
return {now, tostring(redis.call('ZCARD', KEYS[1])), first(KEYS[2]), first(KEYS[3])}
"""
)
"""KEYS: as CANDIDATES. Returns the server's time, how many jobs are ready, and the soonest
not-before time and claim expiry ('' when none)."""

COMMIT = """
local id = ARGV[1]
local current = redis.call('HGET', KEYS[1], id)
if ARGV[2] == '' then
  if ARGV[6] ~= '' then
    local existing = redis.call('HGET', KEYS[4], ARGV[6])
    if existing then return {'exists', existing, redis.call('HGET', KEYS[1], existing) or ''} end
  end
  if current then return {'conflict', id, current} end
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), id)
  redis.call('HSET', KEYS[5], id, ARGV[5])
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[4], ARGV[6], id) end
elseif current ~= ARGV[2] then
  return {'conflict', id, current or ''}
end
redis.call('HSET', KEYS[1], id, ARGV[3])
local seq = tonumber(redis.call('ZSCORE', KEYS[2], id))
local member = string.format('%020d', seq) .. ':' .. id
redis.call('ZREM', KEYS[6], member)
redis.call('ZREM', KEYS[7], member)
redis.call('ZREM', KEYS[8], member)
local index = ARGV[4]
if index == 'ready' then redis.call('ZADD', KEYS[6], -tonumber(ARGV[5]), member)
elseif index ~= 'none' then
  local key = KEYS[7]
  if string.sub(index, 1, 8) == 'claimed:' then key = KEYS[8] end
  redis.call('ZADD', key, string.sub(index, 9), member)
end
redis.call('PUBLISH', ARGV[7], id)
return {'written', id, ARGV[3]}
"""
"""KEYS: records, order, seq, keys, rank, ready, waiting, claimed. ARGV: job id, the record as
read ('' for a new job), the new record, the index entry ('ready', 'waiting:<time>',
'claimed:<expiry>' or 'none'), the priority, the idempotency key ('' for none), the channel.
Returns ('written' | 'conflict' | 'exists', job id, record): a new job whose key the board holds
is not written, and the job posted with the key is returned."""
