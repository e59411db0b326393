"""Images sent to nodes without a registry: `docker save` here, `docker load` on the node, once at a time per
node and image."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .. import defaults
from ..docker_host import DockerHost
from .members import NodeInfo

log = logging.getLogger(__name__)


class ImageShipper:
    def __init__(self, host: DockerHost, call: Callable[..., Awaitable[Any]]):
        """`call`: a call of the node API (NodeApi.call)."""
        self.host, self.call = host, call
        self._sending: dict[tuple[str, str], asyncio.Future] = {}

    async def send(self, node: NodeInfo, image: str) -> None:
        task = self._sending.get((node.id, image))
        if task is None:
            task = self._sending[(node.id, image)] = asyncio.ensure_future(self._ship(node, image))
            task.add_done_callback(lambda _: self._sending.pop((node.id, image), None))
        await asyncio.shield(task)

    async def _ship(self, node: NodeInfo, image: str) -> None:
        t0 = time.monotonic()
        with tempfile.TemporaryFile() as spool:
            await self.host.save_image(image, spool)
            size = spool.tell()
            spool.seek(0)

            async def chunks():  # read here to its end, never by the client after the file is closed
                while chunk := await asyncio.to_thread(spool.read, 1 << 20):
                    yield chunk

            await self.call(node, "POST", f"http://{node.address}/node/v1/images", chunks(),
                            timeout=defaults.NODE_DRAIN_TIMEOUT_S)
        log.info("Image %s sent to node %s (%d MB) in %.1fs", image, node.id, size >> 20, time.monotonic() - t0)
