"""The REST API: one app factory, resources opened and closed in a cleanup context."""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from .. import defaults
from ..builder.build import Builder
from ..config import Settings
from ..docker_host import DockerHost
from ..functions import FunctionService
from ..metrics import Metrics
from ..pool.manager import PoolManager
from ..store import FunctionStore
from .handlers import add_routes
from .keys import BUILDER, DOCKER, METRICS, POOL, REDIS, SERVICE, SESSION, SETTINGS
from .middlewares import error_middleware

log = logging.getLogger(__name__)


async def resources(app: web.Application):
    settings = app[SETTINGS]
    redis = Redis.from_url(settings.redis_url)
    await redis.ping()
    host = DockerHost(settings)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=75, enable_cleanup_closed=True),
        timeout=aiohttp.ClientTimeout(total=None),
        auto_decompress=False,
    )
    metrics = Metrics()
    builder = Builder(settings, host)
    pool = PoolManager(settings, host, session, metrics)
    app[REDIS], app[DOCKER], app[SESSION], app[METRICS] = redis, host, session, metrics
    app[BUILDER], app[POOL] = builder, pool
    service = FunctionService(FunctionStore(redis, settings.redis_prefix), builder, pool, metrics,
                              cache_ttl=settings.registry_cache)
    app[SERVICE] = service
    try:
        await builder.runtime_image()
        await pool.start(await service.list())
        yield
    finally:
        await app[SERVICE].close()
        await pool.shutdown()
        await session.close()
        host.close()
        await redis.aclose()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=defaults.REQUEST_BYTES, middlewares=[error_middleware])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(resources)
    add_routes(app)
    return app
