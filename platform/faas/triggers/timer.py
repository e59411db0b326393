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
from typing import NamedTuple

from redis.asyncio import Redis

from .. import defaults
from ..errors import FunctionNotFound
from ..models import new_request_id
from .model import Schedule, Trigger, iso_utc
from .source import EventSource, record_fields

log = logging.getLogger(__name__)

BATCH = 100
"""Due timers read and fired at once."""

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


class _Firing(NamedTuple):
    """One due timer made ready to fire: what its script takes and what is told once it fired."""
    member: bytes
    score: str
    """the score read: the script fires it only if it still has it"""
    trigger: Trigger
    following: float
    now: float
    request_id: str
    fields: list


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
        due = await self.redis.zrangebyscore(self.store.timers, "-inf", repr(time.time()), start=0, num=BATCH,
                                             withscores=True, score_cast_func=bytes)
        if due and await self.fire([(member, score.decode()) for member, score in due]):
            await self.events.wake()
        if len(due) == BATCH:
            return 0.0
        first = await self.redis.zrange(self.store.timers, 0, 0, withscores=True)
        if not first:
            return defaults.TIMER_MAX_SLEEP_S
        return min(defaults.TIMER_MAX_SLEEP_S, max(0.0, first[0][1] - time.time()))

    async def fire(self, due: list[tuple[bytes, str]]) -> int:
        """Fire the timers `due` (member as Redis holds it, the score read), in a few round trips however many
        they are: their triggers read in one, their firings (each its own script, as atomic as alone) in another.
        The number this scheduler fired (another may have fired some first)."""
        stale: list[bytes] = []  # (as Redis holds them: one that is not UTF-8 names no trigger, and goes too)
        firings: list[_Firing] = []
        names = [m.decode(errors="replace") for m, _ in due]
        for (member, score), trigger in zip(due, await self.store.by_members(names, "timer")):
            if trigger is None:  # deleted meanwhile: drop it from the index
                stale.append(member)
                continue
            try:
                record, config = await self.functions.resolve_async(trigger.function, trigger.qualifier)
            except FunctionNotFound:  # deleted meanwhile (its triggers go with it)
                log.info("Timer %s: function %s not found; the timer is dropped", trigger.member, trigger.function)
                stale.append(member)
                continue
            scheduled = float(score)
            now = time.time()
            following = next_due(trigger.timer_config.schedule, scheduled, now)
            request_id = new_request_id()
            event = json.dumps({"triggerTime": iso_utc(scheduled), "triggerName": trigger.name,
                                "payload": trigger.timer_config.payload}).encode()
            firings.append(_Firing(member, score, trigger, following, now, request_id,
                                   record_fields(record, config, trigger, event, now)))
        if stale:
            await self.redis.zrem(self.store.timers, *stale)
        if not firings:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for f in firings:
                await self._fire(keys=[self.store.timers, self.keys.invocation(f.request_id), self.keys.pending,
                                       self.keys.ready],
                                 args=[f.member, f.score, repr(f.following), repr(f.now), f.request_id, *f.fields],
                                 client=pipe)
            fired = await pipe.execute()
        done = [firing for firing, ok in zip(firings, fired) if ok]
        await self.remember(*((f.trigger.function, f.request_id, f.now) for f in done))
        for f in done:
            self.metrics.trigger_invocation(f.trigger.function, "timer")
            late = f.now - float(f.score)
            if late > 5:
                log.info("Timer %s: fired %.0fs late (a catch-up firing); next at %s", f.trigger.member, late,
                         iso_utc(f.following))
        return len(done)
