"""The pool manager: the only owner of function containers.

Requests take a warm container when one has room; otherwise they wait in a bounded per-function queue
while containers start, and take whichever container frees first, warm or new. Starts are not tied to
the request that asked for them. Idle containers are paused (optional) and reclaimed after keep-alive;
reserved ones are started ahead of traffic and replaced when they die. A host memory budget bounds the
sum of memoryMB, and idle containers of other functions are evicted (least recently used) to make room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from .. import defaults
from ..config import Settings
from ..docker_host import (
    LABEL_FUNCTION,
    LABEL_FUNCTION_ID,
    LABEL_PLATFORM,
    LABEL_ROLE,
    LABEL_VERSION,
    ROLE_FUNCTION,
    ContainerConfig,
    DockerHost,
    function_filter,
)
from ..errors import FaasError, FunctionNotFound, RequestIdInUse, ServiceUnavailable, TooManyRequests
from ..logs.reports import LogChannel
from ..metrics import Metrics
from ..models import FunctionRecord
from . import scheduler
from .cgroup import memory_peak_file, read_peak_mb
from .client import NotDelivered, ResponseTooLarge, RuntimeClient, RuntimeReply
from .instance import Instance
from .state import FROZEN, ContainerState

log = logging.getLogger(__name__)
S = ContainerState

HANDLED = "HandledInvocationError"
UNHANDLED = "UnhandledInvocationError"

STRAY_GRACE_S = 60
"""A labelled container the pool does not know is removed once it is this old (a start may still own it)."""

RESERVED_RETRY_S = 5.0
"""Seconds before a failed start of a reserved container is tried again."""

DELIVERY_TRIES = 3
"""Containers an invocation is offered to when the ones before were dead before its request reached them."""

KILLED = "ContainerKilled"
"""errorType of an invocation whose container was killed or removed from outside the platform meanwhile."""

EVENTS = ("kill", "die", "oom", "destroy")
"""Docker events of function containers the pool follows."""


@dataclass(frozen=True)
class Outcome:
    """What an invocation gave: the body to return, and whether (and how) the function failed."""

    body: bytes
    content_type: str
    error: str | None = None
    """None, HandledInvocationError or UnhandledInvocationError."""
    error_type: str | None = None
    cold_start: bool = False
    instance_id: str = ""
    report: str = ""
    """Its REPORT line."""
    quiet: bool = False
    """It printed nothing: its log is the REPORT line alone."""

    @classmethod
    def failure(cls, error_type: str, message: str, **kw) -> "Outcome":
        body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []}).encode()
        return cls(body=body, content_type="application/json", error=UNHANDLED, error_type=error_type, **kw)


NOT_DELIVERED = Outcome.failure("NotDelivered", "the container had stopped before the request reached it")
"""The outcome of a call that never reached the function: it is offered to another container."""


@dataclass
class Lease:
    """A container held for one request its holder sends itself (a web function's HTTP request)."""

    instance: Instance
    cold_start: bool
    error: str | None = None
    """Set by the holder: UNHANDLED when the container failed the request (it is then removed)."""


class InitFailed(Exception):
    """A new container's initializer failed: the invocation that waited for it gets `outcome`."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.error_type)
        self.outcome = outcome


def _error_type(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("errorType")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class FunctionPool:
    """The containers of one function, the requests waiting for one, and the starts under way."""

    def __init__(self, record: FunctionRecord):
        self.name = record.name
        self.record = record
        self.instances: list[Instance] = []
        self.waiters: deque[asyncio.Future] = deque()
        self.starting = 0
        """Starts under way for waiting requests (reserved starts are not counted)."""
        self.reserve_retry_at = 0.0

    def live(self) -> int:
        return sum(1 for i in self.instances if i.state is not S.REMOVING)

    def waiting(self) -> int:
        return sum(1 for f in self.waiters if not f.done())


class PoolManager:
    def __init__(self, settings: Settings, host: DockerHost, metrics: Metrics, logs: LogChannel | None = None):
        self.settings = settings
        self.host = host
        self.logs = logs
        self.client = RuntimeClient()
        self.metrics = metrics
        self._pools: dict[str, FunctionPool] = {}
        self._tasks: set[asyncio.Task] = set()
        self._loops: list[asyncio.Task] = []
        self._start_slots = asyncio.Semaphore(settings.max_concurrent_starts)
        self._kick_pending = False
        self._closing = False
        self._header_cache: dict[tuple[str, int], dict[str, str]] = {}
        self._running: set[str] = set()
        """Request ids of the invocations under way: one id is one invocation's log."""

    # -- lifecycle of the manager
    async def start(self, records: list[FunctionRecord]) -> None:
        await self.host.ensure_network(self.settings.network)
        for record in records:
            self._pools[record.name] = FunctionPool(record)
        self.host.watch(function_filter(self.settings.platform_id), EVENTS,
                        self._on_event, asyncio.get_running_loop())
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
        inst = self._new_instance(pool, pool.record, reserved=False)
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
            await self._initialize(inst, pool.record, "adopt-" + inst.id)
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
        doomed = [inst for pool in self._pools.values() for inst in pool.instances]
        for pool in self._pools.values():
            self._fail_waiters(pool, FunctionNotFound("the platform is shutting down"))
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
        """Make the pool serve `record`: older versions retire, reserved containers follow its spec."""
        pool = self._pools.get(record.name)
        if pool is None:
            pool = self._pools[record.name] = FunctionPool(record)
        elif record.function_id != pool.record.function_id or record.version > pool.record.version:
            pool.record = record
            for inst in list(pool.instances):
                if inst.record.release != record.release:
                    self._retire(inst)
            self._dispatch(pool)
        elif record.version < pool.record.version:
            return pool
        self._ensure_reserved(pool, time.monotonic())
        return pool

    async def remove_function(self, name: str) -> None:
        """Every container of `name` goes now, busy or not; requests waiting for one get 404."""
        pool = self._pools.pop(name, None)
        doomed = list(pool.instances) if pool else []
        if pool:
            self._fail_waiters(pool, FunctionNotFound(f"function {name} was deleted"))
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
                inst = await self._acquire(pool)
            except InitFailed as exc:
                self.metrics.invocation(record.name, exc.outcome, time.monotonic() - t0)
                if exc.outcome.error_type == KILLED:
                    raise ServiceUnavailable(json.loads(exc.outcome.body)["errorMessage"]) from None
                return exc.outcome
            cold = not inst.warmed
            inst.warmed = True
            discard = True
            call_started = time.monotonic()
            reply = None
            if self.logs is not None:
                self.logs.begin(inst.container_id, request_id)
            try:
                outcome, reply = await self._call(inst, event, request_id, attempt)
                discard = outcome.error == UNHANDLED
            finally:
                self._release(pool, inst, discard)
                if self.logs is not None:
                    self.logs.end(inst.container_id, request_id)
            if outcome is not NOT_DELIVERED:
                break
            log.info("Function %s: container %s died before request %s reached it; offering it to another",
                     record.name, inst.id, request_id)
        else:
            raise ServiceUnavailable(f"{DELIVERY_TRIES} containers of function {record.name} died before the "
                                     "request reached them")
        if cold:
            self.metrics.cold_start(record.name)
        quiet = reply is not None and reply.quiet
        report = ""
        if self.logs is not None:
            max_used = reply.max_memory_mb if reply else None
            if max_used is None:  # a custom container does not say: its cgroup does
                max_used = read_peak_mb(inst.memory_file)
            # final: no End marker will come to close the log (the container is gone)
            report = self.logs.report(request_id, record.name, (time.monotonic() - call_started) * 1000,
                                      inst.memory_mb, max_used, inst.init_ms if cold else None, quiet=quiet,
                                      final=discard, trigger=trigger)
        outcome = Outcome(outcome.body, outcome.content_type, outcome.error, outcome.error_type, cold, inst.id,
                          report, quiet)
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
        try:
            pool = self._pool_of(record)
            t0 = time.monotonic()
            try:
                inst = await self._acquire(pool)
            except InitFailed as exc:
                self.metrics.invocation(record.name, exc.outcome, time.monotonic() - t0)
                raise
            lease = Lease(inst, cold_start=not inst.warmed)
            inst.warmed = True
            if self.logs is not None:
                self.logs.begin(inst.container_id, request_id)
            call_started = time.monotonic()
            try:
                yield lease
            finally:
                # quiet: a web function's own output carries no invocation markers, so its log is this line
                discard = lease.error == UNHANDLED
                self._release(pool, inst, discard)
                if self.logs is not None:
                    self.logs.end(inst.container_id, request_id)
                    self.logs.report(request_id, record.name, (time.monotonic() - call_started) * 1000,
                                     inst.memory_mb, read_peak_mb(inst.memory_file),
                                     inst.init_ms if lease.cold_start else None, quiet=True, final=discard,
                                     trigger=trigger)
                if lease.cold_start:
                    self.metrics.cold_start(record.name)
                self.metrics.invocation(record.name, lease, time.monotonic() - t0)
        finally:
            self._running.discard(request_id)

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
        inst = scheduler.pick_warm(pool.instances, pool.record.version)
        if inst is not None:
            self._claim(inst)
        else:
            if pool.waiting() >= self.settings.queue_length:
                raise TooManyRequests(f"function {pool.name} has {self.settings.queue_length} requests waiting "
                                      "for a container already")
            future = asyncio.get_running_loop().create_future()
            pool.waiters.append(future)
            self._start_for_waiters(pool)
            try:
                inst = await asyncio.wait_for(future, self.settings.queue_timeout)
            except asyncio.TimeoutError:
                raise TooManyRequests(
                    f"no container of function {pool.name} was free within {self.settings.queue_timeout:g}s "
                    f"(maxInstances {pool.record.spec.max_instances}, host memory budget "
                    f"{self.settings.host_memory_mb} MB)") from None
            finally:
                if not future.done() or future.cancelled():
                    try:
                        pool.waiters.remove(future)
                    except ValueError:
                        pass
        if inst.state is S.THAWING:
            try:
                await self._thaw(pool, inst)
            except BaseException:
                self._release(pool, inst, discard=True)
                raise
        return inst

    def _claim(self, inst: Instance) -> None:
        if inst.state in FROZEN:
            if inst.state is not S.THAWING:
                inst.transition(S.THAWING)
        elif inst.state is not S.BUSY:
            inst.transition(S.BUSY)
        inst.active += 1

    async def _thaw(self, pool: FunctionPool, inst: Instance) -> None:
        """Unpause a container claimed while frozen (once a freeze under way is done); the first of its
        claimers does it, the others wait for it."""
        async with inst.lock:
            if inst.state is S.THAWING:
                t0 = time.monotonic()
                await self.host.unpause(inst.container_id)
                # Its function changed while it thawed: it serves what it has taken, then goes.
                inst.transition(S.BUSY if inst.record.release == pool.record.release else S.DRAINING)
                log.debug("Container %s: unpaused in %.1f ms", inst.id, (time.monotonic() - t0) * 1000)

    async def _call(self, inst: Instance, event: bytes, request_id: str,
                    attempt: int) -> tuple[Outcome, RuntimeReply | None]:
        """The invocation's outcome, and the runtime's reply when there was one."""
        spec = inst.record.spec
        headers = self._headers(inst.record) | {"x-fc-request-id": request_id}
        if attempt > 1:
            headers["x-fc-attempt"] = str(attempt)
        sent = time.time()
        try:
            reply = await self.client.invoke(inst, event, headers, defaults.RESPONSE_BYTES, spec.timeout_s)
        except TimeoutError:
            return Outcome.failure("FunctionTimeout", f"the function did not return within {spec.timeout_s}s"), None
        except ResponseTooLarge as exc:
            return Outcome.failure("ResponseTooLarge", f"{exc}; the limit is {defaults.RESPONSE_BYTES} bytes"), None
        except NotDelivered:  # no connection could be made: the request never reached the function
            return NOT_DELIVERED, None
        except OSError:  # connection refused or reset, or not HTTP: the container died or misbehaves
            return await self._crash_outcome(inst, "the function", sent), None
        if not reply.failed:
            return Outcome(body=reply.body, content_type=reply.content_type or "application/octet-stream"), reply
        return Outcome(body=reply.body, content_type="application/json",
                       error=UNHANDLED if reply.unhandled else HANDLED, error_type=_error_type(reply.body)), reply

    async def _crash_outcome(self, inst: Instance, what: str, sent: float | None = None) -> Outcome:
        """Why the connection to a container broke: out of memory, an exit, a kill or removal from outside
        (KILLED), or NOT_DELIVERED: it had stopped before the request was `sent` (a time.time())."""
        for _ in range(50):  # Docker's die event says it exited, and a kill from outside comes before it
            if inst.exited:
                break
            await asyncio.sleep(0.02)
        else:
            await self.host.wait_exit(inst.container_id, timeout=1.0)
        status = await self.host.status(inst.container_id)
        if sent is not None and status is not None and not status.running and 0 < status.finished_at < sent:
            return NOT_DELIVERED
        if inst.killed:
            return Outcome.failure(KILLED, f"the container running {what} was killed or removed from outside "
                                   "the platform")
        if status is None:
            return Outcome.failure("ContainerGone", f"the container running {what} was removed")
        if status.oom_killed:
            return Outcome.failure("OutOfMemory", f"{what} ran out of memory (memoryMB {inst.memory_mb})")
        if not status.running:
            return Outcome.failure("RuntimeExited", f"the container running {what} exited with code "
                                   f"{status.exit_code}")
        return Outcome.failure("ConnectionLost", f"the connection to the container running {what} broke")

    def _release(self, pool: FunctionPool, inst: Instance, discard: bool) -> None:
        inst.active -= 1
        inst.served += 1
        inst.last_used = time.monotonic()
        if inst.state is S.REMOVING:
            pass
        elif discard or (inst.state is S.DRAINING and inst.active == 0):
            self._discard(inst, hook=not discard)
            if inst.reserved:  # its replacement starts now, and serves the requests that wait
                self._ensure_reserved(pool, time.monotonic())
        elif inst.active == 0:
            inst.transition(S.READY)
        if pool.waiters:
            self._dispatch(pool)

    # -- starting containers
    def _new_instance(self, pool: FunctionPool, record: FunctionRecord, reserved: bool) -> Instance:
        spec = record.spec
        inst = Instance(function=record.name, version=record.version, concurrency=spec.instance_concurrency,
                        memory_mb=spec.memory_mb, keep_alive_s=spec.keep_alive_s, pause_after_s=spec.pause_after_s,
                        reserved=reserved, record=record,
                        port=spec.custom_container.port if spec.custom_container else defaults.RUNTIME_PORT)
        pool.instances.append(inst)
        return inst

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
            inst = self._new_instance(pool, record, reserved=False)
            self._spawn(self._start(pool, inst, for_waiters=True))
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
                self._fail_waiters(pool, exc, count=1)
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
            if inst.state is S.REMOVING:  # its function was deleted or updated while it started
                self._spawn(self._remove_container(inst, hook=False))
            else:
                inst.last_used = time.monotonic()
                inst.transition(S.READY)
                log.info("Function %s: container %s ready (v%d, %s) in %.0f ms", inst.function, inst.id,
                         inst.version, reason, (time.monotonic() - inst.created_at) * 1000)
                self._dispatch(pool)
        # Requests still waiting (a start failed, or more came): start for them.
        if pool.waiters and not self._closing:
            self._start_for_waiters(pool)

    async def _boot(self, inst: Instance) -> None:
        """Create and start the container, wait until it listens, run its initializer."""
        record = inst.record
        started = await self.host.start_container(self._container_config(record))
        inst.container_id, inst.address, inst.pid = started.id, started.address, started.pid
        if inst.state is S.REMOVING:
            return

        async def alive() -> bool:
            status = await self.host.status(inst.container_id)
            return status is not None and status.running

        await self.client.wait_ready(inst, self.settings.ready_timeout, alive)
        await self._initialize(inst, record, "init-" + inst.id)
        inst.init_ms = (time.monotonic() - inst.created_at) * 1000
        self._find_memory_file(inst)

    @staticmethod
    def _find_memory_file(inst: Instance) -> None:
        if inst.record.spec.custom_container is not None and inst.pid:
            inst.memory_file = memory_peak_file(inst.pid, inst.container_id)

    async def _initialize(self, inst: Instance, record: FunctionRecord, request_id: str) -> None:
        """Run the initializer: only when the function has one (FC's protocol; a custom container may
        serve /invoke alone)."""
        spec = record.spec
        if not spec.initializer:
            return
        headers = self._headers(record) | {"x-fc-request-id": request_id}
        if self.logs is not None:
            self.logs.begin(inst.container_id, request_id)
        try:
            reply = await self.client.initialize(inst, headers, spec.init_timeout_s)
        except TimeoutError:  # before OSError, which it is
            raise InitFailed(Outcome.failure(
                "InitializationTimeout", f"the initializer did not finish within {spec.init_timeout_s}s",
                cold_start=True, instance_id=inst.id)) from None
        except (OSError, ResponseTooLarge):
            raise InitFailed(replace(await self._crash_outcome(inst, "the initializer"), cold_start=True,
                                     instance_id=inst.id)) from None
        finally:
            if self.logs is not None:
                self.logs.end(inst.container_id, request_id)
        if reply.failed:
            raise InitFailed(Outcome(body=reply.body, content_type="application/json", error=UNHANDLED,
                                     error_type=_error_type(reply.body) or "InitializationError",
                                     cold_start=True, instance_id=inst.id))

    def _dispatch(self, pool: FunctionPool) -> None:
        """Hand containers with room to waiting requests, first come first served."""
        while pool.waiters:
            if pool.waiters[0].done():
                pool.waiters.popleft()
                continue
            inst = scheduler.pick_warm(pool.instances, pool.record.version)
            if inst is None:
                return
            self._claim(inst)
            pool.waiters.popleft().set_result(inst)

    def _fail_waiters(self, pool: FunctionPool, exc: BaseException, count: int | None = None) -> None:
        while pool.waiters and count != 0:
            future = pool.waiters.popleft()
            if not future.done():
                future.set_exception(exc)
                if count is not None:
                    count -= 1

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
                self._dispatch(pool)
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
                inst = self._new_instance(pool, record, reserved=True)
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
                    return
                if inst.state is S.PAUSING:
                    log.warning("Container %s: pause failed, removing it: %s", inst.id, exc)
                    self._discard(inst, hook=False)
                return
            if inst.state is S.PAUSING:
                inst.transition(S.PAUSED)

    async def check_health(self) -> None:
        """Drop idle containers that died or were removed from outside; remove labelled strays."""
        found = await self.host.list_containers(function_filter(self.settings.platform_id))
        alive = {c.id for c in found if c.running}
        known = set()
        for pool in list(self._pools.values()):
            for inst in list(pool.instances):
                if not inst.container_id:
                    continue
                known.add(inst.container_id)
                if inst.container_id not in alive and inst.idle:
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
        """`inst` serves an older release of its function: removed now if idle, else when it is. A Thawing one
        turns Draining once thawed (its claimers need it unpaused)."""
        inst.reserved = False
        if inst.idle:
            self._discard(inst, hook=True)
        elif inst.state is S.BUSY:
            inst.transition(S.DRAINING)

    def _drop(self, inst: Instance) -> None:
        """Take `inst` out of the pool (its memory is free for others at once); the caller removes it."""
        if inst.state is not S.REMOVING:
            inst.transition(S.REMOVING)
        pool = self._pools.get(inst.function)
        if pool is not None and inst in pool.instances:
            pool.instances.remove(inst)
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

    def _discard(self, inst: Instance, hook: bool) -> None:
        """Take `inst` out of the pool and remove its container in the background: after its /pre-stop hook
        when `hook` (never on a frozen container, which cannot answer it)."""
        hook = hook and inst.state not in FROZEN
        self._drop(inst)
        if inst.container_id:
            self._spawn(self._remove_container(inst, hook))

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

    def _headers(self, record: FunctionRecord) -> dict[str, str]:
        key = record.release
        headers = self._header_cache.get(key)
        if headers is None:
            if len(self._header_cache) > 4096:
                self._header_cache.clear()
            headers = self._header_cache[key] = self._make_headers(record)
        return headers

    @staticmethod
    def _make_headers(record: FunctionRecord) -> dict[str, str]:
        spec = record.spec
        return {
            "x-fc-function-name": spec.name,
            "x-fc-function-handler": spec.handler,
            "x-fc-function-memory": str(spec.memory_mb),
            "x-fc-function-timeout": str(spec.timeout_s),
            "x-fc-function-initializer": spec.initializer or "",
            "x-fc-initialization-timeout": str(spec.init_timeout_s),
        }

    def _container_config(self, record: FunctionRecord) -> ContainerConfig:
        spec = record.spec
        env = dict(spec.environment) | {
            "FC_FUNCTION_NAME": spec.name,
            "FC_FUNCTION_HANDLER": spec.handler,
            "FC_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "FC_FUNCTION_TIMEOUT": str(spec.timeout_s),
            "FC_FUNCTION_INITIALIZER": spec.initializer or "",
            "FC_INITIALIZATION_TIMEOUT": str(spec.init_timeout_s),
            "FC_SERVER_PORT": str(spec.custom_container.port if spec.custom_container else defaults.RUNTIME_PORT),
            "FC_SERVER_SOCKET": defaults.RUNTIME_SOCKET,
        }
        return ContainerConfig(
            image=record.image,
            name=f"faas-{spec.name}-v{record.version}-{secrets.token_hex(4)}",
            labels={LABEL_PLATFORM: self.settings.platform_id, LABEL_FUNCTION: spec.name,
                    LABEL_VERSION: str(record.version), LABEL_FUNCTION_ID: record.function_id,
                    LABEL_ROLE: ROLE_FUNCTION},
            environment=env,
            memory_mb=spec.memory_mb,
            command=list(spec.custom_container.command) if spec.custom_container and spec.custom_container.command
            else None,
        )
