"""`faas-node`: the node agent of one Docker host. It owns the host's function containers (the PoolManager
of the single-host platform, on the host's own engine, so that cold and warm paths keep their speed) and
serves an internal API to the front ends, authenticated with the node token (X-Faas-Node-Token):

    POST   /node/v1/invoke                       run an invocation (headers name the release; body: the event)
    *      /node/v1/web                          a web function's HTTP request (X-Faas-Target: its path)
    PUT    /node/v1/functions/{name}/{version}   take a release ({"record": ..., "reserved": n}); its images
                                                 (the function's, its layers') are pulled from the
                                                 registry, or ImageMissing (409) naming the one missing
    DELETE /node/v1/functions/{name}[/{version}] remove a function's (or a version's) containers
    GET    /node/v1/instances?function=&versions= the containers of a function
    GET    /node/v1/keep-alive?function=&versions= its versions' keep-alive decisions
    POST   /node/v1/images                       docker load of a `docker save` stream
    POST   /node/v1/drain                        take no new invocations; answer when those under way ended
    GET    /node/v1/metrics                      the Prometheus metrics of its containers and invocations
    GET    /healthz                              open: is it up, is it draining

It is the authority on its own capacity: an invocation sent with `X-Faas-Spill: 1` is refused with 429 at
once when it would have to wait for room here. It heartbeats to Redis every second (members.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hmac
import logging
import os
import re
import socket
import sys
import tempfile
import threading
from urllib.parse import urlsplit

from aiohttp import web
from docker.errors import APIError, DockerException

from .. import defaults
from ..api import docker_ctx, log_channel_ctx, redis_ctx
from ..api.handlers import read_json
from ..api.keys import DOCKER, LOG_CHANNEL, METRICS, REDIS, SETTINGS
from ..api.middlewares import error_middleware, error_response, status_of
from ..builder.build import Builder
from ..claim import PlatformInUse, claim
from ..config import Settings
from ..errors import (
    FaasError,
    InvalidArgument,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from ..metrics import CONTENT_TYPE, Metrics
from ..models import FunctionRecord, check_name
from ..pool.client import RuntimeClient
from ..pool.manager import PoolManager
from ..startup import new_event_loop, setup_logging, wait_for_redis
from ..triggers.http import HOP_BY_HOP
from ..validate import REQUEST_ID_RE, TRIGGER_LABEL_RE
from . import members
from .errors import ImageMissing, NodeDraining, ReleaseUnknown

log = logging.getLogger(__name__)

POOL = web.AppKey("node_pool", PoolManager)
"""This host's containers (the Pool of api/keys.py, with what a node advertises of it)."""

_VERSION_RE = re.compile(rf"{defaults.LATEST}|{defaults.VERSION_ID_PATTERN}")
_RELEASE_RE = re.compile(r"([0-9a-f]{1,64}):([1-9][0-9]{0,9})")
_IMAGE_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._/:@-]{0,254}")


class NodeAgent:
    """This node's state beside its pool: draining or not, invocations under way, its heartbeat."""

    def __init__(self, settings: Settings, app: web.Application):
        self.settings, self.app = settings, app
        self.draining = False
        self.busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None

    def info(self) -> members.NodeInfo:
        pool = self.app[POOL]
        budget = self.settings.host_memory_mb
        return members.NodeInfo(id=self.settings.node_id, address=self.settings.node_address, budget_mb=budget,
                                free_mb=budget - pool.memory_used(), busy=self.busy, draining=self.draining,
                                pools=pool.summary())

    async def beat(self) -> None:
        await members.beat(self.app[REDIS], self.settings.redis_prefix, self.info())

    async def _run(self) -> None:
        while True:
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away (a failover): beat again next time
                log.warning("Heartbeat failed: %s", exc)
            await asyncio.sleep(defaults.NODE_HEARTBEAT_S)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def close(self) -> None:
        self.draining = True
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            await members.leave(self.app[REDIS], self.settings.redis_prefix, self.settings.node_id)

    @contextlib.contextmanager
    def running(self):
        self.busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.busy -= 1
            if self.busy == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> int:
        """Take no new invocations (the heartbeat says so at once); wait up to `timeout` for those under way
        to end. Returns how many are still running."""
        self.draining = True
        with contextlib.suppress(Exception):
            await self.beat()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        return self.busy


