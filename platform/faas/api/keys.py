"""Typed keys of the resources the app holds."""

from __future__ import annotations

import asyncio

from aiohttp import web
from redis.asyncio import Redis

from ..access_keys import AccessKeyStore
from ..auth import TokenStore
from ..config import Settings
from ..docker_host import DockerHost
from ..functions import FunctionService
from ..layers.service import LayerService
from ..logs.reader import LogReader
from ..logs.reports import LogChannel
from ..metrics import Metrics
from ..pool.interface import Pool
from ..queue.sweeper import AsyncEvents
from ..releases.service import ReleaseService
from ..triggers.service import TriggerService

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
DOCKER = web.AppKey("docker", DockerHost)
METRICS = web.AppKey("metrics", Metrics)
POOL = web.AppKey("pool", Pool)
SERVICE = web.AppKey("service", FunctionService)
ASYNC = web.AppKey("async", AsyncEvents)
TOKENS = web.AppKey("tokens", TokenStore)
ACCESS_KEYS = web.AppKey("access_keys", AccessKeyStore)
LOGS = web.AppKey("logs", LogReader)
LOG_CHANNEL = web.AppKey("log_channel", LogChannel)
"""The control plane's side of logs: notices, REPORT lines, the collector process."""
TRIGGERS = web.AppKey("triggers", TriggerService)
RELEASES = web.AppKey("releases", ReleaseService)
LAYERS = web.AppKey("layers", LayerService)
CLOSING = web.AppKey("closing", asyncio.Event)
"""Set as the server begins to stop: open streams end (aiohttp would wait for them, then cut them off)."""
