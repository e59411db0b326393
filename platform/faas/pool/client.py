"""Client of the container protocol: readiness, /initialize, /invoke and the lifecycle hooks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .. import defaults
from ..errors import ContainerStartFailed
from .http import ConnectionPool, NotDelivered, ProtocolError, Response, ResponseTooLarge, UnixEndpoint
from .instance import Instance

__all__ = ["RuntimeClient", "RuntimeReply", "ResponseTooLarge", "ProtocolError", "NotDelivered"]

HOOK_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class RuntimeReply:
    status: int
    body: bytes
    content_type: str
    failed: bool
    """The runtime marked the call failed (x-fc-status: 404, or a non-2xx status)."""
    unhandled: bool
    """The runtime marked the failure unhandled (a crash of loading, the initializer, an exit)."""
    max_memory_mb: int | None = None
    """The most memory the runtime has used so far, when it says (x-fc-max-memory-used)."""
    quiet: bool = False
    """The invocation wrote no output, so no End marker follows in the container's log (x-faas-quiet)."""

    @classmethod
    def of(cls, resp: Response) -> "RuntimeReply":
        headers = resp.headers
        used = headers.get("x-fc-max-memory-used", "")
        return cls(status=resp.status, body=resp.body, content_type=headers.get("content-type", ""),
                   failed=headers.get("x-fc-status") == "404" or resp.status >= 300,
                   unhandled=headers.get("x-fc-error-type") == "UnhandledInvocationError",
                   max_memory_mb=int(used) if used.isdigit() else None, quiet=headers.get("x-faas-quiet") == "1")


def _connections(inst: Instance) -> ConnectionPool:
    if inst.conns is None:
        record = getattr(inst, "record", None)  # (a cell, before it is specialised, has none: it is runc)
        if record is not None and record.spec.docker_runtime is not None:
            unix = None  # a socket made inside a sandbox (gVisor) cannot be reached from the host: TCP
        elif inst.socket:
            unix = UnixEndpoint(0, inst.container_id, inst.socket)
        else:
            unix = UnixEndpoint(inst.pid, inst.container_id, defaults.RUNTIME_SOCKET) if inst.pid else None
        inst.conns = ConnectionPool(inst.address, inst.port, unix)
    return inst.conns


class RuntimeClient:
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

    async def initialize(self, inst: Instance, headers: dict[str, str], timeout: float) -> RuntimeReply:
        """The runtime's reply; TimeoutError when the initializer takes longer than `timeout` seconds."""
        return RuntimeReply.of(await _connections(inst).request("POST", "/initialize", headers, b"",
                                                                HOOK_MAX_BYTES, timeout))

    async def invoke(self, inst: Instance, event: bytes, headers: dict[str, str], max_bytes: int,
                     timeout: float, head: bytes = b"") -> RuntimeReply:
        """The runtime's reply; TimeoutError when it takes longer than `timeout` seconds. `head`: header lines
        encoded ahead (RuntimeHeaders.encoded), sent after `headers`."""
        return RuntimeReply.of(await _connections(inst).request("POST", "/invoke", headers, event, max_bytes,
                                                                timeout, head=head))

    async def specialize(self, cell, environment: dict[str, str], timeout: float = 10.0) -> Response:
        """Tell a cell's runtime (its code now in place) the function's environment: it becomes that
        function's runtime."""
        body = json.dumps({"environment": environment}).encode()
        return await _connections(cell).request("POST", "/specialize", {"content-type": "application/json"}, body,
                                                HOOK_MAX_BYTES, timeout)

    async def specialized(self, inst: Instance, timeout: float = 5.0) -> bool:
        """Whether a container started as a cell runs a function (False also when it does not answer)."""
        try:
            resp = await _connections(inst).request("GET", "/specialize", {}, b"", HOOK_MAX_BYTES, timeout)
            return resp.status == 200 and json.loads(resp.body) == {"specialized": True}
        except (OSError, ResponseTooLarge, ValueError):
            return False

    async def hook(self, inst: Instance, path: str, timeout: float = 2.0) -> bool:
        """Call /pre-stop or /pre-freeze; False when the container did not answer 2xx in time."""
        try:
            resp = await _connections(inst).request("GET", path, {}, b"", HOOK_MAX_BYTES, timeout)
        except (OSError, ResponseTooLarge):  # TimeoutError is an OSError
            return False
        return resp.status < 300
