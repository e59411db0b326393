"""The API's side of logs: an invocation's log, a function's recent lines, following them, the Tail header."""

from __future__ import annotations

import asyncio
import base64
import time

from redis.asyncio import Redis

from .. import defaults
from ..config import Settings
from ..queue.keys import Keys as EventKeys
from .keys import LogKeys


class LogReader:
    """The API's side: an invocation's log, a function's recent lines, following them, the Tail header."""

    def __init__(self, settings: Settings, conn: Redis):
        self.keys = LogKeys(settings.redis_prefix)
        self.events = EventKeys(settings.redis_prefix)
        self.conn = conn

    async def invocation(self, request_id: str, function: str | None = None) -> list[str] | None:
        """An invocation's log. One that printed nothing has no key of its own: its REPORT line is found in
        the function's stream (the function named, or the one its async record names)."""
        lines = await self.conn.lrange(self.keys.invocation(request_id), 0, -1)
        if lines:
            return [line.decode("utf-8", "replace") for line in lines]
        if function is None:
            raw = await self.conn.hget(self.events.invocation(request_id), "function")
            function = raw.decode() if raw else None
        if function is None:
            return None
        found = []
        for _, fields in await self.conn.xrevrange(self.keys.function(function), count=defaults.LOG_FUNCTION_LINES):
            if fields.get(b"rid") == request_id.encode():
                found.append(fields[b"line"].decode("utf-8", "replace"))
        return list(reversed(found)) or None

    async def forget(self, name: str) -> None:
        """A deleted function's logs go with it (its invocation logs, its stream, its share of the budget)."""
        index = await self.conn.lrange(self.keys.index(name), 0, -1)
        keys = [self.keys.invocation(entry.decode().partition(" ")[0]) for entry in index]
        async with self.conn.pipeline(transaction=False) as pipe:
            for i in range(0, len(keys), 500):
                pipe.delete(*keys[i:i + 500])
            pipe.delete(self.keys.index(name), self.keys.function(name))
            pipe.hdel(self.keys.usage, name)
            await pipe.execute()

    async def complete(self, request_id: str) -> bool:
        last = await self.conn.lindex(self.keys.invocation(request_id), -1)
        return last is not None and last.startswith(b"REPORT RequestId: ")

    async def tail(self, request_id: str, wait: float = 1.0) -> str:
        """The last LOG_TAIL_BYTES of an invocation's log in base64, once complete (or after `wait`)."""
        deadline = time.monotonic() + wait
        while not await self.complete(request_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return encode_tail(await self.invocation(request_id) or [])

    async def function(self, name: str, tail: int,
                       versions: set[str] | None = None) -> tuple[list[tuple[str, str]], str]:
        """The last `tail` lines of a function (of its `versions` only, unless None) as (request id, line), and
        the id to follow from."""
        count = max(1, tail) if versions is None else defaults.LOG_FUNCTION_LINES
        entries = await self.conn.xrevrange(self.keys.function(name), count=count)
        last = entries[0][0].decode() if entries else "0-0"  # newest first: follow from the newest
        kept = [f for _, f in entries if _of(f, versions)][:tail]
        return [(f[b"rid"].decode(), f[b"line"].decode("utf-8", "replace")) for f in reversed(kept)], last

    async def follow(self, name: str, after: str, block_ms: int = 1000,
                     versions: set[str] | None = None) -> tuple[list[tuple[str, str]], str]:
        result = await self.conn.xread({self.keys.function(name): after}, block=block_ms, count=500)
        lines, last = [], after
        for _, entries in result or []:
            for eid, f in entries:
                if _of(f, versions):
                    lines.append((f[b"rid"].decode(), f[b"line"].decode("utf-8", "replace")))
                last = eid.decode()
        return lines, last


def _of(fields: dict[bytes, bytes], versions: set[str] | None) -> bool:
    """A stream entry printed by one of `versions` (any, when None)."""
    return versions is None or fields.get(b"ver", b"LATEST").decode() in versions


def encode_tail(lines: list[str]) -> str:
    """X-Fc-Log-Result: the last LOG_TAIL_BYTES of a log, base64."""
    text = "".join(line + "\n" for line in lines)
    return base64.b64encode(text.encode("utf-8")[-defaults.LOG_TAIL_BYTES:]).decode()
