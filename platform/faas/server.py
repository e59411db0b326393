"""The control plane's entry point: `faas-server` (or `python -m faas.server`)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import sys
import threading

from aiohttp import web, web_protocol
from aiohttp.http_exceptions import BadHttpMessage

from .api import create_app
from .api.front_door import FrontDoor
from .api.middlewares import code_of, error_response
from .claim import PlatformInUse, claim
from .compat import add_surfaces
from .config import Settings
from .startup import LISTEN_FD_ENV, new_event_loop, setup_logging, wait_for_redis

GC_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation (Python's default is 700)."""


class _BadRequestsInOneLine(logging.Filter):
    """aiohttp logs a request its parser refuses (and answers 400) as an error with a traceback: it is the
    client's mistake, so one warning line says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BadHttpMessage):
            record.msg, record.args = "Refused a malformed request: %s", (" ".join(str(exc.message).split())[:200],)
            record.exc_info, record.exc_text, record.levelno, record.levelname = None, None, logging.WARNING, "WARNING"
        return True


def _json_parser_error(self, request, status: int = 500, exc: BaseException | None = None,
                       message: str | None = None) -> web.StreamResponse:
    """aiohttp answers a request its parser refuses (bad header bytes, headers or a URL too long) before
    any middleware runs, in plain text: answer it in the JSON error shape too, and close the connection."""
    self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
    if request.writer.output_size > 0:
        raise ConnectionError("response already sent, cannot send the error")
    if status >= 500:
        text = "internal error; the platform log has the details"
    else:
        reason = exc.message if isinstance(exc, BadHttpMessage) else (message or "bad request")
        text = "the request cannot be parsed: " + " ".join(str(reason).split())[:200]
    response = error_response(status, code_of(status), text)
    response.force_close()
    return response


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(_BadRequestsInOneLine())
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"faas-server: {exc}", file=sys.stderr)
        return 2
    if settings.role == "node":
        from .cluster.node import main as node_main
        return node_main(argv)
    try:  # kept open for the process's life (role frontend runs no containers: nothing to claim)
        owned = claim(settings.cells_dir, settings.platform_id, "faas-server") if settings.role == "all" else None
    except PlatformInUse as exc:
        print(f"faas-server: {exc}", file=sys.stderr)
        return 2
    wait_for_redis(settings, threading.Event(), "faas-server")  # it may be loading its data
    app = create_app(settings)
    add_surfaces(app)

    def ready(*_):
        # What start-up made lives as long as the process: out of the collector's way, so that the full
        # collections that per-request garbage triggers no longer walk it each time. And collect the young
        # generation less often: a request's objects die with it, so a collection finds only the requests
        # in flight, and the default (every 700 allocations) runs it several times per request.
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, 20, 100)
        print(f"faas: listening on http://{settings.host}:{settings.port} "
              f"(redis {settings.redis_url_shown}, platform id {settings.platform_id})", flush=True)

    web_protocol.RequestHandler.handle_error = _json_parser_error  # type: ignore[method-assign]  # on purpose
    sock = handed_socket(os.environ)
    where = {"sock": sock} if sock is not None else {"host": settings.host, "port": settings.port}
    serve(app, where, ready, settings.keepalive_timeout)
    if owned is not None:
        os.close(owned)
    return 0


class FrontDoorSite(web.BaseSite):
    """Where the API listens (a handed socket, or a host and port): each connection meets the front door first,
    which hands aiohttp what it does not answer itself."""

    def __init__(self, runner: web.AppRunner, where: dict, keepalive_timeout: float):
        super().__init__(runner)
        self.app, self.where, self.keepalive_timeout = runner.app, where, keepalive_timeout

    @property
    def name(self) -> str:
        if "sock" in self.where:
            host, port = self.where["sock"].getsockname()[:2]
            return f"http://{host}:{port}"
        return f"http://{self.where['host']}:{self.where['port']}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: FrontDoor(server, self.app, self.keepalive_timeout), **self.where, backlog=self._backlog)


def serve(app: web.Application, where: dict, ready, keepalive_timeout: float) -> None:
    """web.run_app's work, with the front door (FrontDoorSite): start the app, listen, call `ready`, serve until
    SIGTERM or SIGINT, then shut down gracefully (answers in progress get 10 s) and clean the app up."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve(app, where, ready, keepalive_timeout))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):  # (raised by the runner's signal handlers)
        pass
    finally:
        if not main.done():
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(main)  # (its cleanup)
        rest = asyncio.all_tasks(loop)
        for task in rest:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _serve(app: web.Application, where: dict, ready, keepalive_timeout: float) -> None:
    runner = web.AppRunner(app, handle_signals=True, access_log=None, shutdown_timeout=10,
                           keepalive_timeout=keepalive_timeout)
    await runner.setup()
    try:
        await FrontDoorSite(runner, where, keepalive_timeout).start()
        ready()
        await asyncio.Event().wait()  # (until a signal's GracefulExit, which cancels this)
    finally:
        await runner.cleanup()


SD_LISTEN_FDS_START = 3
"""The first descriptor systemd's socket activation hands over."""


def handed_socket(env) -> socket.socket | None:
    """The listening socket this process was handed: by faas-up (FAAS_LISTEN_FD), or by systemd's socket
    activation (LISTEN_FDS=1 for this pid); None: it listens itself."""
    if env.get(LISTEN_FD_ENV, "").isdigit():
        fd = int(env[LISTEN_FD_ENV])
    elif env.get("LISTEN_FDS") == "1" and env.get("LISTEN_PID") == str(os.getpid()):
        fd = SD_LISTEN_FDS_START
    else:
        return None
    sock = socket.socket(fileno=fd)
    if sock.type != socket.SOCK_STREAM or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) != 1:
        raise SystemExit(f"faas-server: descriptor {fd} is not a listening stream socket")
    sock.setblocking(False)
    return sock


if __name__ == "__main__":
    sys.exit(main())
