"""Triggers in Redis.

| key | type | holds |
|---|---|---|
| `{prefix}:triggers:{function}` | hash | the function's triggers: name -> JSON |
| `{prefix}:timers` | sorted set | enabled timer triggers (`<function>/<name>`), scored by their next firing |
| `{prefix}:queue-triggers` | set | queue triggers (`<function>/<name>`) the pollers serve |
| `{prefix}:queue-triggers:changes` | stream | `member`: a queue trigger made, changed or deleted (the last 1000) |
| `{prefix}:queue:{name}` (group `trigger:<functionId>:<name>`) | stream | a queue trigger's consumer group |
"""

from __future__ import annotations

from typing import Sequence

from redis.asyncio import Redis

from ..queue.keys import Keys
from ..store import QUALIFIER_EXISTS_LUA, function_part_key
from .model import Trigger

_PUT = QUALIFIER_EXISTS_LUA + """
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if ARGV[3] ~= '' then
  if exists then return 'exists' end
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'limit' end
elseif not exists then
  return 'missing'
end
if ARGV[4] ~= 'LATEST' and not qualifier_exists(KEYS[2], KEYS[3], ARGV[4]) then return 'qualifier' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
"""
"""Add (ARGV[3]: the most triggers) or replace (ARGV[3] empty) a trigger (KEYS: the function's triggers, its
versions, its aliases; ARGV: name, JSON, limit, qualifier): ok, exists, limit, missing, or qualifier (no such
version or alias: one is never deleted while a trigger names it)."""


CHANGES_KEPT = 1000
"""Trigger changes the changes stream keeps, about (a poller further behind finds the rest at its next sweep)."""

_REGROUP = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[2], ARGV[3], '$', 'MKSTREAM')
return 1
"""
"""Make a queue trigger's group again, starting from now, only while the trigger is as the poller read it (KEYS:
the function's triggers, the stream; ARGV: the trigger's name, its JSON, the group): 1, or 0 when it was
changed or deleted (its group then is the service's business)."""


def group_name(trigger: Trigger) -> str:
    """The consumer group of a queue trigger: a function made again under the same name starts afresh."""
    return f"trigger:{trigger.function_id}:{trigger.name}"


class TriggerStore:
    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.prefix = prefix
        self.keys = Keys(prefix)
        """The async machinery's keys: a queue trigger reads the stream a `queue:` destination writes."""
        self.timers = f"{prefix}:timers"
        self.queue_triggers = f"{prefix}:queue-triggers"
        self.changes = f"{prefix}:queue-triggers:changes"
        self._put = redis.register_script(_PUT)
        self._regroup = redis.register_script(_REGROUP)

    def key(self, function: str) -> str:
        return f"{self.prefix}:triggers:{function}"

    async def list(self, function: str) -> list[Trigger]:
        raw = await self.redis.hgetall(self.key(function))
        return sorted((Trigger.from_json(v) for v in raw.values()), key=lambda t: t.created_at)

    async def get(self, function: str, name: str) -> Trigger | None:
        raw = await self.redis.hget(self.key(function), name)
        return None if raw is None else Trigger.from_json(raw)

    async def by_members(self, members: Sequence[str], kind: str) -> Sequence[Trigger | None]:
        """The `kind` trigger each index entry (`<function>/<name>`) names (None where it is gone), in one round
        trip."""
        if not members:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for member in members:
                function, _, name = member.partition("/")
                pipe.hget(self.key(function), name)
            found = await pipe.execute()
        triggers = [None if raw is None else Trigger.from_json(raw) for raw in found]
        return [t if t is not None and t.type == kind else None for t in triggers]

    async def regroup(self, trigger: Trigger, stream: str) -> bool:
        """Make a queue trigger's group again, its stream having been deleted; False when the trigger changed."""
        return bool(await self._regroup(keys=[self.key(trigger.function), stream],
                                        args=[trigger.name, trigger.to_json(), group_name(trigger)]))

    async def queue_changed(self, member: str) -> None:
        """Tell every control plane's queue poller that queue trigger `member` was made, changed or deleted."""
        await self.redis.xadd(self.changes, {"member": member}, maxlen=CHANGES_KEPT, approximate=True)

    async def add(self, trigger: Trigger, limit: int) -> str:
        """'ok', 'exists' (the name is taken), 'limit' (the function has `limit` triggers already) or
        'qualifier' (its qualifier names no version or alias of the function)."""
        return await self._store(trigger, str(limit))

    async def put(self, trigger: Trigger) -> str:
        """Replace a trigger: 'ok', 'missing' (deleted meanwhile) or 'qualifier'."""
        return await self._store(trigger, "")

    async def _store(self, trigger: Trigger, limit: str) -> str:
        function = trigger.function
        result = await self._put(keys=[self.key(function), function_part_key(self.prefix, function, "versions"),
                                       function_part_key(self.prefix, function, "aliases")],
                                 args=[trigger.name, trigger.to_json(), limit, trigger.qualifier])
        return result.decode() if isinstance(result, bytes) else result

    async def delete(self, function: str, name: str) -> bool:
        return bool(await self.redis.hdel(self.key(function), name))
