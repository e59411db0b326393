"""Triggers in Redis.

| key | type | holds |
|---|---|---|
| `{prefix}:triggers:{function}` | hash | the function's triggers: name -> JSON |
| `{prefix}:timers` | sorted set | enabled timer triggers (`<function>/<name>`), scored by their next firing |
| `{prefix}:queue-triggers` | set | queue triggers (`<function>/<name>`) the pollers serve |
| `{prefix}:queue:{name}` (group `trigger:<functionId>:<name>`) | stream | a queue trigger's consumer group |
"""

from __future__ import annotations

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
        self._put = redis.register_script(_PUT)

    def key(self, function: str) -> str:
        return f"{self.prefix}:triggers:{function}"

    async def list(self, function: str) -> list[Trigger]:
        raw = await self.redis.hgetall(self.key(function))
        return sorted((Trigger.from_json(v) for v in raw.values()), key=lambda t: t.created_at)

    async def get(self, function: str, name: str) -> Trigger | None:
        raw = await self.redis.hget(self.key(function), name)
        return None if raw is None else Trigger.from_json(raw)

    async def by_member(self, member: str, kind: str) -> Trigger | None:
        """The `kind` trigger an index entry (`<function>/<name>`) names; None when it is gone."""
        function, _, name = member.partition("/")
        trigger = await self.get(function, name)
        return trigger if trigger is not None and trigger.type == kind else None

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
