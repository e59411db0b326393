"""FC 2.0's services, kept in Redis: a service is a namespace of functions (each a platform function of its own,
named by faas.compat.names), with a description. The platform has no service-wide settings to share: the
fields FC 2.0 keeps there (role, logs, VPC, NAS) are accepted empty only (see model)."""

from __future__ import annotations

import json
import time
import uuid

from redis.asyncio import Redis

from ...releases.model import Alias
from . import model


class ServiceStore:
    """`{prefix}:fc2:services` (name -> the service's JSON), `{prefix}:fc2:service:{name}` (its functions' FC
    names), and beside it `...:versions` (version id -> the version's JSON), `...:version-seq` and `...:aliases`
    (alias name -> the alias's JSON, version ids the service's)."""

    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.key = f"{prefix}:fc2:services"
        self.prefix = prefix

    def _members(self, name: str) -> str:
        return f"{self.prefix}:fc2:service:{name}"

    async def create(self, fields: dict) -> dict:
        now = time.time()
        stored = {**fields, "serviceId": str(uuid.uuid4()), "createdAt": now, "updatedAt": now}
        if not await self.redis.hsetnx(self.key, fields["serviceName"], json.dumps(stored)):
            raise model.ServiceAlreadyExists(f"service {fields['serviceName']} exists")
        return stored

    async def get(self, name: str) -> dict:
        raw = await self.redis.hget(self.key, name)
        if raw is None:
            raise model.ServiceNotFound(f"service {name} does not exist")
        return json.loads(raw)

    async def update(self, name: str, fields: dict) -> dict:
        stored = await self.get(name) | fields | {"updatedAt": time.time()}
        await self.redis.hset(self.key, name, json.dumps(stored))
        return stored

    async def delete(self, name: str) -> None:
        if not await self.redis.hdel(self.key, name):
            raise model.ServiceNotFound(f"service {name} does not exist")
        await self.redis.delete(*(self._of(name, what) for what in ("versions", "version-seq", "aliases")))

    async def all(self) -> list[dict]:
        return [json.loads(raw) for raw in (await self.redis.hgetall(self.key)).values()]

    async def functions(self, name: str) -> list[str]:
        return sorted(m.decode() for m in await self.redis.smembers(self._members(name)))

    async def add_function(self, name: str, function: str) -> None:
        await self.redis.sadd(self._members(name), function)

    async def remove_function(self, name: str, function: str) -> None:
        await self.redis.srem(self._members(name), function)

    # -- versions and aliases
    def _of(self, name: str, what: str) -> str:
        return f"{self._members(name)}:{what}"

    async def add_version(self, name: str, fields: dict) -> dict:
        """Store a new version (`fields` without its id) under the next id."""
        vid = str(await self.redis.incr(self._of(name, "version-seq")))
        stored = {"versionId": vid, **fields}
        await self.redis.hset(self._of(name, "versions"), vid, json.dumps(stored))
        return stored

    async def versions(self, name: str) -> dict[str, dict]:
        raw = await self.redis.hgetall(self._of(name, "versions"))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    async def version(self, name: str, vid: str) -> dict | None:
        raw = await self.redis.hget(self._of(name, "versions"), vid)
        return None if raw is None else json.loads(raw)

    async def delete_version(self, name: str, vid: str) -> bool:
        return bool(await self.redis.hdel(self._of(name, "versions"), vid))

    async def aliases(self, name: str) -> dict[str, Alias]:
        raw = await self.redis.hgetall(self._of(name, "aliases"))
        return {k.decode(): Alias.from_json(v) for k, v in raw.items()}

    async def alias(self, name: str, alias: str) -> Alias | None:
        raw = await self.redis.hget(self._of(name, "aliases"), alias)
        return None if raw is None else Alias.from_json(raw)

    async def put_alias(self, name: str, alias: Alias, creating: bool) -> bool:
        """Store `alias`; False when creating it and it exists."""
        if creating:
            return bool(await self.redis.hsetnx(self._of(name, "aliases"), alias.name, alias.to_json()))
        await self.redis.hset(self._of(name, "aliases"), alias.name, alias.to_json())
        return True

    async def delete_alias(self, name: str, alias: str) -> bool:
        return bool(await self.redis.hdel(self._of(name, "aliases"), alias))
