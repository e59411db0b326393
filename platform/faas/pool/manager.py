"""The pool manager: the only owner of function containers.

Requests take a warm container when one has room; otherwise they wait in a bounded per-function queue
(FunctionPool) while containers start, and take whichever container frees first, warm or new. Starts are
not tied to the request that asked for them. Idle containers are paused (optional) and reclaimed after
keep-alive; reserved ones are started ahead of traffic and replaced when they die. A host memory budget
bounds the sum of memoryMB, and idle containers of other functions are evicted (least recently used) to
make room. Decisions are plain functions (scheduler.py), states one table (state.py); the Docker host and
the runtime client are given to it, so that tests can give it fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator

from ..config import Settings
from ..docker_host import LABEL_FUNCTION, LABEL_FUNCTION_ID, LABEL_VERSION, DockerHost, function_filter
from ..errors import FaasError, FunctionNotFound, RequestIdInUse, ServiceUnavailable
from ..logs.reports import LogChannel
from ..metrics import Metrics
from ..models import FunctionRecord
from . import scheduler
from .calls import ContainerCalls
from .cgroup import memory_peak_file, read_peak_mb
from .client import RuntimeClient
from .container import container_config
from .function_pool import FunctionPool
from .instance import Instance
from .outcome import KILLED, NOT_DELIVERED, UNHANDLED, InitFailed, Lease, Outcome
from .state import FROZEN, ContainerState

log = logging.getLogger(__name__)
S = ContainerState

STRAY_GRACE_S = 60
"""A labelled container the pool does not know is removed once it is this old (a start may still own it)."""

RESERVED_RETRY_S = 5.0
"""Seconds before a failed start of a reserved container is tried again."""

DELIVERY_TRIES = 3
"""Containers an invocation is offered to when the ones before were dead before its request reached them."""

EVENTS = ("kill", "die", "oom", "destroy")
"""Docker events of function containers the pool follows."""


class PoolManager:
    def __init__(self, settings: Settings, host: DockerHost, client: RuntimeClient, metrics: Metrics,
                 logs: LogChannel | None = None):
        self.settings = settings
        self.host = host
        self.client = client
        self.logs = logs
        self.metrics = metrics
        self.calls = ContainerCalls(client, host, logs)
        self._pools: dict[str, FunctionPool] = {}
        self._tasks: set[asyncio.Task] = set()
        self._loops: list[asyncio.Task] = []
        self._start_slots = asyncio.Semaphore(settings.max_concurrent_starts)
        self._kick_pending = False
        self._closing = False
        self._running: set[str] = set()
        """Request ids of the invocations under way: one id is one invocation's log."""

    # -- lifecycle of the manager
    async def start(self, records: list[FunctionRecord]) -> None:
        await self.host.ensure_network(self.settings.network)
        for record in records:
            self._pools[record.name] = FunctionPool(record, self.settings)
        self.host.watch(function_filter(self.settings.platform_id), EVENTS, self._on_event,
                        asyncio.get_running_loop())
        await self.reconcile()
        for pool in self._pools.values():
            self._ensure_reserved(pool, time.monotonic())
        self._loops = [asyncio.create_task(self._every(self.settings.reaper_interval, self.maintain), name="pool"),
                       asyncio.create_task(self._every(self.settings.health_interval, self.check_health),
                                           name="pool-health")]

    async def reconcile(self) -> None:
        """Adopt the healthy containers an earlier run left for current versions; remove the rest."""
        found = await self.host.list_containers(function_filter(self.settings.platform_id))
        results = await asyncio.gather(*(self._adopt(c) for c in found), return_exceptions=True)
        adopted = sum(1 for r in results if r is True)
        if found:
            log.info("Found %d function container(s) from an earlier run: %d adopted, %d removed",
                     len(found), adopted, len(found) - adopted)

    async def _adopt(self, status) -> bool:
        pool = self._pools.get(status.labels.get(LABEL_FUNCTION, ""))
        try:
            version = int(status.labels.get(LABEL_VERSION, "0"))
        except ValueError:
            version = 0
        if pool is None or version != pool.record.version or not status.running or \
                status.labels.get(LABEL_FUNCTION_ID, "") != pool.record.function_id:
            await self.host.remove_container(status.id)
            return False
        inst = pool.add(reserved=False)
        inst.container_id = status.id
        try:
            if status.paused:
                await self.host.unpause(status.id)
            started = await self.host.running(status.id)
            if started is None:
                raise ConnectionError("no address")
            inst.address, inst.pid = started.address, started.pid
            # /initialize is idempotent in the runtime: it answers the first outcome again, or runs the
            # initializer if the earlier run died before it finished.
            await self.calls.initialize(inst, pool.record, "adopt-" + inst.id)
            self._find_memory_file(inst)
        except (InitFailed, FaasError, OSError, asyncio.TimeoutError) as exc:
            log.info("Container %s not adopted: %s", inst.id, exc)
            self._drop(inst)
            await self.host.remove_container(status.id)
            return False
        inst.warmed = True
        inst.transition(S.READY)
        return True

    async def shutdown(self) -> None:
        self._closing = True
        for task in self._loops:
            task.cancel()
        doomed = self.all_instances()
        for pool in self._pools.values():
            pool.fail_waiters(FunctionNotFound("the platform is shutting down"))
        for inst in doomed:
            self._drop(inst)
        # Stopped first, removed after the log collector has read their output to its end.
        await asyncio.gather(*(self.host.kill(i.container_id) for i in doomed if i.container_id),
                             return_exceptions=True)
        await self.settle()
        if self.logs is not None:
            await self.logs.stop()
        await asyncio.gather(*(self._remove_container(i, hook=False) for i in doomed if i.container_id),
                             return_exceptions=True)
        log.info("Pool stopped: %d function container(s) removed", len(doomed))
        await self.settle()

    async def settle(self) -> None:
        """Wait for the container starts and removals under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- functions
    def sync_function(self, record: FunctionRecord) -> FunctionPool:
        """Make the pool serve `record`: older releases drain, reserved containers follow its spec."""
        pool = self._pools.get(record.name)
        if pool is None:
            pool = self._pools[record.name] = FunctionPool(record, self.settings)
        elif record.function_id != pool.record.function_id or record.version > pool.record.version:
            pool.record = record
            for inst in list(pool.instances):
                if not pool.current(inst):
                    self._retire(inst)
            pool.dispatch()
        elif record.version < pool.record.version:
            return pool
        self._ensure_reserved(pool, time.monotonic())
        return pool

    async def remove_function(self, name: str) -> None:
        """Every container of `name` goes now, busy or not; requests waiting for one get 404."""
        pool = self._pools.pop(name, None)
        doomed = list(pool.instances) if pool else []
        if pool:
            pool.fail_waiters(FunctionNotFound(f"function {name} was deleted"))
        for inst in doomed:
            self._drop(inst)
        await asyncio.gather(*(self._remove_container(i, hook=False) for i in doomed if i.container_id),
                             return_exceptions=True)
        # Containers whose start was under way when the function went: found by label.
        stray = await self.host.list_containers(function_filter(self.settings.platform_id, name))
        await asyncio.gather(*(self.host.remove_container(c.id) for c in stray), return_exceptions=True)

    def instances(self, name: str) -> list[Instance]:
        pool = self._pools.get(name)
        return list(pool.instances) if pool else []

    def retiring(self, name: str) -> bool:
        """Containers of an older release of `name` are still there (draining, or thawing to drain)."""
        pool = self._pools.get(name)
        return pool is not None and any(not pool.current(i) for i in pool.instances)

    def all_instances(self) -> list[Instance]:
        return [inst for pool in self._pools.values() for inst in pool.instances]

    def memory_used(self) -> int:
        return sum(i.memory_mb for p in self._pools.values() for i in p.instances if i.state is not S.REMOVING)

    # -- invocations
    async def invoke(self, record: FunctionRecord, event: bytes, request_id: str, attempt: int = 1,
                     trigger: str | None = None) -> Outcome:
        """Run one invocation. `trigger` ("<type>/<name>") names the trigger that caused it, for its log."""
        self._claim_request_id(request_id)
        try:
            return await self._invoke(record, event, request_id, attempt, trigger)
        finally:
            self._running.discard(request_id)

    async def _invoke(self, record: FunctionRecord, event: bytes, request_id: str, attempt: int,
                      trigger: str | None) -> Outcome:
        pool = self._pool_of(record)
        t0 = time.monotonic()
        for _ in range(DELIVERY_TRIES):
            try:
                async with self._hold(pool, request_id, t0) as lease:
                    lease.error = UNHANDLED  # until it answers: a call cut short leaves its container unusable
                    outcome, reply = await self.calls.invoke(lease.instance, event, request_id, attempt)
                    lease.error = outcome.error
            except InitFailed as exc:
                if exc.outcome.error_type == KILLED:
                    raise ServiceUnavailable(json.loads(exc.outcome.body)["errorMessage"]) from None
                return exc.outcome
            if outcome is not NOT_DELIVERED:
                break
            log.info("Function %s: container %s died before request %s reached it; offering it to another",
                     record.name, lease.instance.id, request_id)
        else:
            raise ServiceUnavailable(f"{DELIVERY_TRIES} containers of function {record.name} died before the "
                                     "request reached them")
        inst = lease.instance
        quiet = reply is not None and reply.quiet
        max_used = reply.max_memory_mb if reply else None
        if max_used is None:  # a custom container does not say: its cgroup does
            max_used = read_peak_mb(inst.memory_file)
        report = self._report(record, request_id, lease, max_used, quiet, trigger)
        outcome = Outcome(outcome.body, outcome.content_type, outcome.error, outcome.error_type, lease.cold_start,
                          inst.id, report, quiet)
        self.metrics.invocation(record.name, outcome, time.monotonic() - t0)
        if outcome.error_type == KILLED:  # not the function's doing: a platform error, retried as one
            raise ServiceUnavailable(json.loads(outcome.body)["errorMessage"])
        return outcome

    @contextlib.asynccontextmanager
    async def lease(self, record: FunctionRecord, request_id: str,
                    trigger: str | None = None) -> AsyncIterator[Lease]:
        """Hold a container of `record` (started if none is free) while the caller talks to it, as one
        invocation: counted, logged with a REPORT line, limited like any other. InitFailed when a new
        container's initializer failed; the holder marks the lease failed to have the container removed."""
        self._claim_request_id(request_id)
        lease = None
        try:
            t0 = time.monotonic()
            async with self._hold(self._pool_of(record), request_id, t0) as lease:
                yield lease
        finally:
            self._running.discard(request_id)
            if lease is not None:
                # quiet: a web function's output carries no invocation markers, so its log is this line
                self._report(record, request_id, lease, read_peak_mb(lease.instance.memory_file), True, trigger)
                self.metrics.invocation(record.name, lease, time.monotonic() - t0)

    @contextlib.asynccontextmanager
    async def _hold(self, pool: FunctionPool, request_id: str, t0: float) -> AsyncIterator[Lease]:
        """A claimed container for one call: its log told which request runs there, released after (and
        removed when the holder marks the lease UNHANDLED). InitFailed, counted, when a new container's
        initializer failed (`t0`: when the invocation began)."""
        try:
            inst = await self._acquire(pool)
        except InitFailed as exc:
            self.metrics.invocation(pool.name, exc.outcome, time.monotonic() - t0)
            raise
        lease = Lease(inst, cold_start=not inst.warmed, started=time.monotonic())
        inst.warmed = True
        if self.logs is not None:
            self.logs.begin(inst.container_id, request_id)
        try:
            yield lease
        finally:
            lease.ended = time.monotonic()
            self._release(pool, inst, discard=lease.error == UNHANDLED)
            if self.logs is not None:
                self.logs.end(inst.container_id, request_id)

    def _report(self, record: FunctionRecord, request_id: str, lease: Lease, max_used_mb: int | None, quiet: bool,
                trigger: str | None) -> str:
        """The call's REPORT line (sent to its log), and its cold start counted."""
        if lease.cold_start:
            self.metrics.cold_start(record.name)
        if self.logs is None:
            return ""
        inst = lease.instance
        # final: no End marker will come to close the log (the container is gone)
        return self.logs.report(request_id, record.name, (lease.ended - lease.started) * 1000, inst.memory_mb,
                                max_used_mb, inst.init_ms if lease.cold_start else None, quiet=quiet,
                                final=lease.error == UNHANDLED, trigger=trigger)

    def _claim_request_id(self, request_id: str) -> None:
        """Mark `request_id` running (the caller discards it from `_running` when it ends): one id is one
        invocation's log, so a second invocation with it is refused while the first runs."""
        if request_id in self._running:
            raise RequestIdInUse(f"an invocation with request id {request_id} is running")
        self._running.add(request_id)

    def _pool_of(self, record: FunctionRecord) -> FunctionPool:
        """The pool of `record`'s function, serving `record`'s release."""
        pool = self._pools.get(record.name)
        if pool is None or pool.record.release != record.release:
            pool = self.sync_function(record)
        return pool

    async def _acquire(self, pool: FunctionPool) -> Instance:
        """A claimed container of `pool`, thawed if it was frozen."""
        inst = await pool.acquire(lambda: self._start_for_waiters(pool))
        if inst.state is S.THAWING:
            try:
                await self._thaw(pool, inst)
            except BaseException:
                self._release(pool, inst, discard=True)
                raise
        return inst

    async def _thaw(self, pool: FunctionPool, inst: Instance) -> None:
        """Unpause a container claimed while frozen (once a freeze under way is done); the first of its
        claimers does it, the others wait for it."""
        async with inst.lock:
            if inst.state is S.THAWING:
                t0 = time.monotonic()
                await self.host.unpause(inst.container_id)
                # Its function changed while it thawed: it serves what it has taken, then goes.
                inst.transition(S.BUSY if pool.current(inst) else S.DRAINING)
                log.debug("Container %s: unpaused in %.1f ms", inst.id, (time.monotonic() - t0) * 1000)

    def _release(self, pool: FunctionPool, inst: Instance, discard: bool) -> None:
        inst.active -= 1
        inst.served += 1
        inst.last_used = time.monotonic()
        if inst.state is S.REMOVING:
            pass
        elif discard or (inst.active == 0 and inst.state is S.DRAINING):
            self._discard(inst, hook=not discard)
            if inst.reserved:  # its replacement starts now, and serves the requests that wait
                self._ensure_reserved(pool, time.monotonic())
        elif inst.active == 0:
            inst.transition(S.READY)
        if pool.waiters:
            pool.dispatch()

    # -- starting containers
    def _start_for_waiters(self, pool: FunctionPool) -> None:
        """Start as many containers as requests wait beyond the starts under way (reserved ones included: a
        reserved container being replaced serves the next request), within every limit."""
        record = pool.record
        reserved_starting = sum(1 for i in pool.instances if i.reserved and i.state is S.STARTING)
        wanted = pool.waiting() - pool.starting - reserved_starting
        while wanted > 0 and not self._closing:
            if pool.live() >= record.spec.max_instances or not self._make_room(record.spec.memory_mb, pool.name):
                return
            pool.starting += 1
            self._spawn(self._start(pool, pool.add(reserved=False), for_waiters=True))
            wanted -= 1

    def _make_room(self, memory_mb: int, function: str) -> bool:
        """True when `memory_mb` fits in the host budget, after evicting idle containers of other functions."""
        need = self.memory_used() + memory_mb - self.settings.host_memory_mb
        if need <= 0:
            return True
        victims = scheduler.choose_evictions(self.all_instances(), need, exclude=function)
        for inst in victims:
            log.info("Function %s: evicting idle container %s to make room for %s", inst.function, inst.id, function)
            self._discard(inst, hook=True)
        return bool(victims)

    async def _start(self, pool: FunctionPool, inst: Instance, for_waiters: bool) -> None:
        reason = "demand" if for_waiters else "reserved"
        booted = False
        try:
            async with self._start_slots:
                if inst.state is S.REMOVING:  # its function went away while it waited for a slot
                    return
                self.metrics.container_start(inst.function, reason)
                await self._boot(inst)
                booted = True
        except (InitFailed, FaasError) as exc:
            self._discard(inst, hook=False)
            if for_waiters:
                log.info("Function %s: container start failed: %s", inst.function, exc)
                pool.fail_waiters(exc, count=1)
            else:
                log.warning("Function %s: reserved container start failed: %s", inst.function, exc)
                pool.reserve_retry_at = time.monotonic() + RESERVED_RETRY_S
        except BaseException:
            self._discard(inst, hook=False)
            raise
        finally:
            if for_waiters:
                pool.starting -= 1
        if booted:
            if inst.state is S.REMOVING:  # its function was deleted while it started
                self._spawn(self._remove_container(inst, hook=False))
            elif not pool.current(inst):  # its function was updated while it started
                self._discard(inst, hook=True)
            else:
                inst.last_used = time.monotonic()
                inst.transition(S.READY)
                log.info("Function %s: container %s ready (v%d, %s) in %.0f ms", inst.function, inst.id,
                         inst.version, reason, (time.monotonic() - inst.created_at) * 1000)
                pool.dispatch()
        # Requests still waiting (a start failed, or more came): start for them.
        if pool.waiters and not self._closing:
            self._start_for_waiters(pool)

    async def _boot(self, inst: Instance) -> None:
        """Create and start the container, wait until it listens, run its initializer."""
        record = inst.record
        started = await self.host.start_container(container_config(record, self.settings.platform_id))
        inst.container_id, inst.address, inst.pid = started.id, started.address, started.pid
        if inst.state is S.REMOVING:
            return

        async def alive() -> bool:
            status = await self.host.status(inst.container_id)
            return status is not None and status.running

        await self.client.wait_ready(inst, self.settings.ready_timeout, alive)
        await self.calls.initialize(inst, record, "init-" + inst.id)
        inst.init_ms = (time.monotonic() - inst.created_at) * 1000
        self._find_memory_file(inst)

    @staticmethod
    def _find_memory_file(inst: Instance) -> None:
        if inst.record.spec.custom_container is not None and inst.pid:
            inst.memory_file = memory_peak_file(inst.pid, inst.container_id)

    # -- maintenance
    async def _every(self, interval: float, func) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await func()
            except asyncio.CancelledError:
                raise
            except Exception:  # a maintenance loop must outlive any one bad pass
                log.exception("Pool maintenance pass failed")

    async def maintain(self) -> None:
        """Reclaim idle containers past keep-alive, pause idle ones, keep reserved ones up."""
        now = time.monotonic()
        for pool in list(self._pools.values()):
            for inst in scheduler.expired(pool.instances, now):
                log.info("Function %s: reclaiming container %s (idle %.0fs)", pool.name, inst.id,
                         inst.idle_seconds(now))
                self._discard(inst, hook=True)
            for inst in scheduler.to_pause(pool.instances, now):
                self._spawn(self._pause(inst))
            self._ensure_reserved(pool, now)
            if pool.waiters:
                pool.dispatch()
                self._start_for_waiters(pool)

    def _ensure_reserved(self, pool: FunctionPool, now: float) -> None:
        record = pool.record
        promote, start, release = scheduler.reserved_plan(pool.instances, record.version,
                                                          record.spec.reserved_instances)
        for inst in release:
            inst.reserved = False
            inst.last_used = now  # from here on, an ordinary container with its keep-alive
        for inst in promote:
            inst.reserved = True
        if start and now >= pool.reserve_retry_at and not self._closing:
            for _ in range(start):
                if pool.live() >= record.spec.max_instances or not self._make_room(record.spec.memory_mb, pool.name):
                    break
                inst = pool.add(reserved=True)
                inst.warmed = True
                self._spawn(self._start(pool, inst, for_waiters=False))

    async def _pause(self, inst: Instance) -> None:
        """Freeze an idle container. Claimed meanwhile (Thawing), it is thawed by its claimer after this."""
        async with inst.lock:
            if inst.state is not S.READY:
                return
            inst.transition(S.PAUSING)
            await self.client.hook(inst, "/pre-freeze")
            try:
                await self.host.pause(inst.container_id)
            except FaasError as exc:
                if inst.state is S.THAWING:  # not frozen after all: its claimer may use it as it is
                    inst.transition(S.BUSY)
                elif inst.state is S.PAUSING:
                    log.warning("Container %s: pause failed, removing it: %s", inst.id, exc)
                    self._discard(inst, hook=False)
                return
            if inst.state is S.PAUSING:
                inst.transition(S.PAUSED)

    async def check_health(self) -> None:
        """Drop idle containers that died or were removed from outside; remove labelled strays."""
        asked = time.monotonic()
        found = await self.host.list_containers(function_filter(self.settings.platform_id))
        alive = {c.id for c in found if c.running}
        known = set()
        for pool in list(self._pools.values()):
            for inst in list(pool.instances):
                if not inst.container_id:
                    continue
                known.add(inst.container_id)
                # One made after Docker was asked is missing from its answer, not gone.
                if inst.container_id not in alive and inst.idle and inst.created_at < asked:
                    log.warning("Function %s: container %s is gone or dead; it leaves the pool", pool.name, inst.id)
                    self._discard(inst, hook=False)
            self._ensure_reserved(pool, time.monotonic())
        now = time.time()
        for c in found:
            if c.id not in known and now - c.created > STRAY_GRACE_S:
                log.info("Removing stray container %s", c.id[:12])
                self._spawn(self.host.remove_container(c.id))

    def _on_event(self, action: str, container_id: str) -> None:
        """Docker saw a container of ours die, get killed or go: an idle one leaves the pool at once (and a
        reserved one is replaced); a busy one is marked, so that its invocation's outcome says why."""
        inst = self._by_container(container_id)
        if inst is None or inst.state is S.REMOVING:
            return  # not ours any more, or the pool itself is removing it
        if action == "kill" or action == "destroy":
            inst.killed = True  # the pool kills only containers it has taken out (Removing)
        if action in ("die", "destroy"):
            inst.exited = True
            if inst.idle:
                log.warning("Function %s: container %s died; it leaves the pool", inst.function, inst.id)
                self._discard(inst, hook=False)
                pool = self._pools.get(inst.function)
                if pool is not None:
                    self._ensure_reserved(pool, time.monotonic())

    def _by_container(self, container_id: str) -> Instance | None:
        for pool in self._pools.values():
            for inst in pool.instances:
                if inst.container_id == container_id:
                    return inst
        return None

    # -- helpers
    def _retire(self, inst: Instance) -> None:
        """`inst` serves an older release of its function: removed now if idle, else Draining. A Thawing one
        turns Draining once thawed (its claimers need it unpaused first)."""
        inst.reserved = False
        if inst.idle:
            self._discard(inst, hook=True)
        elif inst.state is S.BUSY:
            inst.transition(S.DRAINING)

    def _discard(self, inst: Instance, hook: bool) -> None:
        """Take `inst` out of the pool and remove its container in the background: after its /pre-stop hook
        when `hook` (never on a frozen container, which cannot answer it)."""
        hook = hook and inst.state not in FROZEN
        self._drop(inst)
        if inst.container_id:
            self._spawn(self._remove_container(inst, hook))

    def _drop(self, inst: Instance) -> None:
        """Take `inst` out of the pool (its memory is free for others at once); the caller removes it."""
        if inst.state is not S.REMOVING:
            inst.transition(S.REMOVING)
        pool = self._pools.get(inst.function)
        if pool is not None:
            pool.remove(inst)
        self._kick_soon()

    def _kick_soon(self) -> None:
        """Capacity was freed: let requests waiting in any pool start containers (once per loop turn)."""
        if self._kick_pending or self._closing:
            return
        self._kick_pending = True

        def kick():
            self._kick_pending = False
            for pool in list(self._pools.values()):
                if pool.waiters:
                    self._start_for_waiters(pool)

        asyncio.get_running_loop().call_soon(kick)

    async def _remove_container(self, inst: Instance, hook: bool) -> None:
        if hook and inst.address:
            await self.client.hook(inst, "/pre-stop")
        if inst.conns is not None:
            inst.conns.close()
        try:
            await self.host.remove_container(inst.container_id)
        except Exception as exc:
            log.warning("Container %s: removal failed: %s", inst.id, exc)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
