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
import json
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import ClientSession, ClientTimeout, TCPConnector
from redis.asyncio import Redis

from .. import defaults, errors
from ..config import Settings
from ..defaults import LATEST
from ..docker_host import DockerHost
from ..errors import ServiceUnavailable
from ..metrics import Metrics
from ..models import FunctionRecord
from ..pool.outcome import Outcome
from . import rendezvous
from .errors import ImageMissing, NodeDraining, ReleaseUnknown, by_code
from .members import Members, NodeInfo

log = logging.getLogger(__name__)

IMAGE_WAIT_S = 120.0
"""Longest an invocation waits for an image being sent to a node when no node that has it can take it."""


class _Refused(Exception):
    """The node did not take the invocation (full, draining, unreachable, or without its image yet): the
    next one may."""


class RemotePool:
    cells = None
    """Cells live on the nodes."""

    def __init__(self, settings: Settings, redis: Redis, metrics: Metrics, host: DockerHost):
        self.settings, self.metrics, self.host = settings, metrics, host
        self.members = Members(redis, settings.redis_prefix, on_change=self._nodes_changed)
        self.records: dict[str, FunctionRecord] = {}
        """The release each pool key (name@version) runs, as this front end last heard."""
        self.reserved: dict[str, int] = {}
        self.replace: Callable[[], Awaitable[None]] | None = None
        """Reads every function's releases and reserved counts again from Redis and gives them here (set by
        the app): called when the nodes change."""
        self.session: ClientSession | None = None
        self._auth = {"Authorization": "Bearer " + settings.node_token}
        self._tasks: set[asyncio.Task] = set()
        self._sending: dict[tuple[str, str], asyncio.Task] = {}
        self._placing: asyncio.Task | None = None

    # -- lifecycle
    async def start(self, records: list[FunctionRecord], runtime_image: str | None = None) -> None:
        self.session = ClientSession(
            timeout=ClientTimeout(total=None, sock_connect=defaults.NODE_CONNECT_TIMEOUT_S),
            connector=TCPConnector(limit=0, force_close=False), auto_decompress=False)
        self.members.start()
        try:
            await asyncio.wait_for(self.members.ready.wait(), 5.0)
        except TimeoutError:
            log.warning("No heartbeat of the nodes read yet; invocations wait for them")
        for record in records:
            self.sync_function(record)

    async def shutdown(self) -> None:
        await self.members.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

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

    async def unpack(self, image: str) -> None:
        """Nodes unpack a version's files for their cells when they take its release."""

    def retiring(self, name: str) -> bool:
        return False

    def all_instances(self) -> list:
        return []

    def memory_used(self) -> int:
        return 0

    def targets(self, key: str) -> list[NodeInfo]:
        """The nodes that should hold a release of `key`: the top of its ranking, and every node that has
        containers of it."""
        ranked = rendezvous.rank(key, self.members.live())
        chosen = ranked[:self.settings.image_copies]
        return chosen + [n for n in ranked[len(chosen):] if key in n.pools]

    def _reserved_on(self, node: NodeInfo, key: str) -> int:
        """Reserved containers of `key` live on its home node only."""
        ranked = rendezvous.rank(key, self.members.live())
        return self.reserved.get(key, 0) if ranked and ranked[0].id == node.id else 0

    async def _deploy(self, record: FunctionRecord) -> None:
        key = record.pool_key
        results = await asyncio.gather(*(self._give(n, record, self._reserved_on(n, key), send_image=True)
                                         for n in self.targets(key)), return_exceptions=True)
        for node, result in zip(self.targets(key), results):
            if isinstance(result, BaseException):
                log.warning("Node %s did not take %s revision %d: %s", node.id, key, record.revision, result)

    async def _give(self, node: NodeInfo, record: FunctionRecord, reserved: int, send_image: bool) -> None:
        """Give `node` the release `record` with `reserved` containers; its image is sent when it lacks it
        (and `send_image`), else ImageMissing."""
        body = json.dumps({"record": record.to_api(), "reserved": reserved}).encode()
        url = f"http://{node.address}/node/v1/functions/{record.name}/{record.version_id}"
        for _ in range(2):
            try:
                await self._call(node, "PUT", url, body, timeout=defaults.NODE_DRAIN_TIMEOUT_S)
                return
            except ImageMissing:
                if not send_image:
                    raise
            await self.send_image(node, record.image)
        raise ServiceUnavailable(f"node {node.id} still lacks the image {record.image}")

    async def send_image(self, node: NodeInfo, image: str) -> None:
        """`docker save` of `image` here, `docker load` on `node` (once at a time per node and image)."""
        task = self._sending.get((node.id, image))
        if task is None:
            task = self._sending[(node.id, image)] = asyncio.ensure_future(self._send(node, image))
            task.add_done_callback(lambda _: self._sending.pop((node.id, image), None))
        await asyncio.shield(task)

    async def _send(self, node: NodeInfo, image: str) -> None:
        t0 = time.monotonic()
        with tempfile.TemporaryFile() as spool:
            await self.host.save_image(image, spool)
            size = spool.tell()
            spool.seek(0)
            await self._call(node, "POST", f"http://{node.address}/node/v1/images", spool,
                             timeout=defaults.NODE_DRAIN_TIMEOUT_S)
        log.info("Image %s sent to node %s (%d MB) in %.1fs", image, node.id, size >> 20, time.monotonic() - t0)

    async def _call(self, node: NodeInfo, method: str, url: str, data=None, timeout: float = 30.0,
                    params: dict | None = None):
        """A call of the node API; the node's error raised as the FaasError it names."""
        try:
            async with self.session.request(method, url, data=data, headers=self._auth, params=params,
                                            timeout=ClientTimeout(total=timeout)) as resp:
                body = await resp.read()
                if resp.status < 300:
                    return json.loads(body) if body else None
                raise _node_error(resp.status, body)
        except aiohttp.ClientConnectorError as exc:
            self.members.suspect(node.id)
            raise ServiceUnavailable(f"node {node.id} cannot be reached: {exc}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceUnavailable(f"node {node.id} did not answer: {exc}") from None

    def _nodes_changed(self) -> None:
        """Place every release again (once at a time; a change during one places again after it)."""
        if self.replace is None:
            return

        async def place():
            await asyncio.sleep(0)
            await self.replace()

        if self._placing is None or self._placing.done():
            self._placing = self._spawn(place())
        else:
            self._placing.add_done_callback(lambda _: self._nodes_changed())

    async def warm(self, record: FunctionRecord, timeout: float) -> bool:
        """Wait until the home node advertises the reserved containers of `record`'s version ready."""
        deadline = time.monotonic() + timeout
        key = record.pool_key
        while time.monotonic() < deadline:
            wanted = min(self.reserved.get(key, 0), record.spec.max_instances)
            if any(n.pools.get(key, (0, 0))[1] >= wanted for n in self.members.live()):
                return True
            await asyncio.sleep(0.1)
        return False

    # -- removal and listing, on every node
    async def _everywhere(self, method: str, path: str, params: dict | None = None) -> list:
        nodes = list(self.members.nodes.values())
        results = await asyncio.gather(*(self._call(n, method, f"http://{n.address}{path}", params=params)
                                         for n in nodes), return_exceptions=True)
        for node, result in zip(nodes, results):
            if isinstance(result, BaseException):
                log.warning("Node %s: %s %s failed: %s", node.id, method, path, result)
        return [r for r in results if not isinstance(r, BaseException)]

    async def remove_function(self, name: str) -> None:
        for key in [k for k, r in self.records.items() if r.name == name]:
            self.records.pop(key, None)
            self.reserved.pop(key, None)
        await self._everywhere("DELETE", f"/node/v1/functions/{name}")

    async def remove_version(self, record: FunctionRecord) -> None:
        self.records.pop(record.pool_key, None)
        self.reserved.pop(record.pool_key, None)
        await self._everywhere("DELETE", f"/node/v1/functions/{record.name}/{record.version_id}")

    async def describe(self, name: str, version_ids: set[str] | None = None) -> list[dict]:
        params = {"function": name}
        if version_ids is not None:
            params["versions"] = ",".join(sorted(version_ids))
        return [i for found in await self._everywhere("GET", "/node/v1/instances", params) for i in found]

    # -- invocations
    async def invoke(self, record: FunctionRecord, event: bytes, request_id: str, attempt: int = 1,
                     trigger: str | None = None) -> Outcome:
        t0 = time.monotonic()
        key = record.pool_key
        live = self.members.live()
        if not live:
            raise ServiceUnavailable("no node is taking invocations")
        warm = {n.id: n.pools[key][0] for n in live if key in n.pools}
        candidates = rendezvous.order(key, live, warm)
        sending: list[asyncio.Task] = []
        for node in candidates:
            try:
                outcome = await self._invoke_on(node, record, event, request_id, attempt, trigger, True, sending)
                break
            except _Refused:
                continue
        else:
            # Every node refused: the least loaded that can be reached queues it (once its image is there).
            if sending:
                await asyncio.wait(sending, timeout=IMAGE_WAIT_S)
            reachable = self.members.live()
            if not reachable:
                raise ServiceUnavailable("no node could be reached")
            node = rendezvous.least_loaded(reachable)
            try:
                outcome = await self._invoke_on(node, record, event, request_id, attempt, trigger, False, [])
            except _Refused as exc:
                raise ServiceUnavailable(f"no node took the invocation (last: {exc})") from None
        self.metrics.invocation(record.name, outcome, time.monotonic() - t0)
        if outcome.cold_start:
            self.metrics.activity.cold_start(record.name)
        return outcome

    async def _invoke_on(self, node: NodeInfo, record: FunctionRecord, event: bytes, request_id: str,
                         attempt: int, trigger: str | None, spill: bool, sending: list) -> Outcome:
        headers = {**self._auth, "X-Faas-Function": record.name, "X-Faas-Version": record.version_id,
                   "X-Faas-Release": f"{record.function_id}:{record.revision}", "X-Fc-Request-Id": request_id,
                   "X-Fc-Attempt": str(attempt), "Content-Type": "application/octet-stream"}
        if trigger:
            headers["X-Faas-Trigger"] = trigger
        if spill:
            headers["X-Faas-Spill"] = "1"
        timeout = ClientTimeout(total=record.spec.timeout_s + self.settings.queue_timeout +
                                self.settings.ready_timeout + 10, sock_connect=defaults.NODE_CONNECT_TIMEOUT_S)
        url = f"http://{node.address}/node/v1/invoke"
        for _ in range(2):
            try:
                async with self.session.post(url, data=event, headers=headers, timeout=timeout) as resp:
                    body = await resp.read()
                    if resp.status == 200:
                        return _outcome(resp.headers, body)
                    error = _node_error(resp.status, body)
            except aiohttp.ClientConnectorError as exc:  # it never reached the node
                self.members.suspect(node.id)
                raise _Refused(f"node {node.id} cannot be reached: {exc}") from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise ServiceUnavailable(f"node {node.id} broke off the invocation: {exc}") from None
            if isinstance(error, ReleaseUnknown):
                try:
                    await self._give(node, record, self._reserved_on(node, record.pool_key), send_image=False)
                except ImageMissing:  # sent in the background: the invocation goes on elsewhere meanwhile
                    sending.append(self._spawn(self._give(node, record, self._reserved_on(node, record.pool_key),
                                                          send_image=True)))
                    raise _Refused(f"node {node.id} has no image of {record.pool_key} yet") from None
                continue
            if isinstance(error, (errors.TooManyRequests, NodeDraining)) and spill:
                raise _Refused(str(error))
            if isinstance(error, NodeDraining):
                raise _Refused(str(error))
            raise error
        raise ServiceUnavailable(f"node {node.id} did not take release {record.revision} of {record.pool_key}")

    def lease(self, record: FunctionRecord, request_id: str, trigger: str | None = None):
        raise ServiceUnavailable("web functions (custom containers behind HTTP triggers) run on single-host "
                                 "platforms only for now")


def _outcome(headers, body: bytes) -> Outcome:
    try:
        report = base64.b64decode(headers.get("X-Faas-Report", "")).decode()
    except ValueError:
        report = ""
    return Outcome(body=body, content_type=headers.get("Content-Type", "application/octet-stream"),
                   error=headers.get("X-Faas-Error"), error_type=headers.get("X-Faas-Error-Type"),
                   cold_start=headers.get("X-Faas-Cold-Start") == "1", instance_id=headers.get("X-Faas-Instance", ""),
                   report=report, quiet=headers.get("X-Faas-Quiet") == "1")


def _node_error(status: int, body: bytes) -> errors.FaasError:
    """The FaasError a node's error answer names."""
    try:
        error = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "ServiceUnavailable", f"a node answered {status}"
    cls = by_code(code)
    if cls is errors.FaasError or code in ("Unauthorized", "Forbidden", "InvalidArgument"):
        # the front end's own mistake with the node (a wrong node token, a malformed call): not the caller's
        return ServiceUnavailable(f"a node refused the front end's call: {code}: {message}")
    return cls(message)