AGENT = web.AppKey("agent", NodeAgent)


@web.middleware
async def node_auth(request: web.Request, handler):
    """Every route but /healthz needs the node token: in X-Faas-Node-Token (what front ends send; a web
    function's request keeps its own Authorization header), or as `Authorization: Bearer <token>`."""
    if request.path != "/healthz":
        expected = request.app[SETTINGS].node_token
        given = request.headers.get("X-Faas-Node-Token")
        if given is None and not request.path.startswith("/node/v1/web"):
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest((given or "").encode("utf-8", "surrogateescape"), expected.encode()):
            raise Unauthorized("the node token is missing or wrong")
    return await handler(request)


def _release(request: web.Request) -> FunctionRecord:
    """The release an invocation names (X-Faas-Function, X-Faas-Version, X-Faas-Release: <functionId>:<revision>);
    ReleaseUnknown when this node has not been given it (or only an older revision)."""
    headers = request.headers
    name = check_name(headers.get("X-Faas-Function", ""))
    version = headers.get("X-Faas-Version", "")
    release = _RELEASE_RE.fullmatch(headers.get("X-Faas-Release", ""))
    if not _VERSION_RE.fullmatch(version) or release is None:
        raise InvalidArgument("X-Faas-Version and X-Faas-Release (<functionId>:<revision>) must name a release")
    record = request.app[POOL].record_of(f"{name}@{version}")
    if record is None or record.function_id != release.group(1) or record.revision < int(release.group(2)):
        raise ReleaseUnknown(f"this node has no release {release.group(0)} of {name}@{version}")
    return record


def _call(request: web.Request) -> tuple[FunctionRecord, str, str | None]:
    """The release, request id and trigger of a call; NodeDraining, or TooManyRequests when the caller asked
    for a refusal rather than a wait (X-Faas-Spill) and there is no room now."""
    agent, pool = request.app[AGENT], request.app[POOL]
    if agent.draining:
        raise NodeDraining(f"node {agent.settings.node_id} is draining")
    record = _release(request)
    headers = request.headers
    request_id = headers.get("X-Fc-Request-Id", "")
    trigger = headers.get("X-Faas-Trigger") or None
    if not REQUEST_ID_RE.fullmatch(request_id) or (trigger is not None and not TRIGGER_LABEL_RE.fullmatch(trigger)):
        raise InvalidArgument("X-Fc-Request-Id or X-Faas-Trigger is malformed")
    if headers.get("X-Faas-Spill") == "1" and not pool.room_now(record):
        raise TooManyRequests(f"node {agent.settings.node_id} has no room for {record.pool_key} now")
    return record, request_id, trigger


async def invoke(request: web.Request) -> web.Response:
    agent, pool = request.app[AGENT], request.app[POOL]
    attempt = request.headers.get("X-Fc-Attempt", "1")
    if not re.fullmatch(r"[1-9][0-9]{0,3}", attempt):
        raise InvalidArgument("X-Fc-Attempt is malformed")
    event = await request.read()  # before the room is looked at: no wait between that and the claim
    record, request_id, trigger = _call(request)
    with agent.running():
        outcome = await pool.invoke(record, event, request_id, int(attempt), trigger)
    out = {"Content-Type": outcome.content_type or "application/octet-stream",
           "X-Faas-Cold-Start": "1" if outcome.cold_start else "0", "X-Faas-Instance": outcome.instance_id,
           "X-Faas-Quiet": "1" if outcome.quiet else "0",
           "X-Faas-Report": base64.b64encode(outcome.report.encode()).decode()}
    if outcome.error:
        out["X-Faas-Error"] = outcome.error
    if outcome.error_type:
        out["X-Faas-Error-Type"] = outcome.error_type
    return web.Response(body=outcome.body, headers=out)


_TARGET_RE = re.compile(r"/[\x21-\x7e]{0,8191}")


