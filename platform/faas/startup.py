"""What every process of the platform does as it starts (faas-up, faas-server, faas-node, faas-worker, the log
collector): its log format, its event loop, the wait for Redis, the stop a signal asks for, and the variable that
hands a control plane its listening socket. Below all of them, so that no entry point imports another's module
for these."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Protocol

import redis

from .config import Settings
from .redisconn import connect

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

REDIS_WAIT_LOG_S = 5.0
"""Seconds between two log lines while Redis is not ready yet."""

LISTEN_FD_ENV = "FAAS_LISTEN_FD"
"""The variable that tells a control plane the listening socket it was handed (a file descriptor number)."""


class Stopping(Protocol):
    """What a wait looks at to end early: a `threading.Event` or a `StopSignal`."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...


class StopSignal:
    """The stop that TERM or INT asks of a process whose main thread loops (faas-up, the worker supervisor).

    The handler only sets an attribute. Setting a `threading.Event` there can hang the process: a handler runs
    in the main thread between two bytecodes, which may be inside that thread's own `event.wait()` just after it
    took the event's lock back, and `set()` then waits for that lock forever. A faas-up in a CI run never
    stopped that way, and a loop waiting 0 s at a time hangs on about half of its TERMs."""

    STEP_S = 0.05
    """The longest a wait sleeps before it looks at the request again (a signal does not cut a sleep short)."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> StopSignal:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def is_set(self) -> bool:
        return self.requested

    def wait(self, timeout: float) -> bool:
        """Up to `timeout` seconds, less once a stop is asked for; whether it was."""
        deadline = time.monotonic() + timeout
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, self.STEP_S))
        return self.requested


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


def wait_for_redis(settings: Settings, stopping: Stopping, what: str) -> bool:
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
