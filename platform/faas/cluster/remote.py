"""A front end's pool (FAAS_ROLE=frontend): the PoolManager's interface, carried out by the node agents.

Each invocation of a function version is offered to the live nodes in rendezvous order (rendezvous.py): a
node that advertises an idle warm container of it first, else its home node, else the next ranked ones,
each asked to refuse at once (429) rather than queue when it has no room; when every node refused, the least
loaded one queues it. A node that cannot be reached is left out for a few seconds and the next one is
asked: a request that never reached a node is safe to offer again. One that reached it and broke off is
not (the function may have run): the caller gets 503, as a container that died would give.

Releases reach nodes ahead of traffic: when a function version is created, changed or provisioned, its
record is given to the top IMAGE_COPIES nodes of its ranking (which pull its image from the registry, or
are sent it by docker save | docker load), and its reserved containers to its home node only. When the
nodes change, everything is placed again from what Redis holds (`replace`), so that a home node that left
has its reserved containers started on the next.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time

import aiohttp
from aiohttp import ClientTimeout, web
from redis.asyncio import Redis

from .. import defaults, errors
from ..config import Settings
from ..defaults import LATEST
from ..docker_host import DockerHost
from ..errors import NodeNotFound, ServiceUnavailable
from ..metrics import Metrics
from ..models import FunctionRecord
from ..pool.http import ConnectionPool, NotDelivered, ResponseTooLarge
from ..pool.interface import Replace
from ..pool.outcome import Outcome
from ..triggers.http import HOP_BY_HOP, relay
from ..webio import read_event
from . import rendezvous
from .errors import ImageMissing, NodeDraining, ReleaseUnknown
from .images import ImageShipper
from .members import Members, NodeInfo
from .node_api import NodeApi, node_error

log = logging.getLogger(__name__)

REMOVAL_TIMEOUT_S = 60.0
"""Longest a function's (or version's) removal waits for one node to remove its containers."""

IMAGE_WAIT_S = 120.0
"""Longest an invocation waits for an image being sent to a node when no node that has it can take it."""


class _Refused(Exception):
    """The node did not take the invocation (full, draining, unreachable, or without its image yet): the
    next one may."""


class RemotePool:
    """The Pool (pool/interface.py) of a front end."""

    def __init__(self, settings: Settings, redis: Redis, metrics: Metrics, host: DockerHost,
                 replace: Replace | None = None):
        self.settings, self.metrics, self.host = settings, metrics, host
        self.members = Members(redis, settings.redis_prefix, on_change=self._nodes_changed)
        self.records: dict[str, FunctionRecord] = {}
        """The release each pool key (name@version) runs, as this front end last heard."""
        self.reserved: dict[str, int] = {}
        self.replace = replace
        """Called when the nodes change, so that every release is placed again."""
        self.api = NodeApi(settings, self.members)
        self._tasks: set[asyncio.Task] = set()
        self.images = ImageShipper(host, self.api.call)
        self._placing: asyncio.Task | None = None
        self._place_again = False
        self._node_conns: dict[str, ConnectionPool] = {}

    # -- lifecycle
    async def start(self, records: list[FunctionRecord], runtime_images: dict[str, str] | None = None) -> None:
        self.api.open()
        self.members.start()
        try:
            await asyncio.wait_for(self.members.ready.wait(), 5.0)
        except TimeoutError:
            log.warning("No heartbeat of the nodes read yet; invocations get 503 until a node beats")
        for record in records:
            self.sync_function(record)

    async def shutdown(self) -> None:
        await self.members.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.api.close()
        for conns in self._node_conns.values():
            conns.close()

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("Placing a release on the nodes failed: %s", task.exception())

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- releases and reserved containers
    def sync_function(self, record: FunctionRecord) -> None:
        key = record.pool_key
        known = self.records.get(key)
        if known is not None and known.function_id == record.function_id and known.revision > record.revision:
            return
        self.records[key] = record
        if record.version_id == LATEST:
            self.reserved[key] = record.spec.reserved_instances
        self._spawn(self._deploy(record))

    def provision(self, record: FunctionRecord, reserved: int) -> None:
        self.records[record.pool_key] = record
        self.reserved[record.pool_key] = reserved
        self._spawn(self._deploy(record))

    def reserved_of(self, record: FunctionRecord) -> int:
        known = self.records.get(record.pool_key)
        return self.reserved.get(record.pool_key, 0) if known is not None and known.release == record.release else 0

    async def unpack(self, record: FunctionRecord) -> None:
        """Nodes unpack a version's files for their cells when they take its release."""

    def retiring(self, name: str) -> bool:
        """A front end runs no containers: none of them uses an image here."""
        return False

    def problems(self) -> dict[str, str]:
        """A front end's pool is the nodes': each node's /healthz tells of its own parts."""
        return {}

    def metric_families(self) -> list:
        """Each node serves its containers' and cells' metrics."""
        return []

    def nodes(self) -> list[dict] | None:
        live = {n.id for n in self.members.live()}
        return [{"nodeId": n.id, "address": n.address, "draining": n.draining, "takingWork": n.id in live,
                 "budgetMB": n.budget_mb, "freeMB": n.free_mb, "activeInvocations": n.busy,
                 "functionVersions": len(n.pools)} for n in sorted(self.members.nodes.values(), key=lambda n: n.id)]

    async def drain_node(self, node_id: str) -> dict:
        """Answered once the invocations under way on the node have ended, or after NODE_DRAIN_TIMEOUT_S with
        how many still run."""
        node = self.members.nodes.get(node_id)
        if node is None:
            raise NodeNotFound(f"no node {node_id[:64]!r} is beating")
        return await self.api.call(node, "POST", f"http://{node.address}/node/v1/drain",
                               timeout=defaults.NODE_DRAIN_TIMEOUT_S + 10)

    def targets(self, key: str) -> list[NodeInfo]:
        return rendezvous.holders(key, self.members.live(), self.settings.image_copies)

    def _reserved_on(self, node: NodeInfo, key: str) -> int:
        return self.reserved.get(key, 0) if rendezvous.is_home(key, node, self.members.live()) else 0

    async def _deploy(self, record: FunctionRecord) -> None:
        key = record.pool_key
        targets = self.targets(key)
        results = await asyncio.gather(*(self._give(n, record, self._reserved_on(n, key), send_image=True)
                                         for n in targets), return_exceptions=True)
        for node, result in zip(targets, results):
            if isinstance(result, BaseException):
                log.warning("Node %s did not take %s revision %d: %s", node.id, key, record.revision, result)

    async def _give(self, node: NodeInfo, record: FunctionRecord, reserved: int, send_image: bool) -> None:
        """Give `node` the release `record` with `reserved` containers; each of its images (its own, its layers')
        is sent when the node lacks it (and `send_image`), else ImageMissing."""
        body = json.dumps({"record": record.to_api(), "reserved": reserved}).encode()
        url = f"http://{node.address}/node/v1/functions/{record.name}/{record.version_id}"
        missing = record.image
        for _ in range(len(record.images) + 1):
            try:
                await self.api.call(node, "PUT", url, body, timeout=defaults.NODE_DRAIN_TIMEOUT_S)
                return
            except ImageMissing as exc:
                if not send_image:
                    raise
                named = exc.details.get("image")
                missing = named if named in record.images else record.image
            await self.images.send(node, missing)
        raise ServiceUnavailable(f"node {node.id} still lacks the image {missing}")

    def _nodes_changed(self) -> None:
        """Place every release again (one placement at a time; a change during one places once more after it)."""
        replace = self.replace
        if replace is None:
            return
        if self._placing is not None and not self._placing.done():
            self._place_again = True
            return

        async def place():
            self._place_again = True
            while self._place_again:
                self._place_again = False
                await replace()

        self._placing = self._spawn(place())

    async def warm(self, record: FunctionRecord, timeout: float) -> bool:
        """Wait until the home node advertises the reserved containers of `record`'s version ready."""
        deadline = time.monotonic() + timeout
        key = record.pool_key
        while time.monotonic() < deadline:
            wanted = min(self.reserved.get(key, 0), record.spec.max_instances)
            if wanted == 0 or any(n.pools.get(key, (0, 0))[1] >= wanted for n in self.members.live()):
                return True
            await asyncio.sleep(0.1)
        return False

    # -- removal and listing, on every node
    async def remove_function(self, name: str) -> None:
        for key in [k for k, r in self.records.items() if r.name == name]:
            self.records.pop(key, None)
            self.reserved.pop(key, None)
        await self.api.everywhere("DELETE", f"/node/v1/functions/{name}", timeout=REMOVAL_TIMEOUT_S)

    async def remove_version(self, record: FunctionRecord) -> None:
        self.records.pop(record.pool_key, None)
        self.reserved.pop(record.pool_key, None)
        await self.api.everywhere("DELETE", f"/node/v1/functions/{record.name}/{record.version_id}",
                               timeout=REMOVAL_TIMEOUT_S)

    async def describe(self, name: str, version_ids: set[str] | None = None) -> list[dict]:
        return await self.api.listed("/node/v1/instances", name, version_ids)

    async def keep_alive(self, name: str, version_ids: set[str] | None = None) -> list[dict]:
        return await self.api.listed("/node/v1/keep-alive", name, version_ids)

    # -- invocations
    async def invoke(self, record: FunctionRecord, event: bytes, request_id: str, attempt: int = 1,
                     trigger: str | None = None) -> Outcome:
        t0 = time.monotonic()
        headers = _call_headers(self.settings, record, request_id, trigger)
        headers["X-Fc-Attempt"] = str(attempt)
        headers["Content-Type"] = "application/octet-stream"

        timeout = _call_timeout(self.settings, record)
        spilling = headers | {"X-Faas-Spill": "1"}

        async def call(node: NodeInfo, spill: bool) -> Outcome:
            # The platform's own small HTTP/1.1 client (pool/http.py), as for a container: a fraction of
            # aiohttp's cost per call on this hot path.
            try:
                resp = await self._conns(node).request("POST", "/node/v1/invoke", spilling if spill else headers,
                                                       event, defaults.RESPONSE_BYTES + (1 << 16), timeout,
                                                       connect_timeout=defaults.NODE_CONNECT_TIMEOUT_S)
            except NotDelivered as exc:  # it never reached the node
                self.members.suspect(node.id)
                raise _Refused(f"node {node.id} cannot be reached: {exc}") from None
            except (ConnectionError, TimeoutError, ResponseTooLarge) as exc:
                raise ServiceUnavailable(f"node {node.id} broke off the invocation: {exc}") from None
            if resp.status != 200:
                raise node_error(resp.status, resp.body)
            return _outcome(resp.headers, resp.body)

        outcome = await self._route(record, call)
        self.metrics.invocation(record.name, outcome, time.monotonic() - t0)
        if outcome.cold_start:
            self.metrics.activity.cold_start(record.name)
        return outcome

    async def proxy_web(self, request: web.Request, record: FunctionRecord, request_id: str, target: str,
                        headers: list[tuple[str, str]], trigger: str) -> web.StreamResponse:
        """A web function's request (its body read whole, so that it can be offered to another node) through
        the node that runs it; the function's answer streamed back as it comes."""
        body = await read_event(request, defaults.SYNC_EVENT_BYTES, what="the request body") \
            if request.body_exists else None
        sent = [(k, v) for k, v in headers if not k.lower().startswith("x-faas-")]  # ours only, never a client's
        sent += list(_call_headers(self.settings, record, request_id, trigger).items()) + [("X-Faas-Target", target)]

        async def call(node: NodeInfo, spill: bool) -> web.StreamResponse:
            async with self._send(node, request.method, "/node/v1/web", sent, spill, body, record) as resp:
                refused = resp.headers.get("X-Faas-Node-Error")
                if refused is not None:
                    raise node_error(resp.status, await resp.read())
                response = web.StreamResponse(status=resp.status, reason=resp.reason)
                for key, value in resp.headers.items():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                        response.headers.add(key, value)
                return await relay(request, response, resp)

        return await self._route(record, call)

    def _conns(self, node: NodeInfo) -> ConnectionPool:
        """Keep-alive connections to `node`'s address."""
        conns = self._node_conns.get(node.address)
        if conns is None:
            host, _, port = node.address.rpartition(":")
            conns = self._node_conns[node.address] = ConnectionPool(host.strip("[]"), int(port))
        return conns

    @contextlib.asynccontextmanager
    async def _send(self, node: NodeInfo, method: str, path: str, headers: list[tuple[str, str]], spill: bool,
                    data, record: FunctionRecord):
        """The node's answer to one call; _Refused when the call never reached it (safe to offer again)."""
        if spill:
            headers = [*headers, ("X-Faas-Spill", "1")]
        timeout = ClientTimeout(total=_call_timeout(self.settings, record),
                                sock_connect=defaults.NODE_CONNECT_TIMEOUT_S)
        try:
            async with self.api.session.request(method, f"http://{node.address}{path}", data=data, headers=headers,
                                            timeout=timeout, allow_redirects=False) as resp:
                yield resp
        except aiohttp.ClientConnectorError as exc:  # it never reached the node
            self.members.suspect(node.id)
            raise _Refused(f"node {node.id} cannot be reached: {exc}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceUnavailable(f"node {node.id} broke off the invocation: {exc}") from None

    async def _route(self, record: FunctionRecord, call):
        """`call(node, spill)` on the nodes in the order of `record`'s ranking (idle warm ones first) until one
        takes it; when all refuse, on the least loaded one without spilling (it queues the call)."""
        key = record.pool_key
        live = self.members.live()
        if not live:
            raise ServiceUnavailable("no node is taking invocations")
        warm = {n.id: n.pools[key][0] for n in live if key in n.pools}
        sending: list[asyncio.Task] = []
        for node in rendezvous.order(key, live, warm):
            try:
                return await self._attempt(node, record, call, True, sending)
            except _Refused:
                continue
        if sending:  # images on their way to nodes that lack them
            await asyncio.wait(sending, timeout=IMAGE_WAIT_S)
        reachable = self.members.live()
        if not reachable:
            raise ServiceUnavailable("no node could be reached")
        try:
            return await self._attempt(rendezvous.least_loaded(reachable), record, call, False, [])
        except _Refused as exc:
            raise ServiceUnavailable(f"no node took the invocation (last: {exc})") from None

    async def _attempt(self, node: NodeInfo, record: FunctionRecord, call, spill: bool, sending: list):
        """`call` on `node`; a node that lacks the release is given it first (and its image in the background,
        the call going on elsewhere meanwhile)."""
        for _ in range(2):
            try:
                return await call(node, spill)
            except ReleaseUnknown:
                reserved = self._reserved_on(node, record.pool_key)
                try:
                    await self._give(node, record, reserved, send_image=False)
                except ImageMissing:
                    sending.append(self._spawn(self._give(node, record, reserved, send_image=True)))
                    raise _Refused(f"node {node.id} has no image of {record.pool_key} yet") from None
            except NodeDraining as exc:
                raise _Refused(str(exc)) from None
            except errors.TooManyRequests as exc:
                if spill:
                    raise _Refused(str(exc)) from None
                raise
        raise ServiceUnavailable(f"node {node.id} did not take revision {record.revision} of {record.pool_key}")


def _outcome(headers, body: bytes) -> Outcome:
    """The outcome a node's answer carries (`headers`: names in lower case, or a case-insensitive mapping)."""
    try:
        report = base64.b64decode(headers.get("x-faas-report", "")).decode()
    except ValueError:
        report = ""
    return Outcome(body=body, content_type=headers.get("content-type", "application/octet-stream"),
                   error=headers.get("x-faas-error"), error_type=headers.get("x-faas-error-type"),
                   cold_start=headers.get("x-faas-cold-start") == "1", instance_id=headers.get("x-faas-instance", ""),
                   report=report, quiet=headers.get("x-faas-quiet") == "1")



def _call_headers(settings: Settings, record: FunctionRecord, request_id: str, trigger: str | None) -> dict[str, str]:
    """What a node is told of an invocation: the release it runs, its request id and trigger."""
    headers = {"X-Faas-Node-Token": settings.node_token, "X-Faas-Function": record.name,
               "X-Faas-Version": record.version_id, "X-Faas-Release": f"{record.function_id}:{record.revision}",
               "X-Fc-Request-Id": request_id}
    if trigger:
        headers["X-Faas-Trigger"] = trigger
    return headers


def _call_timeout(settings: Settings, record: FunctionRecord) -> float:
    """Longest one call to a node may take: the function's timeout, a wait for room, a start, and a margin."""
    return record.spec.timeout_s + settings.queue_timeout + settings.ready_timeout + 10
