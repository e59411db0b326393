"""The REST API: one app factory; each resource opened and closed in a cleanup context of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .. import defaults
from ..access_keys import AccessKeyStore
from ..auth import TokenStore
from ..builder.build import Builder
from ..cluster.remote import RemotePool
from ..config import Settings
from ..docker_host import DockerHost
from ..functions import FunctionService
from ..layers.service import LayerService
from ..layers.store import LayerStore
from ..logs.reader import LogReader
from ..logs.reports import LogChannel
from ..metrics import Metrics
from ..models import FunctionRecord
from ..pool.client import RuntimeClient
from ..pool.interface import Pool
from ..pool.manager import PoolManager
from ..queue.sweeper import AsyncEvents
from ..redisconn import connect_async
from ..releases.service import ReleaseService
from ..releases.store import ReleaseStore
from ..store import FunctionStore
from ..triggers.queue import QueuePoller
from ..triggers.service import TriggerService
from ..triggers.timer import TimerScheduler
from .code import add_code_routes
from .console import add_console_routes
from .credentials import add_credential_routes
from .handlers import add_routes
from .keys import (
    ACCESS_KEYS,
    ASYNC,
    CLOSING,
    DOCKER,
    LAYERS,
    LOG_CHANNEL,
    LOGS,
    METRICS,
    POOL,
    REDIS,
    RELEASES,
    SERVICE,
    SETTINGS,
    TOKENS,
    TRIGGERS,
)
from .layers import add_layer_routes
from .middlewares import api_middleware
from .nodes import add_node_routes
from .releases import add_release_routes
from .triggers import add_trigger_routes

log = logging.getLogger(__name__)


# One cleanup context per resource: aiohttp closes them in the reverse order and goes on past one whose
# close fails, so that nothing (above all the pool's shutdown, which removes the containers) is skipped.

@contextlib.asynccontextmanager
async def _started(part) -> AsyncIterator[None]:
    """A part that runs in the background: started, and closed at the end."""
    part.start()
    try:
        yield
    finally:
        await part.close()


async def redis_ctx(app: web.Application):
    settings = app[SETTINGS]
    app[REDIS] = redis = connect_async(settings)
    app[TOKENS] = TokenStore(redis, settings.redis_prefix, settings.api_token)
    app[ACCESS_KEYS] = AccessKeyStore(redis, settings.redis_prefix, settings.secret_key)
    try:
        await redis.ping()
        yield
    finally:
        await redis.aclose()


async def docker_ctx(app: web.Application):
    app[DOCKER] = host = DockerHost(app[SETTINGS])
    try:
        yield
    finally:
        host.close()


async def log_channel_ctx(app: web.Application):
    app[LOG_CHANNEL] = channel = LogChannel(app[SETTINGS], app[REDIS])
    app[LOGS] = LogReader(app[SETTINGS], app[REDIS])
    try:
        if app[SETTINGS].role != "frontend":  # a front end runs no containers: the nodes collect their logs
            await channel.start()
        yield
    finally:
        await channel.stop()  # after the pool's shutdown, which stops it once it has read the containers


async def pool_ctx(app: web.Application):
    settings = app[SETTINGS]
    pool: Pool
    if settings.role == "frontend":  # the pool is the nodes'
        pool = RemotePool(settings, app[REDIS], app[METRICS], app[DOCKER], replace=lambda: place_releases(app))
    else:
        pool = PoolManager(settings, app[DOCKER], RuntimeClient(), app[METRICS], app[LOG_CHANNEL])
    app[POOL] = pool
    try:
        yield
    finally:
        await pool.shutdown()


async def service_ctx(app: web.Application):
    """Functions, their versions, aliases and triggers; the pool starts with the versions there are."""
    settings, redis, pool = app[SETTINGS], app[REDIS], app[POOL]
    builder = Builder(settings, app[DOCKER])
    app[TRIGGERS] = triggers = TriggerService(redis, settings.redis_prefix)
    app[SERVICE] = service = FunctionService(FunctionStore(redis, settings.redis_prefix), builder, pool,
                                             app[METRICS], triggers, ReleaseStore(redis, settings.redis_prefix),
                                             cache_ttl=settings.registry_cache, logs=app[LOGS])
    app[RELEASES] = releases = ReleaseService(redis, settings.redis_prefix, service, pool,
                                              cache_ttl=settings.registry_cache)

    async def every_record() -> list[FunctionRecord]:
        latest = await service.list()
        return latest + await releases.records(latest)

    app[LAYERS] = service.layers = LayerService(LayerStore(redis, settings.redis_prefix), builder, every_record)
    try:
        runtime_images = await builder.runtime_images()
        latest = await service.list()
        await pool.start(latest + await releases.records(latest), runtime_images=runtime_images)
        for record in latest:
            await releases.apply_reserved(record.name)
        yield
    finally:
        await service.close()


async def place_releases(app: web.Application) -> None:
    """Every function version to the pool again, with the reserved containers it keeps (a front end's, when
    the nodes change)."""
    service, releases, pool = app[SERVICE], app[RELEASES], app[POOL]
    latest = await service.list()
    for record in latest + await releases.records(latest):
        pool.sync_function(record)
    for record in latest:
        await releases.apply_reserved(record.name)


async def async_events_ctx(app: web.Application):
    app[ASYNC] = events = AsyncEvents(app[SETTINGS], app[REDIS])
    async with _started(events):
        yield


async def timers_ctx(app: web.Application):
    settings = app[SETTINGS]
    timers = TimerScheduler(app[REDIS], settings.redis_prefix, app[RELEASES], app[ASYNC], app[METRICS],
                            wake=app[TRIGGERS].timers_changed)
    async with _started(timers):
        yield


async def queue_triggers_ctx(app: web.Application):
    queues = QueuePoller(app[REDIS], app[SETTINGS].redis_prefix, app[RELEASES], app[ASYNC], app[METRICS])
    async with _started(queues):
        yield


RESOURCES = (redis_ctx, docker_ctx, log_channel_ctx, pool_ctx, service_ctx, async_events_ctx, timers_ctx,
             queue_triggers_ctx)
"""Opened in this order, closed in the reverse one."""


async def _closing(app: web.Application) -> None:
    app[CLOSING].set()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=defaults.REQUEST_BYTES, middlewares=[api_middleware])
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[CLOSING] = asyncio.Event()
    app.on_shutdown.append(_closing)
    app.cleanup_ctx.extend(RESOURCES)
    add_routes(app)
    add_layer_routes(app)
    add_credential_routes(app)
    add_code_routes(app)
    add_trigger_routes(app)
    add_release_routes(app)
    add_node_routes(app)
    add_console_routes(app)
    return app
