"""What timer and queue triggers share: a loop in every control plane that turns trigger events into async
invocations, and the fields of such an invocation's record."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from ..models import AsyncConfig, FunctionRecord
from ..queue import events as ev
from .model import Trigger
from .store import TriggerStore

log = logging.getLogger(__name__)


def record_fields(record: FunctionRecord, config: AsyncConfig, trigger: Trigger, event: bytes | None,
                  now: float) -> list:
    """The fields of an async event's record caused by `trigger` (`record`: the version its qualifier chose;
    `config`: its async settings), flattened (name, value, ...) for a Lua script; without `event` when the
    script adds it."""
    fields = ev.new_event(record, event or b"", now, config, trigger.qualifier) | {"trigger": trigger.label}
    if event is None:
        del fields["event"]
    flat: list = []
    for key, value in fields.items():
        flat += [key, value]
    return flat


class EventSource:
    """A loop that calls `run_once` and waits for as long as it says (or until its `wake` event is set)."""

    name = "event-source"

    def __init__(self, redis: Redis, prefix: str, functions, events, metrics, wake: asyncio.Event | None = None):
        """`functions`: the ReleaseService (the version a qualifier runs); `events`: AsyncEvents (to wake
        workers); `wake`: set by whoever changes what it runs, so that it looks again at once."""
        self.redis = redis
        self.store = TriggerStore(redis, prefix)
        self.keys = self.store.keys
        self.functions = functions
        self.events = events
        self.metrics = metrics
        self._wake = wake if wake is not None else asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def remember(self, *events: tuple[str, str, float]) -> None:
        """List events Lua scripts stored (function, request id, when) among their functions' recent ones (for
        listings only), in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for function, request_id, now in events:
                ev.remember(pipe, self.keys, function, request_id, now)
            await pipe.execute()

    async def run_once(self) -> float:
        """One pass; how many seconds to wait before the next."""
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away for a moment: the next pass tries again
                log.warning("%s: pass failed: %s", self.name, exc)
                delay = 1.0
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass
