"""The function registry in Redis: one JSON document per function, and its last build log."""

from __future__ import annotations

import json
from typing import Sequence

from redis.asyncio import Redis

from .models import FunctionRecord

RESERVATION_TTL_S = 1800
"""Seconds a name stays reserved by a create whose build has not finished (a crashed create frees it)."""


def function_key(prefix: str, name: str) -> str:
    """The Redis key of a function's record (a JSON document)."""
    return f"{prefix}:fn:{name}"


def function_part_key(prefix: str, name: str, part: str) -> str:
    """The Redis key of one part of a function's versions and aliases (faas.releases.store lists them)."""
    return f"{prefix}:fn:{name}:{part}"


QUALIFIER_EXISTS_LUA = """
local function qualifier_exists(versions, aliases, q)
  local key = string.match(q, '^%d+$') and versions or aliases
  return redis.call('HEXISTS', key, q) == 1
end
"""
"""A Lua function for scripts that write what names a qualifier (a trigger, a version's or alias's setting):
whether version or alias `q` exists in the function's `versions` or `aliases` hash."""


def functions_key(prefix: str) -> str:
    """The Redis key of the set of every function's name."""
    return f"{prefix}:functions"


class FunctionStore:
    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def get(self, name: str) -> FunctionRecord | None:
        raw = await self.redis.get(function_key(self.prefix, name))
        return None if raw is None else FunctionRecord.from_api(json.loads(raw))

    async def records(self, names: Sequence[str]) -> list[FunctionRecord]:
        """The records of `names`, in one read (none for a name deleted meanwhile)."""
        if not names:
            return []
        raws = await self.redis.mget([function_key(self.prefix, n) for n in names])
        return [FunctionRecord.from_api(json.loads(r)) for r in raws if r is not None]

    async def names(self) -> list[str]:
        """Every function's name, sorted (no record read)."""
        return sorted(n.decode() for n in await self.redis.smembers(functions_key(self.prefix)))

    async def list(self) -> list[FunctionRecord]:
        return await self.records(await self.names())

    async def page(self, prefix: str, start: str | None, limit: int) -> tuple[Sequence[FunctionRecord], str | None]:
        """The functions whose names start with `prefix`, by name, `limit` of them from `start` (that name and
        after); and the name that starts the next page (None: this was the last). Only the page's records are
        read."""
        names = [n for n in await self.names() if n.startswith(prefix) and (start is None or n >= start)]
        return await self.records(names[:limit]), (names[limit] if len(names) > limit else None)

    async def reserve(self, name: str) -> bool:
        """Claim a name for a create in progress; False when it exists or another create holds it."""
        if await self.redis.exists(function_key(self.prefix, name)):
            return False
        return bool(await self.redis.set(self._key("creating", name), "1", nx=True, ex=RESERVATION_TTL_S))

    async def release(self, name: str) -> None:
        await self.redis.delete(self._key("creating", name))

    async def put(self, record: FunctionRecord, build_log: str | None = None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(function_key(self.prefix, record.name), json.dumps(record.to_api()))
            pipe.sadd(functions_key(self.prefix), record.name)
            if build_log is not None:
                pipe.set(self._key("build-log", record.name), build_log)
            await pipe.execute()

    async def delete(self, name: str) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(function_key(self.prefix, name))
            pipe.srem(functions_key(self.prefix), name)
            pipe.delete(self._key("build-log", name))
            deleted, _, _ = await pipe.execute()
        return bool(deleted)

    async def build_log(self, name: str) -> str | None:
        raw = await self.redis.get(self._key("build-log", name))
        return None if raw is None else raw.decode("utf-8", "replace")
