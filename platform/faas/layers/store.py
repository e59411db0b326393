"""Layer versions in Redis.

| key | type | holds |
|---|---|---|
| `{prefix}:layer:{name}:versions` | hash | version -> JSON (LayerVersion.to_json) |
| `{prefix}:layer:{name}:version-seq` | string | the last version given (never reused, even once all are deleted) |
| `{prefix}:layers` | set | names of the layers that have versions |
| `{prefix}:layers:guard` | string | a lock (redis-py's) that orders deletes of versions and saves of functions |
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.lock import Lock

from .model import LayerVersion

_PUBLISH = """
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 'limit' end
local version = redis.call('INCR', KEYS[2])
local doc = string.gsub(ARGV[1], '"version": 0,', '"version": ' .. version .. ',', 1)
redis.call('HSET', KEYS[1], tostring(version), doc)
redis.call('SADD', KEYS[3], ARGV[3])
return tostring(version)
"""
"""Publish (KEYS: versions, version counter, the set of layers; ARGV: the version's JSON with version 0, most
versions, its name): the version given, or `limit`."""

_DELETE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1
"""

GUARD_TIMEOUT_S = 60
"""How long the guard stays held when its holder dies before it lets go."""
GUARD_WAIT_S = 30
"""How long a delete or a save waits for the guard (a delete reads every function's records while it holds it)."""


class LayerStore:
    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.prefix = prefix
        self._publish = redis.register_script(_PUBLISH)
        self._delete = redis.register_script(_DELETE)

    def _key(self, name: str, part: str) -> str:
        return f"{self.prefix}:layer:{name}:{part}"

    @property
    def _names(self) -> str:
        return f"{self.prefix}:layers"

    async def publish(self, layer: LayerVersion, limit: int) -> int | None:
        """The version given to `layer` (published with version 0); None when the layer has `limit` versions."""
        assert layer.version == 0, "the store gives the version"
        result = (await self._publish(keys=[self._key(layer.name, "versions"), self._key(layer.name, "version-seq"),
                                            self._names], args=[layer.to_json(), limit, layer.name])).decode()
        return None if result == "limit" else int(result)

    async def names(self) -> list[str]:
        return sorted(n.decode() for n in await self.redis.smembers(self._names))

    async def versions(self, name: str) -> list[LayerVersion]:
        """Every version of `name`, the newest first."""
        raw = await self.redis.hvals(self._key(name, "versions"))
        return sorted((LayerVersion.from_json(v) for v in raw), key=lambda v: v.version, reverse=True)

    async def get(self, name: str, version: int) -> LayerVersion | None:
        raw = await self.redis.hget(self._key(name, "versions"), str(version))
        return None if raw is None else LayerVersion.from_json(raw)

    def guard(self) -> Lock:
        """The lock that orders a layer version's delete and the saves of functions that list it (every control
        plane's): a delete never misses a function saved while it looked, and a save never lists a version
        deleted while it built."""
        return self.redis.lock(f"{self._names}:guard", timeout=GUARD_TIMEOUT_S, blocking_timeout=GUARD_WAIT_S)

    async def delete(self, name: str, version: int) -> bool:
        return bool(await self._delete(keys=[self._key(name, "versions"), self._names], args=[str(version), name]))
