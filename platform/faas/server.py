"""The control plane's entry point: `faas-server` (or `python -m faas.server`)."""

from __future__ import annotations

import asyncio
import logging
import sys

from aiohttp import web

from .api import create_app
from .config import Settings


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (it serves about a third more requests per second)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"faas-server: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)

    def ready(*_):
        print(f"faas: listening on http://{settings.host}:{settings.port} "
              f"(redis {settings.redis_url}, platform id {settings.platform_id})", flush=True)

    web.run_app(app, host=settings.host, port=settings.port, print=ready, access_log=None,
                handle_signals=True, shutdown_timeout=10, loop=new_event_loop())
    return 0


if __name__ == "__main__":
    sys.exit(main())
