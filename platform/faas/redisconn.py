"""Connections to Redis: the server of FAAS_REDIS_URL, or, with FAAS_REDIS_SENTINELS, the primary that Redis
Sentinel names for FAAS_REDIS_SERVICE, through redis-py's Sentinel clients, so that after a failover every
client finds the new primary by itself. The URL's password, user and database apply in both cases."""

from __future__ import annotations

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.connection import parse_url

from .config import Settings

SENTINEL_TIMEOUT_S = 1.0
"""How long one Sentinel may take to answer which server is the primary."""

_SENTINEL_KWARGS = {"socket_timeout": SENTINEL_TIMEOUT_S, "socket_connect_timeout": SENTINEL_TIMEOUT_S}
"""For the connections to the Sentinels only: the primary's keep the URL's options (a blocking read or a
WAIT may take longer than a Sentinel's answer)."""


def _options(settings: Settings) -> dict:
    """The URL's connection options but its address (a Sentinel names that)."""
    options = parse_url(settings.redis_url)
    for key in ("host", "port", "path", "connection_class"):
        options.pop(key, None)
    return options


def connect(settings: Settings, **kw) -> redis.Redis:
    """A synchronous client (workers, RQ, the log collector, faas-up)."""
    if not settings.redis_sentinels:
        return redis.Redis.from_url(settings.redis_url, **kw)
    sentinel = redis.sentinel.Sentinel(settings.redis_sentinels, sentinel_kwargs=_SENTINEL_KWARGS)
    return sentinel.master_for(settings.redis_service, **(_options(settings) | kw))


def connect_async(settings: Settings, **kw) -> redis.asyncio.Redis:
    """An asyncio client (the control plane)."""
    if not settings.redis_sentinels:
        return redis.asyncio.Redis.from_url(settings.redis_url, **kw)
    sentinel = redis.asyncio.sentinel.Sentinel(settings.redis_sentinels, sentinel_kwargs=_SENTINEL_KWARGS)
    return sentinel.master_for(settings.redis_service, **(_options(settings) | kw))


def bulk(arg: bytes | str | int) -> bytes:
    """One argument of a command in Redis's protocol, packed by hand for a hot path (redis-py's packer costs
    microseconds per argument): bytes as they are, str as UTF-8, int in decimal. A command whose arguments arrive
    one by one (a batch of nonces) is packed as they arrive."""
    data = arg if isinstance(arg, bytes) else arg.encode() if isinstance(arg, str) else b"%d" % arg
    return b"$%d\r\n%s\r\n" % (len(data), data)
