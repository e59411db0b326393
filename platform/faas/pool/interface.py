"""What the API, the function service and the releases use of a pool: one interface, two pools. A host's own
containers (PoolManager, roles `all` and `node`) or the nodes' (RemotePool, a front end's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from ..models import FunctionRecord
from .outcome import Outcome

Replace = Callable[[], Awaitable[None]]
"""Gives the pool every release again from what Redis holds (each version's record and reserved containers)."""


class Pool(Protocol):
    # -- lifecycle
    async def start(self, records: list[FunctionRecord], runtime_images: dict[str, str] | None = None) -> None:
        """Start with the function versions there are; `runtime_images`: by Python runtime, what its cells run."""

    async def shutdown(self) -> None: ...

    async def settle(self) -> None:
        """Wait for the work under way (starts, removals, placements)."""

    # -- releases and reserved containers
    def sync_function(self, record: FunctionRecord) -> None:
        """Serve `record` from now on in its version's pool (older revisions drain)."""

    def provision(self, record: FunctionRecord, reserved: int) -> None:
        """Keep `reserved` containers of `record`'s version started."""

    def reserved_of(self, record: FunctionRecord) -> int: ...

    async def warm(self, record: FunctionRecord, timeout: float) -> bool:
        """Wait until the reserved containers of `record`'s version are ready (True), or `timeout`."""

    async def unpack(self, record: FunctionRecord) -> None:
        """Have a new release's files ready for cells (and its layers' for any container), so that its first cold
        start is quick."""

    def retiring(self, name: str) -> bool:
        """Containers of an older release of `name` still use its image here."""

    async def remove_function(self, name: str) -> None: ...

    async def remove_version(self, record: FunctionRecord) -> None: ...

    # -- invocations
    async def invoke(self, record: FunctionRecord, event: bytes, request_id: str, attempt: int = 1,
                     trigger: str | None = None) -> Outcome: ...

    async def proxy_web(self, request: web.Request, record: FunctionRecord, request_id: str, target: str,
                        headers: list[tuple[str, str]], trigger: str) -> web.StreamResponse:
        """A web function's request carried to a container of `record` and its answer back."""

    # -- what it shows
    async def describe(self, name: str, version_ids: set[str] | None = None) -> list[dict]:
        """The containers of `name`'s versions in `version_ids` (all when None), as the API shows them."""

    async def keep_alive(self, name: str, version_ids: set[str] | None = None) -> list[dict]:
        """The keep-alive decision of each of `name`'s versions in `version_ids` (all when None): its policy,
        window, pre-warm delay, the idle times it learned from and which rule decided."""

    def problems(self) -> dict[str, str]:
        """Parts that keep failing (part: why), for /healthz."""

    def metric_families(self) -> list:
        """The Prometheus families of its containers and cells (none where the nodes serve their own)."""

    def nodes(self) -> list[dict] | None:
        """The nodes it routes to, as the API shows them; None on one host."""

    async def drain_node(self, node_id: str) -> dict:
        """Have node `node_id` take no new invocations; NodeNotFound when there is no such node."""