async def web_call(request: web.Request) -> web.StreamResponse:
    """A web function's HTTP request, carried to a container of the release it names and back (X-Faas-Target:
    the path and query to send). A refusal of the node's own carries X-Faas-Node-Error; anything else is the
    function's answer."""
    try:
        record, request_id, trigger = _call(request)
        target = request.headers.get("X-Faas-Target", "")
        if not _TARGET_RE.fullmatch(target) or trigger is None or not trigger.startswith("http/"):
            raise InvalidArgument("X-Faas-Target must be a path and X-Faas-Trigger an HTTP trigger")
    except FaasError as exc:
        response = error_response(status_of(exc), exc.code, exc.message)
        response.headers["X-Faas-Node-Error"] = exc.code
        return response
    headers = [(k, v) for k, v in request.headers.items() if not k.lower().startswith("x-faas-")
               and k.lower() not in HOP_BY_HOP]
    with request.app[AGENT].running():
        return await request.app[POOL].proxy_web(request, record, request_id, target, headers, trigger)


def _version(request: web.Request) -> str:
    version = request.match_info["version"]
    if not _VERSION_RE.fullmatch(version):
        raise InvalidArgument("a version is LATEST or a version id")
    return version


async def put_function(request: web.Request) -> web.Response:
    """Take a release: {"record": <the function as the API shows it>, "reserved": <containers to keep>}."""
    name, version = check_name(request.match_info["name"]), _version(request)
    body = await read_json(request, defaults.REQUEST_BYTES)
    if not isinstance(body, dict) or not isinstance(body.get("record"), dict) \
            or type(body.get("reserved")) is not int or not 0 <= body["reserved"] <= 10_000:
        raise InvalidArgument("the body must be {record: <function>, reserved: <count>}")
    try:
        record = FunctionRecord.from_api(body["record"], version_id=version)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"the record is not a function: {exc}") from None
    if record.name != name or not record.image or not isinstance(body["record"].get("layerImages", []), list) \
            or len(record.layer_images) != len(record.spec.layers) \
            or not all(isinstance(i, str) and _IMAGE_RE.fullmatch(i) for i in record.images):
        raise InvalidArgument("the record must be of the function named in the path, with an image, and one image "
                              "for each of its layers")
    for image in record.images:
        await ensure_image(request.app, image)
    pool = request.app[POOL]
    await pool.unpack(record)
    pool.sync_function(record)
    pool.provision(record, body["reserved"])
    return web.json_response({"node": request.app[SETTINGS].node_id, "poolKey": record.pool_key,
                              "revision": record.revision})


async def ensure_image(app: web.Application, image: str) -> None:
    """The image is here, or pulled from the registry (FAAS_REGISTRY) when it names it; else ImageMissing."""
    host, registry = app[DOCKER], app[SETTINGS].registry
    if await host.image_id(image):
        return
    if registry and image.startswith(registry + "/"):
        if await host.pull(image):
            return
        raise ServiceUnavailable(f"the image {image} cannot be pulled from {registry}")
    raise ImageMissing(f"node {app[SETTINGS].node_id} does not have the image {image}", image=image)


async def delete_function(request: web.Request) -> web.Response:
    name = check_name(request.match_info["name"])
    pool = request.app[POOL]
    if "version" in request.match_info:
        record = pool.record_of(f"{name}@{_version(request)}")
        if record is not None:
            await pool.remove_version(record)
    else:
        await pool.remove_function(name)
    return web.Response(status=204)


def _function_and_versions(request: web.Request) -> tuple[str, set[str] | None]:
    """?function=&versions=: a function's name, and its versions (None: all of them)."""
    name = check_name(request.query.get("function", ""))
    raw = request.query.get("versions")
    versions = None
    if raw is not None:
        versions = set(raw.split(",")) if raw else set()
        if not all(_VERSION_RE.fullmatch(v) for v in versions):
            raise InvalidArgument("versions must be LATEST or version ids, split by ','")
    return name, versions


async def instances(request: web.Request) -> web.Response:
    found = await request.app[POOL].describe(*_function_and_versions(request))
    node = request.app[SETTINGS].node_id
    return web.json_response([i | {"node": node} for i in found])


async def keep_alive(request: web.Request) -> web.Response:
    found = await request.app[POOL].keep_alive(*_function_and_versions(request))
    node = request.app[SETTINGS].node_id
    return web.json_response([d | {"node": node} for d in found])


