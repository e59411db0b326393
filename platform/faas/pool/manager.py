"""The pool manager: the only owner of function containers. Cold starts, warm reuse, reclaim, retire."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass

import aiohttp

from .. import defaults
from ..config import Settings
from ..docker_host import LABEL_FUNCTION, LABEL_PLATFORM, LABEL_ROLE, LABEL_VERSION, ContainerConfig, DockerHost
from ..errors import TooManyRequests
from ..metrics import Metrics
from ..models import FunctionRecord
from . import scheduler
from .client import ResponseTooLarge, RuntimeClient
from .instance import Instance
from .state import ContainerState

log = logging.getLogger(__name__)

HANDLED = "HandledInvocationError"
UNHANDLED = "UnhandledInvocationError"

QUEUE_WAIT_S = 10.0
"""Seconds a request waits for a container when its function is at maxInstances, before 429."""


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
    duration_ms: float = 0.0

    @classmethod
    def failure(cls, error_type: str, message: str, **kw) -> "Outcome":
        body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []}).encode()
        return cls(body=body, content_type="application/json", error=UNHANDLED, error_type=error_type, **kw)


class _InitFailed(Exception):
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
    """The containers of one function, and a condition that wakes requests waiting for one."""

    def __init__(self, name: str):
        self.name = name
        self.instances: list[Instance] = []
        self.changed = asyncio.Condition()
        self.waiting = 0
        """Requests waiting in _acquire for a container to free up."""

    def live(self) -> int:
        return sum(1 for i in self.instances if i.state is not ContainerState.REMOVING)


class PoolManager:
    def __init__(self, settings: Settings, host: DockerHost, session: aiohttp.ClientSession, metrics: Metrics):
        self.settings = settings
        self.host = host
        self.client = RuntimeClient(session)
        self.metrics = metrics
        self._pools: dict[str, FunctionPool] = {}
        self._tasks: set[asyncio.Task] = set()
        self._reaper: asyncio.Task | None = None
        self._headers: dict[tuple[str, int], dict[str, str]] = {}

    # -- lifecycle of the manager
    async def start(self) -> None:
        await self.host.ensure_network(self.settings.network)
        await self.reconcile()
        self._reaper = asyncio.create_task(self._reap_forever(), name="pool-reaper")

    async def reconcile(self) -> None:
        """Remove the containers an earlier run of this platform left behind (they are found by label)."""
        leftovers = await self.host.list_containers({LABEL_PLATFORM: self.settings.platform_id,
                                                     LABEL_ROLE: "function"})
        if leftovers:
            log.info("Removing %d function container(s) left by an earlier run", len(leftovers))
            await asyncio.gather(*(self.host.remove_container(c.id) for c in leftovers), return_exceptions=True)

    async def shutdown(self) -> None:
        if self._reaper:
            self._reaper.cancel()
        doomed = [inst for pool in self._pools.values() for inst in pool.instances]
        for inst in doomed:
            self._drop(inst)
        await asyncio.gather(*(self._remove_container(i, hook=False) for i in doomed if i.container_id),
                             return_exceptions=True)
        log.info("Pool stopped: %d function container(s) removed", len(doomed))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- invocations
    async def invoke(self, record: FunctionRecord, event: bytes, request_id: str) -> Outcome:
        pool = self._pools.setdefault(record.name, FunctionPool(record.name))
        t0 = time.monotonic()
        try:
            inst, cold = await self._acquire(pool, record, request_id)
        except _InitFailed as exc:
            self.metrics.invocation(record.name, exc.outcome, time.monotonic() - t0)
            return exc.outcome
        discard = True
        try:
            outcome = await self._call(inst, record, event, request_id)
            discard = outcome.error == UNHANDLED
        finally:
            self._release(pool, inst, discard)
        outcome = Outcome(body=outcome.body, content_type=outcome.content_type, error=outcome.error,
                          error_type=outcome.error_type, cold_start=cold, instance_id=inst.id,
                          duration_ms=(time.monotonic() - t0) * 1000)
        self.metrics.invocation(record.name, outcome, time.monotonic() - t0)
        return outcome

    async def _acquire(self, pool: FunctionPool, record: FunctionRecord, request_id: str) -> tuple[Instance, bool]:
        deadline = time.monotonic() + QUEUE_WAIT_S
        while True:
            inst = scheduler.pick_warm(pool.instances, record.version)
            if inst is not None:
                if inst.active == 0:
                    inst.transition(ContainerState.BUSY)
                inst.active += 1
                return inst, False
            if pool.live() < record.spec.max_instances:
                return await self._cold_start(pool, record, request_id), True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TooManyRequests(f"function {record.name} is at maxInstances ({record.spec.max_instances}) "
                                      f"and no container freed up within {QUEUE_WAIT_S:.0f}s")
            pool.waiting += 1
            try:
                async with pool.changed:
                    await asyncio.wait_for(pool.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
            finally:
                pool.waiting -= 1

    async def _cold_start(self, pool: FunctionPool, record: FunctionRecord, request_id: str) -> Instance:
        spec = record.spec
        inst = Instance(function=record.name, version=record.version, concurrency=spec.instance_concurrency,
                        memory_mb=spec.memory_mb, keep_alive_s=spec.keep_alive_s, active=1,
                        port=spec.custom_container.port if spec.custom_container else defaults.RUNTIME_PORT)
        pool.instances.append(inst)
        self.metrics.cold_starts.inc(record.name)
        try:
            started = await self.host.start_container(self._container_config(record))
            inst.container_id, inst.address = started.id, started.address

            async def alive() -> bool:
                status = await self.host.status(inst.container_id)
                return status is not None and status.running

            await self.client.wait_ready(inst, self.settings.ready_timeout, alive)
            headers = self._invoke_headers(record) | {"x-fc-request-id": request_id}
            try:
                reply = await asyncio.wait_for(self.client.initialize(inst, headers), spec.init_timeout_s)
            except asyncio.TimeoutError:
                raise _InitFailed(Outcome.failure(
                    "InitializationTimeout", f"the initializer did not finish within {spec.init_timeout_s}s",
                    cold_start=True, instance_id=inst.id)) from None
            except (aiohttp.ClientError, OSError):
                raise _InitFailed(await self._crash_outcome(inst, "the initializer", cold_start=True)) from None
            if reply.failed:
                raise _InitFailed(Outcome(body=reply.body, content_type="application/json", error=UNHANDLED,
                                          error_type=_error_type(reply.body) or "InitializationError",
                                          cold_start=True, instance_id=inst.id))
            inst.transition(ContainerState.BUSY)
            log.info("Function %s: container %s ready (v%d) in %.0f ms", record.name, inst.id, record.version,
                     (time.monotonic() - inst.created_at) * 1000)
            return inst
        except BaseException:
            inst.active = 0
            self._drop(inst)
            if inst.container_id:
                self._spawn(self._remove_container(inst, hook=False))
            self._notify(pool)
            raise

    async def _call(self, inst: Instance, record: FunctionRecord, event: bytes, request_id: str) -> Outcome:
        headers = self._invoke_headers(record) | {"x-fc-request-id": request_id}
        timeout = record.spec.timeout_s
        try:
            reply = await asyncio.wait_for(
                self.client.invoke(inst, event, headers, defaults.RESPONSE_BYTES), timeout)
        except asyncio.TimeoutError:
            return Outcome.failure("FunctionTimeout", f"the function did not return within {timeout}s")
        except ResponseTooLarge as exc:
            return Outcome.failure("ResponseTooLarge", f"{exc}; the limit is {defaults.RESPONSE_BYTES} bytes")
        except (aiohttp.ClientError, OSError):
            return await self._crash_outcome(inst, "the function")
        if not reply.failed:
            return Outcome(body=reply.body, content_type=reply.content_type or "application/octet-stream")
        return Outcome(body=reply.body, content_type="application/json",
                       error=UNHANDLED if reply.unhandled else HANDLED, error_type=_error_type(reply.body))

    async def _crash_outcome(self, inst: Instance, what: str, cold_start: bool = False) -> Outcome:
        """Why the connection to a container broke: out of memory, an exit, or removal from outside."""
        await self.host.wait_exit(inst.container_id, timeout=1.0)
        status = await self.host.status(inst.container_id)
        kw = {"cold_start": cold_start, "instance_id": inst.id}
        if status is None:
            return Outcome.failure("ContainerGone", f"the container running {what} was removed", **kw)
        if status.oom_killed:
            return Outcome.failure("OutOfMemory", f"{what} ran out of memory (memoryMB {inst.memory_mb})", **kw)
        if not status.running:
            return Outcome.failure("RuntimeExited", f"the container running {what} exited with code "
                                   f"{status.exit_code}", **kw)
        return Outcome.failure("ConnectionLost", f"the connection to the container running {what} broke", **kw)

    def _release(self, pool: FunctionPool, inst: Instance, discard: bool) -> None:
        inst.active -= 1
        inst.served += 1
        inst.last_used = time.monotonic()
        if inst.state is ContainerState.REMOVING:
            pass
        elif discard or (inst.retiring and inst.active == 0):
            self._drop(inst)
            self._spawn(self._remove_container(inst, hook=not discard))
        elif inst.active == 0:
            inst.transition(ContainerState.READY)
        self._notify(pool)

    async def settle(self) -> None:
        """Wait for the container removals under way."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- changes of functions
    def retire(self, name: str, keep_version: int | None = None) -> None:
        """Containers of `name` not of `keep_version` leave the pool: idle ones now, busy ones when done."""
        pool = self._pools.get(name)
        if pool is None:
            return
        for inst in list(pool.instances):
            if inst.version != keep_version:
                inst.retiring = True
                if inst.state is ContainerState.READY:
                    self._drop(inst)
                    self._spawn(self._remove_container(inst, hook=True))
        if keep_version is None:
            self._pools.pop(name, None)

    async def remove_function(self, name: str) -> None:
        """Every container of `name` goes now, busy or not."""
        pool = self._pools.pop(name, None)
        doomed = list(pool.instances) if pool else []
        for inst in doomed:
            inst.retiring = True
            self._drop(inst)
        await asyncio.gather(*(self._remove_container(i, hook=False) for i in doomed if i.container_id),
                             return_exceptions=True)
        # Containers whose start was under way when the function went: found by label.
        stray = await self.host.list_containers({LABEL_PLATFORM: self.settings.platform_id, LABEL_FUNCTION: name})
        await asyncio.gather(*(self.host.remove_container(c.id) for c in stray), return_exceptions=True)

    def instances(self, name: str) -> list[Instance]:
        pool = self._pools.get(name)
        return list(pool.instances) if pool else []

    def all_instances(self) -> list[Instance]:
        return [inst for pool in self._pools.values() for inst in pool.instances]

    # -- reclaim
    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reaper_interval)
            try:
                self.reap(time.monotonic())
            except Exception:  # the reaper must outlive any one bad pass
                log.exception("Reaper pass failed")

    def reap(self, now: float) -> None:
        for pool in list(self._pools.values()):
            for inst in scheduler.expired(pool.instances, now):
                log.info("Function %s: reclaiming container %s (idle %.0fs)", pool.name, inst.id,
                         inst.idle_seconds(now))
                self._drop(inst)
                self._spawn(self._remove_container(inst, hook=True))

    # -- helpers
    def _drop(self, inst: Instance) -> None:
        if inst.state is not ContainerState.REMOVING:
            inst.transition(ContainerState.REMOVING)
        pool = self._pools.get(inst.function)
        if pool is not None and inst in pool.instances:
            pool.instances.remove(inst)

    async def _remove_container(self, inst: Instance, hook: bool) -> None:
        if hook and inst.address:
            await self.client.hook(inst, "/pre-stop")
        try:
            await self.host.remove_container(inst.container_id)
        except Exception as exc:
            log.warning("Container %s: removal failed: %s", inst.id, exc)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _notify(self, pool: FunctionPool) -> None:
        async def notify():
            async with pool.changed:
                pool.changed.notify_all()

        if pool.waiting:  # nobody waits on the common path: no task to spawn
            self._spawn(notify())

    def _invoke_headers(self, record: FunctionRecord) -> dict[str, str]:
        key = (record.name, record.version)
        headers = self._headers.get(key)
        if headers is None:
            spec = record.spec
            headers = {
                "x-fc-function-name": spec.name,
                "x-fc-function-handler": spec.handler,
                "x-fc-function-memory": str(spec.memory_mb),
                "x-fc-function-timeout": str(spec.timeout_s),
                "x-fc-function-initializer": spec.initializer or "",
                "x-fc-initialization-timeout": str(spec.init_timeout_s),
            }
            self._headers[key] = headers
        return headers

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
        }
        return ContainerConfig(
            image=record.image,
            name=f"faas-{spec.name}-v{record.version}-{secrets.token_hex(4)}",
            labels={LABEL_PLATFORM: self.settings.platform_id, LABEL_FUNCTION: spec.name,
                    LABEL_VERSION: str(record.version), LABEL_ROLE: "function"},
            environment=env,
            memory_mb=spec.memory_mb,
            command=list(spec.custom_container.command) if spec.custom_container and spec.custom_container.command
            else None,
        )
