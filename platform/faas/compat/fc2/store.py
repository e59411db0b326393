"""FC 2.0's services, kept in Redis: a service is a namespace of functions (each a platform function of its own,
named by faas.compat.names), with a description. The platform has no service-wide settings to share: the
fields FC 2.0 keeps there (role, logs, VPC, NAS) are accepted empty only (see model)."""

from __future__ import annotations

import json
import time
import uuid

from redis.asyncio import Redis

from . import model


class ServiceStore:
    """`{prefix}:fc2:services` (name -> the service's JSON) and `{prefix}:fc2:service:{name}` (its functions'
    FC names)."""

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

    async def all(self) -> list[dict]:
        return [json.loads(raw) for raw in (await self.redis.hgetall(self.key)).values()]

    async def functions(self, name: str) -> list[str]:
        return sorted(m.decode() for m in await self.redis.smembers(self._members(name)))

    async def add_function(self, name: str, function: str) -> None:
        await self.redis.sadd(self._members(name), function)

    async def remove_function(self, name: str, function: str) -> None:
        await self.redis.srem(self._members(name), function)
