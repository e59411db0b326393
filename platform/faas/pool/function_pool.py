"""One function version's containers, and its requests waiting for one: the per-version queue and its dispatch."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from ..config import Settings
from ..errors import TooManyRequests
from ..models import FunctionRecord
from . import scheduler
from .container import new_instance
from .instance import Instance
from .state import FROZEN, ContainerState
from .warmth import Warmth

S = ContainerState


def claim(inst: Instance) -> None:
    """Take a place on `inst` for one invocation: Busy, or Thawing when it is frozen."""
    if inst.state in FROZEN:
        if inst.state is not S.THAWING:
            inst.transition(S.THAWING)
    elif inst.state is not S.BUSY:
        inst.transition(S.BUSY)
    inst.active += 1


class FunctionPool:
    """The containers of one version of a function (LATEST or a published one), the requests waiting for one
    (first come, first served, a bounded queue), and the starts under way for them. Requests take whichever
    container frees or starts first. Versions share nothing: each has its own pool."""

    def __init__(self, record: FunctionRecord, settings: Settings):
        self.name = record.name
        self.key = record.pool_key
        self.record = record
        """The release it serves: a newer revision of LATEST replaces it, and containers of others drain."""
        self.reserved = record.spec.reserved_instances
        """Reserved containers it keeps: LATEST's reservedInstances, or a version's provision config (the sum
        of the targets of the version and of the aliases that point at it)."""
        self.settings = settings
        self.instances: list[Instance] = []
        self.waiters: deque[asyncio.Future] = deque()
        self.starting = 0
        """Starts under way for waiting requests (reserved starts are not counted)."""
        self.reserve_retry_at = 0.0
        self.warmth = Warmth(record, settings)
        """Its keep-alive policy: what it learned of the version's idle times, and its decision."""

    def live(self) -> int:
        return sum(1 for i in self.instances if i.state is not S.REMOVING)

    def waiting(self) -> int:
        return sum(1 for f in self.waiters if not f.done())

    def current(self, inst: Instance) -> bool:
        """`inst` runs the release this pool serves."""
        return inst.record.release == self.record.release

    def add(self, reserved: bool) -> Instance:
        """A new container of the current release, Starting."""
        inst = new_instance(self.record, reserved)
        self.instances.append(inst)
        return inst

    def remove(self, inst: Instance) -> None:
        if inst in self.instances:
            self.instances.remove(inst)

    def claim_warm(self) -> Instance | None:
        """A container of the current release with room, claimed; None when none has room."""
        inst = scheduler.pick_warm(self.instances, self.record.revision)
        if inst is not None:
            claim(inst)
        return inst

    async def acquire(self, start_for_waiters: Callable[[], None]) -> Instance:
        """A claimed container: one with room now, else the first that frees or starts within the queue
        timeout (TooManyRequests after it, or at once when the queue is full). `start_for_waiters` is
        called once this request waits, to start containers for the waiting ones."""
        inst = self.claim_warm()
        if inst is not None:
            return inst
        settings = self.settings
        if self.waiting() >= settings.queue_length:
            raise TooManyRequests(f"function {self.name} has {settings.queue_length} requests waiting "
                                  "for a container already")
        future = asyncio.get_running_loop().create_future()
        self.waiters.append(future)
        start_for_waiters()
        try:
            return await asyncio.wait_for(future, settings.queue_timeout)
        except asyncio.TimeoutError:
            raise TooManyRequests(
                f"no container of function {self.name} was free within {settings.queue_timeout:g}s "
                f"(maxInstances {self.record.spec.max_instances}, host memory budget "
                f"{settings.host_memory_mb} MB)") from None
        finally:
            if not future.done() or future.cancelled():
                try:
                    self.waiters.remove(future)
                except ValueError:
                    pass

    def dispatch(self) -> None:
        """Hand containers with room to waiting requests, first come first served."""
        while self.waiters:
            if self.waiters[0].done():
                self.waiters.popleft()
                continue
            inst = self.claim_warm()
            if inst is None:
                return
            self.waiters.popleft().set_result(inst)

    def fail_waiters(self, exc: BaseException, count: int | None = None) -> None:
        """Fail `count` waiting requests (all when None) with `exc`, first come first."""
        while self.waiters and count != 0:
            future = self.waiters.popleft()
            if not future.done():
                future.set_exception(exc)
                if count is not None:
                    count -= 1
