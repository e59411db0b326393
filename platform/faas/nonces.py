"""Nonces of signed requests, each accepted once across every control plane, and the access keys' generation,
learned in the same round trip.

Every signed request waits for Redis once, so that round trip is kept lean: the requests that arrive while one
round trip is out go together in the next (one at a time, on a connection of its own, so that under load a
round trip carries many requests, and alone a request goes after one loop iteration); the command is packed by
hand, each request's part as it arrives; and a nonce bucket's expiry is set once per round trip, not once per
request.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .redisconn import bulk
from .signing import MAX_SKEW_S

KEEP_S = MAX_SKEW_S + 5
"""How long past a request's second its nonce is remembered: until no request of that second is accepted."""

ADMIT = """
local out = {redis.call('GET', KEYS[1]) or '0'}
local expiring = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  if ARGV[i] == '' then
    out[i] = 1
  else
    out[i] = redis.call('SADD', key, ARGV[i])
  end
  if not expiring[key] then
    expiring[key] = true
    redis.call('EXPIREAT', key, tonumber(string.match(key, '(%d+)$')) + tonumber(ARGV[1]))
  end
end
return out
"""
"""KEYS: the keys' generation, then per request its nonce bucket (a set per second of the requests' dates, named
with that second). ARGV: how long past its second a bucket is kept, then per request its member (empty: FC 2.0,
which has no nonce). Out: the generation, then per request 1 when its member was added (0: it was there, a
replay). A bucket's expiry is set once per round trip."""
_SHA = hashlib.sha1(ADMIT.encode()).hexdigest()
_EVALSHA = bulk(b"EVALSHA") + bulk(_SHA)
_EVAL = bulk(b"EVAL") + bulk(ADMIT)


class NonceBook:
    """Admits nonces in batches, a round trip at a time, on a connection of its own from `redis`'s pool (so it
    follows a Sentinel failover as every connection does, and closes with the client). Each request's part of
    the command is packed as it arrives."""

    def __init__(self, redis: Redis, generation_key: str, prefix: str):
        self.redis, self.prefix = redis, prefix
        self._generation = bulk(generation_key)
        self._keep = bulk(KEEP_S)
        self._buckets: dict[int, bytes] = {}
        """Each recent second's bucket key, packed."""
        self._keys: list[bytes] = []
        self._members: list[bytes] = []
        self._futures: list[asyncio.Future] = []
        self._sending: asyncio.Task | None = None
        self._conn: Any = None

    def admit(self, second: int, member: str) -> Awaitable[tuple[bool, bytes]]:
        """(whether `member` is new in the bucket of `second`, the keys' generation now), to await; an empty member
        is not kept (True)."""
        future = asyncio.get_running_loop().create_future()
        self._keys.append(self._buckets.get(second) or self._bucket(second))
        data = member.encode()
        self._members.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._futures.append(future)
        if self._sending is None:
            self._sending = asyncio.ensure_future(self._send_waiting())  # runs once this iteration's requests are in
        return future

    def _bucket(self, second: int) -> bytes:
        if len(self._buckets) > 64:  # (seconds go by: the old ones are not asked for again)
            self._buckets.clear()
        key = self._buckets[second] = bulk(f"{self.prefix}{second}")
        return key

    async def _send_waiting(self) -> None:
        try:
            await asyncio.sleep(0)  # one loop iteration more: the requests read in its poll go in this round trip too
            while self._futures:
                keys, members, futures = b"".join(self._keys), b"".join(self._members), self._futures
                self._keys, self._members, self._futures = [], [], []
                try:
                    out = await self._round_trip(len(futures), keys, members)
                except Exception as exc:  # each request of the batch fails with it
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                generation = out[0] if isinstance(out[0], bytes) else str(out[0]).encode()
                for future, added in zip(futures, out[1:]):
                    if not future.done():
                        future.set_result((added == 1, generation))
        finally:
            self._sending = None

    async def _round_trip(self, count: int, keys: bytes, members: bytes) -> list:
        # EVALSHA sha numkeys generation bucket... keep member...: 5 + 2 * count arguments
        head = b"*%d\r\n" % (5 + 2 * count)
        arguments = b"%s%s%s%s%s" % (bulk(count + 1), self._generation, keys, self._keep, members)
        try:
            return await self._admit(head, arguments)
        except (RedisConnectionError, RedisTimeoutError):  # once more, on a new connection (a restart, a failover)
            return await self._admit(head, arguments)

    async def _admit(self, head: bytes, arguments: bytes) -> list:
        try:
            return await self._command(head + _EVALSHA + arguments)
        except NoScriptError:  # Redis restarted, or another server since: the script goes with the command
            return await self._command(head + _EVAL + arguments)

    async def _command(self, command: bytes) -> Any:
        if self._conn is None:
            self._conn = await self.redis.connection_pool.get_connection()
        try:
            await self._conn.send_packed_command(command, check_health=False)
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
