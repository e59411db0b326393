"""What every process of the platform does as it starts (faas-up, faas-server, faas-node, faas-worker, the log
collector): its log format, its event loop, the wait for Redis, and the variable that hands a control plane its
listening socket. Below all of them, so that no entry point imports another's module for these."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import redis

from .config import Settings
from .redisconn import connect

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

REDIS_WAIT_LOG_S = 5.0
"""Seconds between two log lines while Redis is not ready yet."""

LISTEN_FD_ENV = "FAAS_LISTEN_FD"
"""The variable that tells a control plane the listening socket it was handed (a file descriptor number)."""


def setup_logging() -> None:
    """INFO and up on stderr, each line with its time, level and logger."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (it serves about a third more requests per second)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def wait_for_redis(settings: Settings, stopping: threading.Event, what: str) -> bool:
    """Block until Redis answers a PING (it may be loading its data, restarting, or not started yet);
    a log line naming `what` says so every few seconds. False when `stopping` was set first."""
    conn = connect(settings, socket_connect_timeout=2, socket_timeout=5)
    last_log = 0.0
    try:
        while not stopping.is_set():
            try:
                conn.ping()
                return True
            except redis.BusyLoadingError:
                reason = "Redis is loading its data into memory"
            except redis.AuthenticationError as exc:
                reason = f"Redis refuses the password ({exc}); check FAAS_REDIS_PASSWORD_FILE"
            except redis.RedisError as exc:
                reason = f"Redis does not answer ({exc})"
            if time.monotonic() - last_log >= REDIS_WAIT_LOG_S:
                log.warning("%s: waiting for Redis: %s", what, reason)
                last_log = time.monotonic()
            stopping.wait(0.2)
        return False
    finally:
        conn.close()
