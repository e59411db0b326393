"""The pool manager: the only owner of function containers.

Each version of a function (LATEST, and every published version) has a pool of its own: versions share
nothing. Requests take a warm container when one has room; otherwise they wait in a bounded per-version queue
(FunctionPool) while containers start, and take whichever container frees first, warm or new. Starts are
not tied to the request that asked for them. Idle containers are paused (optional) and reclaimed after
keep-alive; reserved ones are started ahead of traffic and replaced when they die. A host memory budget
bounds the sum of memoryMB, and idle containers of other functions are evicted (least recently used) to
make room.

The parts: this manager decides when things happen (requests, function changes, keep-alive, health,
Docker's events); Containers (containers.py) does them (claim, start, freeze, thaw, drain, remove);
FunctionPool (function_pool.py) is one function's containers and waiting requests; ContainerCalls
(calls.py) talks to a runtime; Invocations (invocations.py) holds a container for one call; Adoption
(adoption.py) takes over what an earlier run left; Upkeep (upkeep.py) keeps the pool in order between
requests. Decisions are plain functions (scheduler.py), states one table (state.py).
The Docker host and the runtime client are given to it, so that tests can give it fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from ..cells.pool import CellPool
from ..config import Settings
from ..docker_host import (
    LABEL_PLATFORM,
    DockerHost,
    function_filter,
)
from ..errors import FaasError, FunctionNotFound, NodeNotFound
from ..layers.files import LayerFiles
from ..logs.reports import LogChannel
from ..metrics import Metrics, cell_families, container_families
from ..models import FunctionRecord
from . import scheduler
from .adoption import Adoption
from .calls import ContainerCalls
from .client import RuntimeClient
from .container import same_containers
from .containers import Containers
from .function_pool import FunctionPool
from .instance import Instance
from .invocations import Invocations
from .outcome import Lease, Outcome
from .state import SERVING, ContainerState
from .upkeep import Upkeep
from .web import proxy_to_container

log = logging.getLogger(__name__)
S = ContainerState

EVENTS = ("kill", "die", "oom", "destroy")
"""Docker events of function containers the pool follows."""


class PoolManager:
    """The Pool (interface.py) of a host's own containers."""

    def __init__(self, settings: Settings, host: DockerHost, client: RuntimeClient, metrics: Metrics,
                 logs: LogChannel | None = None, spec_reserved: bool = True):
        self.settings = settings
        self.host = host
        self.client = client
        self.logs = logs
        self.metrics = metrics
        self.calls = ContainerCalls(client, host, logs)
        self.cells = CellPool(settings, host, client, lambda: settings.host_memory_mb - self.memory_used())
        self.layers = LayerFiles(settings.cells_dir / settings.platform_id / "layers", host)
        self.containers = Containers(settings, host, client, self.calls, metrics, self.layers, self.cells)
        self._pools = self.containers.pools
        self.adoption = Adoption(settings, host, client, self.calls, self.containers, self.cells, logs)
        self.upkeep = Upkeep(settings, host, self.containers, self.cells)
        self.invocations = Invocations(self.containers, self.calls, metrics, logs)
        self._web: ClientSession | None = None
        """Web functions' requests: no total timeout here (the function's own applies), no connection cap."""
        self._loops: list[asyncio.Task] = []
        self.spec_reserved = spec_reserved
        """LATEST keeps the reserved containers its spec asks for; False on a node agent, where front ends
        say which reserved containers each version keeps (provision), on its home node only."""

    # -- lifecycle of the manager
    async def start(self, records: list[FunctionRecord], runtime_images: dict[str, str] | None = None) -> None:
        """Start with the function versions there are; `runtime_images`: by Python runtime, the image its cells
        run (none: no cells)."""
        await self.host.ensure_network(self.settings.network)
        for record in records:
            self._pools[record.pool_key] = self._new_pool(record)
        self.host.watch({LABEL_PLATFORM: self.settings.platform_id}, EVENTS, self.upkeep.on_event,
                        asyncio.get_running_loop())
        self._web = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=False,
                                  connector=TCPConnector(limit=0, force_close=False))
        await self.cells.start(runtime_images or {})
        await self.adoption.reconcile()
        for record in records:
            self.cells.prepare(record)
            self.layers.prepare(record.layer_images)
        self.cells.refill()
        for pool in self._pools.values():
            self.containers.ensure_reserved(pool, time.monotonic())
        self._loops = [asyncio.create_task(self._every(self.settings.reaper_interval, self.maintain), name="pool"),
                       asyncio.create_task(self._every(self.settings.health_interval, self.check_health),
                                           name="pool-health")]

    async def shutdown(self) -> None:
        self.containers.closing = True
        for task in self._loops:
            task.cancel()
        await self.cells.shutdown()
        doomed = self.containers.all_instances()
        for pool in self._pools.values():
            pool.warmth.cancel()
            pool.fail_waiters(FunctionNotFound("the platform is shutting down"))
        frozen = {id(i) for i in doomed if self.containers.drop(i)}
        # Stopped first (thawed first when paused), removed after the log collector has read their output to its end.
        await asyncio.gather(*(self.host.kill(i.container_id, thaw=id(i) in frozen) for i in doomed if i.container_id),
                             return_exceptions=True)
        await self.containers.settle()
        if self.logs is not None:
            await self.logs.stop()
        await asyncio.gather(*(self.containers.remove(i, hook=False) for i in doomed if i.container_id),
                             return_exceptions=True)
        log.info("Pool stopped: %d function container(s) removed", len(doomed))
        await self.containers.settle()
        self.cells.finish()
        if self._web is not None:
            await self._web.close()

    # -- functions
    def sync_function(self, record: FunctionRecord) -> None:
        self._sync(record)

    def _sync(self, record: FunctionRecord) -> FunctionPool:
        """Make the pool of `record`'s version serve `record`: older revisions drain, and LATEST's reserved
        containers follow its spec."""
        pool = self._pools.get(record.pool_key)
        self.cells.prepare(record)
        self.layers.prepare(record.layer_images)
        if pool is None:
            pool = self._pools[record.pool_key] = self._new_pool(record)
        elif record.function_id != pool.record.function_id or record.revision > pool.record.revision:
            # A change of what only the pool reads (reserved or max instances, keep-alive, pause, async,
            # description) keeps the containers of the revision before: they serve the new one.
            carry = same_containers(pool.record, record)
            previous = pool.record.release
            pool.record = record
            pool.warmth.follow(record)
            if self.spec_reserved:
                pool.reserved = record.spec.reserved_instances
            for inst in list(pool.instances):
                if carry and inst.record.release == previous and inst.state not in (S.DRAINING, S.REMOVING):
                    inst.carry_on(record)
                elif not pool.current(inst):
                    self.containers.retire(inst)
            pool.dispatch()
        elif record.revision < pool.record.revision:
            return pool
        self.containers.ensure_reserved(pool, time.monotonic())
        return pool

    def _new_pool(self, record: FunctionRecord) -> FunctionPool:
        pool = FunctionPool(record, self.settings)
        if not self.spec_reserved:
            pool.reserved = 0
        return pool

    def record_of(self, pool_key: str) -> FunctionRecord | None:
        """The release the pool of `pool_key` (name@version) serves, if there is one."""
        pool = self._pools.get(pool_key)
        return pool.record if pool is not None else None

    def room_now(self, record: FunctionRecord) -> bool:
        """An invocation of `record` would not wait for room: a container has room for it, or one more may
        start (under maxInstances, in the memory budget with ready cells and idle containers evicted)."""
        pool = self._pools.get(record.pool_key)
        if pool is not None:
            if scheduler.pick_warm(pool.instances, pool.record.revision) is not None:
                return True
            if pool.live() >= pool.record.spec.max_instances:
                return False
        need = self.memory_used() + record.spec.memory_mb - self.settings.host_memory_mb
        need -= sum(mb * len(queue) for (_, mb), queue in self.cells.ready.items())
        return need <= 0 or bool(scheduler.choose_evictions(self.all_instances(), need, exclude=record.pool_key))

    def summary(self) -> dict[str, tuple[int, int]]:
        """Per pool key: (idle containers of its current release, ready reserved ones): what a node advertises."""
        found = {}
        for key, pool in self._pools.items():
            idle = ready = 0
            for inst in pool.instances:
                if inst.state in SERVING and pool.current(inst):
                    idle += inst.active == 0
                    ready += inst.reserved
            if idle or ready:
                found[key] = (idle, ready)
        return found

    async def describe(self, name: str, version_ids: set[str] | None = None) -> list[dict]:
        """The containers of `name`'s versions in `version_ids` (all when None), as the API shows them."""
        now = time.monotonic()
        return [inst.describe(now) for inst in self.instances(name, version_ids)]

    async def keep_alive(self, name: str, version_ids: set[str] | None = None) -> list[dict]:
        return [{"versionId": pool.record.version_id} | pool.warmth.describe() for pool in self._pools.values()
                if pool.name == name and (version_ids is None or pool.record.version_id in version_ids)]

    async def unpack(self, record: FunctionRecord) -> None:
        """Unpack a release's files for cells (once per image; nothing when cells are off or cannot run it), and
        its layers' files (once per layer version) for any of its containers."""
        if record.layer_images:
            await self.layers.view(record.layer_images)
        await self.cells.unpack(record)

    def provision(self, record: FunctionRecord, reserved: int) -> None:
        """Keep `reserved` containers of `record`'s version started (a published version's provision config);
        a surplus becomes ordinary containers, reclaimed after their keep-alive."""
        pool = self._pool_of(record)
        pool.reserved = reserved
        self.containers.ensure_reserved(pool, time.monotonic())

    async def warm(self, record: FunctionRecord, timeout: float) -> bool:
        """Wait until the reserved containers of `record`'s version are all ready (True), or `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pool = self._pools.get(record.pool_key)
            if pool is None:
                return False
            ready = sum(1 for i in pool.instances if i.reserved and i.state in SERVING and pool.current(i))
            if ready >= min(pool.reserved, pool.record.spec.max_instances):  # more could never start
                return True
            await asyncio.sleep(0.02)
        return False

    def reserved_of(self, record: FunctionRecord) -> int:
        pool = self._pools.get(record.pool_key)
        return pool.reserved if pool is not None and pool.record.release == record.release else 0

    async def remove_function(self, name: str) -> None:
        """Every container of `name` (all its versions) goes now, busy or not; requests waiting get 404."""
        await self._remove_pools([k for k, p in self._pools.items() if p.name == name],
                                 FunctionNotFound(f"function {name} was deleted"), name, None)

    async def remove_version(self, record: FunctionRecord) -> None:
        """Every container of the published version `record` goes now; requests waiting for one get 404."""
        await self._remove_pools([record.pool_key], FunctionNotFound(
            f"version {record.version_id} of function {record.name} was deleted"), record.name, record.version_id)

    async def _remove_pools(self, keys: list[str], error: FaasError, name: str, version_id: str | None) -> None:
        doomed = []
        for key in keys:
            pool = self._pools.pop(key, None)
            if pool is not None:
                pool.warmth.cancel()
                pool.fail_waiters(error)
                doomed += pool.instances
        frozen = {id(i) for i in doomed if self.containers.drop(i)}
        await asyncio.gather(*(self.containers.remove(i, hook=False, thaw=id(i) in frozen) for i in doomed
                               if i.container_id), return_exceptions=True)
        # Containers whose start was under way when the function went: found by label (paused ones thawed first).
        stray = await self.host.list_containers(function_filter(self.settings.platform_id, name, version_id))
        await asyncio.gather(*(self.host.remove_container(c.id, thaw=True) for c in stray), return_exceptions=True)

    def instances(self, name: str, version_ids: set[str] | None = None) -> list[Instance]:
        """The containers of `name`'s versions in `version_ids` (all of them when None)."""
        return [inst for pool in self._pools.values() if pool.name == name and
                (version_ids is None or pool.record.version_id in version_ids) for inst in pool.instances]

    def all_instances(self) -> list[Instance]:
        return self.containers.all_instances()

    def memory_used(self) -> int:
        return self.containers.memory_used()

    async def settle(self) -> None:
        """Wait for the container starts and removals under way."""
        await self.containers.settle()

    def retiring(self, name: str) -> bool:
        """Containers of an older release of `name` are still there (draining, or thawing to drain)."""
        return any(not pool.current(i) for pool in self._pools.values() if pool.name == name
                   for i in pool.instances)

    # -- invocations
    def invoke(self, record: FunctionRecord, event: bytes, request_id: str, attempt: int = 1,
               trigger: str | None = None) -> Coroutine[Any, Any, Outcome]:
        """Run one invocation (awaited). `trigger` ("<type>/<name>") names the trigger that caused it, for its
        log. (A plain function that hands over the coroutine: one frame less on a warm invocation's path.)"""
        return self.invocations.invoke(self._pool_of(record), record, event, request_id, attempt, trigger)

    def lease(self, record: FunctionRecord, request_id: str,
              trigger: str | None = None) -> contextlib.AbstractAsyncContextManager[Lease]:
        """Hold a container of `record` while the caller talks to it, as one invocation (Invocations.lease)."""
        return self.invocations.lease(self._pool_of(record), record, request_id, trigger)

    def _pool_of(self, record: FunctionRecord) -> FunctionPool:
        """The pool of `record`'s version, serving `record`'s release."""
        pool = self._pools.get(record.pool_key)
        if pool is None or pool.record.release != record.release:
            pool = self._sync(record)
        return pool

    async def proxy_web(self, request: web.Request, record: FunctionRecord, request_id: str, target: str,
                        headers: list[tuple[str, str]], trigger: str) -> web.StreamResponse:
        assert self._web is not None, "the pool has not started"
        return await proxy_to_container(request, self, self._web, record, request_id, target, headers, trigger)

    # -- what it shows
    def problems(self) -> dict[str, str]:
        return self.upkeep.problems()

    def metric_families(self) -> list:
        cells = self.cells
        return container_families(self.all_instances()) + cell_families(
            {key: len(q) for key, q in cells.ready.items()}, cells.starting)

    def nodes(self) -> list[dict] | None:
        return None

    async def drain_node(self, node_id: str) -> dict:
        raise NodeNotFound("this platform runs on one host: it has no nodes to drain")

    # -- maintenance
    async def maintain(self) -> None:
        await self.upkeep.maintain()

    async def check_health(self) -> None:
        await self.upkeep.check_health()

    async def _every(self, interval: float, func) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await func()
            except asyncio.CancelledError:
                raise
            except Exception:  # a maintenance loop must outlive any one bad pass
                log.exception("Pool maintenance pass failed")

