"""The containers of every function on this host, and the mechanics of their lives: claim and release,
start (slots, memory budget, evictions, reserved ones), freeze and thaw, drain and removal. The policy of
when these happen (requests, function changes, keep-alive, health, Docker's events) is the PoolManager's."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from ..cells.pool import Cell, CellPool
from ..config import Settings
from ..docker_host import DockerHost, is_running
from ..errors import FaasError, FunctionNotFound, ServiceUnavailable
from ..layers.files import LayerFiles
from ..metrics import Metrics
from . import scheduler
from .calls import ContainerCalls
from .cgroup import memory_peak_file
from .client import RuntimeClient
from .container import config_digest, container_config, runtime_socket
from .function_pool import FunctionPool
from .instance import Instance
from .outcome import InitFailed
from .state import FROZEN, ContainerState

log = logging.getLogger(__name__)
S = ContainerState

RESERVED_RETRY_S = 5.0
"""Seconds before a failed start of a reserved container is tried again."""


def find_memory_file(inst: Instance) -> None:
    """Where the cgroup of a custom container or runtime keeps its peak memory (its server does not report it)."""
    if inst.record.spec.serves_http and inst.pid:
        inst.memory_file = memory_peak_file(inst.pid, inst.container_id)


class Containers:
    """Every function container of the host, grouped by function version (FunctionPool), and what happens to one:
    it is claimed and released, starts (within the start slots and the memory budget, evicting idle ones of
    other functions for room), freezes and thaws, drains, and goes. The PoolManager decides when."""

    def __init__(self, settings: Settings, host: DockerHost, client: RuntimeClient, calls: ContainerCalls,
                 metrics: Metrics, layers: LayerFiles, cells: CellPool | None = None):
        self.settings = settings
        self.cells = cells
        self.layers = layers
        """This host's layer files, seen by containers of functions with layers at /opt."""
        """Ready cells: a cold start takes one when it can (the cell path), else starts from the image."""
        self.host = host
        self.client = client
        self.calls = calls
        self.metrics = metrics
        self.pools: dict[str, FunctionPool] = {}
        """By pool key (`<function>@<version id>`)."""
        self.closing = False
        """Set on shutdown: nothing starts any more."""
        self._tasks: set[asyncio.Task] = set()
        self._start_slots = asyncio.Semaphore(settings.max_concurrent_starts)
        self._kick_pending = False

    # -- what there is
    def all_instances(self) -> list[Instance]:
        return [inst for pool in self.pools.values() for inst in pool.instances]

    def memory_used(self) -> int:
        """Megabytes of the host budget taken: by containers (not being removed) and by cells."""
        used = sum(i.memory_mb for p in self.pools.values() for i in p.instances if i.state is not S.REMOVING)
        return used + (self.cells.memory_used() if self.cells is not None else 0)

    def by_container(self, container_id: str) -> Instance | None:
        for pool in self.pools.values():
            for inst in pool.instances:
                if inst.container_id == container_id:
                    return inst
        return None

    # -- background work
    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the container starts and removals under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- calls
    async def acquire(self, pool: FunctionPool) -> Instance:
        """A claimed container of `pool`, thawed if it was frozen. One that cannot be thawed (or that another
        claimer failed to thaw) is removed, and another is taken: a frozen container is never called."""
        while True:
            inst = await pool.acquire(lambda: self.start_for_waiters(pool))
            if inst.state is not S.THAWING:
                return inst
            try:
                await self._thaw(pool, inst)
            except FaasError as exc:
                log.warning("Container %s: unpause failed, removing it: %s", inst.id, exc)
            except BaseException:
                self.release(pool, inst, discard=True)
                raise
            if inst.state not in (S.REMOVING, S.THAWING):
                return inst
            self.release(pool, inst, discard=True)  # removed, and a reserved one replaced
            if self.pools.get(pool.key) is not pool:  # its function (or version) went away meanwhile
                raise FunctionNotFound(f"function {pool.name} (version {pool.record.version_id}) was deleted")

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

    def release(self, pool: FunctionPool, inst: Instance, discard: bool) -> None:
        inst.active -= 1
        inst.served += 1
        inst.last_used = time.monotonic()
        if inst.state is S.REMOVING:
            pass
        elif discard or (inst.active == 0 and inst.state is S.DRAINING):
            self.discard(inst, hook=not discard)
            if inst.reserved:  # its replacement starts now, and serves the requests that wait
                self.ensure_reserved(pool, time.monotonic())
        elif inst.active == 0:
            inst.transition(S.READY)
        if pool.waiters:
            pool.dispatch()

    # -- starting
    def start_for_waiters(self, pool: FunctionPool) -> None:
        """Start as many containers as requests wait beyond the starts under way (reserved ones included: a
        reserved container being replaced serves the next request), within every limit."""
        reserved_starting = sum(1 for i in pool.instances if i.reserved and i.state is S.STARTING)
        wanted = pool.waiting() - pool.starting - reserved_starting
        while wanted > 0 and not self.closing:
            room, cell = self._room_for_one(pool)
            if not room:
                return
            pool.starting += 1
            self.spawn(self._start(pool, pool.add(reserved=False), for_waiters=True, cell=cell))
            wanted -= 1

    def _room_for_one(self, pool: FunctionPool, demand: bool = True) -> tuple[bool, tuple | None]:
        """(True, a cell taken or None) when one more container of `pool` may start: under maxInstances, and
        with a ready cell (whose memory is counted already) or room in the memory budget (after evictions,
        unless it is no call's `demand`: a pre-warm takes what is free)."""
        spec = pool.record.spec
        if pool.live() >= spec.max_instances:
            return False, None
        cell = self.cells.take(pool.record, demand) if self.cells is not None else None
        if cell is not None:
            return True, cell
        if not demand:
            return self.memory_used() + spec.memory_mb <= self.settings.host_memory_mb, None
        return self._make_room(spec.memory_mb, pool.key), None

    def _make_room(self, memory_mb: int, pool_key: str) -> bool:
        """True when `memory_mb` fits in the host budget, after removing ready cells and then evicting idle
        containers of other pools."""
        need = self.memory_used() + memory_mb - self.settings.host_memory_mb
        if need > 0 and self.cells is not None:
            need -= self.cells.evict(need)
        if need <= 0:
            return True
        victims = scheduler.choose_evictions(self.all_instances(), need, exclude=pool_key)
        for inst in victims:
            log.info("Function %s: evicting idle container %s to make room for %s", inst.function, inst.id, pool_key)
            self.discard(inst, hook=True)
        return bool(victims)

    async def _start(self, pool: FunctionPool, inst: Instance, for_waiters: bool, cell: tuple | None = None) -> None:
        """Start a container for `inst`: by specialising `cell` (a ready cell and the version's files, taken
        for it), else from the function's image within the start slots."""
        reason = "demand" if for_waiters else "reserved" if inst.reserved else "prewarm"
        booted = False
        try:
            if cell is not None:  # no start slot: a specialisation costs the engine nothing
                self.metrics.container_start(inst.function, reason, "cell")
                await self._boot_cell(inst, *cell)
                booted = True
            else:
                async with self._start_slots:
                    if inst.state is S.REMOVING:  # its function went away while it waited for a slot
                        return
                    self.metrics.container_start(inst.function, reason)
                    await self._boot(inst)
                    booted = True
        except (InitFailed, FaasError) as exc:
            self.discard(inst, hook=False)
            if for_waiters:
                log.info("Function %s: container start failed: %s", inst.function, exc)
                pool.fail_waiters(exc, count=1)
            else:
                log.warning("Function %s: %s container start failed: %s", inst.function, reason, exc)
                if inst.reserved:
                    pool.reserve_retry_at = time.monotonic() + RESERVED_RETRY_S
        except Exception as exc:  # a bug: the requests that wait for this start learn of it now, not at a timeout
            log.exception("Function %s: container start failed unexpectedly", inst.function)
            self.discard(inst, hook=False)
            if for_waiters:
                pool.fail_waiters(ServiceUnavailable(f"a container of {inst.function} could not be started "
                                                     f"({type(exc).__name__}); the platform log has the details"),
                                  count=1)
        except BaseException:
            self.discard(inst, hook=False)
            raise
        finally:
            if for_waiters:
                pool.starting -= 1
        if booted:
            if inst.state is S.REMOVING:  # its function was deleted while it started
                self.spawn(self.remove(inst, hook=False))
            elif not pool.current(inst):  # its function was updated while it started
                self.discard(inst, hook=True)
            else:
                inst.last_used = time.monotonic()
                inst.transition(S.READY)
                if not inst.reserved and not inst.prewarmed and not pool.warmth.calls:
                    inst.keep_alive_s = pool.warmth.idle_keep_s()  # its demand is over: the version's window
                log.info("Function %s: container %s ready (%s r%d, %s) in %.0f ms", inst.function, inst.id,
                         inst.version_id, inst.revision, reason, (time.monotonic() - inst.created_at) * 1000)
                pool.dispatch()
        # Requests still waiting (a start failed, or more came): start for them.
        if pool.waiters and not self.closing:
            self.start_for_waiters(pool)

    async def _boot(self, inst: Instance) -> None:
        """Create and start the container, wait until it listens, run its initializer."""
        record = inst.record
        config = container_config(record, self.settings.platform_id, runtime_socket(self.settings),
                                  await self.layers.of(record.layer_images))
        started = await self.host.start_container(config)
        inst.container_id, inst.address, inst.pid = started.id, started.address, started.pid
        inst.socket = started.socket
        if inst.state is S.REMOVING:
            return

        await self.client.wait_ready(inst, self.settings.ready_timeout,
                                     lambda: is_running(self.host, inst.container_id))
        await self.calls.initialize(inst, record, "init-" + inst.id)
        inst.init_ms = (time.monotonic() - inst.created_at) * 1000
        find_memory_file(inst)

    async def _boot_cell(self, inst: Instance, cell: Cell, code: Path) -> None:
        """Specialise a ready cell as `inst`'s container: the version's files placed, its environment given,
        then its initializer run, as for any container."""
        assert self.cells is not None, "a cell is taken from this host's CellPool"
        record = inst.record
        inst.container_id, inst.address, inst.pid, inst.socket = cell.container_id, cell.address, cell.pid, cell.socket
        inst.start_path, inst.slot, inst.code_dir = "cell", cell.slot, code
        if self.calls.logs is not None:
            self.calls.logs.follow(cell.container_id, record.name, record.version_id)
        config = container_config(record, self.settings.platform_id, runtime_socket(self.settings))
        await self.cells.specialise(cell, code, record, config.environment, config_digest(record),
                                    await self.layers.of(record.layer_images))
        inst.conns = cell.conns
        if inst.state is S.REMOVING:
            return
        await self.calls.initialize(inst, record, "init-" + inst.id)
        inst.init_ms = (time.monotonic() - inst.created_at) * 1000

    def ensure_reserved(self, pool: FunctionPool, now: float) -> None:
        record = pool.record
        promote, start, release = scheduler.reserved_plan(pool.instances, record.revision, pool.reserved)
        for inst in release:
            inst.reserved = False
            inst.last_used = now  # from here on, an ordinary container with its keep-alive
            inst.keep_alive_s = pool.warmth.idle_keep_s()
        for inst in promote:
            inst.reserved = True
        if start and now >= pool.reserve_retry_at and not self.closing:
            for _ in range(start):
                if self.start_ahead(pool, reserved=True) is None:
                    break

    def start_ahead(self, pool: FunctionPool, reserved: bool, prewarm_s: float | None = None) -> Instance | None:
        """Start one container of `pool` ahead of traffic, from a cell where one is ready: its first call is warm.
        Reserved, or a pre-warm kept `prewarm_s` once ready (which evicts nothing for room, and is not a cold
        start's demand for cells). None when there is no room for it."""
        room, cell = self._room_for_one(pool, demand=prewarm_s is None)
        if not room:
            return None
        inst = pool.add(reserved=reserved)
        inst.warmed = True
        if prewarm_s is not None:
            inst.keep_alive_s, inst.prewarmed = prewarm_s, True
        self.spawn(self._start(pool, inst, for_waiters=False, cell=cell))
        return inst

    # -- freezing
    async def pause(self, inst: Instance) -> None:
        """Freeze an idle container. Claimed meanwhile (Thawing), it is thawed by its claimer after this."""
        async with inst.lock:
            if inst.state is not S.READY:
                return
            inst.transition(S.PAUSING)
            await self._freeze(inst)

    async def _freeze(self, inst: Instance) -> None:
        """Freeze `inst`, Pausing; its state may change while Docker freezes it (claimed: Thawing; or removed)."""
        await self.client.hook(inst, "/pre-freeze")
        try:
            await self.host.pause(inst.container_id)
        except FaasError as exc:
            if inst.state is S.THAWING:  # not frozen after all: its claimer may use it as it is
                inst.transition(S.BUSY)
            elif inst.state is S.PAUSING:
                log.warning("Container %s: pause failed, removing it: %s", inst.id, exc)
                self.discard(inst, hook=False)
            return
        if inst.state is S.PAUSING:
            inst.transition(S.PAUSED)

    # -- leaving
    def retire(self, inst: Instance) -> None:
        """`inst` serves an older release of its function: removed now if idle, else Draining. A Thawing one
        turns Draining once thawed (its claimers need it unpaused first)."""
        inst.reserved = False
        if inst.idle:
            self.discard(inst, hook=True)
        elif inst.state is S.BUSY:
            inst.transition(S.DRAINING)

    def discard(self, inst: Instance, hook: bool) -> None:
        """Take `inst` out of the pool and remove its container in the background: after its /pre-stop hook
        when `hook` (never on a frozen container, which cannot answer it)."""
        frozen = self.drop(inst)
        if inst.prewarmed:  # it served nothing
            inst.prewarmed = False
            self.metrics.prewarm(inst.function, "unused")
        if inst.container_id:
            self.spawn(self.remove(inst, hook and not frozen, thaw=frozen))

    def drop(self, inst: Instance) -> bool:
        """Take `inst` out of the pool (its memory is free for others at once); the caller removes it, thawed first
        when this says it was frozen (paused, or on its way in or out of it)."""
        frozen = inst.state in FROZEN
        if inst.state is not S.REMOVING:
            inst.transition(S.REMOVING)
        pool = self.pools.get(inst.pool_key)
        if pool is not None:
            pool.remove(inst)
        self._kick_soon()
        return frozen

    def _kick_soon(self) -> None:
        """Capacity was freed: let requests waiting in any pool start containers (once per loop turn)."""
        if self._kick_pending or self.closing:
            return
        self._kick_pending = True

        def kick():
            self._kick_pending = False
            for pool in list(self.pools.values()):
                if pool.waiters:
                    self.start_for_waiters(pool)

        asyncio.get_running_loop().call_soon(kick)

    async def remove(self, inst: Instance, hook: bool, thaw: bool = False) -> None:
        """Remove `inst`'s container: after its /pre-stop hook when `hook`; thawed first when `thaw` (it is paused,
        or may be: Docker's forced removal of a paused container can leave the engine stuck on it)."""
        if hook and inst.address:
            await self.client.hook(inst, "/pre-stop")
        if inst.conns is not None:
            inst.conns.close()
        try:
            await self.host.remove_container(inst.container_id, thaw=thaw)
        except Exception as exc:
            log.warning("Container %s: removal failed: %s", inst.id, exc)
        if inst.slot is not None and self.cells is not None:  # a cell's mounts and host directory go with it
            self.cells.files.release(inst.container_id, inst.slot)
        if self.calls.logs is not None:
            self.calls.logs.unfollow(inst.container_id)
