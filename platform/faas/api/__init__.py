"""The REST API: one app factory, resources opened and closed in a cleanup context."""

from __future__ import annotations

import logging

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from redis.asyncio import Redis

from .. import defaults
from ..auth import TokenStore
from ..builder.build import Builder
from ..config import Settings
from ..docker_host import DockerHost
from ..functions import FunctionService
from ..logs.reader import LogReader
from ..logs.reports import LogChannel
from ..metrics import Metrics
from ..pool.manager import PoolManager
from ..queue.sweeper import AsyncEvents
from ..store import FunctionStore
from ..triggers.queue import QueuePoller
from ..triggers.service import TriggerService
from ..triggers.timer import TimerScheduler
from .handlers import add_routes
from .keys import ASYNC, DOCKER, HTTP_CLIENT, LOGS, METRICS, POOL, REDIS, SERVICE, SETTINGS, TOKENS, TRIGGERS
from .middlewares import auth_middleware, error_middleware
from .triggers import add_trigger_routes

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
    app[TRIGGERS] = service.triggers = triggers = TriggerService(redis, settings.redis_prefix)
    timers = TimerScheduler(redis, settings.redis_prefix, service, events, metrics)
    triggers.changed = timers.changed
    queues = QueuePoller(redis, settings.redis_prefix, service, events, metrics)
    # Web functions' requests: no total timeout here (the function's own applies), no pooled-connection cap.
    app[HTTP_CLIENT] = client = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=False,
                                              connector=TCPConnector(limit=0, force_close=False))
    try:
        await builder.runtime_image()
        await logs.start()
        await pool.start(await service.list())
        events.start()
        timers.start()
        queues.start()
        yield
    finally:
        await timers.close()
        await queues.close()
        await client.close()
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
    add_trigger_routes(app)
    return app