async def load_image(request: web.Request) -> web.Response:
    """The body is a `docker save` stream: spooled to a file (never held in memory), then loaded."""
    with tempfile.TemporaryFile(dir=None) as spool:
        async for chunk in request.content.iter_chunked(1 << 20):
            await asyncio.to_thread(spool.write, chunk)
        spool.seek(0)
        try:
            loaded = await request.app[DOCKER].load_image(spool)
        except (APIError, DockerException) as exc:
            raise InvalidArgument(f"docker load refused the stream: {str(exc)[:300]}") from None
    return web.json_response({"loaded": loaded})


async def drain(request: web.Request) -> web.Response:
    agent = request.app[AGENT]
    left = await agent.drain(defaults.NODE_DRAIN_TIMEOUT_S)
    return web.json_response({"node": agent.settings.node_id, "draining": True, "inFlight": left})


async def healthz(request: web.Request) -> web.Response:
    agent = request.app[AGENT]
    return web.json_response({"status": "draining" if agent.draining else "ok", "node": agent.settings.node_id})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render(request.app[POOL].metric_families())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def pool_ctx(app: web.Application):
    """This host's containers. The pool starts empty: front ends give it the releases it is to run, and the
    reserved containers each keeps (on its home node only), whatever LATEST's spec asks."""
    settings = app[SETTINGS]
    app[POOL] = pool = PoolManager(settings, app[DOCKER], RuntimeClient(), app[METRICS], app[LOG_CHANNEL],
                                   spec_reserved=False)
    try:
        await pool.start([], runtime_images=await Builder(settings, app[DOCKER]).runtime_images())
        yield
    finally:
        await pool.shutdown()


async def agent_ctx(app: web.Application):
    app[AGENT] = agent = NodeAgent(app[SETTINGS], app)
    await agent.beat()
    agent.start()
    try:
        yield
    finally:
        await agent.close()


def create_node_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=defaults.NODE_REQUEST_BYTES, middlewares=[error_middleware, node_auth])
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app.cleanup_ctx.extend((redis_ctx, docker_ctx, log_channel_ctx, pool_ctx, agent_ctx))
    app.router.add_routes([
        web.get("/healthz", healthz),
        web.post("/node/v1/invoke", invoke),
        web.route("*", "/node/v1/web", web_call),
        web.put("/node/v1/functions/{name}/{version}", put_function),
        web.delete("/node/v1/functions/{name}", delete_function),
        web.delete("/node/v1/functions/{name}/{version}", delete_function),
        web.get("/node/v1/instances", instances),
        web.get("/node/v1/keep-alive", keep_alive),
        web.post("/node/v1/images", load_image),
        web.post("/node/v1/drain", drain),
        web.get("/node/v1/metrics", metrics),
    ])
    return app


def own_address(settings: Settings) -> str:
    """This host's address on the way to Redis (its first Sentinel, or FAAS_REDIS_URL's server)."""
    if settings.redis_sentinels:
        host, port = settings.redis_sentinels[0]
    else:
        parts = urlsplit(settings.redis_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:  # no packet is sent: the route is looked up
        probe.connect((host, port))
        address = probe.getsockname()[0]
    return f"[{address}]" if family == socket.AF_INET6 else address


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env(role="node")
        if not settings.node_token:
            raise ValueError("a node needs FAAS_NODE_TOKEN or FAAS_NODE_TOKEN_FILE")
    except ValueError as exc:
        print(f"faas-node: {exc}", file=sys.stderr)
        return 2
    try:
        owned = claim(settings.cells_dir, settings.platform_id, f"faas-node {settings.node_id}")
    except PlatformInUse as exc:
        print(f"faas-node: {exc}", file=sys.stderr)
        return 2
    wait_for_redis(settings, threading.Event(), "faas-node")
    if not settings.node_address:  # it listens on every address: the one it reaches Redis from
        settings = dataclasses.replace(settings, node_address=f"{own_address(settings)}:{settings.port}")
    app = create_node_app(settings)

    def ready(*_):
        print(f"faas-node {settings.node_id}: listening on http://{settings.host}:{settings.port} "
              f"(advertised as {settings.node_address})", flush=True)

    web.run_app(app, host=settings.host, port=settings.port, print=ready, access_log=None, handle_signals=True,
                shutdown_timeout=defaults.NODE_DRAIN_TIMEOUT_S, loop=new_event_loop(),
                keepalive_timeout=defaults.NODE_KEEPALIVE_S)
    if owned is not None:
        os.close(owned)
    return 0


if __name__ == "__main__":
    sys.exit(main())
