"""Timer triggers: a scheduler in every control plane fires due timers as async invocations.

The timers live in one sorted set scored by their next firing. A firing is one Lua script: it moves the
timer to its next time only if it still has the score this scheduler read, and stores the async event in
the same step, so with several control planes on one Redis each firing happens once, and a crash leaves
either both or neither. A timer missed while no scheduler ran fires once when one runs again (the catch-up
firing), then goes on from the present: missed firings are not replayed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from redis.asyncio import Redis

from .. import defaults
from ..errors import FunctionNotFound
from ..models import new_request_id
from .model import Schedule, iso_utc
from .source import EventSource, record_fields

log = logging.getLogger(__name__)

_FIRE = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
redis.call('LPUSH', KEYS[4], ARGV[5])
return 1
"""
"""Fire one timer (KEYS: timers, the event's record, pending, ready; ARGV: member, the score read, the next
score, now, request id, then the record's fields and values): 1 when this call fired it, 0 when another
scheduler did first or the timer changed."""


def next_due(schedule: Schedule, due: float, now: float) -> float:
    """When a timer that was due at `due` and fires at `now` fires next: its next scheduled time after
    `now` (an `@every` timer keeps its phase)."""
    return schedule.next_after(max(due, now), anchor=due)


class TimerScheduler(EventSource):
    name = "timer-triggers"

    def __init__(self, redis: Redis, prefix: str, functions, events, metrics, wake: asyncio.Event | None = None):
        super().__init__(redis, prefix, functions, events, metrics, wake)
        self._fire = redis.register_script(_FIRE)

    async def run_once(self) -> float:
        """Fire every due timer; return how long to sleep before the next one is due."""
        now = time.time()
        due = await self.redis.zrangebyscore(self.store.timers, "-inf", repr(now), start=0, num=100,
                                             withscores=True, score_cast_func=bytes)
        fired = 0
        for member, score in due:
            fired += await self._fire_one(member.decode(), score.decode())
        if fired:
            await self.events.wake()
        if len(due) == 100:
            return 0.0
        first = await self.redis.zrange(self.store.timers, 0, 0, withscores=True)
        if not first:
            return defaults.TIMER_MAX_SLEEP_S
        return min(defaults.TIMER_MAX_SLEEP_S, max(0.0, first[0][1] - time.time()))

    async def _fire_one(self, member: str, score: str) -> int:
        trigger = await self.store.by_member(member, "timer")
        if trigger is None:  # deleted meanwhile: drop it from the index
            await self.redis.zrem(self.store.timers, member)
            return 0
        function = trigger.function
        try:
            record, config = await self.functions.resolve_async(function, trigger.qualifier)
        except FunctionNotFound:  # deleted meanwhile (its triggers go with it)
            log.info("Timer %s: function %s not found; the timer is dropped", member, function)
            await self.redis.zrem(self.store.timers, member)
            return 0
        due = float(score)
        now = time.time()
        following = next_due(trigger.timer_config.schedule, due, now)
        request_id = new_request_id()
        event = json.dumps({"triggerTime": iso_utc(due), "triggerName": trigger.name,
                            "payload": trigger.timer_config.payload}).encode()
        flat = record_fields(record, config, trigger, event, now)
        fired = await self._fire(keys=[self.store.timers, self.keys.invocation(request_id), self.keys.pending,
                                       self.keys.ready],
                                 args=[member, score, repr(following), repr(now), request_id, *flat])
        if fired:
            await self.remember(function, request_id, now)
            self.metrics.trigger_invocation(function, "timer")
            late = now - due
            if late > 5:
                log.info("Timer %s: fired %.0fs late (a catch-up firing); next at %s", member, late,
                         iso_utc(following))
        return int(fired)

