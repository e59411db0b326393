"""Create, read, update and delete triggers, and keep the timer index and the queue consumer groups in step."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from .. import defaults
from ..cache import TtlCache
from ..errors import AliasNotFound, TriggerAlreadyExists, TriggerLimitExceeded, TriggerNotFound, VersionNotFound
from ..models import FunctionRecord
from ..qualifiers import is_version_id
from ..queue import streams
from .model import QueueConfig, TimerConfig, Trigger, check_trigger_name, iso_utc
from .store import TriggerStore, group_name

log = logging.getLogger(__name__)

LAG_COUNT_MAX = 100_000
"""Most messages counted for a lag Redis cannot tell (a queue holds at most FAAS_QUEUE_MAX_MESSAGES)."""

CACHE_S = 1.0
"""Seconds a function's triggers read for an HTTP trigger request are reused before they are read again."""


class TriggerService:
    def __init__(self, redis: Redis, prefix: str):
        self.store = TriggerStore(redis, prefix)
        self.redis = redis
        self._cache: TtlCache[Trigger | None] = TtlCache(CACHE_S)
        self.timers_changed = asyncio.Event()
        """Set after a timer changed: this process's timer scheduler waits on it, to look again at once."""

    # -- API
    async def create(self, record: FunctionRecord, body: object) -> Trigger:
        now = time.time()
        trigger = Trigger.from_create(record.name, record.function_id, body, secrets.token_hex(8), now)
        result = await self.store.add(trigger, defaults.TRIGGERS_PER_FUNCTION)
        if result == "exists":
            raise TriggerAlreadyExists(f"function {record.name} has a trigger {trigger.name} already")
        if result == "limit":
            raise TriggerLimitExceeded(f"function {record.name} has {defaults.TRIGGERS_PER_FUNCTION} triggers "
                                       "already, the most it may have")
        _check_stored(result, record.name, trigger)
        await self._activate(trigger, None)
        self._cache.pop(record.name)
        log.info("Function %s: trigger %s (%s) created", record.name, trigger.name, trigger.type)
        return trigger

    async def list(self, function: str) -> list[Trigger]:
        return await self.store.list(function)

    async def get(self, function: str, name: str) -> Trigger:
        trigger = await self.store.get(function, check_trigger_name(name))
        if trigger is None:
            raise TriggerNotFound(f"function {function} has no trigger {name}")
        return trigger

    async def update(self, record: FunctionRecord, name: str, body: object) -> Trigger:
        current = await self.get(record.name, name)
        trigger = current.updated(body, time.time())
        _check_stored(await self.store.put(trigger), record.name, trigger)
        await self._activate(trigger, current)
        self._cache.pop(record.name)
        return trigger

    async def delete(self, function: str, name: str) -> None:
        trigger = await self.get(function, name)
        await self.store.delete(function, trigger.name)
        await self._deactivate(trigger)
        self._cache.pop(function)
        log.info("Function %s: trigger %s deleted", function, trigger.name)

    async def delete_function(self, function: str) -> None:
        """A function was deleted: its triggers go with it."""
        for trigger in await self.store.list(function):
            await self._deactivate(trigger)
        await self.redis.delete(self.store.key(function))
        self._cache.pop(function)

    async def http_trigger(self, function: str) -> Trigger | None:
        """The function's HTTP trigger (None: it has none), read from Redis at most once a second."""
        return await self._cache.get(function, lambda: self._http_trigger(function))

    async def _http_trigger(self, function: str) -> Trigger | None:
        return next((t for t in await self.store.list(function) if t.type == "http"), None)

    async def describe(self, trigger: Trigger) -> dict:
        """The API's view: the trigger, with a timer's next firing or a queue trigger's backlog."""
        out = trigger.to_api()
        if trigger.type == "timer":
            due = await self.redis.zscore(self.store.timers, trigger.member)
            out["nextFiring"] = iso_utc(due) if due is not None else None
        elif trigger.type == "queue":
            out["backlog"] = await self.backlog(trigger)
        return out

    async def backlog(self, trigger: Trigger) -> dict:
        """`pending`: messages delivered to invocations that have not ended; `lag`: messages not delivered yet."""
        stream = self.store.keys.destination(trigger.queue_config.queue_name)
        try:
            groups = await self.redis.xinfo_groups(stream)
            last = (await self.redis.xinfo_stream(stream)).get("last-generated-id")
        except ResponseError:
            return {"pending": 0, "lag": 0}
        name = group_name(trigger)
        for group in groups:
            if (group.get("name") or b"").decode() == name:
                lag = streams.lag(group, last)
                if lag is None:  # Redis lost count (a restart, a deletion): count what is after the group
                    after = streams.id_after(group.get("last-delivered-id")) or (0, 0)
                    lag = len(await self.redis.xrange(stream, min=f"({after[0]}-{after[1]}", count=LAG_COUNT_MAX))
                return {"pending": int(group.get("pending") or 0), "lag": lag}
        return {"pending": 0, "lag": 0}

    # -- side effects
    async def _activate(self, trigger: Trigger, before: Trigger | None) -> None:
        if isinstance(trigger.config, TimerConfig):
            if before is not None and before.config == trigger.config:
                return
            if trigger.config.enable:
                now = time.time()
                anchor = float(int(now))  # @every counts from a whole second
                due = trigger.config.schedule.next_after(now, anchor)
                await self.redis.zadd(self.store.timers, {trigger.member: due})
            else:
                await self.redis.zrem(self.store.timers, trigger.member)
            self.timers_changed.set()
        elif isinstance(trigger.config, QueueConfig):
            if before is not None and before.queue_config.queue_name != trigger.config.queue_name:
                await self._destroy_group(before)
            stream = self.store.keys.destination(trigger.config.queue_name)
            start = "0" if trigger.config.start_from == "earliest" else "$"
            try:
                await self.redis.xgroup_create(stream, group_name(trigger), id=start, mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            await self.redis.sadd(self.store.queue_triggers, trigger.member)
            await self.store.queue_changed(trigger.member)

    async def _deactivate(self, trigger: Trigger) -> None:
        if trigger.type == "timer":
            await self.redis.zrem(self.store.timers, trigger.member)
        elif trigger.type == "queue":
            await self.redis.srem(self.store.queue_triggers, trigger.member)
            await self._destroy_group(trigger)
            await self.store.queue_changed(trigger.member)

    async def _destroy_group(self, trigger: Trigger) -> None:
        try:
            stream = self.store.keys.destination(trigger.queue_config.queue_name)
            await self.redis.xgroup_destroy(stream, group_name(trigger))
        except ResponseError:
            pass  # the stream is gone, and its groups with it


def _check_stored(result: str, function: str, trigger: Trigger) -> None:
    """Raise what a store's answer other than ok means."""
    if result == "qualifier":
        q = trigger.qualifier
        if is_version_id(q):
            raise VersionNotFound(f"function {function} has no version {q}")
        raise AliasNotFound(f"function {function} has no alias {q}")
    if result == "missing":
        raise TriggerNotFound(f"function {function} has no trigger {trigger.name}")
