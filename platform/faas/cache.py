"""A small read-through cache for the hot path: records read from Redis at most once per TTL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
    """Values read at most once per `ttl` seconds per key. Requests that miss together share one read, and
    while a read of an expired value runs, the others are answered with the value it replaces (so a busy
    key costs one read a second, not one per request waiting at that moment)."""

    def __init__(self, ttl: float, max_entries: int = 10000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._values: dict[str, tuple[float, T]] = {}
        self._loading: dict[str, asyncio.Future] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        loading = self._loading.get(key)
        if loading is not None:
            if hit is not None:
                return hit[1]
            return await asyncio.shield(loading)
        future = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            else:
                future.cancel()
            raise
        finally:
            self._loading.pop(key, None)
        if len(self._values) >= self.max_entries:
            self._values.clear()
        self._values[key] = (now, value)
        future.set_result(value)
        return value

    def pop(self, key: str) -> None:
        """Forget `key` (it changed here): the next get reads it again."""
        self._values.pop(key, None)
