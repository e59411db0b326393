"""Containers an earlier run of the platform left behind (a restart, a crash): adopted when they run what a
current version would, removed otherwise."""

from __future__ import annotations

import asyncio
import logging

from ..cells.pool import CellPool
from ..config import Settings
from ..defaults import LATEST
from ..docker_host import (
    LABEL_CONFIG,
    LABEL_FUNCTION,
    LABEL_FUNCTION_ID,
    LABEL_PLATFORM,
    LABEL_REVISION,
    LABEL_ROLE,
    LABEL_VERSION_ID,
    ROLE_CELL,
    DockerHost,
    function_filter,
)
from ..errors import FaasError
from ..logs.reports import LogChannel
from .calls import ContainerCalls
from .client import RuntimeClient
from .container import config_digest
from .containers import Containers, find_memory_file
from .function_pool import FunctionPool
from .outcome import InitFailed
from .state import ContainerState

log = logging.getLogger(__name__)
S = ContainerState


def runs_current(pool: FunctionPool, labels: dict[str, str], marker: dict | None) -> bool:
    """A container of `labels` (a cell: with the host's `marker` of it) runs what `pool`'s version would."""
    try:
        revision = int(labels.get(LABEL_REVISION, "0"))
    except ValueError:
        revision = 0
    # One of an older revision that runs what the current one would (only what the pool reads changed
    # since it started) is adopted too.
    if revision != pool.record.revision and labels.get(LABEL_CONFIG) != config_digest(pool.record):
        return False
    return marker is None or marker.get("image") == pool.record.image  # a cell runs the files it was given


class Adoption:
    def __init__(self, settings: Settings, host: DockerHost, client: RuntimeClient, calls: ContainerCalls,
                 containers: Containers, cells: CellPool, logs: LogChannel | None):
        self.settings, self.host, self.client, self.calls = settings, host, client, calls
        self.containers, self.cells, self.logs = containers, cells, logs
        self.pools = containers.pools

    async def reconcile(self) -> None:
        """Adopt the healthy containers an earlier run left for current versions; remove the rest. A cell
        that was specialised is adopted as the instance of the version the host recorded for it, or removed;
        cells never specialised are removed (the pool starts new ones)."""
        found = await self.host.list_containers(function_filter(self.settings.platform_id))
        cells = await self.host.list_containers({LABEL_PLATFORM: self.settings.platform_id, LABEL_ROLE: ROLE_CELL})
        results = await asyncio.gather(*(self._adopt(c) for c in found),
                                       *(self._adopt_cell(c) for c in cells), return_exceptions=True)
        adopted = sum(1 for r in results if r is True)
        if found or cells:
            log.info("Found %d function container(s) and %d cell(s) from an earlier run: %d adopted, %d removed",
                     len(found), len(cells), adopted, len(found) + len(cells) - adopted)
        self.cells.clear_stale({i.slot.name for i in self.containers.all_instances() if i.slot is not None})

    async def _adopt_cell(self, status) -> bool:
        marker = self.cells.files.state_of(status.id)
        slot = self.cells.files.slot_of(marker)
        if marker is None or slot is None or not self.cells.enabled:
            await self.host.remove_container(status.id)
            if slot is not None:
                self.cells.files.release(status.id, slot)
            return False
        labels = {LABEL_FUNCTION: str(marker.get("function")), LABEL_VERSION_ID: str(marker.get("versionId")),
                  LABEL_REVISION: str(marker.get("revision")), LABEL_FUNCTION_ID: str(marker.get("functionId")),
                  LABEL_CONFIG: str(marker.get("config"))}
        return await self._adopt(status, labels, slot, marker)

    async def _adopt(self, status, labels: dict[str, str] | None = None, slot=None, marker=None) -> bool:
        """Adopt a container found at start: a function container by its labels, or a specialised cell by the
        `labels` made from the host's record of it (`marker`), with its `slot`."""
        labels = status.labels if labels is None else labels
        pool = self.pools.get(f"{labels.get(LABEL_FUNCTION, '')}@{labels.get(LABEL_VERSION_ID, LATEST)}")
        if (pool is None or not runs_current(pool, labels, marker) or not status.running
                or labels.get(LABEL_FUNCTION_ID, "") != pool.record.function_id):
            await self.host.remove_container(status.id)
            if slot is not None:
                self.cells.files.release(status.id, slot)
            return False
        inst = pool.add(reserved=False)
        inst.container_id = status.id
        if slot is not None:
            inst.start_path, inst.slot, inst.code_dir = "cell", slot, self.cells.files.code_of(marker)
        try:
            if status.paused:
                await self.host.unpause(status.id)
            started = await self.host.running(status.id)
            if started is None:
                raise ConnectionError("no address")
            inst.address, inst.pid, inst.socket = started.address, started.pid, started.socket
            if slot is not None:
                if not await self.client.specialized(inst):
                    raise ConnectionError("a cell that runs no function")
                if self.logs is not None:
                    self.logs.follow(status.id, pool.name, pool.record.version_id)
            # /initialize is idempotent in the runtime: it answers the first outcome again, or runs the
            # initializer if the earlier run died before it finished.
            await self.calls.initialize(inst, pool.record, "adopt-" + inst.id)
            find_memory_file(inst)
        except (InitFailed, FaasError, OSError, asyncio.TimeoutError) as exc:
            log.info("Container %s not adopted: %s", inst.id, exc)
            await self.containers.remove(inst, hook=False, thaw=self.containers.drop(inst))
            return False
        inst.warmed = True
        inst.transition(S.READY)
        return True
