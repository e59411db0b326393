"""Queues as Redis streams, bounded without losing what was accepted.

A queue holds what was published to it and the destination records async events write. Nothing trims a
message no one has taken: a queue with triggers keeps each message until every trigger's group has
acknowledged it (its invocation ended), then drops it; a queue without triggers keeps its messages until a
reader deletes them (DELETE /v1/queues/{name}/messages?through=<id>). A queue that is full refuses what is
published to it (429, with Retry-After) instead of dropping its oldest, and Redis itself runs with
`maxmemory` and `noeviction`: a write it refuses is a 503 to the caller, with nothing accepted lost.
"""

from __future__ import annotations

PUBLISH = """
local count, bytes = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('XLEN', KEYS[1]) >= count then return {-1} end
local used = redis.call('MEMORY', 'USAGE', KEYS[1], 'SAMPLES', 5)
if used and used + #ARGV[1] > bytes then return {-2} end
redis.call('SADD', KEYS[2], ARGV[4])
return {0, redis.call('XADD', KEYS[1], '*', 'body', ARGV[1])}
"""
"""Publish one message unless the queue is full (KEYS: the stream, the set of queues; ARGV: the body, most
messages, most bytes, the queue's name). {0, id}; {-1}: too many messages; {-2}: too many bytes."""

FULL_MESSAGES, FULL_BYTES = -1, -2

TRIM = """
local floor = nil
local function lower(ms, seq)
  if floor == nil or ms < floor[1] or (ms == floor[1] and seq < floor[2]) then floor = {ms, seq} end
end
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return 0 end
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  local keep, bump = info['last-delivered-id'], 1
  if tonumber(info['pending']) > 0 then keep, bump = redis.call('XPENDING', KEYS[1], info['name'])[2], 0 end
  local ms, seq = string.match(keep, '^(%d+)-(%d+)$')
  lower(tonumber(ms), tonumber(seq) + bump)
end
if ARGV[1] ~= '' then
  local ms, seq = string.match(ARGV[1], '^(%d+)-(%d+)$')
  lower(tonumber(ms), tonumber(seq) + 1)
end
if floor == nil then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', floor[1], floor[2]))
"""
"""Drop the messages of a queue that every trigger's group has acknowledged, and none after ARGV[1] (a reader's
`through` id; '' for none); the number dropped. Without groups and without `through`, nothing: nothing says
what was taken from a queue without triggers."""


LUA_EXACT = 2 ** 53 - 1
"""The largest whole number a Lua script holds exactly (its numbers are doubles)."""


def lua_safe(stream_id: str) -> str:
    """A message id a Lua script can read and add one to exactly: each part without leading zeros, and past what a
    double holds exactly, the largest that does. No message of a queue has such an id (the platform's are Redis's,
    milliseconds and a count), so "through" a larger one means the same: through them all."""
    ms, seq = (int(n) for n in stream_id.split("-"))
    if ms > LUA_EXACT:
        ms, seq = LUA_EXACT, LUA_EXACT - 1
    return f"{ms}-{min(seq, LUA_EXACT - 1)}"


def id_after(stream_id: bytes | str | None) -> tuple[int, int] | None:
    if stream_id is None:
        return None
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def lag(group: dict, last_generated: bytes | str | None) -> int | None:
    """Messages of a stream its group has not taken yet: 0 when it has taken the last one written (Redis may
    report another figure after a restart, when it no longer knows how many entries the group read), else
    Redis's count; None when Redis cannot tell (the caller counts)."""
    delivered, last = id_after(group.get("last-delivered-id")), id_after(last_generated)
    if last is None or (delivered is not None and delivered >= last):
        return 0
    reported = group.get("lag")
    if reported is None or group.get("entries-read") is None:
        return None
    return int(reported)
