"""The pool's upkeep: keep-alive and pauses, reserved containers kept up, containers that died or went from
outside dropped, strays removed, and what the pool set up (its network, the cells' mounts) set up again."""

from __future__ import annotations

import logging
import time

from docker.errors import DockerException

from ..cells.pool import CellPool
from ..config import Settings
from ..docker_host import CONTAINER_ROLES, LABEL_PLATFORM, LABEL_ROLE, DockerHost
from ..health import Health
from . import scheduler
from .containers import Containers
from .state import ContainerState

log = logging.getLogger(__name__)
S = ContainerState

STRAY_GRACE_S = 60
"""A labelled container the pool does not know is removed once it is this old (a start may still own it)."""


class Upkeep:
    def __init__(self, settings: Settings, host: DockerHost, containers: Containers, cells: CellPool):
        self.settings, self.host, self.containers, self.cells = settings, host, containers, cells
        self.pools = containers.pools
        self.network_health = Health("network")
        self._counted_at = time.monotonic()

    async def maintain(self) -> None:
        """Reclaim idle containers past keep-alive, pause idle ones, keep reserved ones up; count the memory that
        waited idle since the last pass."""
        now = time.monotonic()
        self.count_idle(now)
        for pool in list(self.pools.values()):
            for inst in scheduler.expired(pool.instances, now):
                log.info("Function %s: reclaiming container %s (idle %.0fs)", pool.name, inst.id,
                         inst.idle_seconds(now))
                self.containers.discard(inst, hook=True)
            for inst in scheduler.to_pause(pool.instances, now):
                self.containers.spawn(self.containers.pause(inst))
            self.containers.ensure_reserved(pool, now)
            if pool.waiters:
                pool.dispatch()
                self.containers.start_for_waiters(pool)

    def count_idle(self, now: float) -> None:
        """faas_idle_memory_mb_seconds_total: idle containers' and ready cells' memory since the last count (what
        they hold now, over the time since)."""
        elapsed, self._counted_at = now - self._counted_at, now
        metrics = self.containers.metrics
        metrics.idle("container", elapsed * sum(i.memory_mb for i in self.containers.all_instances() if i.idle))
        metrics.idle("cell", elapsed * sum(cell.memory_mb for cell in self.cells.all_ready()))

    async def check_health(self) -> None:
        """Drop idle containers (and ready cells) that died or were removed from outside; remove labelled
        strays; remove unpacked files no version needs any more."""
        await self._repair()
        asked = time.monotonic()
        found = [c for c in await self.host.list_containers({LABEL_PLATFORM: self.settings.platform_id})
                 if c.labels.get(LABEL_ROLE) in CONTAINER_ROLES]
        alive = {c.id for c in found if c.running}
        for cell in self.cells.all_ready():
            if cell.container_id not in alive and cell.created_at < asked:
                log.warning("Cells: cell %s is gone or dead; it leaves the pool", cell.id)
                self.cells.drop(cell)
        known = self.cells.known()
        for pool in list(self.pools.values()):
            for inst in list(pool.instances):
                if not inst.container_id:
                    continue
                known.add(inst.container_id)
                # One made after Docker was asked is missing from its answer, not gone.
                if inst.container_id not in alive and inst.idle and inst.created_at < asked:
                    log.warning("Function %s: container %s is gone or dead; it leaves the pool", pool.name, inst.id)
                    self.containers.discard(inst, hook=False)
            self.containers.ensure_reserved(pool, time.monotonic())
        now = time.time()
        for c in found:
            if c.id not in known and now - c.created > STRAY_GRACE_S:
                log.info("Removing stray container %s", c.id[:12])
                self.containers.spawn(self._remove_stray(c.id))
        instances = self.containers.all_instances()
        self.cells.code.prune({p.record.image for p in self.pools.values()} | {i.record.image for i in instances},
                              {i.code_dir for i in instances if i.code_dir is not None})
        self.containers.layers.prune({p.record.layer_images for p in self.pools.values()}
                                     | {i.record.layer_images for i in instances})
        self.cells.refill()

    async def _repair(self) -> None:
        """Set up again what the pool set up and lost: its network (removed by hand while no container used
        it), the cells' directories and mounts."""
        try:
            await self.host.ensure_network(self.settings.network)
        except DockerException as exc:
            self.network_health.failed(f"network {self.settings.network} cannot be set up: {exc}")
        else:
            self.network_health.succeeded()
        self.cells.repair()

    def problems(self) -> dict[str, str]:
        """The pool's parts that keep failing, and why (for /healthz)."""
        found = {h.part: h.problem() for h in (self.cells.health, self.network_health)}
        return {part: why for part, why in found.items() if why}

    async def _remove_stray(self, container_id: str) -> None:
        await self.host.remove_container(container_id, thaw=True)  # (a platform stopped while it was paused)
        slot = self.cells.files.slot_of(self.cells.files.state_of(container_id))
        if slot is not None:
            self.cells.files.release(container_id, slot)

    def on_event(self, action: str, container_id: str) -> None:
        """Docker saw a container of ours die, get killed or go: an idle one leaves the pool at once (and a
        reserved one is replaced); a busy one is marked, so that its invocation's outcome says why."""
        inst = self.containers.by_container(container_id)
        if inst is None and action in ("die", "destroy"):
            cell = self.cells.by_container(container_id)
            if cell is not None and self.cells.drop(cell):
                log.warning("Cells: cell %s died; it leaves the pool", cell.id)
                self.cells.refill()
            return
        if inst is None or inst.state is S.REMOVING:
            return  # not ours any more, or the pool itself is removing it
        if action == "kill" or action == "destroy":
            inst.killed = True  # the pool kills only containers it has taken out (Removing)
        if action in ("die", "destroy"):
            inst.exited = True
            if inst.idle:
                log.warning("Function %s: container %s died; it leaves the pool", inst.function, inst.id)
                self.containers.discard(inst, hook=False)
                pool = self.pools.get(inst.pool_key)
                if pool is not None:
                    self.containers.ensure_reserved(pool, time.monotonic())
