"""The least a Python control plane can cost here: an HTTP/1.1 server of the front door's kind (an asyncio protocol
reading requests with llhttp through httptools, on the platform's event loop) that sends each request to a
container through the platform's own container client (faas.pool.http, over the container's Unix socket) and
writes its reply back; no authentication, routing to functions, pool, counting or logs, no pipelining, no limits.
The warm benchmark runs it beside the platform, on the same container, as the floor that the platform's own work
sits on: what is left between the two is the platform's.

Usage: python floor.py PORT CONTAINER_PID CONTAINER_ID FUNCTION
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import httptools

from faas import defaults
from faas.pool.http import ConnectionPool, UnixEndpoint
from faas.startup import new_event_loop


class Floor(asyncio.Protocol):
    def __init__(self, pool: ConnectionPool, protocol: dict[str, str]):
        self.pool, self.protocol = pool, protocol
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body, self.body = b"".join(self.body), []
        asyncio.get_running_loop().create_task(self.answer(body))

    async def answer(self, body: bytes) -> None:
        request_id = str(uuid.uuid4())
        reply = await self.pool.request("POST", "/invoke", {"x-fc-request-id": request_id, **self.protocol},
                                        body, 1 << 20, 60)
        content_type = reply.headers.get("content-type", "application/octet-stream")
        assert self.transport is not None
        self.transport.write(b"HTTP/1.1 %d OK\r\nX-Fc-Request-Id: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                             % (reply.status, request_id.encode(), content_type.encode(), len(reply.body))
                             + reply.body)


def main(port: int, pid: int, container_id: str, function: str) -> None:
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    pool = ConnectionPool("", 0, UnixEndpoint(pid, container_id, defaults.RUNTIME_SOCKET))
    protocol = {"x-fc-function-name": function, "x-fc-function-handler": "index.handler",
                "x-fc-function-memory": "128", "x-fc-function-timeout": "60", "x-fc-function-initializer": "",
                "x-fc-initialization-timeout": "30"}
    loop.run_until_complete(loop.create_server(lambda: Floor(pool, protocol), "127.0.0.1", port))
    loop.run_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
