"""HTTP client of the container protocol: readiness, /initialize, /invoke and the lifecycle hooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from ..errors import ContainerStartFailed
from .instance import Instance


class ResponseTooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(f"the function's response is {size} bytes")
        self.size = size


@dataclass(frozen=True)
class RuntimeReply:
    status: int
    body: bytes
    content_type: str
    failed: bool
    """The runtime marked the call failed (x-fc-status: 404, or a non-2xx status)."""
    unhandled: bool
    """The runtime marked the failure unhandled (a crash of loading, the initializer, an exit)."""


def _reply(resp: aiohttp.ClientResponse, body: bytes) -> RuntimeReply:
    failed = resp.headers.get("x-fc-status") == "404" or resp.status >= 300
    unhandled = resp.headers.get("x-fc-error-type") == "UnhandledInvocationError"
    return RuntimeReply(status=resp.status, body=body, content_type=resp.headers.get("Content-Type", ""),
                        failed=failed, unhandled=unhandled)


class RuntimeClient:
    def __init__(self, session: aiohttp.ClientSession):
        self.session = session

    async def wait_ready(self, inst: Instance, timeout: float,
                         alive: Callable[[], Awaitable[bool]]) -> None:
        """Return once the container accepts connections on its port; fail when it dies or time runs out."""
        start = time.monotonic()
        next_check = start + 1.0
        while True:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(inst.address, inst.port), 1.0)
            except (OSError, asyncio.TimeoutError):
                now = time.monotonic()
                if now - start > timeout:
                    raise ContainerStartFailed(f"container {inst.id} did not listen on port {inst.port} "
                                               f"within {timeout:.0f}s") from None
                if now >= next_check:
                    next_check = now + 1.0
                    if not await alive():
                        raise ContainerStartFailed(f"container {inst.id} exited before it listened on "
                                                   f"port {inst.port}") from None
                await asyncio.sleep(0.003 if now - start < 1.0 else 0.02)
                continue
            writer.close()
            return

    async def initialize(self, inst: Instance, headers: dict[str, str]) -> RuntimeReply:
        async with self.session.post(inst.url + "/initialize", data=b"", headers=headers) as resp:
            return _reply(resp, await resp.read())

    async def invoke(self, inst: Instance, event: bytes, headers: dict[str, str], max_bytes: int) -> RuntimeReply:
        async with self.session.post(inst.url + "/invoke", data=event, headers=headers) as resp:
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise ResponseTooLarge(resp.content_length)
            chunks, size = [], 0
            async for chunk in resp.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise ResponseTooLarge(size)
                chunks.append(chunk)
            return _reply(resp, b"".join(chunks))

    async def hook(self, inst: Instance, path: str, timeout: float = 2.0) -> bool:
        """Call /pre-stop or /pre-freeze; False when the container did not answer 2xx in time."""
        try:
            async with self.session.get(inst.url + path, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                await resp.read()
                return resp.status < 300
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False
