"""Queue triggers: a poller in every control plane turns messages of a queue (a Redis stream) into async
invocations, through one consumer group per trigger.

Taking a batch and storing its async event is one Lua script, so a crash leaves the messages either
undelivered or in an accepted event, never read and forgotten. The event keeps the message ids; the worker
acknowledges them (XACK) in the same transaction that ends the event: when the function succeeded, or
failed into its onFailure destination. Until then they stay pending in the group, which is the trigger's
`pending` backlog. Delivery is at least once, as for every async event.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

from .. import defaults
from ..errors import FunctionNotFound
from ..models import new_request_id
from .model import Trigger
from .source import EventSource, record_fields
from .store import group_name
from .watch import Watch, parse_id

log = logging.getLogger(__name__)

BATCH_BYTES = defaults.SYNC_EVENT_BYTES - 64 * 1024
"""Most message bytes in one batch: its event must fit in a sync invocation (the worker's call)."""

ROUND_BATCHES = 50
"""Batches one trigger delivers in one round before the poller serves the next trigger."""

IDLE_WAIT_S = 5.0
"""Longest blocking read while no trigger is active."""

SWEEP_S = 60.0
"""Seconds between two readings of every trigger (a change missed, a stream reset behind the poller's back)."""

CHANGES_READ = 1000
"""Trigger changes read at once."""

_DELIVER = """
local group, count, window, nowms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return {-3} end
local last = nil
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == group then
    if tonumber(info['pending']) >= tonumber(ARGV[5]) then return {-1} end
    last = info['last-delivered-id']
  end
end
if last == nil then return {-3} end
local ahead = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', count)
if #ahead == 0 then return {0, last} end
if #ahead < count and window > 0 then
  local first_ms = tonumber(string.match(ahead[1][1], '^(%d+)'))
  if nowms - first_ms < window then return {-2} end
end
local take, size = 0, 0
for i, e in ipairs(ahead) do
  local f = e[2]
  local len = 0
  for j = 1, #f, 2 do len = len + #f[j + 1] end
  if take > 0 and size + len > tonumber(ARGV[6]) then break end
  take, size = i, size + len
end
local read = redis.call('XREADGROUP', 'GROUP', group, 'faas', 'COUNT', take, 'STREAMS', KEYS[1], '>')
local entries = read[1][2]
local messages, ids = {}, {}
for i, e in ipairs(entries) do
  local f, body = e[2], ''
  for j = 1, #f, 2 do
    if f[j] == 'body' or f[j] == 'record' then body = f[j + 1] end
  end
  messages[i] = {messageId = e[1], body = body, publishTime = tonumber(string.match(e[1], '^(%d+)')),
                 queueName = ARGV[7]}
  ids[i] = e[1]
end
redis.call('HSET', KEYS[2], 'event', cjson.encode(messages), 'ackStream', KEYS[1], 'ackGroup', group,
           'ackIds', table.concat(ids, ' '), unpack(ARGV, 10))
redis.call('ZADD', KEYS[3], ARGV[8], ARGV[9])
redis.call('LPUSH', KEYS[4], ARGV[9])
return {#entries}
"""
"""Deliver one batch (KEYS: the stream, the event's record, pending, ready; ARGV: group, batch size, window ms,
now ms, most pending messages, most batch bytes, queue name, now, request id, then the record's fields).
Returns {the messages delivered}; {0, the group's last message id}: none waiting; {-1}: too many pending; {-2}:
waiting for the batch window; {-3}: the stream or the group is missing."""


class QueuePoller(EventSource):
    name = "queue-triggers"

    def __init__(self, redis: Redis, prefix: str, functions, events, metrics):
        super().__init__(redis, prefix, functions, events, metrics)
        self._deliver = redis.register_script(_DELIVER)
        self.watch = Watch(self.keys.destination)
        self._changes_after: bytes | None = None
        """The id of the last trigger change read; None: read every trigger (at start, after an error)."""
        self._swept = 0.0

    async def run_once(self) -> float:
        try:
            if self._changes_after is None or time.monotonic() - self._swept > SWEEP_S:
                await self.sweep()
            busy = await self.poll()
            await self.wait(None if busy else defaults.QUEUE_POLL_S if self.watch.active else IDLE_WAIT_S)
        except Exception:
            self._changes_after = None  # the next pass starts from what Redis holds
            raise
        return 0.0

    async def sweep(self) -> None:
        """Read every queue trigger: the new and changed ones are active until their queue is found empty."""
        last = await self.redis.xrevrange(self.store.changes, count=1)
        self._changes_after = last[0][0] if last else b"0-0"
        raws = list(await self.redis.smembers(self.store.queue_triggers))
        triggers = await self.store.by_members([raw.decode(errors="replace") for raw in raws], "queue")
        gone = [raw for raw, trigger in zip(raws, triggers) if trigger is None]
        if gone:  # deleted meanwhile: drop them from the index
            await self.redis.srem(self.store.queue_triggers, *gone)
        self.watch.reset(t for t in triggers if t is not None)
        self._swept = time.monotonic()

    async def poll(self) -> bool:
        """One round over the active triggers; True when any delivered a full round (more may wait)."""
        busy = delivered = False
        for member in list(self.watch.active):
            trigger = self.watch.triggers[member]
            batches = await self.deliver(trigger)
            delivered |= batches > 0
            busy |= batches >= ROUND_BATCHES
        if delivered:
            await self.events.wake()
        return busy

    async def wait(self, timeout: float | None) -> None:
        """Wait up to `timeout` seconds (None: not at all) for a message on an idle trigger's queue or a change of
        triggers, and act on what came."""
        streams = {self.store.changes: self._changes_after} | self.watch.waits()
        block = None if timeout is None else max(1, int(timeout * 1000))
        for stream, entries in await self.redis.xread(streams, count=1, block=block) or ():
            name = stream.decode()
            if name == self.store.changes:
                await self.read_changes()
            elif entries:
                self.watch.woken(name, parse_id(entries[0][0]))

    async def read_changes(self) -> None:
        """Serve each changed trigger as Redis holds it now."""
        while self._changes_after is not None:
            changes = await self.redis.xrange(self.store.changes, min=b"(" + self._changes_after, count=CHANGES_READ)
            await self.read_member(*dict.fromkeys(fields.get(b"member", b"").decode(errors="replace")
                                                  for _, fields in changes))  # (one that names nothing is dropped)
            if changes:
                self._changes_after = changes[-1][0]
            if len(changes) < CHANGES_READ:
                return

    async def read_member(self, *members: str) -> None:
        """Serve each of `members` as Redis holds it now (not at all when it is gone)."""
        for member, trigger in zip(members, await self.store.by_members(members, "queue")):
            if trigger is None:
                self.watch.drop(member)
            else:
                self.watch.put(trigger)

    async def deliver(self, trigger: Trigger) -> int:
        """Deliver up to ROUND_BATCHES batches of `trigger`, and leave it idle when its queue had nothing for it;
        the number of batches delivered."""
        config = trigger.queue_config
        stream = self.store.keys.destination(config.queue_name)
        group = group_name(trigger)
        batches = 0
        while batches < ROUND_BATCHES:
            try:  # per batch: an alias with an additional version chooses for each
                record, async_config = await self.functions.resolve_async(trigger.function, trigger.qualifier)
            except FunctionNotFound:  # deleted meanwhile: its triggers go with it (until then, nothing to do)
                self.watch.drop(trigger.member)
                return batches
            now = time.time()
            request_id = new_request_id()
            flat = record_fields(record, async_config, trigger, None, now)
            result = await self._deliver(
                keys=[stream, self.keys.invocation(request_id), self.keys.pending, self.keys.ready],
                args=[group, config.batch_size, config.batch_window_s * 1000, int(now * 1000),
                      config.batch_size * defaults.QUEUE_INFLIGHT_BATCHES, BATCH_BYTES, config.queue_name,
                      repr(now), request_id, *flat])
            code = result[0]
            if code == 0:
                self.watch.idle(trigger.member, parse_id(result[1]))
                return batches
            if code == -3:  # the stream was deleted (and its groups with it): start again from now
                if not await self.store.regroup(trigger, stream):  # or the trigger changed: read it again
                    await self.read_member(trigger.member)
                return batches
            if code < 0:  # waiting for its batch window or for its batches on their way: stays active
                return batches
            await self.remember((trigger.function, request_id, now))
            batches += 1
            self.metrics.trigger_invocation(trigger.function, "queue")
        return batches
