"""Nonces of signed requests, each accepted once across every control plane, and the access keys' generation,
learned in the same round trip.

Every signed request waits for Redis once, so that round trip is kept lean: the requests that arrive while one
round trip is out go together in the next (one at a time, on a connection of its own, so that under load a
round trip carries many requests, and alone a request goes at once); the command is packed by hand (its
arguments are known strings); and a nonce bucket's expiry is set once per round trip, not once per request.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .redisconn import packed
from .signing import MAX_SKEW_S

KEEP_S = MAX_SKEW_S + 5
"""How long past a request's second its nonce is remembered: until no request of that second is accepted."""

ADMIT = """
local buckets = #KEYS - 1
local out = {redis.call('GET', KEYS[1]) or '0'}
for i = buckets + 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    out[#out + 1] = 1
  else
    out[#out + 1] = redis.call('SADD', KEYS[tonumber(ARGV[i]) + 1], ARGV[i + 1])
  end
end
for i = 1, buckets do
  redis.call('EXPIREAT', KEYS[i + 1], ARGV[i])
end
return out
"""
"""KEYS: the keys' generation, then the nonce buckets (a set per second of the requests' dates). ARGV: each
bucket's expiry, then per request its bucket's number and its member (empty: FC 2.0, which has no nonce). Out:
the generation, then per request 1 when its member was added (0: it was there, a replay)."""
_SHA = hashlib.sha1(ADMIT.encode()).hexdigest()


class NonceBook:
    """Admits nonces in batches, a round trip at a time, on a connection of its own from `redis`'s pool (so it
    follows a Sentinel failover as every connection does, and closes with the client)."""

    def __init__(self, redis: Redis, generation_key: str, prefix: str):
        self.redis, self.generation_key, self.prefix = redis, generation_key, prefix
        self._waiting: list[tuple[int, str, asyncio.Future]] = []
        self._sending: asyncio.Task | None = None
        self._conn: Any = None

    async def admit(self, second: int, member: str) -> tuple[bool, bytes]:
        """(whether `member` is new in the bucket of `second`, the keys' generation now); an empty member is not
        kept (True)."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((second, member, future))
        if self._sending is None:
            self._sending = asyncio.ensure_future(self._send_waiting())  # runs once this iteration's requests are in
        return await future

    async def _send_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    out = await self._round_trip(batch)
                except Exception as exc:  # each request of the batch fails with it
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                generation = out[0] if isinstance(out[0], bytes) else str(out[0]).encode()
                for (*_, future), added in zip(batch, out[1:]):
                    if not future.done():
                        future.set_result((bool(added), generation))
        finally:
            self._sending = None

    async def _round_trip(self, batch: list[tuple[int, str, asyncio.Future]]) -> list:
        buckets: dict[int, int] = {}
        args: list[str | int] = []
        for second, member, _ in batch:
            args.append(buckets.setdefault(second, len(buckets) + 1))
            args.append(member)
        keys = [self.generation_key, *(f"{self.prefix}{second}" for second in buckets)]
        arguments = [len(keys), *keys, *(second + KEEP_S for second in buckets), *args]
        try:
            return await self._admit(arguments)
        except (RedisConnectionError, RedisTimeoutError):  # once more, on a new connection (a restart, a failover)
            return await self._admit(arguments)

    async def _admit(self, arguments: list) -> list:
        try:
            return await self._command(b"EVALSHA", _SHA, *arguments)
        except NoScriptError:  # Redis restarted, or another server since: the script goes with the command
            return await self._command(b"EVAL", ADMIT, *arguments)

    async def _command(self, *args: Any) -> Any:
        if self._conn is None:
            self._conn = await self.redis.connection_pool.get_connection()
        try:
            await self._conn.send_packed_command(packed(*args), check_health=False)
            return await self._conn.read_response()
        except ResponseError:  # a whole reply was read: the connection goes on
            raise
        except BaseException:  # one cut off (an error, a timeout, a cancel) leaves the connection unusable
            await self._disconnect()
            raise

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect()
            await self.redis.connection_pool.release(conn)
