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
from redis.exceptions import ResponseError

from .. import defaults
from ..errors import FunctionNotFound
from ..models import new_request_id
from .model import Trigger
from .source import EventSource, record_fields
from .store import group_name

log = logging.getLogger(__name__)

BATCH_BYTES = defaults.SYNC_EVENT_BYTES - 64 * 1024
"""Most message bytes in one batch: its event must fit in a sync invocation (the worker's call)."""

ROUND_BATCHES = 50
"""Batches one trigger delivers in one round before the poller serves the next trigger."""

_DELIVER = """
local group, count, window, nowms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return -3 end
local last = nil
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == group then
    if tonumber(info['pending']) >= tonumber(ARGV[5]) then return -1 end
    last = info['last-delivered-id']
  end
end
if last == nil then return -3 end
local ahead = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', count)
if #ahead == 0 then return 0 end
if #ahead < count and window > 0 then
  local first_ms = tonumber(string.match(ahead[1][1], '^(%d+)'))
  if nowms - first_ms < window then return -2 end
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
return #entries
"""
"""Deliver one batch (KEYS: the stream, the event's record, pending, ready; ARGV: group, batch size, window ms,
now ms, most pending messages, most batch bytes, queue name, now, request id, then the record's fields).
Returns the messages delivered; 0: none waiting; -1: too many pending; -2: waiting for the batch window;
-3: the stream or the group is missing."""


class QueuePoller(EventSource):
    name = "queue-triggers"

    def __init__(self, redis: Redis, prefix: str, functions, events, metrics):
        super().__init__(redis, prefix, functions, events, metrics)
        self._deliver = redis.register_script(_DELIVER)

    async def run_once(self) -> float:
        return 0.0 if await self.poll() else defaults.QUEUE_POLL_S

    async def poll(self) -> bool:
        """One round over every queue trigger; True when any delivered a full round (more may wait)."""
        members = await self.redis.smembers(self.store.queue_triggers)
        busy = delivered = False
        for raw in members:
            trigger = await self.store.by_member(raw.decode(), "queue")
            if trigger is None:  # deleted meanwhile: drop it from the index
                await self.redis.srem(self.store.queue_triggers, raw)
                continue
            batches = await self.deliver(trigger)
            delivered |= batches > 0
            busy |= batches >= ROUND_BATCHES
        if delivered:
            await self.events.wake()
        return busy

    async def deliver(self, trigger: Trigger) -> int:
        """Deliver up to ROUND_BATCHES batches of `trigger`; the number delivered."""
        config = trigger.queue_config
        stream = self.store.keys.destination(config.queue_name)
        group = group_name(trigger)
        batches = 0
        while batches < ROUND_BATCHES:
            try:  # per batch: an alias with an additional version chooses for each
                record, async_config = await self.functions.resolve_async(trigger.function, trigger.qualifier)
            except FunctionNotFound:  # deleted meanwhile: its triggers go with it
                return batches
            now = time.time()
            request_id = new_request_id()
            flat = record_fields(record, async_config, trigger, None, now)
            result = await self._deliver(
                keys=[stream, self.keys.invocation(request_id), self.keys.pending, self.keys.ready],
                args=[group, config.batch_size, config.batch_window_s * 1000, int(now * 1000),
                      config.batch_size * defaults.QUEUE_INFLIGHT_BATCHES, BATCH_BYTES, config.queue_name,
                      repr(now), request_id, *flat])
            if result == -3:  # the stream was deleted (and its groups with it): start again from now
                try:
                    await self.redis.xgroup_create(stream, group, id="$", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                return batches
            if result <= 0:
                return batches
            await self.remember(trigger.function, request_id, now)
            batches += 1
            self.metrics.trigger_invocation(trigger.function, "queue")
        return batches
