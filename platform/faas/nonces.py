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

import hiredis
from redis._parsers import BaseParser
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

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
    the command is packed as it arrives; the reply is read by the connection's own protocol (_Wire), which answers
    the batch's requests and sends the next batch at once, with no task in between."""

    def __init__(self, redis: Redis, generation_key: str, prefix: str):
        self.redis, self.prefix = redis, prefix
        self._generation = bulk(generation_key)
        self._keep = bulk(KEEP_S)
        self._buckets: dict[int, bytes] = {}
        """Each recent second's bucket key, packed."""
        self._keys: list[bytes] = []
        self._members: list[bytes] = []
        self._futures: list[asyncio.Future] = []
        self._flight: _Batch | None = None
        """The batch sent, whose reply is awaited."""
        self._again: _Batch | None = None
        """A batch whose connection was cut before its reply: sent once more, first, on a new connection."""
        self._wire: _Wire | None = None
        self._connecting: asyncio.Task | None = None
        self._releasing: set[asyncio.Task] = set()
        self._scheduled = False

    def admit(self, second: int, member: str) -> Awaitable[tuple[bool, bytes]]:
        """(whether `member` is new in the bucket of `second`, the keys' generation now), to await; an empty member
        is not kept (True)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._keys.append(self._buckets.get(second) or self._bucket(second))
        self._members.append(bulk(member))
        self._futures.append(future)
        if not self._scheduled and self._flight is None:
            self._scheduled = True
            loop.call_soon(self._soon, loop)
        return future

    def _bucket(self, second: int) -> bytes:
        if len(self._buckets) > 64:  # (seconds go by: the old ones are not asked for again)
            self._buckets.clear()
        key = self._buckets[second] = bulk(f"{self.prefix}{second}")
        return key

    def _soon(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.call_soon(self._send)  # one loop iteration more: the requests read in its poll go in this round trip too

    def _send(self) -> None:
        """The next batch, unless one is out (its reply sends the next): on the connection, once there is one."""
        self._scheduled = False
        if self._flight is not None or not (self._futures or self._again):
            return
        if self._wire is None:
            if self._connecting is None:
                self._connecting = asyncio.ensure_future(self._connect())
            return
        batch, self._again = self._again, None
        if batch is None:
            batch = _Batch(self._futures, b"".join(self._keys), b"".join(self._members))
            self._keys, self._members, self._futures = [], [], []
        self._flight = batch
        self._wire.write(batch.command(self._generation, self._keep))

    async def _connect(self) -> None:
        try:
            conn = await self.redis.connection_pool.get_connection()
        except Exception as exc:  # no Redis: each waiting request fails with it
            self._fail_waiting(exc)
            return
        finally:
            self._connecting = None
        try:
            self._wire = _Wire(self, conn)
        except Exception as exc:  # (a redis-py whose connection keeps its transport elsewhere)
            await self._release(conn)
            self._fail_waiting(exc)
            return
        self._send()

    def _answered(self, wire: _Wire, reply: Any) -> None:
        batch, self._flight = self._flight, None
        if batch is None or wire is not self._wire:  # out of step with its replies: it is not used again
            wire.close()
            return
        if isinstance(reply, Exception):  # an error reply, as redis-py's exception (OOM: OutOfMemoryError, ...)
            if isinstance(reply, NoScriptError) and not batch.with_script:  # Redis restarted, or another one since
                batch.with_script = True
                self._flight = batch
                wire.write(batch.command(self._generation, self._keep))
                return
            batch.fail(reply)
        else:
            generation = reply[0] if isinstance(reply[0], bytes) else str(reply[0]).encode()
            for future, added in zip(batch.futures, reply[1:]):
                if not future.done():
                    future.set_result((added == 1, generation))
        self._send()

    def _lost(self, wire: _Wire, exc: Exception | None) -> None:
        """The connection was cut (a restart, a failover, a kill): the batch it carried goes once more on a new
        one, and fails if that is cut too."""
        if wire is not self._wire:
            return
        self._wire = None
        batch, self._flight = self._flight, None
        if batch is not None:
            if batch.retried:
                batch.fail(RedisConnectionError(f"the connection to Redis was lost: {exc or 'closed'}"))
            else:
                batch.retried = True
                self._again = batch
        releasing = asyncio.ensure_future(self._release(wire.conn))
        self._releasing.add(releasing)  # (a task nothing holds may be collected before it ends)
        releasing.add_done_callback(self._releasing.discard)
        self._send()

    def _fail_waiting(self, exc: Exception) -> None:
        batch, self._again = self._again, None
        if batch is not None:
            batch.fail(exc)
        _Batch(self._futures, b"", b"").fail(exc)
        self._keys, self._members, self._futures = [], [], []

    async def _release(self, conn: Any) -> None:
        await conn.disconnect(nowait=True)  # (closed already)
        await self.redis.connection_pool.release(conn)


class _Batch:
    """The requests of one round trip: their futures, and their packed keys and members."""

    __slots__ = ("futures", "keys", "members", "with_script", "retried")

    def __init__(self, futures: list[asyncio.Future], keys: bytes, members: bytes):
        self.futures, self.keys, self.members = futures, keys, members
        self.with_script = False
        """EVAL with the script itself, once Redis answered NOSCRIPT to its SHA."""
        self.retried = False

    def command(self, generation: bytes, keep: bytes) -> bytes:
        # EVALSHA sha numkeys generation bucket... keep member...: 5 + 2 * count arguments
        count = len(self.futures)
        return b"*%d\r\n%s%s%s%s%s%s" % (5 + 2 * count, _EVAL if self.with_script else _EVALSHA, bulk(count + 1),
                                          generation, self.keys, keep, self.members)

    def fail(self, exc: Exception) -> None:
        for future in self.futures:
            if not future.done():
                future.set_exception(exc)


class _Wire(asyncio.Protocol):
    """The nonces' connection, once redis-py made it (its address, password and database as every connection's):
    its transport taken over, replies parsed as they arrive."""

    def __init__(self, book: NonceBook, conn: Any):
        self.book, self.conn = book, conn
        self.reader = hiredis.Reader(replyError=BaseParser.parse_error)
        self.transport = conn._writer.transport  # (redis-py's StreamWriter: its transport, read from here on)
        self.original = self.transport.get_protocol()
        """redis-py's own protocol, told when the connection is lost (its StreamWriter waits for that to close)."""
        self.transport.set_protocol(self)

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def close(self) -> None:
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                self.book._answered(self, reply)
        except hiredis.ProtocolError:  # not Redis's protocol: the connection is not used again (its batch goes again)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.original.connection_lost(exc)
        self.book._lost(self, exc)
