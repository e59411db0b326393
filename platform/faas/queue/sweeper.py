"""The control plane's side of async events: accept, status, destination queues, and the sweeper that
starts due retries, wakes workers, takes back what dead workers held, and audits for lost events."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from .. import defaults
from ..config import Settings
from ..defaults import LATEST
from ..errors import InvalidArgument, InvocationAlreadyExists, ServiceUnavailable, TooManyRequests
from ..metrics import AsyncStats
from ..models import AsyncConfig, FunctionRecord, new_request_id
from ..redisconn import connect
from . import events as ev
from . import streams
from .keys import Keys
from .kick import kick
from .policy import TERMINAL, EventStatus, Kind, system_retry_delay

log = logging.getLogger(__name__)

AUDIT_MIN_AGE_S = 60.0
"""An event is audited only once it is this old (younger ones are still on their way)."""

_MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('LPUSH', KEYS[2], id)
end
return #due
"""


def _full(message: str) -> TooManyRequests:
    return TooManyRequests(message, retry_after=defaults.QUEUE_FULL_RETRY_AFTER_S)


class AsyncEvents:
    def __init__(self, settings: Settings, conn: Redis):
        self.settings = settings
        self.conn = conn
        self.keys = Keys(settings.redis_prefix)
        self._sync = connect(settings)  # for RQ, which is synchronous
        self._move_due = conn.register_script(_MOVE_DUE)
        self._task: asyncio.Task | None = None
        self._kicking = False
        self._total, self._total_at = 0, -defaults.QUEUES_TOTAL_REFRESH_S  # all queues' memory, when read

    # -- API
    async def accept(self, record: FunctionRecord, event: bytes, trigger: str | None = None,
                     config: AsyncConfig | None = None, qualifier: str = LATEST, task_id: str | None = None) -> str:
        """Store the event and make it ready; returns its request id. Stored before this returns.
        `record`: the version it runs; `config`: its async settings; `qualifier`: what the caller asked for;
        `trigger`: the trigger ("<type>/<name>") that caused it. All are kept in its record. `task_id`: the
        request id its caller chose, InvocationAlreadyExists when an event has it (FC's task deduplication: a
        caller that does not know whether its first try was accepted tries again with the same id)."""
        request_id = task_id or new_request_id()
        now = time.time()
        fields = ev.new_event(record, event, now, config, qualifier)
        if trigger:
            fields["trigger"] = trigger
        stored, *_ = await self._write(
            lambda pipe: ev.queue_event(pipe, self.keys, request_id, fields, now, callers_id=task_id is not None),
            "event")
        if not stored:
            raise InvocationAlreadyExists(f"an async invocation with id {request_id} was accepted before (its record "
                                          f"is kept for {self.settings.result_ttl} s after it ends)")
        if task_id is not None:  # listed only once stored: never an id of another event, or of another function
            await self._write(lambda pipe: ev.remember(pipe, self.keys, record.spec.name, request_id, now),
                              "listing", transaction=False)
        await self.wake()
        return request_id

    async def _write(self, add, what: str, transaction: bool = True) -> list:
        """Run the commands `add` puts in a pipeline (as one MULTI/EXEC when `transaction`); their replies.

        With FAAS_REDIS_MIN_REPLICAS, a WAIT follows on the same connection, in the same batch, and this returns
        only once that many replicas hold the writes, so that a failover to one of them keeps them; else
        ServiceUnavailable (the caller may retry). The writes stay on the primary either way: an event may then
        run although its caller was told 503 (at least once, as every async event)."""
        need = self.settings.redis_min_replicas
        async with self.conn.pipeline(transaction=transaction and need <= 0) as pipe:
            add(pipe)
            if need <= 0:
                return await pipe.execute()
            commands = [args for args, _ in pipe.command_stack]  # staged, not sent: sent below, on one connection
        if transaction:
            commands = [("MULTI",), *commands, ("EXEC",)]
        replies = await self._send(commands + [("WAIT", need, int(defaults.REDIS_REPLICA_WAIT_S * 1000))])
        written = replies[-2] if transaction else replies[:-1]
        for reply in written:  # a command that failed inside EXEC is a reply, not a raise: as a pipeline does
            if isinstance(reply, ResponseError):
                raise reply
        if replies[-1] < need:
            log.warning("Redis: a new %s reached %d of %d replicas in %.1fs", what, replies[-1], need,
                        defaults.REDIS_REPLICA_WAIT_S)
            raise ServiceUnavailable(f"the platform's Redis did not copy the {what} to {need} replica(s) in "
                                     "time; it may still be kept and run; try again shortly")
        return written

    async def _send(self, commands: list[tuple]) -> list:
        """`commands` in one batch on one connection of the pool, and their raw replies (a WAIT counts the
        writes of its own connection only)."""
        pool = self.conn.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(conn.pack_commands(commands))
            return [await conn.read_response() for _ in commands]
        except BaseException:
            await conn.disconnect()  # replies may be left unread: never reuse it
            raise
        finally:
            await pool.release(conn)

    async def status(self, request_id: str) -> dict | None:
        fields = await self.conn.hgetall(self.keys.invocation(request_id))
        return ev.EventView(fields).to_api(request_id) if fields else None

    async def stop(self, request_id: str) -> str | None:
        """Ask for an event's stop (see policy.STOPPING): its status before (an ended one is left as it was), or
        None when it has no record."""
        before = await self._write(lambda pipe: pipe.eval(
            ev.STOP, 3, self.keys.invocation(request_id), self.keys.delayed, self.keys.ready, repr(time.time()),
            request_id), "stop", transaction=False)
        if before[0] is None:
            return None
        status = before[0].decode()
        if status not in TERMINAL:
            await self.wake()
        return status

    async def recent(self, function: str, status: str | None, limit: int, after: str | None = None,
                     where: Callable[[dict], bool] | None = None) -> list[dict]:
        """The function's newest async events (at most `limit`, with `status` if given, and for which `where` is
        true if given), newest first, without their results; with `after` (a request id), those older than it.
        Ids whose records expired are dropped from the index on the way. InvalidArgument when `after` is not in
        the index (any more)."""
        key = self.keys.recent(function)
        found: list[dict] = []
        start = 0
        if after is not None:
            rank = await self.conn.zrevrank(key, after)
            if rank is None:
                raise InvalidArgument(f"{after} is not among the function's recent async invocations (any more): "
                                      "list from the start")
            start = rank + 1
        while len(found) < limit and start < defaults.ASYNC_RECENT:
            ids = [i.decode() for i in await self.conn.zrevrange(key, start, start + 199)]
            if not ids:
                break
            start += len(ids)
            async with self.conn.pipeline(transaction=False) as pipe:
                for request_id in ids:
                    pipe.hgetall(self.keys.invocation(request_id))
                records = await pipe.execute()
            gone = [i for i, fields in zip(ids, records) if not fields]
            if gone:
                await self.conn.zrem(key, *gone)
                start -= len(gone)
            for request_id, fields in zip(ids, records):
                view = ev.EventView(fields)
                if fields and (status is None or view.status() == status):
                    shown = view.to_api(request_id, result=False)
                    if where is None or where(shown):
                        found.append(shown)
                        if len(found) == limit:
                            break
        return found

    async def read_queue(self, name: str, after: str, count: int) -> list[dict]:
        """Messages of a queue: destination records (`record`, JSON) and published messages (`body`, text)."""
        entries = await self.conn.xrange(self.keys.destination(name), min=f"({after}" if after else "-",
                                         count=count)
        out = []
        for eid, fields in entries:
            if b"record" in fields:
                out.append({"id": eid.decode(), "record": json.loads(fields[b"record"])})
            else:
                out.append({"id": eid.decode(), "body": fields.get(b"body", b"").decode("utf-8", "replace")})
        return out

    async def publish(self, name: str, body: str) -> str:
        """Add a message to queue `name` (a Redis stream, as destinations write); its id. TooManyRequests when
        the queue, or all queues together, are full: nothing is dropped to make room (see streams.py)."""
        settings = self.settings
        await self._check_total()
        (reply,) = await self._write(
            lambda pipe: pipe.eval(streams.PUBLISH, 2, self.keys.destination(name), self.keys.queues, body,
                                   settings.queue_max_messages, settings.queue_max_bytes, name),
            "message", transaction=False)
        if reply[0] == streams.FULL_MESSAGES:
            raise _full(f"queue {name} holds {settings.queue_max_messages} messages, its limit "
                        "(FAAS_QUEUE_MAX_MESSAGES): a trigger or a reader must take some first")
        if reply[0] == streams.FULL_BYTES:
            raise _full(f"queue {name} holds {settings.queue_max_bytes / 2 ** 20:g} MB, its limit (FAAS_QUEUE_MAX_MB): "
                        "a trigger or a reader must take some first")
        return reply[1].decode()

    async def _check_total(self) -> None:
        """TooManyRequests when all queues together hold their limit (the sum is asked of Redis at most once a
        second, so a burst may pass it by what one second brings)."""
        now = time.monotonic()
        if now - self._total_at >= defaults.QUEUES_TOTAL_REFRESH_S:
            names = await self.conn.smembers(self.keys.queues)
            async with self.conn.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.memory_usage(self.keys.destination(name.decode()), samples=5)
                used = await pipe.execute()
            gone = [name for name, size in zip(names, used) if size is None]
            if gone:
                await self.conn.srem(self.keys.queues, *gone)
            self._total, self._total_at = sum(size or 0 for size in used), now
        if self._total >= self.settings.queues_max_bytes:
            raise _full(f"the platform's queues hold {self._total / 2 ** 20:.1f} MB, their limit (FAAS_QUEUES_MAX_MB): "
                        "triggers or readers must take some first")

    async def delete_messages(self, name: str, through: str) -> int:
        """A reader is done with queue `name` up to message `through`: those messages go, but for any a trigger
        has not taken yet (it still needs them). The number deleted."""
        return await self.conn.eval(streams.TRIM, 1, self.keys.destination(name), streams.lua_safe(through))

    async def stats(self) -> AsyncStats:
        """Counters the workers keep in Redis, and where events are now: for /metrics."""
        async with self.conn.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.stats)
            pipe.llen(self.keys.ready)
            pipe.zcard(self.keys.delayed)
            pipe.zcard(self.keys.pending)
            pipe.zrange(self.keys.pending, 0, 0, withscores=True)
            pipe.smembers(self.keys.workers)
            counts, ready, delayed, pending, oldest, workers = await pipe.execute()
        stats = AsyncStats(ready=ready, delayed=delayed, pending=pending,
                           oldest_pending_age=max(0.0, time.time() - oldest[0][1]) if oldest else 0.0)
        for raw, value in counts.items():
            kind, _, rest = raw.decode().partition(":")
            if kind == "ended":
                status, _, condition = rest.partition(":")
                stats.ended[(status, condition)] = int(value)
            elif kind == "retry":
                stats.retries[rest] = int(value)
        if workers:
            async with self.conn.pipeline(transaction=False) as pipe:
                for worker in workers:
                    pipe.llen(self.keys.inflight(worker.decode()))
                    pipe.exists(self.keys.lease(worker.decode()))
                found = await pipe.execute()
            stats.inflight = sum(found[0::2])
            stats.workers = sum(found[1::2])
        return stats

    async def wake(self) -> None:
        """Make sure drain jobs run (cheap when they already do: one SET NX)."""
        if self._kicking or await self.conn.exists(self.keys.drain):
            return
        self._kicking = True
        try:
            await asyncio.get_running_loop().run_in_executor(None, kick, self._sync, self.keys)
        finally:
            self._kicking = False

    # -- sweeper
    def start(self) -> None:
        self._task = asyncio.create_task(self._sweep_forever(), name="async-sweeper")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        self._sync.close()

    async def _sweep_forever(self) -> None:
        next_reclaim = next_audit = 0.0
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            try:
                await self.sweep()
                now = time.monotonic()
                if now >= next_reclaim:
                    next_reclaim = now + max(1.0, self.settings.worker_lease / 3)
                    await self.reclaim()
                if now >= next_audit:
                    next_audit = now + self.settings.audit_interval
                    await self.audit()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away for a moment: the next pass tries again
                log.warning("Async sweeper pass failed: %s", exc)

    async def sweep(self) -> None:
        """Move due retries to `ready`; wake workers when events wait."""
        await self._move_due(keys=[self.keys.delayed, self.keys.ready], args=[repr(time.time())])
        if await self.conn.llen(self.keys.ready):
            await self.wake()

    async def reclaim(self) -> None:
        """Events held by a worker whose lease ran out (it died): a system retry each."""
        for raw in await self.conn.smembers(self.keys.workers):
            worker = raw.decode()
            if await self.conn.exists(self.keys.lease(worker)):
                continue
            inflight = self.keys.inflight(worker)
            for rid in await self.conn.lrange(inflight, 0, -1):
                await self._retry_lost(rid.decode(), inflight, "WorkerLost",
                                       f"worker {worker} stopped while it ran the event")
            if not await self.conn.llen(inflight):
                await self.conn.srem(self.keys.workers, worker)

    async def _retry_lost(self, request_id: str, holder: str | None, error_type: str, message: str) -> None:
        retries = int(await self.conn.hget(self.keys.invocation(request_id), "systemRetries") or 0) + 1
        now = time.time()
        due = now + system_retry_delay(retries, self.settings.system_retry_initial, self.settings.system_retry_max_wait)
        async with self.conn.pipeline(transaction=True) as pipe:
            ev.schedule_retry(pipe, self.keys, request_id, Kind.SYSTEM_ERROR, due, ev.error_json(error_type, message),
                              now, holder=holder, systemRetries=str(retries))
            await pipe.execute()
        log.warning("Async event %s: %s; retried at +%.1fs", request_id, message, due - now)

    async def audit(self) -> int:
        """Run again every event older than a minute that no list holds: nothing accepted is lost."""
        cutoff = time.time() - AUDIT_MIN_AGE_S
        old = {r.decode() for r in await self.conn.zrangebyscore(self.keys.pending, "-inf", cutoff)}
        if not old:
            return 0
        # Read in the order events move (ready -> inflight -> delayed), so one moving meanwhile is still seen.
        held = {r.decode() for r in await self.conn.lrange(self.keys.ready, 0, -1)}
        holders: dict[str, str] = {}
        for worker in await self.conn.smembers(self.keys.workers):
            inflight = self.keys.inflight(worker.decode())
            for raw in await self.conn.lrange(inflight, 0, -1):
                holders[raw.decode()] = inflight
        held |= set(holders)
        held |= {r.decode() for r in await self.conn.zrange(self.keys.delayed, 0, -1)}
        requeued = 0
        # Held by a live worker but not running for a minute: it took the event and then lost it.
        for request_id in old & set(holders):
            status, updated = await self.conn.hmget(self.keys.invocation(request_id), "status", "updatedAt")
            if status is not None and status.decode() not in (EventStatus.RUNNING, *TERMINAL) and \
                    float(updated or 0) < cutoff:
                await self._retry_lost(request_id, holders[request_id], "EventStuck",
                                       "a worker held the event without running it")
                requeued += 1
        for request_id in old - held:
            status = await self.conn.hget(self.keys.invocation(request_id), "status")
            if status is None:
                log.error("Async event %s is pending but its record is gone", request_id)
                await self.conn.zrem(self.keys.pending, request_id)
            elif status.decode() in TERMINAL:
                await self.conn.zrem(self.keys.pending, request_id)
            else:
                await self._retry_lost(request_id, None, "EventLost", "no queue or worker held the event")
                requeued += 1
        return requeued
