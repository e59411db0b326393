"""The REST API: one app factory, resources opened and closed in a cleanup context."""

from __future__ import annotations

import logging

from aiohttp import web
from redis.asyncio import Redis

from .. import defaults
from ..auth import TokenStore
from ..builder.build import Builder
from ..config import Settings
from ..docker_host import DockerHost
from ..functions import FunctionService
from ..logs import LogChannel, LogReader
from ..metrics import Metrics
from ..pool.manager import PoolManager
from ..queue.sweeper import AsyncEvents
from ..store import FunctionStore
from .handlers import add_routes
from .keys import ASYNC, DOCKER, LOGS, METRICS, POOL, REDIS, SERVICE, SETTINGS, TOKENS
from .middlewares import auth_middleware, error_middleware

log = logging.getLogger(__name__)


async def resources(app: web.Application):
    settings = app[SETTINGS]
    redis = Redis.from_url(settings.redis_url)
    await redis.ping()
    host = DockerHost(settings)
    metrics = Metrics()
    builder = Builder(settings, host)
    logs = LogChannel(settings, redis)
    pool = PoolManager(settings, host, metrics, logs)
    app[REDIS], app[DOCKER], app[METRICS] = redis, host, metrics
    app[POOL] = pool
    app[LOGS] = reader = LogReader(settings, redis)
    service = FunctionService(FunctionStore(redis, settings.redis_prefix), builder, pool, metrics,
                              cache_ttl=settings.registry_cache, logs=reader)
    app[SERVICE] = service
    app[ASYNC] = events = AsyncEvents(settings, redis)
    app[TOKENS] = TokenStore(redis, settings.redis_prefix, settings.api_token)
    try:
        await builder.runtime_image()
        await logs.start()
        await pool.start(await service.list())
        events.start()
        yield
    finally:
        await events.close()
        await app[SERVICE].close()
        await pool.shutdown()  # stops the log collector once it has read the containers' output
        await logs.stop()
        host.close()
        await redis.aclose()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=defaults.REQUEST_BYTES, middlewares=[error_middleware, auth_middleware])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(resources)
    add_routes(app)
    return app
